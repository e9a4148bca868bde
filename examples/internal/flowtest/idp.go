package flowtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core/authtest"
)

// idpEndpoint is an identity provider's RFC 7662 endpoint and session
// endpoint for the IdentityProvider walk: every token is active until
// revoked, except opaque tokens it does not know; sessions are alive
// until ended.
type idpEndpoint struct {
	*httptest.Server
	iss     *authtest.Issuer
	down    atomic.Bool
	calls   atomic.Int64 // introspection calls
	mu      sync.Mutex
	revoked map[string]bool // token
	ended   map[string]bool // session id
	auth    string          // the last introspection call's Authorization header
}

const idpOpaque = "ory_at_opaque0123456789abcdefghijklmnop.0123456789abcdefghijklmnop"

func newIDPEndpoint(t *testing.T, iss *authtest.Issuer) *idpEndpoint {
	e := &idpEndpoint{iss: iss, revoked: map[string]bool{}, ended: map[string]bool{}}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e.down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/sessions/") {
			if e.ended[strings.TrimPrefix(r.URL.Path, "/sessions/")] {
				w.WriteHeader(http.StatusNotFound)
			}
			return
		}
		e.calls.Add(1)
		e.auth = r.Header.Get("Authorization")
		if id, secret, ok := r.BasicAuth(); ok && (id != "example-api" || secret != "s3cret") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = r.ParseForm()
		tok := r.PostForm.Get("token")
		ans := map[string]any{"active": false}
		switch {
		case e.revoked[tok]:
		case tok == idpOpaque:
			ans = map[string]any{"active": true, "sub": "user-7", "iss": iss.URL, "aud": []string{authtest.DefaultAudience},
				"ext": map[string]any{"sid": "s-7"}, "token_type": "Bearer", "exp": time.Now().Add(time.Hour).Unix()}
		case strings.Count(tok, ".") == 2:
			ans = map[string]any{"active": true, "sub": "user-1", "iss": iss.URL, "aud": []string{authtest.DefaultAudience},
				"ext": map[string]any{"sid": "s-7"}, "token_type": "Bearer", "exp": time.Now().Add(time.Hour).Unix()}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ans)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *idpEndpoint) revoke(tok string) { e.mu.Lock(); e.revoked[tok] = true; e.mu.Unlock() }
func (e *idpEndpoint) end(sid string)    { e.mu.Lock(); e.ended[sid] = true; e.mu.Unlock() }
func (e *idpEndpoint) lastAuth() string  { e.mu.Lock(); defer e.mu.Unlock(); return e.auth }

