package echoauth

import (
	"context"

	"github.com/authgate/authgate/core"
	"github.com/labstack/echo/v4"
)

// RequireDPoP returns route middleware that calls the handler only for a
// DPoP-bound token presented with its proof (RFC 9449), even where the
// issuer's DPoP mode also accepts bearer tokens (core.DPoPAllowed); others
// get 401 invalid_token with the DPoP challenge.
func RequireDPoP() echo.MiddlewareFunc {
	return require(core.NewMarker("RequireDPoP", core.Requirements{DPoP: true}))
}

// setDPoPNonce sets the DPoP-Nonce of an admitted request (core.DPoPNonce).
func setDPoPNonce(c echo.Context, ctx context.Context) {
	if n := core.DPoPNonce(ctx); n != "" {
		c.Response().Header().Set("DPoP-Nonce", n)
	}
}
