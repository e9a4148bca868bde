package flowtest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/examples/devissuer"
)

// Flow walks the development-mode contract of issue 6 against a fresh app:
// public health check, refusal without a token, dev login, /me, the
// sensitive /transfer, roles, cookie auth with its cross-site refusals, and
// logout with the same token refused afterwards on every route.
func Flow(t *testing.T, run Run) { FlowEnv(t, run, nil) }

// FlowEnv is Flow with more environment variables (a session store).
func FlowEnv(t *testing.T, run Run, env map[string]string) {
	app := Start(t, run, env)

	t.Run("healthz is public", func(t *testing.T) {
		app.Expect(t, Req{Method: "GET", Path: "/healthz"}, 200)
	})

	t.Run("me without a token is 401 with a bare Bearer challenge", func(t *testing.T) {
		r := app.Expect(t, Req{Method: "GET", Path: "/me"}, 401)
		if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || strings.Contains(ch, "error=") {
			t.Fatalf("WWW-Authenticate = %q, want a Bearer challenge without error", ch)
		}
	})

	t.Run("unknown routes are 404 with or without a token", func(t *testing.T) {
		app.Expect(t, Req{Method: "GET", Path: "/nope"}, 404)
		tok, _ := app.Login(t, "carol")
		app.Expect(t, Req{Method: "GET", Path: "/nope", Bearer: tok}, 404)
	})

	t.Run("the try-it page is served at /", func(t *testing.T) {
		r := app.Expect(t, Req{Method: "GET", Path: "/"}, 200)
		if !strings.Contains(string(r.Body), `id="login"`) || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET / is not the dev page: %s %.80s", r.Header.Get("Content-Type"), r.Body)
		}
		if !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Fatalf("dev page CSP = %q", r.Header.Get("Content-Security-Policy"))
		}
	})

	t.Run("CK-11 dev login sets an HttpOnly SameSite Path=/ cookie with a bounded Max-Age", func(t *testing.T) {
		r := app.Expect(t, Req{Method: "POST", Path: "/dev/login", Form: url.Values{"subject": {"alice"}}}, 200)
		m := r.JSON(t)
		c := r.Cookie("access_token")
		if c == nil {
			t.Fatalf("no access_token cookie in %v", r.Header["Set-Cookie"])
		}
		if c.Value != m["access_token"] {
			t.Fatal("cookie and JSON carry different tokens")
		}
		if !c.HttpOnly || c.Path != "/" || (c.SameSite != http.SameSiteStrictMode && c.SameSite != http.SameSiteLaxMode) {
			t.Fatalf("cookie attributes: %s", r.Header.Get("Set-Cookie"))
		}
		if c.MaxAge <= 0 || c.MaxAge > int(devissuer.MaxTokenTTL/time.Second) {
			t.Fatalf("cookie Max-Age %d is not bounded by the token lifetime", c.MaxAge)
		}
		if c.Secure {
			t.Fatal("cookie is Secure on a loopback HTTP listener: browsers would drop it")
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatal("token response may be cached")
		}
	})

	t.Run("dev login refuses bad input and cross-site posts", func(t *testing.T) {
		app.Expect(t, Req{Method: "POST", Path: "/dev/login", Form: url.Values{"subject": {""}}}, 400)
		app.Expect(t, Req{Method: "POST", Path: "/dev/login", Form: url.Values{"subject": {"a b"}}}, 400)
		app.Expect(t, Req{Method: "POST", Path: "/dev/login", Form: url.Values{"subject": {"x"}, "roles": {"<script>"}}}, 400)
		app.Expect(t, Req{Method: "POST", Path: "/dev/login", Form: url.Values{"subject": {"mallory"}},
			Header: map[string]string{"Sec-Fetch-Site": "cross-site"}}, 403)
	})

	t.Run("dev login answers the bare token for Accept text/plain", func(t *testing.T) {
		r := app.Expect(t, Req{Method: "POST", Path: "/dev/login", Form: url.Values{"subject": {"alice"}},
			Header: map[string]string{"Accept": "text/plain"}}, 200)
		tok := strings.TrimSpace(string(r.Body))
		if strings.Count(tok, ".") != 2 {
			t.Fatalf("body is not a bare JWT: %q", r.Body)
		}
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200)
	})

	t.Run("me, transfer and logout with a bearer token; SS-02 the same token is refused after logout", func(t *testing.T) {
		tok, sid := app.Login(t, "alice")
		me := app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200).JSON(t)
		if me["sub"] != "alice" || me["sid"] != sid {
			t.Fatalf("/me = %v, want sub alice and sid %s", me, sid)
		}
		for _, k := range []string{"scopes", "roles"} {
			if _, ok := me[k].([]any); !ok {
				t.Fatalf("/me has no %s list: %v", k, me)
			}
		}
		tr := app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok}, 200).JSON(t)
		if tr["session_checked_live"] != true {
			t.Fatalf("/transfer did not check the session live: %v", tr)
		}
		out := app.Expect(t, Req{Method: "POST", Path: "/logout", Bearer: tok}, 200)
		if out.JSON(t)["revoked"] != 1.0 {
			t.Fatalf("logout = %s", out.Body)
		}
		if c := out.Cookie("access_token"); c == nil || c.MaxAge >= 0 {
			t.Fatalf("logout does not clear the cookie: %v", out.Header["Set-Cookie"])
		}
		for _, q := range []Req{
			{Method: "POST", Path: "/transfer", Bearer: tok},
			{Method: "GET", Path: "/me", Bearer: tok},
			{Method: "POST", Path: "/logout", Bearer: tok},
		} {
			r := app.Expect(t, q, 401)
			if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Fatalf("%s %s after logout: challenge %q, want invalid_token", q.Method, q.Path, r.Header.Get("WWW-Authenticate"))
			}
		}
	})

	t.Run("admin needs the role admin", func(t *testing.T) {
		user, _ := app.Login(t, "dave")
		app.Expect(t, Req{Method: "GET", Path: "/admin", Bearer: user}, 403)
		admin, _ := app.Login(t, "erin", "admin")
		m := app.Expect(t, Req{Method: "GET", Path: "/admin", Bearer: admin}, 200).JSON(t)
		if m["sub"] != "erin" {
			t.Fatalf("/admin = %v", m)
		}
		me := app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: admin}, 200).JSON(t)
		if roles, _ := me["roles"].([]any); !slices.Contains(roles, any("admin")) {
			t.Fatalf("/me roles = %v", me["roles"])
		}
	})

	t.Run("cookie auth and CSRF", func(t *testing.T) {
		tok, _ := app.Login(t, "frank")
		cross := map[string]string{"Sec-Fetch-Site": "cross-site"}
		cases := []struct {
			name string
			q    Req
			want int
		}{
			{"cookie GET /me", Req{Method: "GET", Path: "/me", Cookie: tok}, 200},
			{"CK-05 cross-site GET /me with the cookie is allowed (safe method)", Req{Method: "GET", Path: "/me", Cookie: tok, Header: cross}, 200},
			{"CK-01 cross-site POST /transfer with the cookie", Req{Method: "POST", Path: "/transfer", Cookie: tok, Header: cross}, 403},
			{"CK-02 same-site POST /transfer with the cookie", Req{Method: "POST", Path: "/transfer", Cookie: tok, Header: map[string]string{"Sec-Fetch-Site": "same-site"}}, 403},
			{"CK-03 foreign Origin POST /transfer with the cookie", Req{Method: "POST", Path: "/transfer", Cookie: tok, Header: map[string]string{"Origin": "https://evil.example"}}, 403},
			{"CK-13 cross-site POST /logout with the cookie", Req{Method: "POST", Path: "/logout", Cookie: tok, Header: cross}, 403},
			{"CK-13 cross-site POST /logout?all=1 with the cookie", Req{Method: "POST", Path: "/logout?all=1", Cookie: tok, Header: cross}, 403},
			{"CK-06 cross-site POST /transfer with the bearer header", Req{Method: "POST", Path: "/transfer", Bearer: tok, Header: cross}, 200},
			{"CK-04 same-origin POST /transfer with the cookie", Req{Method: "POST", Path: "/transfer", Cookie: tok, Header: map[string]string{"Sec-Fetch-Site": "same-origin"}}, 200},
		}
		for _, c := range cases {
			r := app.Do(t, c.q)
			if r.Status != c.want {
				t.Errorf("%s: status %d, want %d (%s)", c.name, r.Status, c.want, r.Body)
			}
		}
		// The refused logouts changed nothing: the session is alive.
		app.Expect(t, Req{Method: "POST", Path: "/transfer", Cookie: tok}, 200)
		// CK-05: a GET cannot transfer.
		r := app.Do(t, Req{Method: "GET", Path: "/transfer", Cookie: tok, Header: cross})
		if r.Status != 405 && r.Status != 404 {
			t.Fatalf("GET /transfer: status %d, want 405 (or 404)", r.Status)
		}
		app.Expect(t, Req{Method: "POST", Path: "/logout", Cookie: tok, Header: map[string]string{"Sec-Fetch-Site": "same-origin"}}, 200)
		app.Expect(t, Req{Method: "GET", Path: "/me", Cookie: tok}, 401)
	})

	t.Run("log out of all devices revokes every session of the subject", func(t *testing.T) {
		phone, _ := app.Login(t, "grace")
		laptop, _ := app.Login(t, "grace")
		other, _ := app.Login(t, "heidi")
		m := app.Expect(t, Req{Method: "POST", Path: "/logout?all=1", Bearer: phone}, 200).JSON(t)
		if m["revoked"] != 2.0 {
			t.Fatalf("logout all = %v, want 2 revoked", m)
		}
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: laptop}, 401)
		app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: laptop}, 401)
		app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: other}, 200)
	})

	t.Run("the banner prints the commands to try the app", func(t *testing.T) {
		out := app.Output()
		for _, want := range []string{
			"listening on " + app.URL,
			"-d subject=alice -d roles=admin " + app.URL + "/dev/login",
			`-H "Authorization: Bearer $TOKEN" ` + app.URL + "/me",
			`-X POST -H "Authorization: Bearer $TOKEN" ` + app.URL + "/transfer",
			`-X POST -H "Authorization: Bearer $TOKEN" ` + app.URL + "/logout",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("banner lacks %q:\n%s", want, out)
			}
		}
	})
}

