package nethttpauth

import (
	"net/http"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

// ResourceMetadata serves auth's RFC 9728 protected resource metadata
// (Config.ProtectedResource) to GET and HEAD, outside the middleware: mount
// it at each of auth.ResourceMetadataPaths(). Other methods get 405; without
// a ProtectedResource it answers 404.
func ResourceMetadata(auth *core.Authenticator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		adapter.ResourceMetadata(auth, r.Method).Write(w)
	})
}
