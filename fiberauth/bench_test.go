//go:build unix

package fiberauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/fiberauth"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// BenchmarkFiber serves GET /me with an RS256 token (authtest, 2048-bit key)
// through fiber's handler on a fasthttp.RequestCtx without authgate
// ("plain"), with fiberauth.New ("authgate"), and measures
// core.Authenticator.Admit alone on the same request ("core", over a
// *http.Request). The adapter's own cost is authgate - plain - core. The
// same with Optional and no credentials ("optional-anonymous",
// "core-anonymous") takes the token verification out, so that the adapter's
// cost stands out of the noise; "authgate-nocache" and "core-nocache" turn the
// verified-token cache off, so that every request verifies the RS256
// signature.
func BenchmarkFiber(b *testing.B) {
	iss := authtest.New(b)
	auth, err := core.New(context.Background(), iss.Config())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = auth.Close() })
	// The same, verifying the RS256 signature on every request.
	cfg := iss.Config()
	cfg.TokenCache.Disabled = true
	uncached, err := core.New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = uncached.Close() })
	tok := iss.Token(nil)

	handler := func(c *fiber.Ctx) error { return c.SendString("ok") }
	plain := fiber.New()
	plain.Get("/me", handler)
	authed := fiber.New()
	authed.Use(fiberauth.New(auth))
	authed.Get("/me", handler)
	noop := fiber.New()
	noop.Use(func(c *fiber.Ctx) error { return c.Next() })
	noop.Get("/me", handler)
	verify := fiber.New()
	verify.Use(fiberauth.New(uncached))
	verify.Get("/me", handler)
	optional := fiber.New()
	optional.Use(fiberauth.Optional(auth))
	optional.Get("/me", handler)

	req := httptest.NewRequest("GET", "/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	anon := httptest.NewRequest("GET", "/me", nil)

	b.Run("plain", func(b *testing.B) { serve(b, plain, tok) })
	b.Run("noop-middleware", func(b *testing.B) { serve(b, noop, tok) })
	b.Run("authgate", func(b *testing.B) { serve(b, authed, tok) })
	b.Run("core", func(b *testing.B) { admit(b, auth, req, false) })
	b.Run("authgate-nocache", func(b *testing.B) { serve(b, verify, tok) })
	b.Run("core-nocache", func(b *testing.B) { admit(b, uncached, req, false) })
	b.Run("optional-anonymous", func(b *testing.B) { serve(b, optional, "") })
	b.Run("core-anonymous", func(b *testing.B) { admit(b, auth, anon, true) })
}

// admit measures core.Authenticator.Admit alone.
func admit(b *testing.B, auth *core.Authenticator, req *http.Request, optional bool) {
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := auth.Admit(req.Context(), stdRequest{req}, optional); err != nil {
			b.Fatal(err)
		}
	}
}

func serve(b *testing.B, app *fiber.App, tok string) {
	h := app.Handler()
	var fctx fasthttp.RequestCtx
	fctx.Request.Header.SetMethod("GET")
	fctx.Request.SetRequestURI("/me")
	if tok != "" {
		fctx.Request.Header.Set("Authorization", "Bearer "+tok)
	}
	h(&fctx)
	if s := fctx.Response.StatusCode(); s != http.StatusOK {
		b.Fatalf("status %d", s)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		fctx.Response.Reset()
		h(&fctx)
	}
}

// reportCPU reports the process's CPU time per operation ("cpu-ns/op"):
// unlike ns/op it does not grow when other processes take the CPU away.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stdRequest is the plainest core.Request: the baseline for the core's cost.
type stdRequest struct{ r *http.Request }

func (q stdRequest) Method() string              { return q.r.Method }
func (q stdRequest) Host() string                { return q.r.Host }
func (q stdRequest) Header(name string) []string { return q.r.Header[name] }
func (q stdRequest) RawQuery() string            { return q.r.URL.RawQuery }
func (q stdRequest) StdRequest() *http.Request   { return q.r }
