// Package echoauth plugs authgate into echo (v4).
//
//	auth, err := core.New(ctx, core.Config{Issuer: "https://id.example.com/", Audience: []string{"orders-api"}})
//	e := echo.New()
//	e.GET("/healthz", health)              // public: registered outside the group
//	api := e.Group("", echoauth.New(auth))
//	api.GET("/me", me)
//	api.POST("/transfer", transfer, echoauth.Sensitive())
//
// New refuses every request it covers that has no valid token. By default it
// writes the refusal itself and returns nil, so the response is the same as
// with every other authgate adapter. With [ReturnErrors] it returns an *Error
// instead, for echo's HTTPErrorHandler; [ErrorHandler] writes those exactly
// as the default would. Either way the next handler is not called.
//
// Routes that admit anonymous callers use Optional instead of New; public
// routes are registered where New does not cover them. Per-route
// requirements (Sensitive, RequireScopes, RequireRoles, RequireDPoP) are route middleware;
// they run after routing.
package echoauth

import (
	"errors"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/labstack/echo/v4"
)

// Option configures New and Optional.
type Option func(*options)

type options struct{ returnErrors bool }

// ReturnErrors makes the middleware, and the route markers behind it, return
// refusals as *Error for echo's HTTPErrorHandler instead of writing them.
// Install [ErrorHandler] (or handle *Error in your own) so that clients still
// get the challenge, status and body:
//
//	e.HTTPErrorHandler = echoauth.ErrorHandler(e.DefaultHTTPErrorHandler)
//	e.Use(echoauth.New(auth, echoauth.ReturnErrors()))
func ReturnErrors() Option { return func(o *options) { o.returnErrors = true } }

// modeKey is the echo.Context key under which New records ReturnErrors for
// the route markers.
const modeKey = "authgate.echoauth.return-errors"

// New returns middleware that admits only requests with a valid token and
// puts the principal in the request context.
func New(auth *core.Authenticator, opts ...Option) echo.MiddlewareFunc {
	return middleware(auth, false, opts)
}

// Optional returns middleware that admits requests without credentials as
// anonymous (Principal reports ok == false) and refuses bad tokens as New does.
func Optional(auth *core.Authenticator, opts ...Option) echo.MiddlewareFunc {
	return middleware(auth, true, opts)
}

func middleware(auth *core.Authenticator, optional bool, opts []Option) echo.MiddlewareFunc {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if o.returnErrors {
				c.Set(modeKey, true)
			}
			ctx, err := adapter.Admit(auth, r.Context(), adapter.HTTPRequest(r), optional)
			if err != nil {
				return refuse(c, adapter.Render(auth, err), err)
			}
			adapter.SetHeaders(ctx, c.Response().Header().Set)
			c.SetRequest(r.WithContext(ctx))
			return next(c)
		}
	}
}

// Sensitive returns route middleware that calls the handler only after a live
// check that the token's session is still active (unless the session policy
// is Never).
func Sensitive() echo.MiddlewareFunc {
	return require(adapter.NewMarker("Sensitive", core.Requirements{Sensitive: true}))
}

// RequireScopes returns route middleware that calls the handler only for
// principals granted every one of scopes; others get 403 insufficient_scope.
func RequireScopes(scopes ...string) echo.MiddlewareFunc {
	return require(adapter.NewMarker("RequireScopes", core.Requirements{Scopes: scopes}))
}

// RequireRoles returns route middleware that calls the handler only for
// principals holding at least one of roles; others get 403.
func RequireRoles(roles ...string) echo.MiddlewareFunc {
	return require(adapter.NewMarker("RequireRoles", core.Requirements{Roles: roles}))
}

func require(m *adapter.Marker) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			if err := m.Check(ctx, c.Request().Method, c.Path()); err != nil {
				return refuse(c, adapter.RenderContext(ctx, err), err)
			}
			return next(c)
		}
	}
}

// Principal returns the principal of c, as core.PrincipalFrom does with
// c.Request().Context().
func Principal(c echo.Context) (*core.Principal, bool) {
	return core.PrincipalFrom(c.Request().Context())
}

// Error is a refusal returned to echo's HTTPErrorHandler in [ReturnErrors]
// mode: its Response is what the middleware would have written, and
// errors.Is reaches the core sentinels (core.ErrNoToken, ...).
type Error = adapter.Refusal

// ErrorHandler returns an echo.HTTPErrorHandler that writes authgate's
// refusals (*Error) as the middleware does by default, and hands every other
// error to next.
func ErrorHandler(next echo.HTTPErrorHandler) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		var e *Error
		if errors.As(err, &e) {
			if !c.Response().Committed {
				write(c, e.Response)
			}
			return
		}
		next(err, c)
	}
}

// refuse writes resp, or returns it as an *Error in ReturnErrors mode.
func refuse(c echo.Context, resp core.Response, err error) error {
	if on, _ := c.Get(modeKey).(bool); on {
		return adapter.NewRefusal(resp, err)
	}
	write(c, resp)
	return nil
}

func write(c echo.Context, resp core.Response) { resp.Write(c.Response()) }
