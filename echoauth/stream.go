package echoauth

import (
	"context"

	"github.com/authgate/authgate/core"
	"github.com/labstack/echo/v4"
)

// StreamContext returns the context for a long-lived response to c (server-
// sent events, a WebSocket, a streaming body): c.Request()'s context, also
// cancelled when the token can no longer be accepted — at its exp, when its
// session is revoked or its subject cut off, or when the Authenticator
// closes. context.Cause says why (see core.StreamContext). Defer the
// CancelFunc.
func StreamContext(c echo.Context) (context.Context, context.CancelFunc) {
	return core.StreamContext(c.Request().Context())
}
