//go:build unix

package echoauth_test

import (
	"net/http"
	"testing"

	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/echoauth"
	"github.com/labstack/echo/v4"
)

// BenchmarkEcho serves GET /me with an RS256 token on echo without authgate,
// behind a no-op middleware, behind echoauth.New and Optional, and measures
// adapter.Admit alone; see adaptertest.RunBench.
func BenchmarkEcho(b *testing.B) {
	e := adaptertest.NewBench(b)
	handler := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	route := func(mw ...echo.MiddlewareFunc) http.Handler {
		s := echo.New()
		s.GET("/me", handler, mw...)
		return s
	}
	adaptertest.RunBench(b, e, adaptertest.Servers[http.Handler]{
		Plain: route(),
		Noop: route(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error { return next(c) }
		}),
		Authed:   route(echoauth.New(e.Auth)),
		Verify:   route(echoauth.New(e.Uncached)),
		Optional: route(echoauth.Optional(e.Auth)),
	}, e.Serve)
}
