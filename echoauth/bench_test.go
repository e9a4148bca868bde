//go:build unix

package echoauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/echoauth"
	"github.com/labstack/echo/v4"
)

// BenchmarkEcho serves GET /me with an RS256 token (authtest, 2048-bit key) on
// echo without authgate ("plain"), with echoauth.New ("authgate"), and measures
// core.Authenticator.Admit alone on the same request ("core"). The adapter's
// own cost is authgate - plain - core. The same with Optional and no
// credentials ("optional-anonymous", "core-anonymous") takes the token
// verification out, so that the adapter's cost stands out of the noise;
// "authgate-nocache" and "core-nocache" turn the verified-token cache off, so
// that every request verifies the RS256 signature.
func BenchmarkEcho(b *testing.B) {
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
	req := httptest.NewRequest("GET", "/me", nil)
	req.Header.Set("Authorization", "Bearer "+iss.Token(nil))

	handler := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	plain := echo.New()
	plain.GET("/me", handler)
	authed := echo.New()
	authed.GET("/me", handler, echoauth.New(auth))
	noop := echo.New()
	noop.GET("/me", handler, func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { return next(c) }
	})
	verify := echo.New()
	verify.GET("/me", handler, echoauth.New(uncached))
	optional := echo.New()
	optional.GET("/me", handler, echoauth.Optional(auth))

	anon := httptest.NewRequest("GET", "/me", nil)

	b.Run("plain", func(b *testing.B) { serve(b, plain, req) })
	b.Run("noop-middleware", func(b *testing.B) { serve(b, noop, req) })
	b.Run("authgate", func(b *testing.B) { serve(b, authed, req) })
	b.Run("core", func(b *testing.B) { admit(b, auth, req, false) })
	b.Run("authgate-nocache", func(b *testing.B) { serve(b, verify, req) })
	b.Run("core-nocache", func(b *testing.B) { admit(b, uncached, req, false) })
	b.Run("optional-anonymous", func(b *testing.B) { serve(b, optional, anon) })
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

func serve(b *testing.B, h http.Handler, req *http.Request) {
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.status != http.StatusOK {
		b.Fatalf("status %d", w.status)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
	}
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) WriteHeader(s int)   { d.status = s }
func (d *discard) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
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
