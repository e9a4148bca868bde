package fiberauth_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/fiberauth"
	"github.com/gofiber/fiber/v2"
)

func newAuth(t testing.TB, sessions core.SessionChecker) (*authtest.Issuer, *core.Authenticator) {
	iss := authtest.New(t)
	auth, err := core.New(context.Background(), adaptertest.Config(iss, sessions))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	return iss, auth
}

func do(t *testing.T, app *fiber.App, method, path, token string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// I1: on every refusal the handler and the handlers after the refusing one
// never run. By default the refusal is written and nil returned; with
// ReturnErrors nothing is written and an *fiberauth.Error carrying the core
// sentinel reaches the app's ErrorHandler.
func TestRefusal(t *testing.T) {
	iss, auth := newAuth(t, &adaptertest.Sessions{})
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
		var opts []fiberauth.Option
		if returnErrors {
			opts = append(opts, fiberauth.ReturnErrors())
		}
		var ran []string
		var returned, handled error
		app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
			handled = err
			return fiber.DefaultErrorHandler(c, err)
		}})
		outer := func(c *fiber.Ctx) error { returned = c.Next(); return returned }
		later := func(c *fiber.Ctx) error { ran = append(ran, "after"); return c.Next() }
		h := func(c *fiber.Ctx) error { ran = append(ran, "handler"); return c.SendString("ok") }
		app.Get("/me", outer, fiberauth.New(auth, opts...), later, h)
		app.Get("/optional", outer, fiberauth.Optional(auth, opts...), fiberauth.RequireScopes("orders:read"), later, h)
		app.Get("/orders", outer, fiberauth.New(auth, opts...), fiberauth.RequireScopes("orders:read"), later, h)
		app.Get("/admin", outer, fiberauth.New(auth, opts...), fiberauth.RequireRoles("admin"), later, h)
		app.Post("/transfer", outer, fiberauth.New(auth, opts...), fiberauth.Sensitive(), later, h)

		for _, c := range cases {
			t.Run(c.name+map[bool]string{false: "", true: " (ReturnErrors)"}[returnErrors], func(t *testing.T) {
				ran, returned, handled = nil, nil, nil
				resp := do(t, app, c.method, c.path, c.token)
				if len(ran) != 0 {
					t.Errorf("I1: %q ran on a refusal", ran)
				}
				if !returnErrors {
					if returned != nil || handled != nil || resp.StatusCode != c.status {
						t.Errorf("returned %v, error handler got %v, status %d; want nil, nil, %d", returned, handled, resp.StatusCode, c.status)
					}
					return
				}
				var fe *fiberauth.Error
				if !errors.As(returned, &fe) || handled != returned {
					t.Fatalf("returned %v, error handler got %v; want the same *fiberauth.Error", returned, handled)
				}
				if fe.Response.Status != c.status || !errors.Is(returned, c.sentinel) {
					t.Errorf("error status %d, is %v: %t; want %d", fe.Response.Status, c.sentinel, errors.Is(returned, c.sentinel), c.status)
				}
				// I5: the error text is safe to log: the status only, no cause.
				if msg := returned.Error(); msg != "authgate: request refused with status "+strconv.Itoa(c.status) {
					t.Errorf("Error() = %q", msg)
				}
				// Without fiberauth.ErrorHandler, fiber's default answers 500.
				if resp.StatusCode != http.StatusInternalServerError {
					t.Errorf("default error handler answered %d", resp.StatusCode)
				}
			})
		}
	}
}

