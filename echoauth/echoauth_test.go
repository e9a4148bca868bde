package echoauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/echoauth"
	"github.com/labstack/echo/v4"
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

// I1: on every refusal the handler and the middleware after the refusing one
// never run. By default the refusal is written and nil returned; with
// ReturnErrors nothing is written and an *echoauth.Error carrying the core
// sentinel is returned instead.
func TestRefusal(t *testing.T) {
	iss, auth := newAuth(t)
	cases := []struct {
		name, method, path, token string
		status                    int
		sentinel                  error
	}{
		{"EX-01 no token", "GET", "/me", "", 401, core.ErrNoToken},
		{"forged token", "GET", "/me", "a.b.c", 401, core.ErrInvalidToken},
		{"an anonymous caller on an Optional route meets a marker", "GET", "/optional", "", 401, core.ErrNoToken},
		{"missing scope", "GET", "/orders", iss.Token(nil), 403, core.ErrInsufficientScope},
		{"missing role", "GET", "/admin", iss.Token(nil), 403, core.ErrForbidden},
		{"revoked session", "POST", "/transfer", iss.Token(authtest.Claims{"sid": adaptertest.SessionRevoked}), 401, core.ErrSessionRevoked},
		{"session backend down", "POST", "/transfer", iss.Token(authtest.Claims{"sid": adaptertest.SessionDown}), 503, core.ErrUnavailable},
	}
	for _, returnErrors := range []bool{false, true} {
		var opts []echoauth.Option
		if returnErrors {
			opts = append(opts, echoauth.ReturnErrors())
		}
		var ran []string
		var returned error
		var committed bool
		e := echo.New()
		outer := func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				returned = next(c)
				committed = c.Response().Committed
				return returned
			}
		}
		later := func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error { ran = append(ran, "after"); return next(c) }
		}
		h := func(c echo.Context) error { ran = append(ran, "handler"); return c.String(200, "ok") }
		e.GET("/me", h, outer, echoauth.New(auth, opts...), later)
		e.GET("/optional", h, outer, echoauth.Optional(auth, opts...), echoauth.RequireScopes("orders:read"), later)
		e.GET("/orders", h, outer, echoauth.New(auth, opts...), echoauth.RequireScopes("orders:read"), later)
		e.GET("/admin", h, outer, echoauth.New(auth, opts...), echoauth.RequireRoles("admin"), later)
		e.POST("/transfer", h, outer, echoauth.New(auth, opts...), echoauth.Sensitive(), later)

		for _, c := range cases {
			t.Run(c.name+map[bool]string{false: "", true: " (ReturnErrors)"}[returnErrors], func(t *testing.T) {
				ran, returned, committed = nil, nil, false
				req := httptest.NewRequest(c.method, c.path, nil)
				if c.token != "" {
					req.Header.Set("Authorization", "Bearer "+c.token)
				}
				w := httptest.NewRecorder()
				e.ServeHTTP(w, req)
				if len(ran) != 0 {
					t.Errorf("I1: %q ran on a refusal", ran)
				}
				if !returnErrors {
					if returned != nil || !committed || w.Code != c.status {
						t.Errorf("returned %v, committed %t, status %d; want nil, true, %d", returned, committed, w.Code, c.status)
					}
					return
				}
				var ae *echoauth.Error
				if !errors.As(returned, &ae) || committed {
					t.Fatalf("returned %v (committed %t), want an *echoauth.Error and nothing written", returned, committed)
				}
				if ae.Response.Status != c.status || !errors.Is(returned, c.sentinel) {
					t.Errorf("error status %d, is %v: %t; want %d", ae.Response.Status, c.sentinel, errors.Is(returned, c.sentinel), c.status)
				}
				// I5: the error text is safe to log: the status only, no cause.
				if msg := returned.Error(); msg != "authgate: request refused with status "+strconv.Itoa(c.status) {
					t.Errorf("Error() = %q", msg)
				}
				// Without echoauth.ErrorHandler, echo's default answers 500.
				if w.Code != http.StatusInternalServerError {
					t.Errorf("default error handler answered %d", w.Code)
				}
			})
		}
	}
}

// ErrorHandler writes authgate's refusals as the middleware would, and hands
// every other error to the next handler.
func TestErrorHandler(t *testing.T) {
	_, auth := newAuth(t)
	var passed []error
	e := echo.New()
	e.HTTPErrorHandler = echoauth.ErrorHandler(func(err error, c echo.Context) {
		passed = append(passed, err)
		e.DefaultHTTPErrorHandler(err, c)
	})
	e.GET("/me", func(c echo.Context) error { return c.String(200, "ok") }, echoauth.New(auth, echoauth.ReturnErrors()))
	e.GET("/boom", func(c echo.Context) error { return echo.NewHTTPError(http.StatusTeapot, "short and stout") })

	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest("GET", "/me", nil))
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="conformance"` ||
		w.Header().Get("Cache-Control") != "no-store" || w.Body.String() != "{\"error\":\"unauthorized\"}\n" {
		t.Errorf("refusal: %d %q %q", w.Code, w.Header(), w.Body.String())
	}
	if len(passed) != 0 {
		t.Errorf("the refusal reached the next handler: %v", passed)
	}
	w = httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest("GET", "/boom", nil))
	if w.Code != http.StatusTeapot || len(passed) != 1 {
		t.Errorf("other error: status %d, passed on %d", w.Code, len(passed))
	}
}

// Principal returns what core.PrincipalFrom finds in c.Request().Context(),
// for middleware after New as for the handler, and nothing for an anonymous
// caller of an Optional route.
func TestPrincipal(t *testing.T) {
	iss, auth := newAuth(t)
	var subjects []string
	look := func(c echo.Context) {
		p, ok := echoauth.Principal(c)
		fromCtx, _ := core.PrincipalFrom(c.Request().Context())
		if p != fromCtx {
			t.Errorf("Principal %p, core.PrincipalFrom %p", p, fromCtx)
		}
		if ok {
			subjects = append(subjects, p.Subject)
		} else {
			subjects = append(subjects, "anonymous")
		}
	}
	mw := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { look(c); return next(c) }
	}
	h := func(c echo.Context) error { look(c); return c.NoContent(204) }
	e := echo.New()
	e.GET("/me", h, echoauth.New(auth), mw)
	e.GET("/optional", h, echoauth.Optional(auth))

	req := httptest.NewRequest("GET", "/me", nil)
	req.Header.Set("Authorization", "Bearer "+iss.Token(authtest.Claims{"sub": "user-42"}))
	e.ServeHTTP(httptest.NewRecorder(), req)
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/optional", nil))
	if want := []string{"user-42", "user-42", "anonymous"}; !slices.Equal(subjects, want) {
		t.Errorf("seen %q, want %q", subjects, want)
	}
	c := e.NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder())
	if p, ok := echoauth.Principal(c); ok || p != nil {
		t.Errorf("no middleware: Principal = %+v, %t", p, ok)
	}
}
