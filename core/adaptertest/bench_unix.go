//go:build unix

package adaptertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// Bench is the setup every adapter's benchmark shares: one RS256 token
// (authtest, 2048-bit key), an authenticator with the default config and one
// with the verified-token cache off, and the requests to serve.
type Bench struct {
	// Auth has the default config; Uncached verifies every signature.
	Auth, Uncached *core.Authenticator
	// Token is the bearer token Request carries.
	Token string
	// Request is GET /me with the token; Anonymous is GET /me without one.
	Request, Anonymous *http.Request
}

// NewBench builds the shared setup; everything is closed when b ends.
func NewBench(b *testing.B) *Bench {
	iss := authtest.New(b)
	newAuth := func(cfg core.Config) *core.Authenticator {
		a, err := core.New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = a.Close() })
		return a
	}
	e := &Bench{Auth: newAuth(iss.Config()), Token: iss.Token(nil)}
	cfg := iss.Config()
	cfg.TokenCache.Disabled = true
	e.Uncached = newAuth(cfg)
	e.Request = httptest.NewRequest("GET", "/me", nil)
	e.Request.Header.Set("Authorization", "Bearer "+e.Token)
	e.Anonymous = httptest.NewRequest("GET", "/me", nil)
	return e
}

// Servers are one framework's servers of GET /me for the benchmark: without
// auth, behind a middleware that only calls next, behind New(Auth), behind
// New(Uncached), and behind Optional(Auth).
type Servers[H any] struct {
	Plain, Noop, Authed, Verify, Optional H
}

// RunBench runs the sub-benchmarks every adapter reports. serve serves GET
// /me through h, with the token when authorized is true. The adapter's own
// cost is authgate - noop-middleware - core; "optional-anonymous" and
// "core-anonymous" take the token verification out, so that it stands out of
// the noise; the "-nocache" pair verifies the RS256 signature every time.
func RunBench[H any](b *testing.B, e *Bench, s Servers[H], serve func(b *testing.B, h H, authorized bool)) {
	b.Run("plain", func(b *testing.B) { serve(b, s.Plain, true) })
	b.Run("noop-middleware", func(b *testing.B) { serve(b, s.Noop, true) })
	b.Run("authgate", func(b *testing.B) { serve(b, s.Authed, true) })
	b.Run("core", func(b *testing.B) { admit(b, e.Auth, e.Request, false) })
	b.Run("authgate-nocache", func(b *testing.B) { serve(b, s.Verify, true) })
	b.Run("core-nocache", func(b *testing.B) { admit(b, e.Uncached, e.Request, false) })
	b.Run("optional-anonymous", func(b *testing.B) { serve(b, s.Optional, false) })
	b.Run("core-anonymous", func(b *testing.B) { admit(b, e.Auth, e.Anonymous, true) })
}

// Serve is RunBench's serve for adapters over net/http handlers.
func (e *Bench) Serve(b *testing.B, h http.Handler, authorized bool) {
	req := e.Anonymous
	if authorized {
		req = e.Request
	}
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.status != http.StatusOK {
		b.Fatalf("status %d", w.status)
	}
	b.ReportAllocs()
	defer ReportCPU(b)()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, req)
	}
}

// admit measures adapter.Admit alone.
func admit(b *testing.B, auth *core.Authenticator, req *http.Request, optional bool) {
	b.ReportAllocs()
	defer ReportCPU(b)()
	for b.Loop() {
		if _, err := adapter.Admit(auth, req.Context(), adapter.HTTPRequest(req), optional); err != nil {
			b.Fatal(err)
		}
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
