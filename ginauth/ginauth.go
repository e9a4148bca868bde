// Package ginauth plugs authgate into gin.
//
//	auth, err := core.New(ctx, core.Config{Issuer: "https://id.example.com/", Audience: []string{"orders-api"}})
//	r := gin.New()
//	r.GET("/healthz", health)              // public: registered outside the group
//	api := r.Group("/", ginauth.New(auth))
//	api.GET("/me", me)
//	api.POST("/transfer", ginauth.Sensitive(), transfer)
//
// New refuses every request it covers that has no valid token: it writes the
// refusal and aborts the chain, so no later handler runs. Routes that admit
// anonymous callers use Optional instead of New; public routes are registered
// where New does not cover them. Per-route requirements (Sensitive,
// RequireScopes, RequireRoles, RequireDPoP) are handlers placed before the route's own
// handler; they run after routing.
package ginauth

import (
	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/gin-gonic/gin"
)

// New returns middleware that admits only requests with a valid token and
// puts the principal in the request context.
func New(auth *core.Authenticator) gin.HandlerFunc {
	return middleware(auth, false)
}

// Optional returns middleware that admits requests without credentials as
// anonymous (Principal reports ok == false) and refuses bad tokens as New does.
func Optional(auth *core.Authenticator) gin.HandlerFunc {
	return middleware(auth, true)
}

func middleware(auth *core.Authenticator, optional bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, err := adapter.Admit(auth, c.Request.Context(), adapter.HTTPRequest(c.Request), optional)
		if err != nil {
			write(c, adapter.Render(auth, err))
			return
		}
		adapter.SetHeaders(ctx, c.Header)
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// Sensitive returns a handler that lets the chain go on only after a live
// check that the token's session is still active (unless the session policy
// is Never).
func Sensitive() gin.HandlerFunc {
	return require(adapter.NewMarker("Sensitive", core.Requirements{Sensitive: true}))
}

// RequireScopes returns a handler that lets the chain go on only for
// principals granted every one of scopes; others get 403 insufficient_scope.
func RequireScopes(scopes ...string) gin.HandlerFunc {
	return require(adapter.NewMarker("RequireScopes", core.Requirements{Scopes: scopes}))
}

// RequireRoles returns a handler that lets the chain go on only for
// principals holding at least one of roles; others get 403.
func RequireRoles(roles ...string) gin.HandlerFunc {
	return require(adapter.NewMarker("RequireRoles", core.Requirements{Roles: roles}))
}

func require(m *adapter.Marker) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := m.Check(c.Request.Context(), c.Request.Method, c.FullPath()); err != nil {
			write(c, adapter.RenderContext(c.Request.Context(), err))
			return
		}
		c.Next()
	}
}

// Principal returns the principal of c, as core.PrincipalFrom does with
// c.Request.Context().
func Principal(c *gin.Context) (*core.Principal, bool) {
	return core.PrincipalFrom(c.Request.Context())
}

// write writes a refusal and aborts the chain.
func write(c *gin.Context, resp core.Response) {
	c.Abort()
	resp.Write(c.Writer)
}
