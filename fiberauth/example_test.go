package fiberauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/fiberauth"
	"github.com/gofiber/fiber/v2"
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

	app := fiber.New()
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("up") }) // public: before Use
	app.Use(fiberauth.New(auth))
	app.Get("/me", func(c *fiber.Ctx) error {
		p, _ := fiberauth.Principal(c)
		return c.SendString("hello " + p.Subject)
	})
	app.Get("/orders", fiberauth.RequireScopes("orders:read"), func(c *fiber.Ctx) error { return c.SendString("orders") })

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
		resp, err := app.Test(req, -1)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(q.path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	// Output:
	// /healthz 200 up
	// /me 401 {"error":"unauthorized"}
	// /me 200 hello alice
	// /orders 403 {"error":"insufficient_scope","error_description":"the access token lacks a required scope"}
}