// ErrorHandler writes authgate's refusals as the middleware would, and hands
// every other error to the next handler.
func TestErrorHandler(t *testing.T) {
	_, auth := newAuth(t, &adaptertest.Sessions{})
	var passed []error
	app := fiber.New(fiber.Config{ErrorHandler: fiberauth.ErrorHandler(func(c *fiber.Ctx, err error) error {
		passed = append(passed, err)
		return fiber.DefaultErrorHandler(c, err)
	})})
	app.Get("/boom", func(c *fiber.Ctx) error { return fiber.NewError(http.StatusTeapot, "short and stout") })
	app.Get("/me", fiberauth.New(auth, fiberauth.ReturnErrors()), func(c *fiber.Ctx) error { return c.SendString("ok") })

	resp := do(t, app, "GET", "/me", "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="conformance"` ||
		resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Content-Type") != "application/json" ||
		string(body) != "{\"error\":\"unauthorized\"}\n" {
		t.Errorf("refusal: %d %q %q", resp.StatusCode, resp.Header, body)
	}
	if len(passed) != 0 {
		t.Errorf("the refusal reached the next handler: %v", passed)
	}
	if resp := do(t, app, "GET", "/boom", ""); resp.StatusCode != http.StatusTeapot || len(passed) != 1 {
		t.Errorf("other error: status %d, passed on %d", resp.StatusCode, len(passed))
	}
}

// Principal returns what core.PrincipalFrom finds in c.UserContext(), for
// handlers after New as for the route's handler, and nothing for an
// anonymous caller of an Optional route or without the middleware.
func TestPrincipal(t *testing.T) {
	iss, auth := newAuth(t, &adaptertest.Sessions{})
	var subjects []string
	look := func(c *fiber.Ctx) error {
		p, ok := fiberauth.Principal(c)
		fromCtx, _ := core.PrincipalFrom(c.UserContext())
		if p != fromCtx {
			t.Errorf("Principal %p, core.PrincipalFrom %p", p, fromCtx)
		}
		if ok {
			subjects = append(subjects, p.Subject)
		} else {
			subjects = append(subjects, "anonymous")
		}
		return c.Next()
	}
	end := func(c *fiber.Ctx) error { return c.SendStatus(204) }
	app := fiber.New()
	app.Get("/me", fiberauth.New(auth), look, look, end)
	app.Get("/optional", fiberauth.Optional(auth), look, end)
	app.Get("/none", look, end)

	do(t, app, "GET", "/me", iss.Token(authtest.Claims{"sub": "user-42"}))
	do(t, app, "GET", "/optional", "")
	do(t, app, "GET", "/none", "")
	if want := []string{"user-42", "user-42", "anonymous", "anonymous"}; !slices.Equal(subjects, want) {
		t.Errorf("seen %q, want %q", subjects, want)
	}
}

// panicky is a session checker that panics.
type panicky struct{}

func (panicky) Check(context.Context, string) (core.SessionState, error) {
	panic("session checker bug")
}

// OP-05 / I2: fiber has no recovery; a session checker that panics is
// answered 503 with Retry-After, the handler does not run, and the server
// goes on serving.
func TestPanickingSessionCheckerOP05(t *testing.T) {
	iss, auth := newAuth(t, panicky{})
	ran := 0
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberauth.New(auth))
	app.Post("/transfer", fiberauth.Sensitive(), func(c *fiber.Ctx) error { ran++; return c.SendString("moved") })
	app.Get("/me", func(c *fiber.Ctx) error { return c.SendString("me") })
	base := "http://" + start(t, app)
	tok := iss.Token(nil)

	for i := range 3 {
		req, _ := http.NewRequest("POST", base+"/transfer", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v (did the server die?)", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if ran != 0 {
		t.Errorf("handler ran %d times", ran)
	}
	req, _ := http.NewRequest("GET", base+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after the panics: status %d", resp.StatusCode)
	}
}

// fasthttp reuses its buffers: a principal a handler keeps after its request
// must not change when later requests reuse them.
func TestPrincipalOutlivesRequest(t *testing.T) {
	iss, auth := newAuth(t, &adaptertest.Sessions{})
	var kept []*core.Principal
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberauth.New(auth))
	app.Get("/me", func(c *fiber.Ctx) error {
		p, _ := fiberauth.Principal(c)
		kept = append(kept, p)
		return c.SendStatus(204)
	})
	base := "http://" + start(t, app)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}} // one connection: buffers reused
	defer client.CloseIdleConnections()
	const n = 20
	for i := range n {
		req, _ := http.NewRequest("GET", base+"/me", nil)
		// Same-length subjects and sids, so every token overwrites the last
		// one's bytes in place.
		req.Header.Set("Authorization", "Bearer "+iss.Token(authtest.Claims{"sub": fmt.Sprintf("user-%02d", i), "sid": fmt.Sprintf("sess-%02d", i)}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if len(kept) != n {
		t.Fatalf("%d requests served, want %d", len(kept), n)
	}
	for i, p := range kept {
		if p.Subject != fmt.Sprintf("user-%02d", i) || p.SessionID != fmt.Sprintf("sess-%02d", i) {
			t.Errorf("principal %d now says sub=%q sid=%q", i, p.Subject, p.SessionID)
		}
	}
}

// The principal lives in per-request storage: the next request on the same
// keep-alive connection, to a public route, sees none.
func TestPrincipalDoesNotLeakToTheNextRequest(t *testing.T) {
	iss, auth := newAuth(t, &adaptertest.Sessions{})
	var seen []string
	look := func(c *fiber.Ctx) error {
		if p, ok := fiberauth.Principal(c); ok {
			seen = append(seen, p.Subject)
		} else {
			seen = append(seen, "anonymous")
		}
		return c.SendStatus(204)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/public", look)
	app.Get("/me", fiberauth.New(auth), look)
	base := "http://" + start(t, app)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/me", "/public", "/me", "/public"} {
		req, _ := http.NewRequest("GET", base+path, nil)
		if path == "/me" {
			req.Header.Set("Authorization", "Bearer "+iss.Token(nil))
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if want := []string{"user-1", "anonymous", "user-1", "anonymous"}; !slices.Equal(seen, want) {
		t.Errorf("seen %q, want %q", seen, want)
	}
}

// I5 on fiber: a request fasthttp cannot parse never reaches authgate, and
// fiber's DefaultErrorHandler would answer 400 quoting the raw request, token
// included. The error handler the README recommends answers 400 without it.
func TestUnparsableRequestDoesNotEchoTheToken(t *testing.T) {
	iss, auth := newAuth(t, &adaptertest.Sessions{})
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ErrorHandler: fiberauth.ErrorHandler(func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) && fe.Code == fiber.StatusBadRequest {
			return c.SendStatus(fe.Code) // no message: it may quote the request
		}
		return fiber.DefaultErrorHandler(c, err)
	})})
	app.Use(fiberauth.New(auth))
	app.Get("/me", func(c *fiber.Ctx) error { return c.SendString("me") })
	addr := start(t, app)
	tok := iss.Token(nil)
	for _, line := range []string{"Authorization Bearer " + tok, "Authorization: Bearer " + tok + "\x00"} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /me HTTP/1.1\r\nHost: %s\r\n%s\r\nConnection: close\r\n\r\n", addr, line)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%q: status %d, want 400", line, resp.StatusCode)
		}
		if strings.Contains(string(body), tok[:20]) {
			t.Errorf("%q: the 400 body echoes the token", line)
		}
	}
}
