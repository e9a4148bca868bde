package echoauth

import (
	"github.com/authgate/authgate/core"
	"github.com/labstack/echo/v4"
)

// BackchannelLogout returns the handler of an OpenID Connect Back-Channel
// Logout endpoint (core.BackchannelLogout): register it at the client's
// backchannel_logout_uri, outside New (the identity provider sends no
// access token). Its answers (200, 400 invalid_request, 503) are the
// endpoint's own, written in every mode, ReturnErrors included.
//
//	bcl, err := auth.BackchannelLogout(core.BackchannelLogoutOptions{ClientID: "orders-api"})
//	e.POST("/backchannel-logout", echoauth.BackchannelLogout(bcl))
func BackchannelLogout(recv *core.BackchannelLogout) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		write(c, recv.Receive(r.Context(), r.Method, r.Header.Get("Content-Type"), r.Body))
		return nil
	}
}