// IdentityProvider runs the app as a real identity provider needs it
// (issue 16): AUTHGATE_ISSUER with AUTHGATE_INTROSPECTION_URL verifies JWTs
// locally on every route and introspects them on the sensitive one (opaque
// tokens on every route), with or without client credentials, alone or
// with AUTHGATE_SESSION_URL (both must pass); nested claim names; the
// banner's walk; then the start and token rules of
// AUTHGATE_ALLOW_START_WITHOUT_KEYS and AUTHGATE_REQUIRE_AT_JWT.
func IdentityProvider(t *testing.T, run Run) {
	iss := authtest.New(t)
	mint := func() string {
		return iss.Token(authtest.Claims{"sid": nil, "ext": map[string]any{"sid": "s-7"}, "realm_access": map[string]any{"roles": []string{"admin"}}})
	}
	base := func(e *idpEndpoint) map[string]string {
		return map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience,
			"AUTHGATE_INTROSPECTION_URL": e.URL + "/introspect", "AUTHGATE_CLAIM_SID": "ext.sid", "AUTHGATE_CLAIM_ROLES": "realm_access.roles"}
	}

	t.Run("introspection without client credentials", func(t *testing.T) {
		e := newIDPEndpoint(t, iss)
		app := Start(t, run, base(e))
		tok := mint()
		me := app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200).JSON(t)
		if me["sid"] != "s-7" || !strings.Contains(string(mustJSON(me["roles"])), "admin") {
			t.Fatalf("/me = %v: AUTHGATE_CLAIM_SID / AUTHGATE_CLAIM_ROLES not read", me)
		}
		app.Expect(t, Req{Method: "GET", Path: "/admin", Bearer: tok}, 200)
		if n := e.calls.Load(); n != 0 {
			t.Fatalf("%d introspection calls for plain routes, want none (JWTs are verified locally there)", n)
		}
		tr := app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok}, 200).JSON(t)
		if tr["session_checked_live"] != true || e.calls.Load() != 1 {
			t.Fatalf("/transfer = %v after %d calls: the JWT was not introspected", tr, e.calls.Load())
		}
		if a := e.lastAuth(); a != "" {
			t.Errorf("client authentication %q sent without AUTHGATE_CLIENT_ID", a)
		}
		e.down.Store(true)
		r := app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok}, 503)
		if r.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200)
		e.down.Store(false)

		// Opaque tokens: introspected on every route.
		me = app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: idpOpaque}, 200).JSON(t)
		if me["sub"] != "user-7" || me["sid"] != "s-7" {
			t.Fatalf("opaque /me = %v", me)
		}
		e.revoke(idpOpaque)
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: idpOpaque}, 401)

		walk := mint()
		BannerWalk(t, app, walk, func() { e.revoke(walk) })
		if !strings.Contains(app.Output(), "tokens introspected at "+e.URL) {
			t.Errorf("the banner's mode does not say the tokens are introspected:\n%s", app.Output())
		}
	})

	t.Run("introspection with client credentials and a session endpoint", func(t *testing.T) {
		e := newIDPEndpoint(t, iss)
		env := base(e)
		env["AUTHGATE_CLIENT_ID"], env["AUTHGATE_CLIENT_SECRET"] = "example-api", "s3cret"
		env["AUTHGATE_SESSION_URL"] = e.URL + "/sessions/{sid}"
		app := Start(t, run, env)
		tok := mint()
		app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok}, 200)
		if a := e.lastAuth(); !strings.HasPrefix(a, "Basic ") {
			t.Errorf("introspection sent Authorization %q, want client_secret_basic", a)
		}
		e.end("s-7") // the session ends, the token is still active: both must pass
		app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok}, 401)
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200)

		other := iss.Token(authtest.Claims{"sid": nil, "ext": map[string]any{"sid": "s-8"}, "realm_access": map[string]any{"roles": []string{"admin"}}})
		BannerWalk(t, app, other, func() { e.revoke(other) }) // session alive, token revoked
	})

	t.Run("AUTHGATE_SESSION_RULE", func(t *testing.T) {
		// Hydra's consent sessions: 200 [] for an unknown session.
		sessions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch r.URL.Query().Get("sid") {
			case "alive":
				_, _ = w.Write([]byte(`[{"consent":"x"}]`))
			case "flag-on":
				_, _ = w.Write([]byte(`{"session":{"active":true}}`))
			case "flag-off":
				_, _ = w.Write([]byte(`{"session":{"active":false}}`))
			default:
				_, _ = w.Write([]byte(`[]`))
			}
		}))
		t.Cleanup(sessions.Close)
		env := func(rule string) map[string]string {
			e := map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience,
				"AUTHGATE_SESSION_URL": sessions.URL + "/sessions?sid={sid}"}
			if rule != "" {
				e["AUTHGATE_SESSION_RULE"] = rule
			}
			return e
		}
		tok := func(sid string) string { return iss.Token(authtest.Claims{"sid": sid}) }
		plain := Start(t, run, env(""))
		plain.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok("unknown")}, 200) // the trap the rule closes
		arr := Start(t, run, env("nonempty-array"))
		arr.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok("alive")}, 200)
		arr.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok("unknown")}, 401)
		field := Start(t, run, env("field:session.active"))
		field.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok("flag-on")}, 200)
		field.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok("flag-off")}, 401)
		field.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok("unknown")}, 503) // an array: not recognised
	})

	t.Run("AUTHGATE_ALLOW_START_WITHOUT_KEYS", func(t *testing.T) {
		env := map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience, "AUTHGATE_JWKS_URL": "http://127.0.0.1:1/jwks.json"}
		if err := StartErr(t, run, env); !strings.Contains(err.Error(), "AUTHGATE_ALLOW_START_WITHOUT_KEYS=1") {
			t.Fatalf("keys unreachable at start: %v, want an error naming AUTHGATE_ALLOW_START_WITHOUT_KEYS=1", err)
		}
		env["AUTHGATE_ALLOW_START_WITHOUT_KEYS"] = "1"
		app := Start(t, run, env)
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: iss.Token(nil)}, 503)
	})

	t.Run("AUTHGATE_REQUIRE_AT_JWT", func(t *testing.T) {
		app := Start(t, run, map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience, "AUTHGATE_REQUIRE_AT_JWT": "1"})
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: iss.Token(authtest.Claims{"client_id": "c1"})}, 401) // typ JWT
		at := iss.Sign(iss.Signer(), map[string]any{"typ": "at+jwt"}, mergeClaims(iss.Defaults(), authtest.Claims{"client_id": "c1"}))
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: at}, 200)
	})
}

func mergeClaims(a, b authtest.Claims) authtest.Claims {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }
