package fiberauth

import (
	"bytes"

	"github.com/authgate/authgate/core"
	"github.com/gofiber/fiber/v2"
)

// BackchannelLogout returns the handler of an OpenID Connect Back-Channel
// Logout endpoint (core.BackchannelLogout): register it at the client's
// backchannel_logout_uri, outside New (the identity provider sends no
// access token). Its answers (200, 400 invalid_request, 503) are the
// endpoint's own, written in every mode, ReturnErrors included. The body
// is bounded by BackchannelLogoutOptions.MaxBodySize on top of the app's
// BodyLimit.
//
//	bcl, err := auth.BackchannelLogout(core.BackchannelLogoutOptions{ClientID: "orders-api"})
//	app.Post("/backchannel-logout", fiberauth.BackchannelLogout(bcl))
func BackchannelLogout(recv *core.BackchannelLogout) fiber.Handler {
	return func(c *fiber.Ctx) error {
		// The body and header are read before Receive returns, while
		// fasthttp's buffers are valid.
		resp := recv.Receive(c.UserContext(), method(c.Method()), c.Get(fiber.HeaderContentType), bytes.NewReader(c.Body()))
		return write(c, resp)
	}
}
