// Package fiberauth plugs authgate into fiber (v2).
//
//	auth, err := core.New(ctx, core.Config{Issuer: "https://id.example.com/", Audience: []string{"orders-api"}})
//	app := fiber.New()
//	app.Get("/healthz", health)            // public: registered before the middleware
//	app.Use(fiberauth.New(auth))
//	app.Get("/me", me)
//	app.Post("/transfer", fiberauth.Sensitive(), transfer)
//
// New refuses every request it covers that has no valid token. By default it
// writes the refusal itself and returns nil, so the response is the same as
// with every other authgate adapter. With [ReturnErrors] it returns an *Error
// instead, for the app's ErrorHandler; [ErrorHandler] writes those exactly as
// the default would. Either way the next handler is not called.
//
// Fiber routes in registration order: a route registered before app.Use is
// not covered by it. Routes that admit anonymous callers use Optional instead
// of New. Per-route requirements (Sensitive, RequireScopes, RequireRoles, RequireDPoP) are
// handlers placed before the route's own handler; they run after routing.
//
// Fiber runs on fasthttp, which has no *http.Request and reuses its buffers
// between requests: the adapter hands authgate views of fasthttp's header
// bytes, valid only while the middleware runs, and authgate copies what it
// keeps (the verified-token cache's key; the principal is decoded from the
// token into memory of its own). The principal lives in c.UserContext(), so
// core.PrincipalFrom(c.UserContext()) finds it.
package fiberauth

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"unsafe"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/gofiber/fiber/v2"
)

// Option configures New and Optional.
type Option func(*options)

type options struct{ returnErrors bool }

// ReturnErrors makes the middleware, and the route markers behind it, return
// refusals as *Error for the app's ErrorHandler instead of writing them.
// Install [ErrorHandler] (or handle *Error in your own) so that clients still
// get the challenge, status and body:
//
//	app := fiber.New(fiber.Config{ErrorHandler: fiberauth.ErrorHandler(fiber.DefaultErrorHandler)})
//	app.Use(fiberauth.New(auth, fiberauth.ReturnErrors()))
func ReturnErrors() Option { return func(o *options) { o.returnErrors = true } }

// modeKey is the c.Locals key under which New records ReturnErrors for the
// route markers.
type modeKey struct{}

// New returns middleware that admits only requests with a valid token and
// puts the principal in the user context (c.UserContext()).
func New(auth *core.Authenticator, opts ...Option) fiber.Handler {
	return middleware(auth, false, opts)
}

// Optional returns middleware that admits requests without credentials as
// anonymous (Principal reports ok == false) and refuses bad tokens as New does.
func Optional(auth *core.Authenticator, opts ...Option) fiber.Handler {
	return middleware(auth, true, opts)
}

func middleware(auth *core.Authenticator, optional bool, opts []Option) fiber.Handler {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return func(c *fiber.Ctx) error {
		if o.returnErrors {
			c.Locals(modeKey{}, true)
		}
		q := requests.Get().(*request)
		q.c = c
		ctx, err := adapter.Admit(auth, c.UserContext(), q, optional)
		q.release() // nothing the core keeps points into q or fasthttp's buffers
		if err != nil {
			return refuse(c, adapter.Render(auth, err), err)
		}
		adapter.SetHeaders(ctx, c.Set)
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// Sensitive returns a handler that lets the chain go on only after a live
// check that the token's session is still active (unless the session policy
// is Never).
func Sensitive() fiber.Handler {
	return require(adapter.NewMarker("Sensitive", core.Requirements{Sensitive: true}))
}

// RequireScopes returns a handler that lets the chain go on only for
// principals granted every one of scopes; others get 403 insufficient_scope.
func RequireScopes(scopes ...string) fiber.Handler {
	return require(adapter.NewMarker("RequireScopes", core.Requirements{Scopes: scopes}))
}

// RequireRoles returns a handler that lets the chain go on only for
// principals holding at least one of roles; others get 403.
func RequireRoles(roles ...string) fiber.Handler {
	return require(adapter.NewMarker("RequireRoles", core.Requirements{Roles: roles}))
}

func require(m *adapter.Marker) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		if err := m.Check(ctx, c.Method(), c.Route().Path); err != nil {
			return refuse(c, adapter.RenderContext(ctx, err), err)
		}
		return c.Next()
	}
}

// Principal returns the principal of c, as core.PrincipalFrom does with
// c.UserContext().
func Principal(c *fiber.Ctx) (*core.Principal, bool) {
	return core.PrincipalFrom(c.UserContext())
}

