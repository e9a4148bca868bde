package echoauth_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/echoauth"
	"github.com/labstack/echo/v4"
)

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

	r := echo.New()
	r.GET("/healthz", func(c echo.Context) error { return c.String(200, "up") }) // public
	api := r.Group("", echoauth.New(auth))
	api.GET("/me", func(c echo.Context) error {
		p, _ := echoauth.Principal(c)
		return c.String(200, "hello "+p.Subject)
	})
	api.GET("/orders", func(c echo.Context) error { return c.String(200, "orders") }, echoauth.RequireScopes("orders:read"))

	for _, q := range []struct{ path, token string }{
		{"/healthz", ""},
		{"/me", ""},
		{"/me", iss.Token(authtest.Claims{"sub": "alice"})},
		{"/orders", iss.Token(authtest.Claims{"sub": "alice"})},
	} {
		req := httptest.NewRequest("GET", q.path, nil)
		if q.token != "" {
			req.Header.Set("Authorization", "Bearer "+q.token)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(q.path, w.Code, strings.TrimSpace(w.Body.String()))
	}
	// Output:
	// /healthz 200 up
	// /me 401 {"error":"unauthorized"}
	// /me 200 hello alice
	// /orders 403 {"error":"insufficient_scope","error_description":"the access token lacks a required scope"}
}
