package echoauth

import (
	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

// RequireStepUp is a route middleware that runs the handler only for principals whose
// user authentication meets s: an acr among s.ACR, an auth_time no older
// than s.MaxAge (RFC 9470). Others get 401 insufficient_user_authentication
// with acr_values and max_age in the challenge. It combines with
// Sensitive, RequireScopes and RequireRoles on the same route.
func RequireStepUp(s core.StepUp) echo.MiddlewareFunc {
	return require(adapter.NewMarker("RequireStepUp", core.Requirements{StepUp: s}))
}
