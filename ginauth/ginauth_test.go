package ginauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/ginauth"
	"github.com/gin-gonic/gin"
)

func newAuth(t testing.TB) (*authtest.Issuer, *core.Authenticator) {
	iss := authtest.New(t)
	auth, err := core.New(context.Background(), adaptertest.Config(iss, &adaptertest.Sessions{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	return iss, auth
}

// I1: on every refusal the chain is aborted: the route's handler never runs,
// handlers after the refusing one are skipped, and a middleware before it
// sees c.IsAborted().
func TestRefusalAbortsTheChain(t *testing.T) {
	iss, auth := newAuth(t)
	var ran []string
	var aborted bool
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		aborted = c.IsAborted()
	})
	later := func(name string) gin.HandlerFunc {
		return func(c *gin.Context) { ran = append(ran, name); c.Next() }
	}
	handler := func(c *gin.Context) { ran = append(ran, "handler"); c.String(200, "ok") }
	r.GET("/me", ginauth.New(auth), later("after-new"), handler)
	r.GET("/optional", ginauth.Optional(auth), ginauth.RequireScopes("orders:read"), later("after-marker"), handler)
	r.GET("/orders", ginauth.New(auth), ginauth.RequireScopes("orders:read"), later("after-marker"), handler)
	r.GET("/admin", ginauth.New(auth), ginauth.RequireRoles("admin"), later("after-marker"), handler)
	r.POST("/transfer", ginauth.New(auth), ginauth.Sensitive(), later("after-marker"), handler)
	r.GET("/misconfigured", ginauth.Sensitive(), later("after-marker"), handler)

	cases := []struct {
		name, method, path, token string
		status                    int
		ran                       []string
	}{
		{"EX-01 no token", "GET", "/me", "", 401, nil},
		{"forged token", "GET", "/me", "a.b.c", 401, nil},
		{"an anonymous caller on an Optional route meets a marker", "GET", "/optional", "", 401, nil},
		{"missing scope", "GET", "/orders", iss.Token(nil), 403, nil},
		{"missing role", "GET", "/admin", iss.Token(nil), 403, nil},
		{"revoked session on a sensitive route", "POST", "/transfer", iss.Token(authtest.Claims{"sid": adaptertest.SessionRevoked}), 401, nil},
		{"session backend down", "POST", "/transfer", iss.Token(authtest.Claims{"sid": adaptertest.SessionDown}), 503, nil},
		{"marker without middleware", "GET", "/misconfigured", iss.Token(nil), 500, nil},
		{"admitted: the chain goes on", "GET", "/me", iss.Token(nil), 200, []string{"after-new", "handler"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran, aborted = nil, false
			req := httptest.NewRequest(c.method, c.path, nil)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Errorf("status %d, want %d", w.Code, c.status)
			}
			if !slices.Equal(ran, c.ran) {
				t.Errorf("handlers that ran: %q, want %q", ran, c.ran)
			}
			if want := c.status != 200; aborted != want {
				t.Errorf("c.IsAborted() = %t, want %t", aborted, want)
			}
		})
	}
}

// Principal returns what core.PrincipalFrom finds in c.Request.Context(),
// for middleware after New as for the handler, and nothing for an anonymous
// caller of an Optional route.
func TestPrincipal(t *testing.T) {
	iss, auth := newAuth(t)
	type seen struct {
		p, fromCtx *core.Principal
		ok         bool
	}
	var got []seen
	look := func(c *gin.Context) {
		p, ok := ginauth.Principal(c)
		fromCtx, _ := core.PrincipalFrom(c.Request.Context())
		got = append(got, seen{p, fromCtx, ok})
	}
	r := gin.New()
	r.GET("/me", ginauth.New(auth), look, func(c *gin.Context) { look(c); c.Status(204) })
	r.GET("/optional", ginauth.Optional(auth), func(c *gin.Context) { look(c); c.Status(204) })

	req := httptest.NewRequest("GET", "/me", nil)
	req.Header.Set("Authorization", "Bearer "+iss.Token(authtest.Claims{"sub": "user-42"}))
	r.ServeHTTP(httptest.NewRecorder(), req)
	if len(got) != 2 {
		t.Fatalf("%d looks, want 2", len(got))
	}
	for _, s := range got {
		if !s.ok || s.p == nil || s.p.Subject != "user-42" || s.p != s.fromCtx {
			t.Errorf("Principal = %+v, %t; core.PrincipalFrom = %+v", s.p, s.ok, s.fromCtx)
		}
	}

	got = nil
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/optional", nil))
	if len(got) != 1 || got[0].ok || got[0].p != nil {
		t.Errorf("anonymous caller: Principal = %+v", got)
	}

	// Without the middleware there is no principal, and no panic.
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/", nil)
	if p, ok := ginauth.Principal(c); ok || p != nil {
		t.Errorf("no middleware: Principal = %+v, %t", p, ok)
	}
}

// The refusal carries the challenge, and the status gin records is the one
// written (so gin's logger reports it).
func TestRefusalIsWrittenOnce(t *testing.T) {
	_, auth := newAuth(t)
	r := gin.New()
	var status int
	r.Use(func(c *gin.Context) { c.Next(); status = c.Writer.Status() })
	r.GET("/me", ginauth.New(auth), func(c *gin.Context) { c.String(http.StatusOK, "never") })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest("GET", "/me", nil))
	if w.Code != 401 || status != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="conformance"` {
		t.Errorf("status %d (gin saw %d), challenge %q", w.Code, status, w.Header().Get("WWW-Authenticate"))
	}
	if w.Body.String() != "{\"error\":\"unauthorized\"}\n" {
		t.Errorf("body %q", w.Body.String())
	}
}
