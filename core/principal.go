package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-json-experiment/json"
)

// Source says where a token was found.
type Source uint8

// Token sources, in the default order of [Config.Sources].
const (
	// SourceHeader is "Authorization: Bearer <token>".
	SourceHeader Source = iota + 1
	// SourceCookie is the cookie named by Config.CookieName.
	SourceCookie
	// SourceCustomHeader is the header named by Config.HeaderName.
	SourceCustomHeader
	// SourceQuery is the query parameter named by Config.QueryParam (off by default).
	SourceQuery
)

// String returns "header", "cookie", "custom-header" or "query".
func (s Source) String() string {
	switch s {
	case SourceHeader:
		return "header"
	case SourceCookie:
		return "cookie"
	case SourceCustomHeader:
		return "custom-header"
	case SourceQuery:
		return "query"
	}
	return "unknown"
}

// Kind says what sort of token authenticated a principal.
type Kind uint8

// Token kinds.
const (
	// KindJWT is a signed JWT verified locally.
	KindJWT Kind = iota + 1
	// KindOpaque is an opaque token looked up in a session store or
	// introspection endpoint.
	KindOpaque
)

// String returns "jwt" or "opaque".
func (k Kind) String() string {
	switch k {
	case KindJWT:
		return "jwt"
	case KindOpaque:
		return "opaque"
	}
	return "unknown"
}

// Principal is the authenticated caller. The middleware puts one in the
// request context; read it with [PrincipalFrom] or an adapter's Principal.
// A Principal is never modified after it is handed to a handler.
type Principal struct {
	// Subject is the "sub" claim (never empty).
	Subject string
	// SessionID is the session claim ("sid" by default), or "".
	SessionID string
	// TokenID is the "jti" claim, or "".
	TokenID string
	// Issuer is the "iss" claim, exactly as configured.
	Issuer string
	// Audience is the "aud" claim as a list.
	Audience []string
	// Scopes come from "scope" (space separated) or "scp" (string or array).
	Scopes []string
	// Roles come from the roles claim ("roles" by default).
	Roles []string
	// Tenant is the tenant claim ("tenant" by default), or "".
	Tenant string
	// ExpiresAt is "exp"; IssuedAt is "iat" (zero when absent).
	ExpiresAt, IssuedAt time.Time
	// Source says where the token was found.
	Source Source
	// Kind says whether a JWT or an opaque token authenticated the caller.
	Kind Kind
	// SessionChecked is true when a live session check confirmed the
	// session during this request.
	SessionChecked bool
	// Binding says how the token was bound to its sender: none (a bearer
	// token), a DPoP key whose proof this request carried, or the TLS client
	// certificate this request presented.
	Binding Binding
	// Thumbprint is the bound key's RFC 7638 thumbprint (DPoP) or the
	// certificate's SHA-256 (base64url), or "" for a bearer token.
	Thumbprint string

	// The token's cnf (RFC 7800), judged per request by checkBinding.
	cnfJKT, cnfX5T string
	cnfOther       bool

	raw       []byte         // the decoded claims JSON
	auth      *Authenticator // the authenticator that made it, for route checks
	anonymous bool           // the stand-in for "no credentials" on an optional route
	// token is the JWT itself when its issuer introspects tokens
	// (TokenIntrospection), for the live check; a pointer, so that
	// printing a Principal (%+v) prints no token. It may point into an
	// adapter's reused buffers: it is read during the request only.
	token *string
}

// Claims returns the raw claims as JSON. The slice must not be modified.
func (p *Principal) Claims() []byte { return p.raw }

// Decode unmarshals the token's claims into v, for claims of your own:
//
//	var c struct{ Plan string `json:"plan"` }
//	err := p.Decode(&c)
//
// Names are matched exactly (case-sensitive), as the verifier matched them.
func (p *Principal) Decode(v any) error {
	if len(p.raw) == 0 {
		return errors.New("authgate: principal has no claims")
	}
	return json.Unmarshal(p.raw, v)
}

// HasScope reports whether the principal was granted scope s.
func (p *Principal) HasScope(s string) bool { return slices.Contains(p.Scopes, s) }

