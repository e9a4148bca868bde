package adapter

import (
	"net/http"

	"github.com/authgate/authgate/core"
)

// ResourceMetadata is the response of an adapter's ResourceMetadata
// handler to a request with method: the RFC 9728 document of auth
// (core.Authenticator.ResourceMetadata) for GET and HEAD (HEAD without the
// body is the adapter's job, as for any GET route), 405 with Allow for
// other methods, 404 when auth has no Config.ProtectedResource.
func ResourceMetadata(auth *core.Authenticator, method string) core.Response {
	resp, ok := auth.ResourceMetadata()
	switch {
	case !ok:
		return core.Response{Status: http.StatusNotFound, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, Body: []byte("404 page not found\n")}
	case method != http.MethodGet && method != http.MethodHead:
		return core.Response{Status: http.StatusMethodNotAllowed, Header: http.Header{"Allow": {"GET, HEAD"}}}
	}
	return resp
}
