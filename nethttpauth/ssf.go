package nethttpauth

import (
	"net/http"

	"github.com/authgate/authgate/core"
)

// SSFPush returns the handler of a Shared Signals push endpoint (RFC 8935,
// core.SSF): mount it at the URL registered with the transmitter as the
// stream's push endpoint, outside New (the transmitter sends no access
// token; SSFOptions.PushToken is its own bearer token).
//
//	recv, err := auth.SSF(ctx, core.SSFOptions{Issuer: "https://ssf.example.com", Audience: "orders-api"})
//	mux.Handle("POST /ssf/events", nethttpauth.SSFPush(recv))
func SSFPush(recv *core.SSF) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		recv.Push(r.Context(), r.Method, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Body).Write(w)
	})
}
