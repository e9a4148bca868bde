package fiberauth

import (
	"github.com/gofiber/fiber/v2"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

// RequireStepUp is a handler that lets the chain go on only for principals whose
// user authentication meets s: an acr among s.ACR, an auth_time no older
// than s.MaxAge (RFC 9470). Others get 401 insufficient_user_authentication
// with acr_values and max_age in the challenge. It combines with
// Sensitive, RequireScopes and RequireRoles on the same route.
func RequireStepUp(s core.StepUp) fiber.Handler {
	return require(adapter.NewMarker("RequireStepUp", core.Requirements{StepUp: s}))
}