// Error is a refusal returned to the app's ErrorHandler in [ReturnErrors]
// mode: its Response is what the middleware would have written, and
// errors.Is reaches the core sentinels (core.ErrNoToken, ...).
type Error = adapter.Refusal

// ErrorHandler returns a fiber.ErrorHandler that writes authgate's refusals
// (*Error) as the middleware does by default, and hands every other error to
// next.
func ErrorHandler(next fiber.ErrorHandler) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		var e *Error
		if errors.As(err, &e) {
			return write(c, e.Response)
		}
		return next(c, err)
	}
}

// refuse writes resp, or returns it as an *Error in ReturnErrors mode.
func refuse(c *fiber.Ctx, resp core.Response, err error) error {
	if on, _ := c.Locals(modeKey{}).(bool); on {
		return adapter.NewRefusal(resp, err)
	}
	return write(c, resp)
}

func write(c *fiber.Ctx, resp core.Response) error {
	h := &c.Response().Header
	for k, vs := range resp.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	c.Status(resp.Status)
	return c.Send(resp.Body)
}

// request is the core's view of a fasthttp request. Its strings are views of
// fasthttp's buffers, not copies (core.Request: they are read while the
// request is served, never after), and the slices Header returns are cut
// from vals, so that a cache hit costs no allocation here. Requests are
// pooled; each is used by one Admit at a time.
type request struct {
	c    *fiber.Ctx
	vals [8]string // Header's results, each call its own part
	used int
}

var requests = sync.Pool{New: func() any { return new(request) }}

// release clears q (no view of this request's buffers stays reachable) and
// returns it to the pool.
func (q *request) release() {
	clear(q.vals[:q.used])
	q.c, q.used = nil, 0
	requests.Put(q)
}

// view returns the bytes of b as a string without copying: valid only while
// b is, which for fasthttp's header buffers is until the request ends.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

func (q *request) Method() string { return method(q.c.Method()) }

// Host returns the host as net/http's Request.Host has it: the host of an
// absolute-form request line ("POST http://host/path"), else the Host header.
// fasthttp's URI().Host() would lower-case it, which net/http does not.
func (q *request) Host() string {
	h := &q.c.Request().Header
	if uri := h.RequestURI(); len(uri) > 0 && uri[0] != '/' {
		if u, err := url.ParseRequestURI(view(uri)); err == nil && u.Host != "" {
			return u.Host
		}
	}
	return view(h.Host())
}

// Header returns every field line of name, as net/http's Header[name] does.
// Each call gets slots of its own (the core may hold two results at once,
// e.g. Origin and Sec-Fetch-Site), with the capacity clipped.
func (q *request) Header(name string) []string {
	vals := q.c.Request().Header.PeekAll(name)
	if len(vals) == 0 {
		return nil
	}
	var out []string
	if n := q.used + len(vals); n <= len(q.vals) {
		out = q.vals[q.used:n:n]
		q.used = n
	} else {
		out = make([]string, len(vals))
	}
	for i, v := range vals {
		out[i] = view(v)
	}
	return out
}

// RawQuery returns what follows the first '?' of the request-target, as
// net/http's URL.RawQuery has it: fasthttp's parsed URI would drop a
// fragment ("#..."), which a request-target may not carry (RFC 9112 3.2),
// and the four adapters must hand the core the same bytes.
func (q *request) RawQuery() string {
	uri := q.c.Request().Header.RequestURI()
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		return view(uri[i+1:])
	}
	return ""
}

// method returns m as a constant for the common methods and a copy otherwise
// (fiber's method string points into fasthttp's buffer).
func method(m string) string {
	switch m {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	}
	return string([]byte(m))
}

// ReadBufferSize is the fiber.Config.ReadBufferSize (fasthttp's buffer for a
// request's line and header, 4096 bytes by default) that makes room for a
// token of maxTokenSize bytes (core.Config.MaxTokenSize; 0 means its
// default, core.DefaultMaxTokenSize) both in the Authorization header and in
// the cookie, plus 4 KiB for the request line and the other headers and
// cookies. fasthttp answers a larger header 431 before any middleware runs,
// so with its default a token that authgate accepts on every other framework
// never reaches authgate on fiber:
//
//	app := fiber.New(fiber.Config{ReadBufferSize: fiberauth.ReadBufferSize(cfg.MaxTokenSize)})
//
// Add the size of your own large headers and cookies if you have any.
func ReadBufferSize(maxTokenSize int) int {
	if maxTokenSize <= 0 {
		maxTokenSize = core.DefaultMaxTokenSize
	}
	return 2*maxTokenSize + 4096
}
