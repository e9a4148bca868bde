package echoauth_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/echoauth"
	"github.com/labstack/echo/v4"
)

// TestConformance runs the shared adapter table against an echo server that
// writes refusals in the middleware (the default).
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Start: func(t *testing.T, env *adaptertest.Env) string {
		return start(t, newServer(env))
	}, StartTLS: func(t *testing.T, env *adaptertest.Env, cfg *tls.Config) string {
		srv := httptest.NewUnstartedServer(newServer(env))
		srv.TLS = cfg
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}})
}

// TestConformanceReturnErrors runs the same table with refusals returned
// through echo's HTTPErrorHandler: the client sees no difference.
func TestConformanceReturnErrors(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Start: func(t *testing.T, env *adaptertest.Env) string {
		e := newServer(env, echoauth.ReturnErrors())
		e.HTTPErrorHandler = echoauth.ErrorHandler(e.DefaultHTTPErrorHandler)
		return start(t, e)
	}})
}

func start(t *testing.T, e *echo.Echo) string {
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func newServer(env *adaptertest.Env, opts ...echoauth.Option) *echo.Echo {
	h := func(route string) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := echoauth.Principal(c)
			return c.Blob(http.StatusOK, adaptertest.ContentType, env.Serve(route, c.Request().Context(), p, ok))
		}
	}
	getHead := []string{http.MethodGet, http.MethodHead}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/healthz", h(adaptertest.RoutePublic))
	e.GET("/optional", h(adaptertest.RouteOptional), echoauth.Optional(env.Auth, opts...))
	e.GET("/misconfigured", h(adaptertest.RouteMisconfigured), echoauth.RequireScopes(adaptertest.Scope))

	for _, p := range env.Auth.ResourceMetadataPaths() { // every method: the handler answers 405 itself
		e.Any(p, echoauth.ResourceMetadata(env.Auth))
	}
	if env.Logout != nil { // every method: the receiver answers 405 itself
		e.Any(adaptertest.RouteBackchannelLogout, echoauth.BackchannelLogout(env.Logout))
	}
	if env.SSF != nil { // every method: the receiver answers 405 itself
		e.Any(adaptertest.RouteSSFPush, echoauth.SSFPush(env.SSF))
	}

	api := e.Group("", echoauth.New(env.Auth, opts...))
	api.GET("/me", h(adaptertest.RouteMe))
	api.POST("/me", h(adaptertest.RouteMePost))
	api.POST("/transfer", h(adaptertest.RouteTransfer), echoauth.Sensitive())
	api.Match(getHead, "/account", h(adaptertest.RouteAccount), echoauth.Sensitive())
	api.Match(getHead, "/orders", h(adaptertest.RouteOrders), echoauth.RequireScopes(adaptertest.Scope))
	api.GET("/admin", h(adaptertest.RouteAdmin), echoauth.RequireRoles(adaptertest.Role))
	api.GET("/dpop", h(adaptertest.RouteDPoP), echoauth.RequireDPoP())
	api.GET("/step-up", h(adaptertest.RouteStepUp), echoauth.RequireStepUp(adaptertest.StepUp), echoauth.Sensitive())
	api.GET("/stream", func(c echo.Context) error {
		ctx, cancel := echoauth.StreamContext(c)
		defer cancel()
		c.Response().Header().Set("Content-Type", adaptertest.StreamContentType)
		env.Stream(ctx, c.Response(), http.NewResponseController(c.Response()).Flush)
		return nil
	})
	return e
}
