package core_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// A ProtectedResource that cannot be served or sent in a challenge stops New.
func TestProtectedResourceChecked(t *testing.T) {
	iss := authtest.New(t)
	for name, pr := range map[string]core.ProtectedResource{
		"no resource":             {AuthorizationServers: []string{iss.URL}},
		"plain http off loopback": {Resource: "http://api.example.com", AuthorizationServers: []string{iss.URL}},
		"a query":                 {Resource: "https://api.example.com/?x=1", AuthorizationServers: []string{iss.URL}},
		"a fragment":              {Resource: "https://api.example.com/#f", AuthorizationServers: []string{iss.URL}},
		"no authorization server": {Resource: "https://api.example.com"},
		"a relative server":       {Resource: "https://api.example.com", AuthorizationServers: []string{"/as"}},
		"a quote in the URL":      {Resource: "https://api.example.com/a\"b", AuthorizationServers: []string{iss.URL}},
		"a scope with a space":    {Resource: "https://api.example.com", AuthorizationServers: []string{iss.URL}, ScopesSupported: []string{"a b"}},
		"a bad metadata URL":      {Resource: "https://api.example.com", AuthorizationServers: []string{iss.URL}, MetadataURL: "ftp://x"},
	} {
		cfg := iss.Config()
		cfg.ProtectedResource = &pr
		if a, err := core.New(context.Background(), cfg); err == nil {
			a.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

// The metadata URL of a resource without a path is the bare well-known
// URL; with DPoP on, the document lists its algorithms and whether bound
// tokens are required, and the DPoP challenge carries resource_metadata too.
func TestProtectedResourceDocument(t *testing.T) {
	iss := authtest.New(t)
	cfg := iss.Config()
	cfg.ProtectedResource = &core.ProtectedResource{Resource: "https://api.example.com", AuthorizationServers: []string{iss.URL}}
	cfg.DPoP = core.DPoPOptions{Mode: core.DPoPRequired, Algorithms: []string{"ES256"}}
	cfg.QueryParam = "access_token"
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.ResourceMetadataURL() != "https://api.example.com/.well-known/oauth-protected-resource" || !slices.Equal(a.ResourceMetadataPaths(), []string{core.WellKnownProtectedResource}) {
		t.Fatalf("%q %q", a.ResourceMetadataURL(), a.ResourceMetadataPaths())
	}
	resp, ok := a.ResourceMetadata()
	var doc map[string]any
	if !ok || json.Unmarshal(resp.Body, &doc) != nil {
		t.Fatalf("%v %s", ok, resp.Body)
	}
	if doc["dpop_bound_access_tokens_required"] != true || !slices.Equal(anyStrings(doc["dpop_signing_alg_values_supported"]), []string{"ES256"}) ||
		!slices.Equal(anyStrings(doc["bearer_methods_supported"]), []string{"header", "query"}) {
		t.Fatalf("document %s", resp.Body)
	}
	_, err = adapter.Admit(a, context.Background(), bearer(""), false)
	ch := adapter.Render(a, err).Header.Values("Www-Authenticate")
	if len(ch) != 1 || !strings.HasPrefix(ch[0], "DPoP ") || !strings.HasSuffix(ch[0], `resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`) {
		t.Fatalf("challenge %q", ch)
	}
}

// Without a ProtectedResource nothing is served and no challenge names one.
func TestProtectedResourceOff(t *testing.T) {
	iss := authtest.New(t)
	a := newAuth(t, iss)
	if _, ok := a.ResourceMetadata(); ok || a.ResourceMetadataPaths() != nil || adapter.ResourceMetadata(a, "GET").Status != 404 {
		t.Fatal("served without a ProtectedResource")
	}
	_, err := adapter.Admit(a, context.Background(), bearer(""), false)
	if ch := adapter.Render(a, err).Header.Get("Www-Authenticate"); strings.Contains(ch, "resource_metadata") {
		t.Fatalf("challenge %q", ch)
	}
}

// authtest serves RFC 8414 metadata beside OIDC discovery.
func TestAuthtestServesRFC8414(t *testing.T) {
	iss := authtest.New(t)
	resp, err := http.Get(iss.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc map[string]string
	if resp.StatusCode != 200 || json.Unmarshal(b, &doc) != nil || doc["issuer"] != iss.URL || doc["jwks_uri"] != iss.JWKSURL() {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
