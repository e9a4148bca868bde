//go:build unix

package ginauth_test

import (
	"net/http"
	"testing"

	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/ginauth"
	"github.com/gin-gonic/gin"
)

// BenchmarkGin serves GET /me with an RS256 token on gin without authgate,
// behind a no-op middleware, behind ginauth.New and Optional, and measures
// adapter.Admit alone; see adaptertest.RunBench.
func BenchmarkGin(b *testing.B) {
	e := adaptertest.NewBench(b)
	handler := func(c *gin.Context) { c.String(http.StatusOK, "ok") }
	route := func(mw ...gin.HandlerFunc) http.Handler {
		r := gin.New()
		r.GET("/me", append(mw, handler)...)
		return r
	}
	adaptertest.RunBench(b, e, adaptertest.Servers[http.Handler]{
		Plain:    route(),
		Noop:     route(func(c *gin.Context) { c.Next() }),
		Authed:   route(ginauth.New(e.Auth)),
		Verify:   route(ginauth.New(e.Uncached)),
		Optional: route(ginauth.Optional(e.Auth)),
	}, e.Serve)
}