// RealIssuer runs the app against a real issuer (core/authtest) and proves
// OP-08: no dev login route, no dev page, and dev-minted tokens refused.
// With AUTHGATE_SESSION_URL the sensitive route asks that endpoint.
func RealIssuer(t *testing.T, run Run) {
	iss := authtest.New(t)
	var active, walkActive, down atomic.Bool
	active.Store(true)
	walkActive.Store(true)
	sessions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// AUTHGATE_SESSION_HEADERS reach the endpoint.
		if r.Header.Get("X-Api-Key") != "k1 k2" || r.Header.Get("X-Tenant") != "acme" || down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/sessions/session-1" && active.Load() || r.URL.Path == "/sessions/session-walk" && walkActive.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(sessions.Close)

	// Dev-minted tokens: one as the dev issuer, one forging the real issuer's
	// iss and aud with the dev key.
	dev, err := devissuer.New(devissuer.Options{Sessions: newMemory(t)})
	if err != nil {
		t.Fatal(err)
	}
	devTok, _ := dev.Mint("alice", "session-1", []string{"admin"})
	forger, err := devissuer.New(devissuer.Options{Sessions: newMemory(t), Issuer: iss.URL, Audience: authtest.DefaultAudience})
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := forger.Mint("alice", "session-1", []string{"admin"})
	real := iss.Token(authtest.Claims{"roles": []string{"admin"}})

	envs := map[string]map[string]string{
		"discovery": {"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience},
		"jwks url":  {"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "other-api, " + authtest.DefaultAudience, "AUTHGATE_JWKS_URL": iss.JWKSURL()},
		"session url": {"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience, "AUTHGATE_SESSION_URL": sessions.URL + "/sessions/{sid}",
			"AUTHGATE_SESSION_HEADERS": "X-Api-Key: k1 k2; X-Tenant: acme", "AUTHGATE_MAX_STALE": "1h"},
	}
	for name, env := range envs {
		t.Run(name, func(t *testing.T) {
			app := Start(t, run, env)
			t.Run("OP-08 no dev login route and no dev page", func(t *testing.T) {
				app.Expect(t, Req{Method: "POST", Path: "/dev/login", Form: url.Values{"subject": {"alice"}}}, 404)
				app.Expect(t, Req{Method: "POST", Path: "/dev/login", Bearer: real, Form: url.Values{"subject": {"alice"}}}, 404)
				app.Expect(t, Req{Method: "GET", Path: "/", Bearer: real}, 404)
			})
			t.Run("OP-08 dev-minted tokens are 401", func(t *testing.T) {
				for _, tok := range []string{devTok, forged} {
					for _, q := range []Req{{Method: "GET", Path: "/me", Bearer: tok}, {Method: "GET", Path: "/admin", Cookie: tok}, {Method: "POST", Path: "/transfer", Bearer: tok}} {
						r := app.Expect(t, q, 401)
						if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
							t.Fatalf("%s %s: challenge %q", q.Method, q.Path, r.Header.Get("WWW-Authenticate"))
						}
					}
				}
			})
			t.Run("the real issuer's token is accepted", func(t *testing.T) {
				me := app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: real}, 200).JSON(t)
				if me["sub"] != "user-1" || me["sid"] != "session-1" || me["iss"] != iss.URL {
					t.Fatalf("/me = %v", me)
				}
				app.Expect(t, Req{Method: "GET", Path: "/admin", Bearer: real}, 200)
				app.Expect(t, Req{Method: "GET", Path: "/healthz"}, 200)
			})
			t.Run("a token just under the default MaxTokenSize is accepted, in the header and the cookie at once", func(t *testing.T) {
				big := bigToken(t, iss, core.DefaultMaxTokenSize)
				app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: big}, 200)
				app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: big, Cookie: big}, 200) // fiber: ReadBufferSize
			})
			if env["AUTHGATE_SESSION_URL"] == "" {
				t.Run("sensitive routes refuse sessions the local store does not hold; no logout", func(t *testing.T) {
					app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: real}, 401)
					app.Expect(t, Req{Method: "POST", Path: "/logout", Bearer: real}, 501) // was 200 {"revoked":0}
				})
				t.Run("the banner's walk answers what it says", func(t *testing.T) { BannerWalk(t, app, real, nil) })
				return
			}
			t.Run("sensitive routes ask the session endpoint; logout is the issuer's job", func(t *testing.T) {
				active.Store(true)
				app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: real}, 200)
				app.Expect(t, Req{Method: "POST", Path: "/logout", Bearer: real}, 501)
				// AUTHGATE_MAX_STALE: the endpoint down, a session confirmed
				// within the hour is accepted (fail-open), a session never
				// confirmed is not.
				down.Store(true)
				app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: real}, 200)
				app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: iss.Token(authtest.Claims{"sid": "session-2"})}, 503)
				down.Store(false)
				active.Store(false)
				app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: real}, 401)
			})
			t.Run("the banner's walk answers what it says", func(t *testing.T) {
				// A session of its own: a revoked answer is remembered.
				BannerWalk(t, app, iss.Token(authtest.Claims{"roles": []string{"admin"}, "sid": "session-walk"}), func() { walkActive.Store(false) })
			})
		})
	}
}

