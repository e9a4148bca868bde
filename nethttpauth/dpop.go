package nethttpauth

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/core"
)

// RequireDPoP wraps h so that it runs only for a DPoP-bound token presented
// with its proof (RFC 9449), even where the issuer's DPoP mode also accepts
// bearer tokens (core.DPoPAllowed); others get 401 invalid_token with the
// DPoP challenge.
func RequireDPoP(h http.Handler) http.Handler {
	return require(h, core.NewMarker("RequireDPoP", core.Requirements{DPoP: true}))
}

// setDPoPNonce sets the DPoP-Nonce of an admitted request (core.DPoPNonce).
func setDPoPNonce(w http.ResponseWriter, ctx context.Context) {
	if n := core.DPoPNonce(ctx); n != "" {
		w.Header().Set("DPoP-Nonce", n)
	}
}
