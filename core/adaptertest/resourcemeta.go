package adaptertest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// ProtectedResource is the RFC 9728 configuration of the resource
// metadata case. A harness serves the adapter's ResourceMetadata handler at
// each of env.Auth.ResourceMetadataPaths(), outside the middleware (none
// when it is empty).
func ProtectedResource(iss *authtest.Issuer) *core.ProtectedResource {
	return &core.ProtectedResource{
		Resource:             "https://api.example.com/mcp",
		AuthorizationServers: []string{iss.URL},
		ScopesSupported:      []string{Scope, "profile"},
	}
}

// metadataURL is ProtectedResource's default MetadataURL (RFC 9728 §3.1).
const metadataURL = "https://api.example.com/.well-known/oauth-protected-resource/mcp"

// runResourceMetadata: every challenge carries resource_metadata (RFC 9728
// section 5.1), and the document is served at the path-suffixed and the
// bare well-known path, GET and HEAD only.
func runResourceMetadata(t *testing.T, h Harness, iss *authtest.Issuer) {
	cfg := Config(iss, &Sessions{})
	cfg.ProtectedResource = ProtectedResource(iss)
	auth, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	env := &Env{Auth: auth}
	r := &runner{addr: h.Start(t, env)}
	send := func(method, path string, header ...string) (int, map[string][]string, []byte) {
		t.Helper()
		env.takeHits()
		resp, body, err := r.do(tcase{name: "resource metadata", source: "RFC 9728", method: method, path: path, header: header})
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		if hits := env.takeHits(); len(hits) > 0 && method != "GET" {
			t.Errorf("%s %s: a handler ran", method, path)
		}
		return resp.StatusCode, resp.Header, body
	}
	suffix := `, resource_metadata="` + metadataURL + `"`
	t.Run("challenges carry resource_metadata", func(t *testing.T) {
		for _, c := range []struct {
			path, auth string
			status     int
			challenge  string
		}{
			{"/me", "", 401, `Bearer realm="` + Realm + `"` + suffix},
			{"/me", "Authorization: Bearer nope.nope.nope", 401, `Bearer realm="` + Realm + `", error="invalid_token", error_description="the access token is invalid"` + suffix},
			{"/orders", "Authorization: Bearer " + iss.Token(authtest.Claims{"sid": SessionActive}), 403,
				`Bearer realm="` + Realm + `", error="insufficient_scope", error_description="the access token lacks a required scope", scope="` + Scope + `"` + suffix},
		} {
			var hdr []string
			if c.auth != "" {
				hdr = []string{c.auth}
			}
			status, header, _ := send("GET", c.path, hdr...)
			if status != c.status || strings.Join(header["Www-Authenticate"], "\n") != c.challenge {
				t.Errorf("GET %s: %d %q, want %d %q", c.path, status, header["Www-Authenticate"], c.status, c.challenge)
			}
		}
	})
	paths := auth.ResourceMetadataPaths()
	if !slices.Equal(paths, []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"}) {
		t.Fatalf("ResourceMetadataPaths = %q", paths)
	}
	for _, p := range paths {
		t.Run("the document at "+p, func(t *testing.T) {
			status, header, body := send("GET", p)
			if status != 200 || strings.Join(header["Content-Type"], ",") != "application/json" || !strings.HasPrefix(strings.Join(header["Cache-Control"], ","), "public, max-age=") {
				t.Fatalf("%d %v", status, header)
			}
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			want := map[string]any{
				"resource":                 "https://api.example.com/mcp",
				"authorization_servers":    []any{iss.URL},
				"scopes_supported":         []any{Scope, "profile"},
				"bearer_methods_supported": []any{"header"},
			}
			if len(doc) != len(want) {
				t.Errorf("document %s, want exactly %v", body, want)
			}
			for k, v := range want {
				if g, _ := json.Marshal(doc[k]); string(g) != mustJSON(v) {
					t.Errorf("%s = %s, want %s", k, g, mustJSON(v))
				}
			}
			status, _, body = send("HEAD", p)
			if status != 200 || len(body) != 0 {
				t.Errorf("HEAD: %d with %d bytes", status, len(body))
			}
			status, header, _ = send("POST", p)
			if status != 405 || strings.Join(header["Allow"], ",") != "GET, HEAD" {
				t.Errorf("POST: %d %v", status, header)
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