// HasRole reports whether the principal holds role r.
func (p *Principal) HasRole(r string) bool { return slices.Contains(p.Roles, r) }

type ctxKey struct{}

// principalMem is the memory of one request's principal: the Principal and
// room for its slices, so that a principal copied from the verified-token
// cache shares no mutable memory with the cache or with another request,
// in one allocation.
type principalMem struct {
	p Principal
	// buf holds the Audience, Scopes and Roles of a copy when they fit.
	// Five keeps a principalCtx in the 352-byte size class (Principal is
	// 248 bytes): on a cache hit the bytes allocated, not the count, are
	// most of the cost (span refills, zeroing, GC); more grants than five
	// take one more allocation.
	buf [5]string
}

// copyOf sets m.p to a copy of t whose Audience, Scopes and Roles are m's
// own (in m.buf when they fit). Strings are immutable and shared.
func (m *principalMem) copyOf(t *Principal) {
	m.p = *t
	if n := len(t.Audience) + len(t.Scopes) + len(t.Roles); n <= len(m.buf) {
		m.p.ownSlices(m.buf[:0:n])
	} else {
		m.p.ownSlices(nil)
	}
}

// ownSlices copies p's Audience, Scopes and Roles into dst, a new array
// when dst is nil, so that p shares them with nothing (nil stays nil; each
// slice's capacity is clipped, so an append copies).
func (p *Principal) ownSlices(dst []string) {
	if dst == nil {
		dst = make([]string, 0, len(p.Audience)+len(p.Scopes)+len(p.Roles))
	}
	p.Audience, dst = appendOwn(dst, p.Audience)
	p.Scopes, dst = appendOwn(dst, p.Scopes)
	p.Roles, _ = appendOwn(dst, p.Roles)
}

// appendOwn appends s to dst and returns the appended part, with its
// capacity clipped (nil for a nil s), and the rest of dst.
func appendOwn(dst, s []string) (own, rest []string) {
	if s == nil {
		return nil, dst
	}
	n := len(dst)
	dst = append(dst, s...)
	return dst[n:len(dst):len(dst)], dst[len(dst):]
}

// principalCtx is the context Admit hands on: its parent plus the request's
// principal, made in one allocation (context.WithValue and a Principal of
// its own would be two). Value answers ctxKey{} as context.WithValue would.
type principalCtx struct {
	context.Context
	principalMem
}

func (c *principalCtx) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return &c.p
	}
	return c.Context.Value(key)
}

// String names the context as context.WithValue's does, without printing
// the principal (OP-02: no subject or session id in logs).
func (c *principalCtx) String() string {
	if s, ok := c.Context.(fmt.Stringer); ok {
		return s.String() + ".WithValue(authgate principal)"
	}
	return "context.WithValue(authgate principal)"
}

// newPrincipal returns the memory of one request's principal. With out nil
// it is a new one; otherwise it lives in a principalCtx, a child of parent,
// and *out is set to that context.
func newPrincipal(parent context.Context, out *context.Context) *principalMem {
	if out == nil {
		return new(principalMem)
	}
	pc := &principalCtx{Context: parent}
	*out = pc
	return &pc.principalMem
}

// newPrincipalOwning is newPrincipal for a principal whose slices are
// already its own (freshly parsed): without out, no room for copies.
func newPrincipalOwning(parent context.Context, out *context.Context) *Principal {
	if out == nil {
		return new(Principal)
	}
	return &newPrincipal(parent, out).p
}

// PrincipalFrom returns the principal the middleware put in ctx. ok is false
// for an anonymous request (an Optional route without credentials) and when no
// middleware ran.
func PrincipalFrom(ctx context.Context) (p *Principal, ok bool) {
	st, _ := ctx.Value(ctxKey{}).(*Principal)
	if st == nil || st.anonymous {
		return nil, false
	}
	return st, true
}

// WithPrincipal returns a copy of ctx carrying p, for tests of handlers that
// read [PrincipalFrom]. The middleware does this itself.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// principalState returns what the middleware stored, including the anonymous
// marker, so route markers can tell "anonymous" from "no middleware ran".
func principalState(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}
