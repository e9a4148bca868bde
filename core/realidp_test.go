package core_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storekit"
)

// What real identity providers need (issue 16): nested claim names, scope
// and scp merged, opaque tokens with a prefix and a dot, introspection
// client authentication, and session endpoints keyed by subject with an
// answer read from its JSON.

// nestedNames is the layout of Ory Hydra (ext.*) plus an Auth0-style
// namespaced claim whose name holds dots itself.
var nestedNames = core.ClaimNames{SessionID: "ext.sid", Scope: "ext.scope", Roles: "https://example.com/roles", Tenant: "org.id"}

func authWithClaims(t *testing.T, names core.ClaimNames) (*authtest.Issuer, *core.Authenticator) {
	t.Helper()
	iss := authtest.New(t)
	cfg := iss.Config()
	cfg.Claims = names
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return iss, a
}

func viaHeader(a *core.Authenticator, tok string) (*core.Principal, error) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return a.Authenticate(context.Background(), sessReq{r})
}

func TestNestedClaimNames(t *testing.T) {
	iss, a := authWithClaims(t, nestedNames)
	p, err := viaHeader(a, iss.Token(authtest.Claims{
		"sid": "top-level-ignored", "scope": "ignored",
		"ext":                       map[string]any{"sid": "s-1", "scope": "read write", "other": map[string]any{"sid": "x"}},
		"scp":                       []string{"write", "admin"},
		"https://example.com/roles": []string{"admin"},
		"org":                       map[string]any{"id": "acme", "name": "Acme"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if p.SessionID != "s-1" || p.Tenant != "acme" || !slices.Equal(p.Roles, []string{"admin"}) ||
		!slices.Equal(p.Scopes, []string{"read", "write", "admin"}) {
		t.Fatalf("principal %+v", p)
	}

	for name, c := range map[string]authtest.Claims{
		"sid not a string":           {"ext": map[string]any{"sid": 7}},
		"found as a name and a path": {"ext.sid": "a", "ext": map[string]any{"sid": "b"}},
		"tenant a list":              {"org": map[string]any{"id": []string{"a"}}},
	} {
		if _, err := viaHeader(a, iss.Token(c)); !errors.Is(err, core.ErrInvalidToken) {
			t.Errorf("%s: %v, want ErrInvalidToken", name, err)
		}
	}
	// A path into something that is not an object names nothing: absent,
	// as a missing claim is.
	p, err = viaHeader(a, iss.Token(authtest.Claims{"ext": "s-1", "org": []any{map[string]any{"id": "acme"}}}))
	if err != nil || p.SessionID != "" || p.Tenant != "" || len(p.Scopes) != 0 {
		t.Fatalf("%+v, %v", p, err)
	}
	// A top-level member named like the whole path is taken as it is.
	p, err = viaHeader(a, iss.Token(authtest.Claims{"ext.sid": "s-2"}))
	if err != nil || p.SessionID != "s-2" {
		t.Fatalf("%+v, %v", p, err)
	}
}

// TestVendorClaimLayouts reads the session id where the vendor recipes of
// docs/identity-providers.md say it is: Stytch's session JWTs nest it under
// a namespaced member whose name holds dots itself ("https://stytch.com/session"
// → "id", as Stytch's own SDKs read it), Supabase names it session_id.
func TestVendorClaimLayouts(t *testing.T) {
	for _, c := range []struct {
		name   string
		names  core.ClaimNames
		claims authtest.Claims
		want   string
	}{
		{"Stytch", core.ClaimNames{SessionID: "https://stytch.com/session.id"}, authtest.Claims{
			"https://stytch.com/session": map[string]any{"id": "session-test-1", "started_at": "2026-12-04T15:00:00Z",
				"authentication_factors": []any{map[string]any{"type": "magic_link"}}},
			"sid": "ignored"}, "session-test-1"},
		{"Supabase", core.ClaimNames{SessionID: "session_id"}, authtest.Claims{"session_id": "0b9c", "sid": "ignored"}, "0b9c"},
	} {
		iss, a := authWithClaims(t, c.names)
		p, err := viaHeader(a, iss.Token(c.claims))
		if err != nil || p.SessionID != c.want {
			t.Errorf("%s: %+v, %v; want session id %q", c.name, p, err, c.want)
		}
	}
}

func TestScopeAndScpMergedWithoutDuplicates(t *testing.T) {
	iss, a := authWithClaims(t, core.ClaimNames{})
	// Ory Hydra with strategies.jwt.scope_claim "both".
	p, err := viaHeader(a, iss.Token(authtest.Claims{"scope": "read write", "scp": []string{"read", "write"}}))
	if err != nil || !slices.Equal(p.Scopes, []string{"read", "write"}) {
		t.Fatalf("%v, %v", p.Scopes, err)
	}
	p, err = viaHeader(a, iss.Token(authtest.Claims{"scp": []string{"a", "b"}}))
	if err != nil || !slices.Equal(p.Scopes, []string{"a", "b"}) {
		t.Fatalf("%v, %v", p.Scopes, err)
	}
}

func TestClaimNamesConfig(t *testing.T) {
	iss := authtest.New(t)
	for _, bad := range []core.ClaimNames{
		{SessionID: "ext."}, {SessionID: ".sid"}, {SessionID: "ext..sid"},
		{SessionID: "iss.sid"}, {Roles: "scp.roles"},
		{SessionID: "ext", Scope: "ext.scope"}, {Tenant: "a.b.c", Roles: "a.b"},
	} {
		cfg := iss.Config()
		cfg.Claims = bad
		if a, err := core.New(context.Background(), cfg); !errors.Is(err, core.ErrConfig) {
			if a != nil {
				a.Close()
			}
			t.Errorf("%+v: %v, want ErrConfig", bad, err)
		}
		if _, err := core.NewIntrospector(core.IntrospectionOptions{Endpoint: "https://as.example/i", ClientID: "a", ClientSecret: "b", Claims: bad}); !errors.Is(err, core.ErrConfig) {
			t.Errorf("introspector %+v: %v, want ErrConfig", bad, err)
		}
	}
	cfg := iss.Config()
	cfg.Claims = core.ClaimNames{SessionID: "ext.sid", Scope: "ext.scope", Roles: "ext.roles", Tenant: "ext.tenant"}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

func TestIntrospectorNestedClaims(t *testing.T) {
	stub := newIntrospectionStub(t, func(string) (int, string) {
		return 200, `{"active":true,"sub":"u1","scope":"read write","scp":["write","admin"],
			"ext":{"sid":"s-7","scope":"x"},"https://example.com/roles":"admin","org":{"id":"acme"}}`
	})
	in := newIntrospector(t, stub.URL, func(o *core.IntrospectionOptions) {
		o.Claims = core.ClaimNames{SessionID: "ext.sid", Roles: "https://example.com/roles", Tenant: "org.id"}
	})
	tok, _ := storekit.NewOpaqueToken()
	s, err := in.AuthenticateOpaque(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != "s-7" || s.Tenant != "acme" || !slices.Equal(s.Roles, []string{"admin"}) || !slices.Equal(s.Scopes, []string{"read", "write", "admin"}) {
		t.Fatalf("session %+v", s)
	}
	stub.body.Store(func(string) (int, string) { return 200, `{"active":true,"sub":"u1","ext":{"sid":["s-7"]}}` })
	tok, _ = storekit.NewOpaqueToken()
	if _, err := in.AuthenticateOpaque(context.Background(), tok); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("a sid of the wrong type: %v, want a refusal", err)
	}
}

// TestIntrospectorClientAuth: each method sends its credentials where RFC
// 6749 section 2.3.1 (or the bearer header) puts them, and nothing else.
func TestIntrospectorClientAuth(t *testing.T) {
	type seen struct{ auth, id, secret string }
	var got atomic.Pointer[seen]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
			w.WriteHeader(400)
			return
		}
		got.Store(&seen{r.Header.Get("Authorization"), r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")})
		io.WriteString(w, `{"active":true,"sub":"u1"}`)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name string
		o    core.IntrospectionOptions
		want seen
	}{
		{"basic (the default)", core.IntrospectionOptions{ClientID: "rs 1", ClientSecret: "s+/="}, seen{auth: "Basic " + b64("rs+1:s%2B%2F%3D")}},
		{"post", core.IntrospectionOptions{ClientAuth: core.ClientSecretPost, ClientID: "rs-1", ClientSecret: "s+/="}, seen{id: "rs-1", secret: "s+/="}},
		{"bearer", core.IntrospectionOptions{ClientAuth: core.ClientAuthBearer, BearerToken: "api-key"}, seen{auth: "Bearer api-key"}},
		{"none", core.IntrospectionOptions{ClientAuth: core.ClientAuthNone}, seen{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Endpoint = srv.URL
			in, err := core.NewIntrospector(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			tok, _ := storekit.NewOpaqueToken()
			if _, err := in.AuthenticateOpaque(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
			if g := got.Load(); *g != tc.want {
				t.Fatalf("sent %+v, want %+v", *g, tc.want)
			}
		})
	}
	for _, bad := range []core.IntrospectionOptions{
		{}, // no credentials and no explicit "none"
		{ClientAuth: core.ClientSecretPost, ClientID: "a"},
		{ClientAuth: core.ClientAuthBearer},
		{ClientAuth: core.ClientAuthBearer, BearerToken: "k", ClientID: "a"},
		{ClientAuth: core.ClientAuthBearer, BearerToken: "k\r\nX-Evil: 1"},
		{ClientAuth: core.ClientAuthNone, ClientID: "a", ClientSecret: "b"},
		{ClientAuth: core.ClientAuthNone, BearerToken: "k"},
		{ClientID: "a", ClientSecret: "b", BearerToken: "k"},
		{ClientAuth: 99},
	} {
		bad.Endpoint = srv.URL
		if _, err := core.NewIntrospector(bad); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", bad, err)
		}
	}
}

func b64(s string) string {
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(s[:strings.IndexByte(s, ':')], s[strings.IndexByte(s, ':')+1:])
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

// TestOpaqueShapes: tokens that are not JWS compact but fit the gates reach
// the opaque authenticator (Ory Hydra's ory_at_X.Y); anything with the
// structure of a JWS or JWE never does (FM-01).
func TestOpaqueShapes(t *testing.T) {
	var calls atomic.Int64
	stub := newIntrospectionStub(t, func(tok string) (int, string) {
		calls.Add(1)
		return 200, `{"active":true,"sub":"u1"}`
	})
	in := newIntrospector(t, stub.URL, func(o *core.IntrospectionOptions) { o.Issuer, o.Audience = "", nil })
	a, err := core.New(context.Background(), core.Config{Opaque: in})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, tok := range []string{
		"ory_at_Jx0gQbW3n9kq1r6Ii9Ye0w3PQqJm2cuqhCsEVS1Qrmo.Vb3WnUtu0nrSwOeYoo0FvD2y9B3ohT0RUf9kVkGDgh8",
		"0123456789abcdef",
		"gho_abc~def+ghi/jkl==",
		"a.bcdefghijklmnopqrstu",
	} {
		before := calls.Load()
		if p, err := viaHeader(a, tok); err != nil || p.Kind != core.KindOpaque {
			t.Errorf("%q: %v, %v; want introspected", tok, p, err)
		}
		if calls.Load() != before+1 {
			t.Errorf("%q: not introspected", tok)
		}
	}
	for _, tok := range []string{
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9",      // a JWS without its signature
		"ewogImFsZyI6Im5vbmUiCn0.eyJzdWIiOiJ1MSJ9",   // the same, header with whitespace
		"aaaaaaaaaaaa.bbbbbbbbbbbb.cccc+cccc",        // three segments, not base64url
		"aaaaaaaa.bbbbbbbb.cccccccc.dddddddd",        // four
		"aaaa.bbbb.cccc.dddd.eeee-and-more-and-more", // JWE compact
		".bbbbbbbbbbbbbbbbbbbbb.cccc.dddd.eeee",
		"abcdefgh=ijklmnopqrstu",
		"short.one",
		`{"active":true,"sub":"u1"}`,
	} {
		before := calls.Load()
		if _, err := viaHeader(a, tok); err == nil {
			t.Errorf("%q accepted", tok)
		}
		if calls.Load() != before {
			t.Errorf("%q reached the introspector", tok)
		}
	}
}

// sessionEndpoint records the requests a session endpoint receives and
// answers them with answer.
func sessionEndpoint(t *testing.T, answer func(r *http.Request) (int, string)) (*httptest.Server, *atomic.Pointer[http.Request]) {
	var last atomic.Pointer[http.Request]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		last.Store(r)
		code, body := answer(r)
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &last
}

func TestHTTPSessionCheckerSubjectAndQuery(t *testing.T) {
	srv, last := sessionEndpoint(t, func(*http.Request) (int, string) { return 200, `[{"x":1}]` })
	c, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{
		URL:           srv.URL + "/admin/sessions/consent?subject={sub}&login_session_id={sid}&x=1",
		Header:        http.Header{"X-Api-Key": {"k1"}},
		NonEmptyArray: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	const sub = "auth0|a b&c=d/é?#"
	st, err := c.CheckSession(context.Background(), sub, "Sess:1~x.y")
	if err != nil || st != core.StateActive {
		t.Fatal(st, err)
	}
	r := last.Load()
	q := r.URL.Query()
	if r.URL.Path != "/admin/sessions/consent" || q.Get("subject") != sub || q.Get("login_session_id") != "Sess:1~x.y" || q.Get("x") != "1" || len(q) != 3 || r.Header.Get("X-Api-Key") != "k1" {
		t.Fatalf("request %s %v %v", r.URL, q, r.Header)
	}
	// Without a subject, a {sub} endpoint cannot be asked.
	if _, err := c.Check(context.Background(), "s-1"); err == nil {
		t.Fatal("Check without a subject answered")
	}
	// An unusable subject or sid is revoked without a request.
	n := last.Load()
	for _, tc := range [][2]string{{"", "s-1"}, {strings.Repeat("x", 1025), "s-1"}, {"u", "a/b"}} {
		if st, err := c.CheckSession(context.Background(), tc[0], tc[1]); err != nil || st != core.StateRevoked {
			t.Errorf("%q: %v %v", tc, st, err)
		}
	}
	if last.Load() != n {
		t.Fatal("a request was made for an unusable subject or sid")
	}

	// {sub} in the path: one path segment, escaped.
	c, err = core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: srv.URL + "/users/{sub}/sessions/{sid}"})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.CheckSession(context.Background(), "a/b c", "s-1"); err != nil || st != core.StateActive {
		t.Fatal(st, err)
	}
	if r := last.Load(); r.URL.EscapedPath() != "/users/a%2Fb%20c/sessions/s-1" {
		t.Fatalf("path %q", r.URL.EscapedPath())
	}
}

func TestHTTPSessionCheckerURLTemplates(t *testing.T) {
	for _, bad := range []string{
		"https://id.example.com/{sub}/{sub}/{sid}",
		"https://{sub}.example.com/s/{sid}",
		"https://id.example.com/s/{sid}#{sub}",
		"https://id.example.com/s#{sid}",
		"https://id.example.com/s/{sid}?sid={sid}",
		"https://id.example.com/s/{sid}/{sub}?u={sub}",
	} {
		if _, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: bad}); !errors.Is(err, core.ErrConfig) {
			t.Errorf("URL %q: %v, want ErrConfig", bad, err)
		}
	}
	for _, good := range []string{
		"https://id.example.com/s?sid={sid}",
		"https://id.example.com/u/{sub}/s/{sid}",
		"https://id.example.com/s?sub={sub}&sid={sid}",
		"https://id.example.com/s/{sid}?sub={sub}",
	} {
		if _, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: good}); err != nil {
			t.Errorf("URL %q: %v", good, err)
		}
	}
	for _, bad := range []core.HTTPSessionOptions{
		{ActiveField: "active", NonEmptyArray: true},
		{ActiveField: "session."},
		{ActiveField: ".active"},
	} {
		bad.URL = "https://id.example.com/s/{sid}"
		if _, err := core.NewHTTPSessionChecker(bad); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", bad, err)
		}
	}
}

// TestHTTPSessionCheckerJSONRules: with a rule, only an answer the rule
// recognises is alive or revoked; everything else is an error (503), never
// alive.
func TestHTTPSessionCheckerJSONRules(t *testing.T) {
	const (
		alive   = "alive"
		revoked = "revoked"
		unknown = "cannot tell"
	)
	var body atomic.Value
	srv, _ := sessionEndpoint(t, func(*http.Request) (int, string) { return 200, body.Load().(string) })
	check := func(t *testing.T, o core.HTTPSessionOptions, answer, want string) {
		t.Helper()
		o.URL, o.MaxBody = srv.URL+"/s/{sid}", 64
		c, err := core.NewHTTPSessionChecker(o)
		if err != nil {
			t.Fatal(err)
		}
		body.Store(answer)
		st, err := c.Check(context.Background(), "s-1")
		got := unknown
		switch {
		case err == nil && st == core.StateActive:
			got = alive
		case err == nil && st == core.StateRevoked:
			got = revoked
		case err != nil && st != core.StateRevoked:
			t.Fatalf("error %v with state %v", err, st)
		}
		if got != want {
			t.Errorf("%+v, answer %q: %s (%v), want %s", o, answer, got, err, want)
		}
	}
	active := core.HTTPSessionOptions{ActiveField: "active"}
	for answer, want := range map[string]string{
		`{"active":true}`:               alive,
		`{"active":false,"id":"x"}`:     revoked,
		`{"id":"x"}`:                    unknown,
		`{"active":"true"}`:             unknown,
		`{"active":1}`:                  unknown,
		`{"active":null}`:               unknown,
		`{"Active":true}`:               unknown,
		`{"active":true,"active":true}`: unknown,
		`{"active":true} x`:             unknown,
		`[{"active":true}]`:             unknown,
		`true`:                          unknown,
		``:                              unknown,
		`<html>`:                        unknown,
		`{"active":true,"pad":"` + strings.Repeat("x", 64) + `"}`: unknown, // beyond MaxBody
	} {
		check(t, active, answer, want)
	}
	nested := core.HTTPSessionOptions{ActiveField: "session.active"}
	for answer, want := range map[string]string{
		`{"session":{"active":true}}`:  alive,
		`{"session":{"active":false}}`: revoked,
		`{"session":true}`:             unknown,
		`{"session.active":true}`:      alive,
		`{"active":true}`:              unknown,
	} {
		check(t, nested, answer, want)
	}
	array := core.HTTPSessionOptions{NonEmptyArray: true}
	for answer, want := range map[string]string{
		`[{"consent_request":{}}]`:            alive,
		` [1] `:                               alive,
		`[]`:                                  revoked,
		`{}`:                                  unknown,
		`null`:                                unknown,
		`[`:                                   unknown,
		`[1,]`:                                unknown,
		`"[]"`:                                unknown,
		``:                                    unknown,
		`[` + strings.Repeat(`1,`, 40) + `1]`: unknown, // beyond MaxBody
	} {
		check(t, array, answer, want)
	}
}

// TestHTTPSessionCheckerGetsTheSubjectFromThePolicy: through the
// Authenticator, the token's sub reaches a {sub} endpoint, and its answer
// decides the sensitive route.
func TestHTTPSessionCheckerGetsTheSubjectFromThePolicy(t *testing.T) {
	var live atomic.Bool
	live.Store(true)
	srv, last := sessionEndpoint(t, func(r *http.Request) (int, string) {
		if live.Load() && r.URL.Query().Get("subject") == "user-1" {
			return 200, `[{"sid":"x"}]`
		}
		return 200, `[]`
	})
	c, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{
		URL: srv.URL + "/sessions?subject={sub}&login_session_id={sid}", NonEmptyArray: true, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newSessEnv(t, func(cfg *core.Config) { cfg.Sessions = c })
	tok := e.token("sess-1")
	if _, err := e.do(context.Background(), tok, true); err != nil {
		t.Fatal(err)
	}
	if q := last.Load().URL.Query(); q.Get("subject") != "user-1" || q.Get("login_session_id") != "sess-1" {
		t.Fatalf("query %v", q)
	}
	live.Store(false)
	if _, err := e.do(context.Background(), tok, true); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("200 [] must be revoked: %v", err)
	}
}
