//go:build unix

package nethttpauth_test

import (
	"net/http"
	"testing"

	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/nethttpauth"
)

// BenchmarkNetHTTP serves GET /me with an RS256 token on net/http without
// authgate, behind a no-op middleware, behind nethttpauth.New and Optional,
// and measures adapter.Admit alone; see adaptertest.RunBench.
func BenchmarkNetHTTP(b *testing.B) {
	e := adaptertest.NewBench(b)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })
	noop := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next.ServeHTTP(w, r) })
	}
	adaptertest.RunBench(b, e, adaptertest.Servers[http.Handler]{
		Plain:    mux,
		Noop:     noop(mux),
		Authed:   nethttpauth.New(e.Auth)(mux),
		Verify:   nethttpauth.New(e.Uncached)(mux),
		Optional: nethttpauth.Optional(e.Auth)(mux),
	}, e.Serve)
}
