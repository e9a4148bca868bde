package idptest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/echoauth"
	"github.com/authgate/authgate/fiberauth"
	"github.com/authgate/authgate/ginauth"
	"github.com/authgate/authgate/idptest"
	"github.com/authgate/authgate/nethttpauth"
	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/labstack/echo/v4"
)

type me struct {
	Sub    string   `json:"sub"`
	SID    string   `json:"sid"`
	Scopes []string `json:"scopes"`
}

func meOf(p *core.Principal) me { return me{p.Subject, p.SessionID, p.Scopes} }

// servers runs GET /me (a valid token) and POST /transfer (Sensitive: a
// live session check) on each of the four frameworks.
func servers(t *testing.T, auth *core.Authenticator) map[string]string {
	out := map[string]string{}
	mux := http.NewServeMux()
	mw := nethttpauth.New(auth)
	mux.Handle("GET /me", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := nethttpauth.Principal(r)
		json.NewEncoder(w).Encode(meOf(p))
	})))
	mux.Handle("POST /transfer", mw(nethttpauth.Sensitive(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))))
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	out["net/http"] = s.URL

	gin.SetMode(gin.ReleaseMode)
	g := gin.New()
	g.GET("/me", ginauth.New(auth), func(c *gin.Context) {
		p, _ := ginauth.Principal(c)
		c.JSON(200, meOf(p))
	})
	g.POST("/transfer", ginauth.New(auth), ginauth.Sensitive(), func(c *gin.Context) { c.Status(200) })
	s = httptest.NewServer(g)
	t.Cleanup(s.Close)
	out["gin"] = s.URL

	e := echo.New()
	e.GET("/me", func(c echo.Context) error {
		p, _ := echoauth.Principal(c)
		return c.JSON(200, meOf(p))
	}, echoauth.New(auth))
	e.POST("/transfer", func(c echo.Context) error { return c.NoContent(200) }, echoauth.New(auth), echoauth.Sensitive())
	s = httptest.NewServer(e)
	t.Cleanup(s.Close)
	out["echo"] = s.URL

	f := fiber.New(fiber.Config{DisableStartupMessage: true})
	f.Get("/me", fiberauth.New(auth), func(c *fiber.Ctx) error {
		p, _ := fiberauth.Principal(c)
		return c.JSON(meOf(p))
	})
	f.Post("/transfer", fiberauth.New(auth), fiberauth.Sensitive(), func(c *fiber.Ctx) error { return c.SendStatus(200) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go f.Listener(ln)
	t.Cleanup(func() { f.Shutdown() })
	out["fiber"] = "http://" + ln.Addr().String()
	return out
}

func call(t *testing.T, method, u, tok string) (int, me) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m me
	if resp.StatusCode == 200 && method == "GET" {
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, m
}

// TestHydra: hydra's JWTs (client_credentials and authorization code)
// through every adapter; the sensitive route checked live at hydra's
// consent sessions of the subject; hydra down (503 on the live check,
// cached keys elsewhere) and back; consent revoked (401); key rotation.
func TestHydra(t *testing.T) {
	h := idptest.Start(t, idptest.Options{Persistent: true, ScopeClaim: "both"})
	c := h.CreateClient(idptest.ClientSpec{Audience: []string{"orders-api"}})
	checker, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: h.ConsentSessionsURL(), NonEmptyArray: true})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := core.New(context.Background(), core.Config{
		Issuer: h.Issuer, Audience: []string{"orders-api"},
		Claims:   core.ClaimNames{SessionID: "ext.sid"},
		Sessions: checker,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	apps := servers(t, auth)

	cc := h.ClientCredentials(c, "read", "orders-api").AccessToken
	login := idptest.Login{Subject: "alice", Scope: []string{"openid", "offline_access", "read"}, Audience: []string{"orders-api"}}
	ac := h.AuthorizationCode(c, login)
	for name, base := range apps {
		if code, m := call(t, "GET", base+"/me", cc); code != 200 || m.Sub != c.ID || !slices.Equal(m.Scopes, []string{"read"}) {
			t.Errorf("%s: client_credentials /me: %d %+v", name, code, m)
		}
		// scope_claim "both": scope and scp, merged without duplicates.
		if code, m := call(t, "GET", base+"/me", ac.AccessToken); code != 200 || m.Sub != "alice" || m.SID != ac.LoginSessionID || !slices.Equal(m.Scopes, login.Scope) {
			t.Errorf("%s: authorization code /me: %d %+v", name, code, m)
		}
		if code, _ := call(t, "POST", base+"/transfer", ac.AccessToken); code != 200 {
			t.Errorf("%s: /transfer with a live session: %d", name, code)
		}
		if code, _ := call(t, "POST", base+"/transfer", cc); code != 401 {
			t.Errorf("%s: /transfer with a token that names no session: %d", name, code)
		}
	}

	h.Stop()
	for name, base := range apps {
		if code, _ := call(t, "GET", base+"/me", ac.AccessToken); code != 200 {
			t.Errorf("%s: hydra down, /me (cached keys): %d", name, code)
		}
		if code, _ := call(t, "POST", base+"/transfer", ac.AccessToken); code != 503 {
			t.Errorf("%s: hydra down, /transfer: %d, want 503", name, code)
		}
	}
	h.Restart()
	for name, base := range apps {
		if code, _ := call(t, "POST", base+"/transfer", ac.AccessToken); code != 200 {
			t.Errorf("%s: hydra back, /transfer: %d", name, code)
		}
	}

	h.RevokeConsentSessions("alice")
	for name, base := range apps {
		if code, _ := call(t, "POST", base+"/transfer", ac.AccessToken); code != 401 {
			t.Errorf("%s: consent revoked, /transfer: %d, want 401", name, code)
		}
		// No revocation feed from hydra: the JWT stays valid on plain routes (SS-02).
		if code, _ := call(t, "GET", base+"/me", ac.AccessToken); code != 200 {
			t.Errorf("%s: consent revoked, /me: %d", name, code)
		}
	}

	kid := h.RotateKeys()
	rotated := h.ClientCredentials(c, "read", "orders-api").AccessToken
	if got := idptest.JWTHeader(rotated)["kid"]; got != kid {
		t.Fatalf("hydra signed with kid %v after the rotation, want %s", got, kid)
	}
	for name, base := range apps {
		// The first refetch for an unknown kid may be rate-limited
		// (UnknownKeyRefresh): poll, bounded; never accepted before.
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, _ := call(t, "GET", base+"/me", rotated)
			if code == 200 {
				break
			}
			if code != 401 && code != 503 || time.Now().After(deadline) {
				t.Fatalf("%s: a token of the rotated-in key: %d", name, code)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if code, _ := call(t, "GET", base+"/me", cc); code != 200 {
			t.Errorf("%s: a token of the older key after the rotation: %d", name, code)
		}
	}
}

// TestHydraRevocationSeenByIntrospection: an RFC 7009 revoke at hydra makes
// its introspection answer inactive, which the Introspector refuses.
func TestHydraRevocationSeenByIntrospection(t *testing.T) {
	h := idptest.Start(t, idptest.Options{})
	c := h.CreateClient(idptest.ClientSpec{Audience: []string{"orders-api"}})
	in, err := core.NewIntrospector(core.IntrospectionOptions{
		Endpoint: h.IntrospectionURL(), ClientAuth: core.ClientAuthNone,
		Issuer: h.Issuer, Audience: []string{"orders-api"},
		Claims: core.ClaimNames{SessionID: "ext.sid"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	tok := h.AuthorizationCode(c, idptest.Login{Subject: "bob", Scope: []string{"openid", "offline_access", "read"}, Audience: []string{"orders-api"}})
	s, err := in.AuthenticateOpaque(context.Background(), tok.AccessToken)
	if err != nil || s.Subject != "bob" || s.ID != tok.LoginSessionID || !slices.Contains(s.Scopes, "read") {
		t.Fatalf("%+v, %v", s, err)
	}
	h.Revoke(c, tok.AccessToken)
	if _, err := in.AuthenticateOpaque(context.Background(), tok.AccessToken); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("after an RFC 7009 revoke: %v, want revoked", err)
	}
}

// TestHydraOpaqueTokens: hydra's opaque access tokens (ory_at_X.Y, one
// dot) reach the Introspector beside its JWTs, and an RFC 7009 revoke is
// refused at once.
func TestHydraOpaqueTokens(t *testing.T) {
	h := idptest.Start(t, idptest.Options{})
	c := h.CreateClient(idptest.ClientSpec{Audience: []string{"orders-api"}, AccessTokenStrategy: "opaque"})
	in, err := core.NewIntrospector(core.IntrospectionOptions{
		Endpoint: h.IntrospectionURL(), ClientAuth: core.ClientAuthNone,
		Issuer: h.Issuer, Audience: []string{"orders-api"},
		Claims: core.ClaimNames{SessionID: "ext.sid"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	auth, err := core.New(context.Background(), core.Config{Issuer: h.Issuer, Audience: []string{"orders-api"}, Opaque: in})
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	apps := servers(t, auth)
	tok := h.AuthorizationCode(c, idptest.Login{Subject: "carol", Scope: []string{"openid", "offline_access", "read"}, Audience: []string{"orders-api"}})
	if idptest.JWTHeader(tok.AccessToken) != nil {
		t.Fatalf("not an opaque token: %.20s", tok.AccessToken)
	}
	for name, base := range apps {
		if code, m := call(t, "GET", base+"/me", tok.AccessToken); code != 200 || m.Sub != "carol" || m.SID != tok.LoginSessionID {
			t.Errorf("%s: opaque token /me: %d %+v", name, code, m)
		}
	}
	h.Revoke(c, tok.AccessToken)
	for name, base := range apps {
		if code, _ := call(t, "GET", base+"/me", tok.AccessToken); code != 401 {
			t.Errorf("%s: revoked opaque token /me: %d, want 401", name, code)
		}
	}
}

// TestHydraJWTIntrospectedOnSensitiveRoute: hydra's JWTs verified locally
// on /me and introspected (Config.TokenIntrospection) on /transfer, through
// every adapter: an RFC 7009 revoke of the access token, of the refresh
// token, and deleting a client's tokens each end the token at /transfer at
// once while /me keeps it until exp (no revocation feed from hydra); a
// client_credentials token (no session id) is introspected alone; with a
// consent session check besides, both must pass; hydra down: /transfer 503,
// /me from cached keys.
func TestHydraJWTIntrospectedOnSensitiveRoute(t *testing.T) {
	h := idptest.Start(t, idptest.Options{})
	c := h.CreateClient(idptest.ClientSpec{Audience: []string{"orders-api"}})
	newIn := func() *core.Introspector {
		in, err := core.NewIntrospector(core.IntrospectionOptions{
			Endpoint: h.IntrospectionURL(), ClientAuth: core.ClientAuthNone,
			Issuer: h.Issuer, Claims: core.ClaimNames{SessionID: "ext.sid"},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close() })
		return in
	}
	auth, err := core.New(context.Background(), core.Config{
		Issuer: h.Issuer, Audience: []string{"orders-api"},
		Claims:             core.ClaimNames{SessionID: "ext.sid"},
		TokenIntrospection: newIn(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	// The same, with hydra's consent sessions checked by sid besides.
	checker, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: h.ConsentSessionsURL(), NonEmptyArray: true})
	if err != nil {
		t.Fatal(err)
	}
	both, err := core.New(context.Background(), core.Config{
		Issuer: h.Issuer, Audience: []string{"orders-api"},
		Claims:   core.ClaimNames{SessionID: "ext.sid"},
		Sessions: checker, TokenIntrospection: newIn(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { both.Close() })
	authApps := servers(t, auth)
	apps := map[string]string{}
	for name, base := range authApps {
		apps[name] = base
	}
	for name, base := range servers(t, both) {
		apps[name+"+sid"] = base
	}
	login := func(sub string) idptest.Tokens {
		return h.AuthorizationCode(c, idptest.Login{Subject: sub, Scope: []string{"openid", "offline_access", "read"}, Audience: []string{"orders-api"}})
	}
	expect := func(what, method, path, tok string, want int) {
		t.Helper()
		for name, base := range apps {
			if code, _ := call(t, method, base+path, tok); code != want {
				t.Errorf("%s: %s: %s %s: %d, want %d", name, what, method, path, code, want)
			}
		}
	}

	access := login("dave")
	expect("live token", "GET", "/me", access.AccessToken, 200)
	expect("live token", "POST", "/transfer", access.AccessToken, 200)
	h.Revoke(c, access.AccessToken)
	expect("access token revoked (RFC 7009)", "POST", "/transfer", access.AccessToken, 401)
	expect("access token revoked (RFC 7009)", "GET", "/me", access.AccessToken, 200)

	refresh := login("erin")
	expect("live token", "POST", "/transfer", refresh.AccessToken, 200)
	h.Revoke(c, refresh.RefreshToken)
	expect("refresh token revoked", "POST", "/transfer", refresh.AccessToken, 401)
	expect("refresh token revoked", "GET", "/me", refresh.AccessToken, 200)

	// A client_credentials token names no session: introspection alone
	// decides for auth; for both the sid check cannot run (401, as in
	// TestHydra), so only auth's apps are asked.
	c2 := h.CreateClient(idptest.ClientSpec{Audience: []string{"orders-api"}})
	cc := h.ClientCredentials(c2, "read", "orders-api").AccessToken
	for name, base := range authApps {
		if code, _ := call(t, "POST", base+"/transfer", cc); code != 200 {
			t.Errorf("%s: client_credentials token, introspected alone: /transfer %d, want 200", name, code)
		}
	}
	h.DeleteClientTokens(c2)
	for name, base := range authApps {
		if code, _ := call(t, "POST", base+"/transfer", cc); code != 401 {
			t.Errorf("%s: client's tokens deleted: /transfer %d, want 401", name, code)
		}
		if code, _ := call(t, "GET", base+"/me", cc); code != 200 {
			t.Errorf("%s: client's tokens deleted: /me %d, want 200", name, code)
		}
	}

	live := login("frank")
	expect("live token", "POST", "/transfer", live.AccessToken, 200)
	h.Stop()
	expect("hydra down", "POST", "/transfer", live.AccessToken, 503)
	expect("hydra down (cached keys)", "GET", "/me", live.AccessToken, 200)
}