// StartErrors proves that a configuration that cannot work stops the app at
// start with an error naming the variable to fix.
func StartErrors(t *testing.T, run Run) {
	iss := authtest.New(t)
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"audience without issuer", map[string]string{"AUTHGATE_AUDIENCE": "api"}, "AUTHGATE_ISSUER"},
		{"jwks url without issuer", map[string]string{"AUTHGATE_JWKS_URL": iss.JWKSURL()}, "AUTHGATE_ISSUER"},
		{"issuer without audience", map[string]string{"AUTHGATE_ISSUER": iss.URL}, "AUTHGATE_AUDIENCE"},
		{"session url in dev mode", map[string]string{"AUTHGATE_SESSION_URL": "http://127.0.0.1:1/s/{sid}"}, "AUTHGATE_SESSION_URL"},
		{"two session backends", map[string]string{"AUTHGATE_INTROSPECTION_URL": "http://127.0.0.1:1/i",
			"AUTHGATE_SESSION_URL": "http://127.0.0.1:1/s/{sid}"}, "at most one"},
		{"the revocation bus unreachable", map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a",
			"AUTHGATE_SESSION_URL": "http://127.0.0.1:1/s/{sid}", "AUTHGATE_REDIS_URL": "redis://127.0.0.1:1"}, "AUTHGATE_REDIS_URL"},
		{"bad ADDR", map[string]string{"ADDR": "no-port"}, "ADDR"},
		{"development mode on a public address", map[string]string{"ADDR": "0.0.0.0:0"}, "AUTHGATE_DEV_ALLOW_REMOTE=1"},
		{"plain-http issuer off loopback", map[string]string{"AUTHGATE_ISSUER": "http://id.example.com", "AUTHGATE_AUDIENCE": "a"}, "https"},
		{"a claim name in dev mode", map[string]string{"AUTHGATE_CLAIM_SID": "ext.sid"}, "AUTHGATE_CLAIM_SID is for a real identity provider"},
		{"a bad claim name", map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a", "AUTHGATE_CLAIM_SID": "ext..sid"}, "SessionID"},
		{"session headers without a session url", map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a", "AUTHGATE_SESSION_HEADERS": "X-Api-Key: k"}, "AUTHGATE_SESSION_URL"},
		{"session headers without a colon", map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a",
			"AUTHGATE_SESSION_URL": "http://127.0.0.1:1/s/{sid}", "AUTHGATE_SESSION_HEADERS": "X-Api-Key k"}, "AUTHGATE_SESSION_HEADERS"},
		{"an unknown session rule", map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a",
			"AUTHGATE_SESSION_URL": "http://127.0.0.1:1/s/{sid}", "AUTHGATE_SESSION_RULE": "non-empty"}, "AUTHGATE_SESSION_RULE"},
		{"max stale not a duration", map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a",
			"AUTHGATE_SESSION_URL": "http://127.0.0.1:1/s/{sid}", "AUTHGATE_MAX_STALE": "soon"}, "AUTHGATE_MAX_STALE"},
		{"max stale without a session url", map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a", "AUTHGATE_MAX_STALE": "30s"}, "AUTHGATE_MAX_STALE"},
		{"a client id without its secret", map[string]string{"AUTHGATE_INTROSPECTION_URL": "http://127.0.0.1:1/i", "AUTHGATE_CLIENT_ID": "x"}, "AUTHGATE_CLIENT_SECRET"},
		{"transfer max age not a duration", map[string]string{"AUTHGATE_TRANSFER_MAX_AGE": "5 minutes"}, "AUTHGATE_TRANSFER_MAX_AGE"},
		{"transfer max age under a second", map[string]string{"AUTHGATE_TRANSFER_MAX_AGE": "10ms"}, "AUTHGATE_TRANSFER_MAX_AGE"},
		{"transfer acr with a quote", map[string]string{"AUTHGATE_TRANSFER_ACR": `urn:"mfa"`}, "AUTHGATE_TRANSFER_ACR"},
		{"authorization servers without a resource", map[string]string{"AUTHGATE_AUTHORIZATION_SERVERS": "https://as.example.com"}, "AUTHGATE_RESOURCE"},
		{"a resource over plain http", map[string]string{"AUTHGATE_RESOURCE": "http://api.example.com"}, "AUTHGATE_RESOURCE"},
		{"require at+jwt is a flag", map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a", "AUTHGATE_REQUIRE_AT_JWT": "yes"}, "AUTHGATE_REQUIRE_AT_JWT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := StartErr(t, run, c.env)
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func newMemory(t *testing.T) *core.MemoryStore {
	s := core.NewMemoryStore(core.StoreOptions{})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Introspection runs the app in RFC 7662 mode against a real introspection
// endpoint: opaque tokens are accepted while the endpoint says active and
// refused at once when it stops, on every route; the endpoint sees the
// client credentials; JWTs and the dev login do not exist in this mode.
func Introspection(t *testing.T, run Run) {
	const good = "opaque-token-0123456789abcdefghijklmnopqrstuvwxyz"
	const walk = "opaque-token-walk-0123456789abcdefghijklmnopqrstuv" // its own: inactive answers are remembered
	var active, walkActive atomic.Bool
	active.Store(true)
	walkActive.Store(true)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "example-api" || secret != "s3cret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if tok := r.PostForm.Get("token"); !(tok == good && active.Load() || tok == walk && walkActive.Load()) {
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		_, _ = w.Write([]byte(`{"active":true,"sub":"user-9","sid":"s-9","scope":"profile transfer","roles":["admin"],"iss":"https://id.example.com","aud":"example-api","token_type":"access_token","exp":` +
			strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + `}`))
	}))
	t.Cleanup(endpoint.Close)
	// Without AUTHGATE_ISSUER: opaque tokens only (with it, JWTs too: see
	// IssuerIntrospection). The audience is checked on each answer.
	app := Start(t, run, map[string]string{
		"AUTHGATE_INTROSPECTION_URL": endpoint.URL, "AUTHGATE_CLIENT_ID": "example-api", "AUTHGATE_CLIENT_SECRET": "s3cret",
		"AUTHGATE_AUDIENCE": "example-api",
	})
	t.Run("the banner's walk answers what it says", func(t *testing.T) {
		BannerWalk(t, app, walk, func() { walkActive.Store(false) })
	})
	me := app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: good}, 200).JSON(t)
	if me["sub"] != "user-9" || me["sid"] != "s-9" {
		t.Fatalf("/me = %v", me)
	}
	app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: good}, 200)
	app.Expect(t, Req{Method: "GET", Path: "/admin", Bearer: good}, 200)
	app.Expect(t, Req{Method: "POST", Path: "/logout", Bearer: good}, 501) // logging out is the issuer's job
	app.Expect(t, Req{Method: "POST", Path: "/dev/login", Form: url.Values{"subject": {"alice"}}}, 404)
	app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: "opaque-token-unknown-0123456789abcdefghijklmnopq"}, 401)
	active.Store(false) // revoked at the authorization server
	app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: good}, 401)
	app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: good}, 401)
}

