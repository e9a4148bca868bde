// Command nethttp is the authgate example API on net/http.
//
//	go run ./examples/nethttp
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
	"encoding/json"
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
	"github.com/authgate/authgate/nethttpauth"
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
	stopAdmin, err := app.ServeAdmin(app.Auth.StatusHandler()) // AUTHGATE_ADMIN_ADDR only: never the public port
	if err != nil {
		return err
	}
	defer stopAdmin()
	auth := nethttpauth.New(app.Auth) // refuses requests without a valid token

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	if app.Dev != nil { // development issuer only: gone when AUTHGATE_ISSUER is set
		mux.Handle("GET /{$}", app.Dev.Page())
		mux.Handle("POST /dev/login", app.Dev.Login())
	}
	for _, p := range app.Auth.ResourceMetadataPaths() { // AUTHGATE_RESOURCE: RFC 9728 metadata, outside the middleware
		mux.Handle("GET "+p, nethttpauth.ResourceMetadata(app.Auth))
	}
	if app.BackchannelLogout != nil { // AUTHGATE_ISSUER and AUTHGATE_CLIENT_ID: the issuer's logouts, outside the middleware
		mux.Handle("POST /backchannel-logout", nethttpauth.BackchannelLogout(app.BackchannelLogout))
	}
	if app.SSF != nil { // AUTHGATE_SSF_ISSUER and AUTHGATE_SSF_AUDIENCE: the transmitter's security events, outside the middleware
		mux.Handle("POST /ssf/events", nethttpauth.SSFPush(app.SSF))
	}
	mux.Handle("GET /me", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := nethttpauth.Principal(r)
		writeJSON(w, http.StatusOK, setup.Me(p))
	})))
	mux.Handle("POST /transfer", auth(nethttpauth.RequireStepUp(nethttpauth.Sensitive(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := nethttpauth.Principal(r)
		writeJSON(w, http.StatusOK, setup.Transfer(p))
	})), app.TransferStepUp)))
	mux.Handle("GET /admin", auth(nethttpauth.RequireRoles(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := nethttpauth.Principal(r)
		writeJSON(w, http.StatusOK, setup.Admin(p))
	}), "admin")))
	mux.Handle("GET /events", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := nethttpauth.StreamContext(r) // ends when the token can no longer be accepted
		defer cancel()
		w.Header().Set("Content-Type", setup.EventsContentType)
		app.Events(ctx, w, http.NewResponseController(w).Flush)
	})))
	mux.Handle("GET /ws", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := nethttpauth.StreamContext(r)
		defer cancel()
		app.WebSocket(ctx, w, r)
	})))
	mux.Handle("POST /logout", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := nethttpauth.Principal(r)
		n, err := app.Logout(r.Context(), p, r.URL.Query().Get("all") == "1")
		if errors.Is(err, setup.ErrRemoteSessions) {
			writeJSON(w, http.StatusNotImplemented, setup.Error(err.Error()))
			return
		} else if err != nil {
			writeJSON(w, http.StatusInternalServerError, setup.Error("logout failed"))
			return
		}
		http.SetCookie(w, app.ExpiredCookie())
		writeJSON(w, http.StatusOK, map[string]any{"revoked": n})
	})))

	ln, err := net.Listen("tcp", app.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	app.Banner(out, "net/http", setup.URL(ln.Addr()))
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
