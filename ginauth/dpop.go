package ginauth

import (
	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/gin-gonic/gin"
)

// RequireDPoP returns a handler that lets the chain go on only for a
// DPoP-bound token presented with its proof (RFC 9449), even where the
// issuer's DPoP mode also accepts bearer tokens (core.DPoPAllowed); others
// get 401 invalid_token with the DPoP challenge.
func RequireDPoP() gin.HandlerFunc {
	return require(adapter.NewMarker("RequireDPoP", core.Requirements{DPoP: true}))
}
