package echoauth

import (
	"github.com/labstack/echo/v4"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

// ResourceMetadata serves auth's RFC 9728 protected resource metadata
// (Config.ProtectedResource) to GET and HEAD, outside the middleware:
// register it at each of auth.ResourceMetadataPaths(). Other methods get
// 405; without a ProtectedResource it answers 404.
func ResourceMetadata(auth *core.Authenticator) echo.HandlerFunc {
	return func(c echo.Context) error {
		write(c, adapter.ResourceMetadata(auth, c.Request().Method))
		return nil
	}
}
