package setup

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// ServeAdmin serves h (the authenticator's StatusHandler) on
// AUTHGATE_ADMIN_ADDR, an internal port that must never be the public one,
// and returns the function that stops it. Without AUTHGATE_ADMIN_ADDR it
// serves nothing.
func (a *App) ServeAdmin(h http.Handler) (stop func(), err error) {
	if a.adminAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", a.adminAddr)
	if err != nil {
		return nil, fmt.Errorf("AUTHGATE_ADMIN_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /status", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	a.AdminURL = URL(ln.Addr()) + "/status"
	return func() { _ = srv.Close(); <-done }, nil
}
