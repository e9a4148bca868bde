// Command echo is the authgate example API on echo (v4).
//
//	go run ./examples/echo
//
// GET /healthz is public; GET /me needs a valid token; POST /transfer is
// sensitive (its session is checked live); GET /admin needs the role admin;
// POST /logout revokes the caller's session (?all=1: every session of the
// caller); GET /events is a server-sent event stream and GET /ws a
// WebSocket echo, both ended when the token expires or its session is
// revoked. Configuration comes from the environment: see package setup.
package main

import (
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

	"github.com/authgate/authgate/echoauth"
	"github.com/authgate/authgate/examples/setup"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
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
	auth := echoauth.New(app.Auth) // refuses requests without a valid token

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"ok": true})
	})
	if app.Dev != nil { // development issuer only: gone when AUTHGATE_ISSUER is set
		e.GET("/", echo.WrapHandler(app.Dev.Page()))
		e.POST("/dev/login", echo.WrapHandler(app.Dev.Login()))
	}
	for _, p := range app.Auth.ResourceMetadataPaths() { // AUTHGATE_RESOURCE: RFC 9728 metadata, outside the middleware
		e.GET(p, echoauth.ResourceMetadata(app.Auth))
		e.HEAD(p, echoauth.ResourceMetadata(app.Auth))
	}
	if app.BackchannelLogout != nil { // AUTHGATE_ISSUER and AUTHGATE_CLIENT_ID: the issuer's logouts, outside the middleware
		e.POST("/backchannel-logout", echoauth.BackchannelLogout(app.BackchannelLogout))
	}
	if app.SSF != nil { // AUTHGATE_SSF_ISSUER and AUTHGATE_SSF_AUDIENCE: the transmitter's security events, outside the middleware
		e.POST("/ssf/events", echoauth.SSFPush(app.SSF))
	}
	e.GET("/me", func(c echo.Context) error {
		p, _ := echoauth.Principal(c)
		return c.JSON(http.StatusOK, setup.Me(p))
	}, auth)
	e.POST("/transfer", func(c echo.Context) error {
		p, _ := echoauth.Principal(c)
		return c.JSON(http.StatusOK, setup.Transfer(p))
	}, auth, echoauth.RequireStepUp(app.TransferStepUp), echoauth.Sensitive())
	e.GET("/admin", func(c echo.Context) error {
		p, _ := echoauth.Principal(c)
		return c.JSON(http.StatusOK, setup.Admin(p))
	}, auth, echoauth.RequireRoles("admin"))
	e.GET("/events", func(c echo.Context) error {
		ctx, cancel := echoauth.StreamContext(c) // ends when the token can no longer be accepted
		defer cancel()
		c.Response().Header().Set("Content-Type", setup.EventsContentType)
		app.Events(ctx, c.Response(), http.NewResponseController(c.Response()).Flush)
		return nil
	}, auth)
	e.GET("/ws", func(c echo.Context) error {
		ctx, cancel := echoauth.StreamContext(c)
		defer cancel()
		app.WebSocket(ctx, c.Response(), c.Request())
		return nil
	}, auth)
	e.POST("/logout", func(c echo.Context) error {
		p, _ := echoauth.Principal(c)
		n, err := app.Logout(c.Request().Context(), p, c.QueryParam("all") == "1")
		if errors.Is(err, setup.ErrRemoteSessions) {
			return c.JSON(http.StatusNotImplemented, setup.Error(err.Error()))
		} else if err != nil {
			return c.JSON(http.StatusInternalServerError, setup.Error("logout failed"))
		}
		c.SetCookie(app.ExpiredCookie())
		return c.JSON(http.StatusOK, map[string]any{"revoked": n})
	}, auth)

	ln, err := net.Listen("tcp", app.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	app.Banner(out, "echo", setup.URL(ln.Addr()))
	if ready != nil {
		ready <- setup.URL(ln.Addr())
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	app.EndStreams() // Shutdown would wait for them
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
