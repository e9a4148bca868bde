// Command fiber is the authgate example API on fiber (v2).
//
//	go run ./examples/fiber
//
// GET /healthz is public; GET /me needs a valid token; POST /transfer is
// sensitive (its session is checked live); GET /admin needs the role admin;
// POST /logout revokes the caller's session (?all=1: every session of the
// caller); GET /events is a server-sent event stream ended when the token
// expires or its session is revoked. Configuration comes from the
// environment: see package setup.
//
// There is no GET /ws here. The WebSocket example uses coder/websocket,
// which needs net/http's hijacking; fiber has no net/http server, and
// through fiber's adaptor (fasthttpadaptor, whose ResponseWriter does offer
// Hijack) the handshake fails: the adaptor holds the 101 status until the
// handler returns, so the client never gets it, and fasthttp's ReadTimeout
// still bounds the taken-over connection. On fiber use a fasthttp
// WebSocket library (github.com/gofiber/contrib/websocket) with
// fiberauth.StreamContext; see docs/streams.md.
package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/authgate/authgate/examples/setup"
	"github.com/authgate/authgate/fiberauth"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	getenv, err := setup.Environ(os.Environ()) // an unknown AUTHGATE_* variable stops the app
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, getenv, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves the app until ctx ends. Once listening it sends its base URL on
// ready, when ready is not nil.
func run(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string) error {
	app, err := setup.FromEnv(ctx, getenv)
	if err != nil {
		return err
	}
	defer app.Close()
	auth := fiberauth.New(app.Auth) // refuses requests without a valid token

	f := fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: 30 * time.Second,
		// fasthttp's default 4 KiB header buffer would answer 431 to tokens
		// authgate accepts: make room for MaxTokenSize in header and cookie.
		ReadBufferSize: fiberauth.ReadBufferSize(app.Auth.MaxTokenSize())})
	f.Use(recover.New())
	f.Get("/healthz", func(c *fiber.Ctx) error {
		return c.Status(http.StatusOK).JSON(fiber.Map{"ok": true})
	})
	if app.Dev != nil { // development issuer only: gone when AUTHGATE_ISSUER is set
		f.Get("/", adaptor.HTTPHandler(app.Dev.Page()))
		f.Post("/dev/login", adaptor.HTTPHandler(detached(app.Dev.Login())))
	}
	for _, p := range app.Auth.ResourceMetadataPaths() { // AUTHGATE_RESOURCE: RFC 9728 metadata, outside the middleware (HEAD too)
		f.Get(p, fiberauth.ResourceMetadata(app.Auth))
	}
	if app.BackchannelLogout != nil { // AUTHGATE_ISSUER and AUTHGATE_CLIENT_ID: the issuer's logouts, outside the middleware
		f.Post("/backchannel-logout", fiberauth.BackchannelLogout(app.BackchannelLogout))
	}
	if app.SSF != nil { // AUTHGATE_SSF_ISSUER and AUTHGATE_SSF_AUDIENCE: the transmitter's security events, outside the middleware
		f.Post("/ssf/events", fiberauth.SSFPush(app.SSF))
	}
	f.Get("/me", auth, func(c *fiber.Ctx) error {
		p, _ := fiberauth.Principal(c)
		return c.Status(http.StatusOK).JSON(setup.Me(p))
	})
	f.Post("/transfer", auth, fiberauth.RequireStepUp(app.TransferStepUp), fiberauth.Sensitive(), func(c *fiber.Ctx) error {
		p, _ := fiberauth.Principal(c)
		return c.Status(http.StatusOK).JSON(setup.Transfer(p))
	})
	f.Get("/admin", auth, fiberauth.RequireRoles("admin"), func(c *fiber.Ctx) error {
		p, _ := fiberauth.Principal(c)
		return c.Status(http.StatusOK).JSON(setup.Admin(p))
	})
	f.Get("/events", auth, func(c *fiber.Ctx) error {
		// In the handler: fiber runs the stream writer after it returns and
		// reuses c, so the context depends on nothing of c.
		ctx, cancel := fiberauth.StreamContext(c)
		c.Set(fiber.HeaderContentType, setup.EventsContentType)
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			defer cancel()
			app.Events(ctx, w, w.Flush)
		})
		return nil
	})
	f.Post("/logout", auth, func(c *fiber.Ctx) error {
		p, _ := fiberauth.Principal(c)
		n, err := app.Logout(c.UserContext(), p, c.Query("all") == "1")
		if errors.Is(err, setup.ErrRemoteSessions) {
			return c.Status(http.StatusNotImplemented).JSON(setup.Error(err.Error()))
		} else if err != nil {
			return c.Status(http.StatusInternalServerError).JSON(setup.Error("logout failed"))
		}
		c.Append(fiber.HeaderSetCookie, app.ExpiredCookie().String())
		return c.Status(http.StatusOK).JSON(fiber.Map{"revoked": n})
	})

	ln, err := net.Listen("tcp", app.Addr)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- f.Listener(ln) }()
	app.Banner(out, "fiber", setup.URL(ln.Addr()))
	if ready != nil {
		ready <- setup.URL(ln.Addr())
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	app.EndStreams() // Shutdown would wait for them
	return f.ShutdownWithTimeout(10 * time.Second)
}

// detached gives h a request context that is not fasthttp's RequestCtx:
// fiber's adaptor hands that to net/http handlers as their context, and
// fasthttp v1.51 (fiber v2's) races on it when the server shuts down.
func detached(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithoutCancel(r.Context())))
	})
}
