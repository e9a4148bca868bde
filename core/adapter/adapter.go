// Package adapter is what an authgate adapter is built from: the view of a
// framework's request the engine reads, admitting a request, rendering a
// refusal, the headers an admitted response carries, per-route markers and
// refusals carried as errors. The four adapters (nethttpauth, ginauth,
// echoauth, fiberauth) are each about a hundred lines of it; an adapter for
// another framework is written the same way and proves itself with the
// conformance suite in core/adaptertest.
//
// An adapter's middleware, in full:
//
//	ctx, err := adapter.Admit(auth, r.Context(), adapter.HTTPRequest(r), optional)
//	if err != nil {
//		adapter.Render(auth, err).Write(w) // status, RFC 6750 challenge, no detail
//		return
//	}
//	adapter.SetHeaders(ctx, w.Header().Set) // Cache-Control, DPoP-Nonce
//	next.ServeHTTP(w, r.WithContext(ctx))
//
// Applications do not need this package: they use their framework's adapter
// and package core.
package adapter

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/internal/link"
)

// StdRequest is a core.Request whose framework has a *http.Request
// (net/http, gin, echo). The engine then hands it to net/http's
// CrossOriginProtection as it is, and reads the TLS state and the request
// target from it.
type StdRequest interface {
	core.Request
	StdRequest() *http.Request
}

// ConnRequest is a core.Request whose framework has no *http.Request
// (fiber): what DPoP's htu check and certificate-bound tokens need beyond
// core.Request.
type ConnRequest interface {
	core.Request
	// Path returns the path of the request target as received
	// (percent-encoded), without the query.
	Path() string
	// TLS returns the connection's TLS state, or nil over plain HTTP.
	TLS() *tls.ConnectionState
	// RemoteAddr returns the address of the peer, "host:port".
	RemoteAddr() string
}

// HTTPRequest returns the engine's view of a *http.Request, for adapters over
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

// Admit authenticates r with auth and applies the session policy. On
// success it returns ctx with the principal in it (read by
// core.PrincipalFrom), for the handler's request. With optional, a request
// without credentials is admitted anonymously (a bad token is still
// refused). On error the adapter writes [Render] of it and does not call
// the handler.
func Admit(auth *core.Authenticator, ctx context.Context, r core.Request, optional bool) (context.Context, error) {
	return link.Admit(auth, ctx, r, optional)
}

// Render turns an error of [Admit] into the response to write, with auth's
// realm and renderer (Config.Renderer): the status, an RFC 6750 (and
// RFC 9449) challenge, and a body that says no more than the error code.
func Render(auth *core.Authenticator, err error) core.Response {
	return link.Render(auth, err).(core.Response)
}

// RenderContext turns an error of core.Require (a route marker) into the
// response to write, with the renderer of the authenticator that admitted
// the request of ctx (the defaults when none did).
func RenderContext(ctx context.Context, err error) core.Response {
	return link.RenderContext(ctx, err).(core.Response)
}

// SetHeaders sets, with set, the response headers of a request [Admit]
// admitted with ctx, before the handler runs (which may still replace
// them): "Cache-Control: no-store" when the token came from the query
// string (RFC 6750 section 2.3), so that no cache keeps a response fetched
// with a token in its URL, and "DPoP-Nonce" when the request was DPoP-bound
// and server nonces are on (RFC 9449 section 8.2). It sets nothing otherwise.
func SetHeaders(ctx context.Context, set func(name, value string)) {
	cc, nonce := link.ResponseHeaders(ctx)
	if cc != "" {
		set("Cache-Control", cc)
	}
	if nonce != "" {
		set("DPoP-Nonce", nonce)
	}
}

// Refusal is a refusal carried as an error, for frameworks whose handlers
// return errors to a central error handler (echo, fiber). Response is what
// the middleware would have written; errors.Is reaches the core sentinels
// through Unwrap.
type Refusal struct {
	// Response is the rendered refusal.
	Response core.Response
	err      error
}

// NewRefusal returns a Refusal carrying resp, the rendering of err.
func NewRefusal(resp core.Response, err error) *Refusal { return &Refusal{Response: resp, err: err} }

// Error says only the status: the reason stays with Unwrap, out of logs that
// print error strings.
func (e *Refusal) Error() string {
	return "authgate: request refused with status " + strconv.Itoa(e.Response.Status)
}

// Unwrap returns the core error (a *core.Error).
func (e *Refusal) Unwrap() error { return e.err }

// Marker is one per-route marker of an adapter (Sensitive, RequireScopes,
// RequireRoles): the route's requirements, and which routes it has already
// reported as misconfigured. An adapter makes one with [NewMarker] where the
// marker is created, and calls [Marker.Check] on every request.
type Marker struct {
	name string
	req  core.Requirements

	mu     sync.Mutex
	logged map[string]bool // routes reported, at most maxMarkerRoutes
}

// maxMarkerRoutes bounds the routes one Marker remembers having reported.
const maxMarkerRoutes = 64

// NewMarker returns the marker of req. Its name, for the log, is the
// adapter function that made it: "Sensitive", "RequireScopes", ...
func NewMarker(name string, req core.Requirements) *Marker {
	return &Marker{name: name, req: req}
}

// Check is core.Require with the marker's requirements; on error the
// adapter writes [RenderContext] of it. When no authgate middleware ran
// before the marker (a deployment bug: the route answers 500,
// core.ErrMisconfigured), it also logs an Error with slog.Default() naming
// the marker and the route, once per route: method and route are the
// request's method and the route as the framework's router names it
// ("/transfer", "/users/:id", or net/http's "GET /transfer"; never the
// request's path).
func (m *Marker) Check(ctx context.Context, method, route string) error {
	err := core.Require(ctx, m.req)
	if err != nil && !link.Admitted(ctx) {
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
