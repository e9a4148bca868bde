// Command gin is the authgate example API on gin.
//
//	go run ./examples/gin
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

	"github.com/authgate/authgate/examples/setup"
	"github.com/authgate/authgate/ginauth"
	"github.com/gin-gonic/gin"
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
	auth := ginauth.New(app.Auth) // refuses requests without a valid token

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.HandleMethodNotAllowed = true
	r.GET("/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"ok": true})
	})
	if app.Dev != nil { // development issuer only: gone when AUTHGATE_ISSUER is set
		r.GET("/", gin.WrapH(app.Dev.Page()))
		r.POST("/dev/login", gin.WrapH(app.Dev.Login()))
	}
	for _, p := range app.Auth.ResourceMetadataPaths() { // AUTHGATE_RESOURCE: RFC 9728 metadata, outside the middleware
		r.GET(p, ginauth.ResourceMetadata(app.Auth))
		r.HEAD(p, ginauth.ResourceMetadata(app.Auth))
	}
	if app.BackchannelLogout != nil { // AUTHGATE_ISSUER and AUTHGATE_CLIENT_ID: the issuer's logouts, outside the middleware
		r.POST("/backchannel-logout", ginauth.BackchannelLogout(app.BackchannelLogout))
	}
	if app.SSF != nil { // AUTHGATE_SSF_ISSUER and AUTHGATE_SSF_AUDIENCE: the transmitter's security events, outside the middleware
		r.POST("/ssf/events", ginauth.SSFPush(app.SSF))
	}
	r.GET("/me", auth, func(c *gin.Context) {
		p, _ := ginauth.Principal(c)
		c.JSON(http.StatusOK, setup.Me(p))
	})
	r.POST("/transfer", auth, ginauth.RequireStepUp(app.TransferStepUp), ginauth.Sensitive(), func(c *gin.Context) {
		p, _ := ginauth.Principal(c)
		c.JSON(http.StatusOK, setup.Transfer(p))
	})
	r.GET("/admin", auth, ginauth.RequireRoles("admin"), func(c *gin.Context) {
		p, _ := ginauth.Principal(c)
		c.JSON(http.StatusOK, setup.Admin(p))
	})
	r.GET("/events", auth, func(c *gin.Context) {
		ctx, cancel := ginauth.StreamContext(c) // ends when the token can no longer be accepted
		defer cancel()
		c.Header("Content-Type", setup.EventsContentType)
		app.Events(ctx, c.Writer, http.NewResponseController(c.Writer).Flush)
	})
	r.GET("/ws", auth, func(c *gin.Context) {
		ctx, cancel := ginauth.StreamContext(c)
		defer cancel()
		app.WebSocket(ctx, c.Writer, c.Request)
	})
	r.POST("/logout", auth, func(c *gin.Context) {
		p, _ := ginauth.Principal(c)
		n, err := app.Logout(c.Request.Context(), p, c.Query("all") == "1")
		if errors.Is(err, setup.ErrRemoteSessions) {
			c.JSON(http.StatusNotImplemented, setup.Error(err.Error()))
			return
		} else if err != nil {
			c.JSON(http.StatusInternalServerError, setup.Error("logout failed"))
			return
		}
		http.SetCookie(c.Writer, app.ExpiredCookie())
		c.JSON(http.StatusOK, gin.H{"revoked": n})
	})

	ln, err := net.Listen("tcp", app.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	app.Banner(out, "gin", setup.URL(ln.Addr()))
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
