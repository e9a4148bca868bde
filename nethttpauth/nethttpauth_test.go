package nethttpauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/nethttpauth"
)

func TestMiddleware(t *testing.T) {
	iss := authtest.New(t)
	auth, err := core.New(context.Background(), iss.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()

	var calls int
	var seen *core.Principal
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		seen, _ = nethttpauth.Principal(r)
		io.WriteString(w, "ok")
	})
	api := http.NewServeMux()
	api.Handle("GET /me", h)
	api.Handle("GET /admin", nethttpauth.RequireRoles(h, "admin"))
	api.Handle("GET /orders", nethttpauth.RequireScopes(h, "orders:read"))
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") })
	root.Handle("GET /feed", nethttpauth.Optional(auth)(h))
	root.Handle("GET /unguarded", nethttpauth.RequireRoles(h, "admin")) // marker without middleware
	root.Handle("/", nethttpauth.New(auth)(api))
	srv := httptest.NewServer(root)
	defer srv.Close()

	good := iss.Token(authtest.Claims{"roles": []string{"admin"}, "scope": "orders:read"})
	plain := iss.Token(nil)
	cases := []struct {
		name, path, token string
		status            int
		handler           bool
		subject           string
	}{
		{"public route needs nothing", "/healthz", "", 200, false, ""},
		{"protected route without token: 401, handler not called", "/me", "", 401, false, ""},
		{"protected route with token: principal in context", "/me", plain, 200, true, "user-1"},
		{"forged token: 401, handler not called", "/me", plain[:len(plain)-2] + "xx", 401, false, ""},
		{"role present", "/admin", good, 200, true, "user-1"},
		{"role missing: 403", "/admin", plain, 403, false, ""},
		{"scope present", "/orders", good, 200, true, "user-1"},
		{"scope missing: 403", "/orders", plain, 403, false, ""},
		{"optional without token: anonymous", "/feed", "", 200, true, ""},
		{"optional with token: principal", "/feed", plain, 200, true, "user-1"},
		{"optional with bad token: 401", "/feed", "a.b.c", 401, false, ""},
		{"marker without middleware: 500, never open", "/unguarded", good, 500, false, ""},
		{"EX-16 path tricks do not reach the protected handler", "/healthz/../me", "", 401, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls, seen = 0, nil
			req, _ := http.NewRequest("GET", srv.URL+c.path, nil)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, c.status, body)
			}
			if (calls > 0) != c.handler {
				t.Fatalf("handler called %d times, want called=%v", calls, c.handler)
			}
			sub := ""
			if seen != nil {
				sub = seen.Subject
			}
			if sub != c.subject {
				t.Fatalf("principal subject %q, want %q", sub, c.subject)
			}
			if c.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer realm=") {
				t.Fatalf("401 without a Bearer challenge: %v", resp.Header)
			}
		})
	}
}

// The one line: wrap the API's mux; public routes live outside it.
func Example() {
	// In a real program the issuer is your identity provider:
	// core.Config{Issuer: "https://id.example.com/", Audience: []string{"orders-api"}}.
	iss := authtest.New(&testing.T{})
	defer iss.Server.Close()
	auth, err := core.New(context.Background(), iss.Config())
	if err != nil {
		panic(err)
	}
	defer auth.Close()

	api := http.NewServeMux()
	api.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		p, _ := nethttpauth.Principal(r)
		fmt.Fprintf(w, "hello %s", p.Subject)
	})
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	root.Handle("/", nethttpauth.New(auth)(api))

	r := httptest.NewRequest("GET", "/me", nil)
	r.Header.Set("Authorization", "Bearer "+iss.Token(authtest.Claims{"sub": "alice"}))
	w := httptest.NewRecorder()
	root.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body.String())
	// Output: 200 hello alice
}
