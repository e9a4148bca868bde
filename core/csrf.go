package core

import (
	"errors"
	"net/http"
	"net/url"
)

// checkOrigin applies net/http's CrossOriginProtection to a request that
// carries its token in a cookie with an unsafe method. A browser attaches
// cookies to cross-site requests, so such a request must come from the same
// origin (Sec-Fetch-Site, else Origin against Host) or a trusted origin.
//
// Adapters without a *http.Request (fiber) get the same decision: the core
// builds a minimal request holding only the fields the check reads.
func (a *Authenticator) checkOrigin(r Request) error {
	var req *http.Request
	if sr, ok := r.(stdRequest); ok {
		req = sr.StdRequest()
	} else {
		h := make(http.Header, 2)
		if v := r.Header("Sec-Fetch-Site"); len(v) > 0 {
			h["Sec-Fetch-Site"] = v
		}
		if v := r.Header("Origin"); len(v) > 0 {
			h["Origin"] = v
		}
		req = &http.Request{Method: r.Method(), Host: r.Host(), Header: h, URL: &url.URL{Path: "/"}}
	}
	if err := a.coop.Check(req); err != nil {
		return newError(ErrCrossOrigin, errors.New("cookie token on a cross-origin unsafe request"))
	}
	return nil
}
