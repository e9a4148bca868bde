package ginauth

import (
	"github.com/authgate/authgate/core"
	"github.com/gin-gonic/gin"
)

// SSFPush returns the handler of a Shared Signals push endpoint (RFC 8935,
// core.SSF): register it at the URL registered with the transmitter as the
// stream's push endpoint, outside New (the transmitter sends no access
// token; SSFOptions.PushToken is its own bearer token).
//
//	recv, err := auth.SSF(ctx, core.SSFOptions{Issuer: "https://ssf.example.com", Audience: "orders-api"})
//	r.POST("/ssf/events", ginauth.SSFPush(recv))
func SSFPush(recv *core.SSF) gin.HandlerFunc {
	return func(c *gin.Context) {
		resp := recv.Push(c.Request.Context(), c.Request.Method, c.GetHeader("Content-Type"), c.GetHeader("Authorization"), c.Request.Body)
		c.Abort()
		resp.Write(c.Writer)
	}
}