// bigToken is a valid token of iss of at most limit and at least limit-16
// bytes (a padding claim).
func bigToken(t *testing.T, iss *authtest.Issuer, limit int) string {
	t.Helper()
	n := (limit - len(iss.Token(authtest.Claims{"pad": ""}))) * 3 / 4
	for ; n > 0; n-- {
		if tok := iss.Token(authtest.Claims{"roles": []string{"admin"}, "pad": strings.Repeat("p", n)}); len(tok) <= limit {
			if len(tok) < limit-16 {
				t.Fatalf("big token of %d bytes", len(tok))
			}
			return tok
		}
	}
	t.Fatal("cannot mint a big token")
	return ""
}

// StepUp runs the app against a real issuer with AUTHGATE_TRANSFER_ACR and
// AUTHGATE_TRANSFER_MAX_AGE (RFC 9470): POST /transfer admits a token with
// an accepted acr and a recent auth_time, and refuses each way to fall
// short with 401 insufficient_user_authentication and the acr_values and
// max_age challenge parameters; GET /me asks for neither.
func StepUp(t *testing.T, run Run) {
	iss := authtest.New(t)
	sessions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sessions/session-1" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(sessions.Close)
	app := Start(t, run, map[string]string{
		"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience,
		"AUTHGATE_SESSION_URL":  sessions.URL + "/sessions/{sid}",
		"AUTHGATE_TRANSFER_ACR": "urn:mfa, urn:hwk", "AUTHGATE_TRANSFER_MAX_AGE": "5m",
	})
	now := time.Now().Unix()
	good := iss.Token(authtest.Claims{"acr": "urn:mfa", "auth_time": now - 60})
	app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: good}, 200)
	const challenge = `Bearer realm="api", error="insufficient_user_authentication", error_description="a different authentication level is required", acr_values="urn:mfa urn:hwk", max_age="300"`
	for name, claims := range map[string]authtest.Claims{
		"no acr":                {"auth_time": now - 60},
		"another acr":           {"acr": "urn:pwd", "auth_time": now - 60},
		"auth_time too old":     {"acr": "urn:mfa", "auth_time": now - 600},
		"no auth_time":          {"acr": "urn:hwk"},
		"a revoked session too": {"acr": "urn:pwd", "sid": "session-gone"},
	} {
		tok := iss.Token(claims)
		r := app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok}, 401)
		if got := r.Header.Get("WWW-Authenticate"); got != challenge {
			t.Errorf("%s: challenge %q, want %q", name, got, challenge)
		}
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200)
	}
}

