package nethttpauth

import (
	"net/http"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

// RequireDPoP wraps h so that it runs only for a DPoP-bound token presented
// with its proof (RFC 9449), even where the issuer's DPoP mode also accepts
// bearer tokens (core.DPoPAllowed); others get 401 invalid_token with the
// DPoP challenge.
func RequireDPoP(h http.Handler) http.Handler {
	return require(h, adapter.NewMarker("RequireDPoP", core.Requirements{DPoP: true}))
}
