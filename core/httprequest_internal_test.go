package core

import (
	"net/http"
	"net/url"
)

// httpRequest is the core's view of a *http.Request, for the core's
// internal tests, which cannot import core/adapter (adapter.HTTPRequest).
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
