package core

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// What every adapter needs and no adapter should write twice.

// HTTPRequest returns the core's view of a *http.Request, for adapters over
// net/http (nethttpauth, gin, echo). It copies nothing and does not allocate.
func HTTPRequest(r *http.Request) StdRequest { return httpRequest{r} }

type httpRequest struct{ r *http.Request }

func (q httpRequest) Method() string              { return q.r.Method }
func (q httpRequest) Host() string                { return q.r.Host }
func (q httpRequest) Header(name string) []string { return q.r.Header[name] }
func (q httpRequest) RawQuery() string            { return rawQuery(q.r.URL) }
func (q httpRequest) StdRequest() *http.Request   { return q.r }

func rawQuery(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.RawQuery
}

// Write writes the refusal to w: its headers, its status and its body.
func (resp Response) Write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// Refusal is a refusal carried as an error, for frameworks whose handlers
// return errors to a central error handler (echo, fiber). Response is what
// the middleware would have written; errors.Is reaches the core sentinels
// through Unwrap.
type Refusal struct {
	// Response is the rendered refusal.
	Response Response
	err      error
}

// NewRefusal returns a Refusal carrying resp, the rendering of err.
func NewRefusal(resp Response, err error) *Refusal { return &Refusal{Response: resp, err: err} }

// Error says only the status: the reason stays with Unwrap, out of logs that
// print error strings.
func (e *Refusal) Error() string {
	return "authgate: request refused with status " + strconv.Itoa(e.Response.Status)
}

// Unwrap returns the core error (an *Error).
func (e *Refusal) Unwrap() error { return e.err }

// CacheControl is the Cache-Control value an adapter sets on the response to
// a request that [Authenticator.Admit] admitted with ctx: "no-store" when the
// token came from the query string, so that no cache keeps a response fetched
// with a token in its URL (RFC 6750 section 2.3), and "" (set nothing)
// otherwise. Adapters set it before calling the handler, which may still
// replace it.
func CacheControl(ctx context.Context) string {
	if p := principalState(ctx); p != nil && p.Source == SourceQuery {
		return "no-store"
	}
	return ""
}

// DPoPNonce is the DPoP-Nonce value an adapter sets on the response to a
// request that [Authenticator.Admit] admitted with ctx: the current server
// nonce when the request was DPoP-bound and nonces are on
// (DPoPOptions.NonceSecret), so the client's next proof can carry it
// (RFC 9449 section 8.2); "" (set nothing) otherwise.
func DPoPNonce(ctx context.Context) string {
	if p := principalState(ctx); p != nil && p.Binding == BindingDPoP && p.auth != nil &&
		p.auth.dpop != nil && p.auth.dpop.secret != nil {
		return p.auth.dpop.nonceAt(p.auth.cfg.Now())
	}
	return ""
}

// Marker is one per-route marker of an adapter (Sensitive, RequireScopes,
// RequireRoles): the route's requirements, and which routes it has already
// reported as misconfigured. An adapter makes one with [NewMarker] where the
// marker is created, and calls [Marker.Check] on every request.
type Marker struct {
	name string
	req  Requirements

	mu     sync.Mutex
	logged map[string]bool // routes reported, at most maxMarkerRoutes
}

// maxMarkerRoutes bounds the routes one Marker remembers having reported.
const maxMarkerRoutes = 64

// NewMarker returns the marker of req. Its name, for the log, is the
// adapter function that made it: "Sensitive", "RequireScopes", ...
func NewMarker(name string, req Requirements) *Marker {
	return &Marker{name: name, req: req}
}

// Check is [Require] with the marker's requirements. When no authgate
// middleware ran before the marker (a deployment bug: the route answers 500,
// ErrMisconfigured), it also logs an Error with slog.Default() naming the
// marker and the route, once per route: method and route are the request's
// method and the route as the framework's router names it ("/transfer",
// "/users/:id", or net/http's "GET /transfer"; never the request's path).
func (m *Marker) Check(ctx context.Context, method, route string) error {
	err := Require(ctx, m.req)
	if err != nil && principalState(ctx) == nil {
		switch {
		case route == "":
			route = method + " (unnamed route)"
		case strings.IndexByte(route, ' ') < 0: // net/http's patterns may name the method already
			route = method + " " + route
		}
		m.reportMissing(ctx, route)
	}
	return err
}

func (m *Marker) reportMissing(ctx context.Context, route string) {
	m.mu.Lock()
	if m.logged[route] || len(m.logged) >= maxMarkerRoutes {
		m.mu.Unlock()
		return
	}
	if m.logged == nil {
		m.logged = make(map[string]bool)
	}
	m.logged[route] = true
	m.mu.Unlock()
	what := m.name
	if args := append(append([]string(nil), m.req.Scopes...), m.req.Roles...); len(args) > 0 {
		what += "(" + strings.Join(args, ", ") + ")"
	}
	slog.Default().LogAttrs(ctx, slog.LevelError,
		"authgate: route marker used without the authgate middleware: the route answers 500 to every request until the middleware covers it",
		slog.String("route", route), slog.String("marker", what))
}
