package ginauth

import (
	"context"

	"github.com/authgate/authgate/core"
	"github.com/gin-gonic/gin"
)

// RequireDPoP returns a handler that lets the chain go on only for a
// DPoP-bound token presented with its proof (RFC 9449), even where the
// issuer's DPoP mode also accepts bearer tokens (core.DPoPAllowed); others
// get 401 invalid_token with the DPoP challenge.
func RequireDPoP() gin.HandlerFunc {
	return require(core.NewMarker("RequireDPoP", core.Requirements{DPoP: true}))
}

// setDPoPNonce sets the DPoP-Nonce of an admitted request (core.DPoPNonce).
func setDPoPNonce(c *gin.Context, ctx context.Context) {
	if n := core.DPoPNonce(ctx); n != "" {
		c.Header("DPoP-Nonce", n)
	}
}
