package echoauth

import (
	"github.com/authgate/authgate/core"
	"github.com/labstack/echo/v4"
)

// SSFPush returns the handler of a Shared Signals push endpoint (RFC 8935,
// core.SSF): register it at the URL registered with the transmitter as the
// stream's push endpoint, outside New (the transmitter sends no access
// token; SSFOptions.PushToken is its own bearer token). Its answers (202,
// 400 with an RFC 8935 error code, 503) are the endpoint's own, written in
// every mode, ReturnErrors included.
//
//	recv, err := auth.SSF(ctx, core.SSFOptions{Issuer: "https://ssf.example.com", Audience: "orders-api"})
//	e.POST("/ssf/events", echoauth.SSFPush(recv))
func SSFPush(recv *core.SSF) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		write(c, recv.Push(r.Context(), r.Method, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Body))
		return nil
	}
}
