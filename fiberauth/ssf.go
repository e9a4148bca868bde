package fiberauth

import (
	"bytes"

	"github.com/authgate/authgate/core"
	"github.com/gofiber/fiber/v2"
)

// SSFPush returns the handler of a Shared Signals push endpoint (RFC 8935,
// core.SSF): register it at the URL registered with the transmitter as the
// stream's push endpoint, outside New (the transmitter sends no access
// token; SSFOptions.PushToken is its own bearer token). Its answers (202,
// 400 with an RFC 8935 error code, 503) are the endpoint's own, written in
// every mode, ReturnErrors included. The body is bounded by
// SSFOptions.MaxBodySize on top of the app's BodyLimit.
//
//	recv, err := auth.SSF(ctx, core.SSFOptions{Issuer: "https://ssf.example.com", Audience: "orders-api"})
//	app.Post("/ssf/events", fiberauth.SSFPush(recv))
func SSFPush(recv *core.SSF) fiber.Handler {
	return func(c *fiber.Ctx) error {
		// The body and headers are read before Push returns, while
		// fasthttp's buffers are valid.
		resp := recv.Push(c.UserContext(), method(c.Method()), c.Get(fiber.HeaderContentType), c.Get(fiber.HeaderAuthorization), bytes.NewReader(c.Body()))
		return write(c, resp)
	}
}
