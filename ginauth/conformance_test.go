package ginauth_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/ginauth"
	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

// TestConformance runs the shared adapter table against a gin server.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Start: startServer, StartTLS: startTLS})
}

func startServer(t *testing.T, env *adaptertest.Env) string {
	srv := httptest.NewServer(newRouter(env))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func startTLS(t *testing.T, env *adaptertest.Env, cfg *tls.Config) string {
	srv := httptest.NewUnstartedServer(newRouter(env))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func newRouter(env *adaptertest.Env) *gin.Engine {
	h := func(route string) gin.HandlerFunc {
		return func(c *gin.Context) {
			p, ok := ginauth.Principal(c)
			c.Data(http.StatusOK, adaptertest.ContentType, env.Serve(route, c.Request.Context(), p, ok))
		}
	}
	getHead := []string{http.MethodGet, http.MethodHead}

	r := gin.New()
	r.GET("/healthz", h(adaptertest.RoutePublic))
	r.GET("/optional", ginauth.Optional(env.Auth), h(adaptertest.RouteOptional))
	r.GET("/misconfigured", ginauth.RequireScopes(adaptertest.Scope), h(adaptertest.RouteMisconfigured))

	for _, p := range env.Auth.ResourceMetadataPaths() { // every method: the handler answers 405 itself
		r.Any(p, ginauth.ResourceMetadata(env.Auth))
	}
	if env.Logout != nil { // every method: the receiver answers 405 itself
		r.Any(adaptertest.RouteBackchannelLogout, ginauth.BackchannelLogout(env.Logout))
	}
	if env.SSF != nil { // every method: the receiver answers 405 itself
		r.Any(adaptertest.RouteSSFPush, ginauth.SSFPush(env.SSF))
	}

	api := r.Group("/", ginauth.New(env.Auth))
	api.GET("/me", h(adaptertest.RouteMe))
	api.POST("/me", h(adaptertest.RouteMePost))
	api.POST("/transfer", ginauth.Sensitive(), h(adaptertest.RouteTransfer))
	api.Match(getHead, "/account", ginauth.Sensitive(), h(adaptertest.RouteAccount))
	api.Match(getHead, "/orders", ginauth.RequireScopes(adaptertest.Scope), h(adaptertest.RouteOrders))
	api.GET("/admin", ginauth.RequireRoles(adaptertest.Role), h(adaptertest.RouteAdmin))
	api.GET("/dpop", ginauth.RequireDPoP(), h(adaptertest.RouteDPoP))
	api.GET("/step-up", ginauth.RequireStepUp(adaptertest.StepUp), ginauth.Sensitive(), h(adaptertest.RouteStepUp))
	api.GET("/stream", func(c *gin.Context) {
		ctx, cancel := ginauth.StreamContext(c)
		defer cancel()
		c.Header("Content-Type", adaptertest.StreamContentType)
		env.Stream(ctx, c.Writer, func() error { c.Writer.Flush(); return nil })
	})
	return r
}
