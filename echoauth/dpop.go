package echoauth

import (
	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/labstack/echo/v4"
)

// RequireDPoP returns route middleware that calls the handler only for a
// DPoP-bound token presented with its proof (RFC 9449), even where the
// issuer's DPoP mode also accepts bearer tokens (core.DPoPAllowed); others
// get 401 invalid_token with the DPoP challenge.
func RequireDPoP() echo.MiddlewareFunc {
	return require(adapter.NewMarker("RequireDPoP", core.Requirements{DPoP: true}))
}
