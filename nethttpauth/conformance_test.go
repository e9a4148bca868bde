package nethttpauth_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/nethttpauth"
)

// TestConformance runs the shared adapter table against a net/http server.
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Start: startServer, StartTLS: startTLS})
}

func startServer(t *testing.T, env *adaptertest.Env) string {
	srv := httptest.NewServer(newHandler(env))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func startTLS(t *testing.T, env *adaptertest.Env, cfg *tls.Config) string {
	srv := httptest.NewUnstartedServer(newHandler(env))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func newHandler(env *adaptertest.Env) http.Handler {
	h := func(route string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := nethttpauth.Principal(r)
			body := env.Serve(route, r.Context(), p, ok)
			w.Header().Set("Content-Type", adaptertest.ContentType)
			_, _ = w.Write(body)
		})
	}
	// Routes behind the middleware.
	api := http.NewServeMux()
	api.Handle("GET /me", h(adaptertest.RouteMe))
	api.Handle("POST /me", h(adaptertest.RouteMePost))
	api.Handle("POST /transfer", nethttpauth.Sensitive(h(adaptertest.RouteTransfer)))
	api.Handle("GET /account", nethttpauth.Sensitive(h(adaptertest.RouteAccount)))
	api.Handle("GET /orders", nethttpauth.RequireScopes(h(adaptertest.RouteOrders), adaptertest.Scope))
	api.Handle("GET /admin", nethttpauth.RequireRoles(h(adaptertest.RouteAdmin), adaptertest.Role))
	api.Handle("GET /dpop", nethttpauth.RequireDPoP(h(adaptertest.RouteDPoP)))
	api.Handle("GET /step-up", nethttpauth.RequireStepUp(nethttpauth.Sensitive(h(adaptertest.RouteStepUp)), adaptertest.StepUp))
	api.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := nethttpauth.StreamContext(r)
		defer cancel()
		w.Header().Set("Content-Type", adaptertest.StreamContentType)
		env.Stream(ctx, w, http.NewResponseController(w).Flush)
	})

	root := http.NewServeMux()
	root.Handle("GET /healthz", h(adaptertest.RoutePublic))
	root.Handle("GET /optional", nethttpauth.Optional(env.Auth)(h(adaptertest.RouteOptional)))
	root.Handle("GET /misconfigured", nethttpauth.RequireScopes(h(adaptertest.RouteMisconfigured), adaptertest.Scope))
	for _, p := range env.Auth.ResourceMetadataPaths() { // every method: the handler answers 405 itself
		root.Handle(p, nethttpauth.ResourceMetadata(env.Auth))
	}
	if env.Logout != nil { // every method: the receiver answers 405 itself
		root.Handle(adaptertest.RouteBackchannelLogout, nethttpauth.BackchannelLogout(env.Logout))
	}
	if env.SSF != nil { // every method: the receiver answers 405 itself
		root.Handle(adaptertest.RouteSSFPush, nethttpauth.SSFPush(env.SSF))
	}
	root.Handle("/", nethttpauth.New(env.Auth)(api))
	return root
}
