package fiberauth

import (
	"crypto/tls"
	"net/url"
	"strings"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/gofiber/fiber/v2"
)

// RequireDPoP returns a handler that lets the chain go on only for a
// DPoP-bound token presented with its proof (RFC 9449), even where the
// issuer's DPoP mode also accepts bearer tokens (core.DPoPAllowed); others
// get 401 invalid_token with the DPoP challenge.
func RequireDPoP() fiber.Handler {
	return require(adapter.NewMarker("RequireDPoP", core.Requirements{DPoP: true}))
}

// request implements adapter.ConnRequest: fasthttp has no *http.Request, so
// DPoP's htu check and certificate-bound tokens read the path, the TLS
// state and the peer here. Without it the core cannot check a proof's htu
// and answers 500 (ErrMisconfigured) to every DPoP request.
var _ adapter.ConnRequest = (*request)(nil)

// Path returns the path of the request-target as net/http's
// URL.EscapedPath has it (the same parse of the same bytes), so the four
// adapters give the htu check the same path; a target that does not parse
// gives its bytes before any '?', which the core refuses unless it is a
// well-formed path.
func (q *request) Path() string {
	uri := view(q.c.Request().Header.RequestURI())
	if u, err := url.ParseRequestURI(uri); err == nil {
		return u.EscapedPath()
	}
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		return uri[:i]
	}
	return uri
}

// TLS returns the connection's TLS state (fasthttp keeps it per request
// context), or nil over plain HTTP.
func (q *request) TLS() *tls.ConnectionState { return q.c.Context().TLSConnectionState() }

// RemoteAddr returns the peer's address, "host:port".
func (q *request) RemoteAddr() string { return q.c.Context().RemoteAddr().String() }
