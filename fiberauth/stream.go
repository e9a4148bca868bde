package fiberauth

import (
	"context"

	"github.com/authgate/authgate/core"
	"github.com/gofiber/fiber/v2"
)

// StreamContext returns the context for a long-lived response to c (server-
// sent events, a streaming body): cancelled when the token can no longer be
// accepted — at its exp, when its session is revoked or its subject cut
// off, or when the Authenticator closes. context.Cause says why (see
// core.StreamContext). Defer the CancelFunc in the stream writer.
//
// fiber runs a stream's body in c.Context().SetBodyStreamWriter after the
// handler has returned and c has been reused, so the context depends on
// nothing of c: it carries the user context's values (core.PrincipalFrom
// works in the writer) but not its cancellation, and ends only for the
// reasons above or when the CancelFunc is called. Call StreamContext in
// the handler, not in the writer; the writer learns that the client went
// away from a failed Flush.
func StreamContext(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return core.StreamContext(context.WithoutCancel(c.UserContext()))
}