// ResourceMetadata runs the app with AUTHGATE_RESOURCE (RFC 9728) against a
// real issuer: a request without a token is 401 with resource_metadata in
// its challenge, the document at that URL's path names the resource and
// the issuer, and the issuer's RFC 8414 metadata is found from it, as an
// MCP client discovers them; a token of that issuer is then admitted.
func ResourceMetadata(t *testing.T, run Run) {
	iss := authtest.New(t)
	app := Start(t, run, map[string]string{
		"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience,
		"AUTHGATE_RESOURCE": "https://api.example.com/v1",
	})
	const metaURL = "https://api.example.com/.well-known/oauth-protected-resource/v1"
	r := app.Expect(t, Req{Method: "GET", Path: "/me"}, 401)
	if got, want := r.Header.Get("WWW-Authenticate"), `Bearer realm="api", resource_metadata="`+metaURL+`"`; got != want {
		t.Fatalf("challenge %q, want %q", got, want)
	}
	for _, p := range []string{"/.well-known/oauth-protected-resource/v1", "/.well-known/oauth-protected-resource"} {
		m := app.Expect(t, Req{Method: "GET", Path: p}, 200)
		if m.Header.Get("Content-Type") != "application/json" || m.Header.Get("Cache-Control") == "" {
			t.Fatalf("%s: headers %v", p, m.Header)
		}
		doc := m.JSON(t)
		servers, _ := doc["authorization_servers"].([]any)
		if doc["resource"] != "https://api.example.com/v1" || len(servers) != 1 || servers[0] != iss.URL {
			t.Fatalf("%s: %v", p, doc)
		}
	}
	resp, err := http.Get(iss.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the authorization server's metadata: %d", resp.StatusCode)
	}
	app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: iss.Token(nil)}, 200)
	r = app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: "not-a-token"}, 401)
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `resource_metadata="`+metaURL+`"`) {
		t.Fatalf("challenge %q", r.Header.Get("WWW-Authenticate"))
	}
}
