package nethttpauth

import (
	"net/http"

	"github.com/authgate/authgate/core"
)

// BackchannelLogout returns the handler of an OpenID Connect Back-Channel
// Logout endpoint (core.BackchannelLogout): mount it at the client's
// backchannel_logout_uri, outside New (the identity provider sends no
// access token).
//
//	bcl, err := auth.BackchannelLogout(core.BackchannelLogoutOptions{ClientID: "orders-api"})
//	mux.Handle("POST /backchannel-logout", nethttpauth.BackchannelLogout(bcl))
func BackchannelLogout(recv *core.BackchannelLogout) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recv.Receive(r.Context(), r.Method, r.Header.Get("Content-Type"), r.Body).Write(w)
	})
}
