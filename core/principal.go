package core

import (
	"context"
	"errors"
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

	raw       []byte         // the decoded claims JSON
	auth      *Authenticator // the authenticator that made it, for route checks
	anonymous bool           // the stand-in for "no credentials" on an optional route
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
