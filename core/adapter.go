package core

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// What every adapter needs and no adapter should write twice.

// HTTPRequest returns the core's view of a *http.Request, for adapters over
// net/http (nethttpauth, gin, echo). It copies nothing and does not allocate.
func HTTPRequest(r *http.Request) StdRequest { return httpRequest{r} }

type httpRequest struct{ r *http.Request }

func (q httpRequest) Method() string              { return q.r.Method }
func (q httpRequest) Host() string                { return q.r.Host }
func (q httpRequest) Header(name string) []string { return q.r.Header[name] }
func (q httpRequest) RawQuery() string            { return rawQuery(q.r.URL) }
func (q httpRequest) StdRequest() *http.Request   { return q.r }

func rawQuery(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.RawQuery
}

// Write writes the refusal to w: its headers, its status and its body.
func (resp Response) Write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// Refusal is a refusal carried as an error, for frameworks whose handlers
// return errors to a central error handler (echo, fiber). Response is what
// the middleware would have written; errors.Is reaches the core sentinels
// through Unwrap.
type Refusal struct {
	// Response is the rendered refusal.
	Response Response
	err      error
}

// NewRefusal returns a Refusal carrying resp, the rendering of err.
func NewRefusal(resp Response, err error) *Refusal { return &Refusal{Response: resp, err: err} }

// Error says only the status: the reason stays with Unwrap, out of logs that
// print error strings.
func (e *Refusal) Error() string {
	return "authgate: request refused with status " + strconv.Itoa(e.Response.Status)
}

// Unwrap returns the core error (an *Error).
func (e *Refusal) Unwrap() error { return e.err }

// CacheControl is the Cache-Control value an adapter sets on the response to
// a request that [Authenticator.Admit] admitted with ctx: "no-store" when the
// token came from the query string, so that no cache keeps a response fetched
// with a token in its URL (RFC 6750 section 2.3), and "" (set nothing)
// otherwise. Adapters set it before calling the handler, which may still
// replace it.
func CacheControl(ctx context.Context) string {
	if p := principalState(ctx); p != nil && p.Source == SourceQuery {
		return "no-store"
	}
	return ""
}
