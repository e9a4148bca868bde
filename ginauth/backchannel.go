package ginauth

import (
	"github.com/authgate/authgate/core"
	"github.com/gin-gonic/gin"
)

// BackchannelLogout returns the handler of an OpenID Connect Back-Channel
// Logout endpoint (core.BackchannelLogout): register it at the client's
// backchannel_logout_uri, outside New (the identity provider sends no
// access token).
//
//	bcl, err := auth.BackchannelLogout(core.BackchannelLogoutOptions{ClientID: "orders-api"})
//	r.POST("/backchannel-logout", ginauth.BackchannelLogout(bcl))
func BackchannelLogout(recv *core.BackchannelLogout) gin.HandlerFunc {
	return func(c *gin.Context) {
		resp := recv.Receive(c.Request.Context(), c.Request.Method, c.GetHeader("Content-Type"), c.Request.Body)
		c.Abort()
		resp.Write(c.Writer)
	}
}
