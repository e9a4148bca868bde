// Package nethttpauth plugs authgate into net/http.
//
//	auth, err := core.New(ctx, core.Config{Issuer: "https://id.example.com/", Audience: []string{"orders-api"}})
//	mux := http.NewServeMux()
//	mux.Handle("GET /me", me)
//	mux.Handle("POST /transfer", nethttpauth.Sensitive(transfer))
//	http.ListenAndServe(":8080", nethttpauth.New(auth)(mux))
//
// New refuses every request it covers that has no valid token. Routes that
// admit anonymous callers use Optional instead of New; public routes are
// served by a handler that New does not wrap. Per-route requirements
// (Sensitive, RequireScopes, RequireRoles, RequireDPoP) wrap single handlers and run after
// routing.
package nethttpauth

import (
	"net/http"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

// New returns middleware that admits only requests with a valid token and
// puts the principal in the request context.
func New(auth *core.Authenticator) func(http.Handler) http.Handler {
	return middleware(auth, false)
}

// Optional returns middleware that admits requests without credentials as
// anonymous (Principal reports ok == false) and refuses bad tokens as New does.
func Optional(auth *core.Authenticator) func(http.Handler) http.Handler {
	return middleware(auth, true)
}

func middleware(auth *core.Authenticator, optional bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, err := adapter.Admit(auth, r.Context(), adapter.HTTPRequest(r), optional)
			if err != nil {
				adapter.Render(auth, err).Write(w)
				return
			}
			adapter.SetHeaders(ctx, w.Header().Set)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// Sensitive wraps h so that it runs only after a live check that the token's
// session is still active (unless the session policy is Never).
func Sensitive(h http.Handler) http.Handler {
	return require(h, adapter.NewMarker("Sensitive", core.Requirements{Sensitive: true}))
}

// RequireScopes wraps h so that it runs only for principals granted every
// one of scopes; others get 403 insufficient_scope.
func RequireScopes(h http.Handler, scopes ...string) http.Handler {
	return require(h, adapter.NewMarker("RequireScopes", core.Requirements{Scopes: scopes}))
}

// RequireRoles wraps h so that it runs only for principals holding at least
// one of roles; others get 403.
func RequireRoles(h http.Handler, roles ...string) http.Handler {
	return require(h, adapter.NewMarker("RequireRoles", core.Requirements{Roles: roles}))
}

func require(h http.Handler, m *adapter.Marker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.Check(r.Context(), r.Method, r.Pattern); err != nil {
			adapter.RenderContext(r.Context(), err).Write(w)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Principal returns the principal of r, as core.PrincipalFrom does.
func Principal(r *http.Request) (*core.Principal, bool) {
	return core.PrincipalFrom(r.Context())
}
