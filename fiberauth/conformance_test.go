package fiberauth_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/fiberauth"
	"github.com/gofiber/fiber/v2"
)

// TestConformance runs the shared adapter table against a fiber server that
// writes refusals in the middleware (the default).
func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Start: func(t *testing.T, env *adaptertest.Env) string {
		return start(t, newApp(env, fiber.Config{}))
	}, StartTLS: func(t *testing.T, env *adaptertest.Env, cfg *tls.Config) string {
		return startTLS(t, newApp(env, fiber.Config{}), cfg)
	}})
}

// TestConformanceReturnErrors runs the same table with refusals returned to
// the app's ErrorHandler: the client sees no difference.
func TestConformanceReturnErrors(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{Start: func(t *testing.T, env *adaptertest.Env) string {
		cfg := fiber.Config{ErrorHandler: fiberauth.ErrorHandler(fiber.DefaultErrorHandler)}
		return start(t, newApp(env, cfg, fiberauth.ReturnErrors()))
	}})
}

// start serves app on a loopback listener until the test ends.
func start(t *testing.T, app *fiber.App) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, app, ln)
}

// startTLS serves app over TLS with cfg, so that the handlers see
// fasthttp's TLS state (client certificates).
func startTLS(t *testing.T, app *fiber.App, cfg *tls.Config) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, app, tls.NewListener(ln, cfg))
}

func serve(t *testing.T, app *fiber.App, ln net.Listener) string {
	done := make(chan error, 1)
	go func() { done <- app.Listener(ln) }()
	t.Cleanup(func() {
		// A Shutdown that runs before Listener has started serving finds no
		// server and returns, and Listener then serves forever: shut down
		// again until Listener has returned.
		for {
			if err := app.Shutdown(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("listener: %v", err)
				}
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	return ln.Addr().String()
}

func newApp(env *adaptertest.Env, cfg fiber.Config, opts ...fiberauth.Option) *fiber.App {
	h := func(route string) fiber.Handler {
		return func(c *fiber.Ctx) error {
			p, ok := fiberauth.Principal(c)
			c.Set(fiber.HeaderContentType, adaptertest.ContentType)
			return c.Send(env.Serve(route, c.UserContext(), p, ok))
		}
	}
	cfg.DisableStartupMessage = true
	cfg.ReadBufferSize = fiberauth.ReadBufferSize(env.Auth.MaxTokenSize())
	app := fiber.New(cfg)
	// Registered before the middleware, so not covered by it.
	app.Get("/healthz", h(adaptertest.RoutePublic))
	app.Get("/optional", fiberauth.Optional(env.Auth, opts...), h(adaptertest.RouteOptional))
	app.Get("/misconfigured", fiberauth.RequireScopes(adaptertest.Scope), h(adaptertest.RouteMisconfigured))

	for _, p := range env.Auth.ResourceMetadataPaths() { // every method: the handler answers 405 itself
		app.All(p, fiberauth.ResourceMetadata(env.Auth))
	}
	if env.Logout != nil { // every method: the receiver answers 405 itself
		app.All(adaptertest.RouteBackchannelLogout, fiberauth.BackchannelLogout(env.Logout))
	}
	if env.SSF != nil { // every method: the receiver answers 405 itself
		app.All(adaptertest.RouteSSFPush, fiberauth.SSFPush(env.SSF))
	}

	app.Use(fiberauth.New(env.Auth, opts...))
	app.Get("/me", h(adaptertest.RouteMe))
	app.Post("/me", h(adaptertest.RouteMePost))
	app.Post("/transfer", fiberauth.Sensitive(), h(adaptertest.RouteTransfer))
	app.Get("/account", fiberauth.Sensitive(), h(adaptertest.RouteAccount)) // fiber's Get serves HEAD too
	app.Get("/orders", fiberauth.RequireScopes(adaptertest.Scope), h(adaptertest.RouteOrders))
	app.Get("/admin", fiberauth.RequireRoles(adaptertest.Role), h(adaptertest.RouteAdmin))
	app.Get("/dpop", fiberauth.RequireDPoP(), h(adaptertest.RouteDPoP))
	app.Get("/step-up", fiberauth.RequireStepUp(adaptertest.StepUp), fiberauth.Sensitive(), h(adaptertest.RouteStepUp))
	app.Get("/stream", func(c *fiber.Ctx) error {
		ctx, cancel := fiberauth.StreamContext(c) // in the handler: c is reused once it returns
		c.Set(fiber.HeaderContentType, adaptertest.StreamContentType)
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			defer cancel()
			env.Stream(ctx, w, w.Flush)
		})
		return nil
	})
	return app
}

func TestReadBufferSizeHoldsTwoTokensAndTheRest(t *testing.T) {
	for _, c := range []struct{ max, want int }{{0, 20480}, {8192, 20480}, {2048, 8192}, {65536, 135168}} {
		if got := fiberauth.ReadBufferSize(c.max); got != c.want {
			t.Errorf("ReadBufferSize(%d) = %d, want %d", c.max, got, c.want)
		}
	}
}
