package ginauth

import (
	"github.com/gin-gonic/gin"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

// ResourceMetadata serves auth's RFC 9728 protected resource metadata
// (Config.ProtectedResource) to GET and HEAD, outside the middleware:
// register it at each of auth.ResourceMetadataPaths(). Other methods get
// 405; without a ProtectedResource it answers 404.
func ResourceMetadata(auth *core.Authenticator) gin.HandlerFunc {
	return func(c *gin.Context) {
		write(c, adapter.ResourceMetadata(auth, c.Request.Method))
	}
}
