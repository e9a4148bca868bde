package devissuer

import (
	_ "embed"
	"net/http"
)

//go:embed page.html
var page []byte

// Page returns the handler of the try-it page (GET /): log in, call /me,
// transfer, log out, log out everywhere, and replay a logged-out token. The
// page uses the cookie the login sets; its script never sees that cookie
// (HttpOnly). Every state change it makes is a POST, so a cross-site link or
// image can change nothing (SECURITY-CATALOG CK-05).
func (d *Issuer) Page() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		_, _ = w.Write(page)
	})
}
