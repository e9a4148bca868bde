package nethttpauth

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/core"
)

// StreamContext returns the context for a long-lived response to r (server-
// sent events, a WebSocket, a streaming body): r's context, also cancelled
// when r's token can no longer be accepted — at its exp, when its session
// is revoked or its subject cut off, or when the Authenticator closes.
// context.Cause says why (see core.StreamContext). Defer the CancelFunc.
func StreamContext(r *http.Request) (context.Context, context.CancelFunc) {
	return core.StreamContext(r.Context())
}
