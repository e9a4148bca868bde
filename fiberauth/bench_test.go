//go:build unix

package fiberauth_test

import (
	"net/http"
	"testing"

	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/fiberauth"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// BenchmarkFiber serves GET /me with an RS256 token on fiber (through
// app.Handler on a fasthttp.RequestCtx) without authgate, behind a no-op
// middleware, behind fiberauth.New and Optional, and measures
// adapter.Admit alone; see adaptertest.RunBench.
func BenchmarkFiber(b *testing.B) {
	e := adaptertest.NewBench(b)
	route := func(mw ...fiber.Handler) *fiber.App {
		app := fiber.New()
		for _, m := range mw {
			app.Use(m)
		}
		app.Get("/me", func(c *fiber.Ctx) error { return c.SendString("ok") })
		return app
	}
	serve := func(b *testing.B, app *fiber.App, authorized bool) {
		h := app.Handler()
		var fctx fasthttp.RequestCtx
		fctx.Request.Header.SetMethod("GET")
		fctx.Request.SetRequestURI("/me")
		if authorized {
			fctx.Request.Header.Set("Authorization", "Bearer "+e.Token)
		}
		h(&fctx)
		if s := fctx.Response.StatusCode(); s != http.StatusOK {
			b.Fatalf("status %d", s)
		}
		b.ReportAllocs()
		defer adaptertest.ReportCPU(b)()
		for b.Loop() {
			// What fasthttp's server does between two requests of a
			// connection: without it, each request's user context would be
			// the child of the previous one (a chain kept alive forever).
			fctx.ResetUserValues()
			fctx.Response.Reset()
			h(&fctx)
		}
	}
	adaptertest.RunBench(b, e, adaptertest.Servers[*fiber.App]{
		Plain:    route(),
		Noop:     route(func(c *fiber.Ctx) error { return c.Next() }),
		Authed:   route(fiberauth.New(e.Auth)),
		Verify:   route(fiberauth.New(e.Uncached)),
		Optional: route(fiberauth.Optional(e.Auth)),
	}, serve)
}
