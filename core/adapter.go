package core

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/core/internal/link"
)

// What every adapter needs and no adapter should write twice lives in
// package core/adapter, documented for adapter authors, and what a store
// implementation needs in core/storekit; both reach the engine through
// core/internal/link, set here.

func init() {
	link.Admit = func(auth any, ctx context.Context, req any, optional bool) (context.Context, error) {
		return auth.(*Authenticator).admit(ctx, req.(Request), optional)
	}
	link.Render = func(auth any, err error) any { return auth.(*Authenticator).render(err) }
	link.RenderContext = func(ctx context.Context, err error) any { return renderContext(ctx, err) }
	link.Admitted = func(ctx context.Context) bool { return principalState(ctx) != nil }
	link.ResponseHeaders = responseHeaders

	link.ValidSessionID = validSessionID
	link.NewSessionID = newSessionID
	link.NewOpaqueToken = newOpaqueToken
	link.HashOpaqueToken = hashOpaqueToken
	link.StoreDefaults = func(o any) any { return o.(StoreOptions).withDefaults() }
	link.CheckRevocation = func(r any) error { return checkRevocation(r.(Revocation)) }
}

// Write writes the response to w: its headers, its status and its body.
func (resp Response) Write(w http.ResponseWriter) {
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// responseHeaders are the Cache-Control and DPoP-Nonce values for the
// response to a request admitted with ctx, from one look at its principal:
// "no-store" when the token came from the query string (RFC 6750 section
// 2.3); the current server nonce when the request was DPoP-bound and nonces
// are on (RFC 9449 section 8.2); "" for each otherwise.
func responseHeaders(ctx context.Context) (cacheControl, dpopNonce string) {
	p := principalState(ctx)
	if p == nil {
		return "", ""
	}
	if p.Source == SourceQuery {
		cacheControl = "no-store"
	}
	if p.Binding == BindingDPoP && p.auth != nil && p.auth.dpop != nil && p.auth.dpop.secret != nil {
		dpopNonce = p.auth.dpop.nonceAt(p.auth.cfg.Now())
	}
	return cacheControl, dpopNonce
}
