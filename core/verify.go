package core

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"
)

// verifyJWT checks a token of JWT shape (see isJWTShape) and returns its
// principal. Order: decode and parse (bounded by the size gate), pick the
// issuer named by iss, check alg against that issuer's allow-list, find the
// key by kid within that issuer's keys, verify the signature, and only then
// judge the claims, so that "expired" is never said of a forged token.
// When v is not nil, it is filled for the verified-token cache. The
// principal is made by newPrincipal(ctx, out).
func (a *Authenticator) verifyJWT(ctx context.Context, tok string, v *verified, out *context.Context) (*Principal, error) {
	j, err := decodeShaped(tok) // authenticate checked isJWTShape
	if err != nil {
		return nil, err
	}
	if err := checkTyp(j.h.typ, a.cfg.RequireAccessTokenType); err != nil {
		return nil, newError(ErrInvalidToken, err)
	}
	c, err := a.parseClaims(j.payload)
	if err != nil {
		return nil, newError(ErrInvalidToken, err)
	}
	if !c.hasIss {
		return nil, invalid("no iss claim")
	}
	is := a.issuers[c.iss]
	if is == nil {
		return nil, invalid("iss names no configured issuer")
	}
	if !slices.Contains(is.cfg.Algorithms, j.h.alg) {
		return nil, invalid("alg not allowed for this issuer")
	}
	key, err := is.key(ctx, j.h, c.iat, c.hasIat)
	if err != nil {
		return nil, err
	}
	if err := verifySignature(&j, key.pub); err != nil {
		is.signatureFailed(j.h)
		return nil, err
	}
	if err := a.checkClaims(&c, is); err != nil {
		return nil, err
	}
	if v != nil { // for the verified-token cache
		*v = verified{c: c, is: is, vk: key, hdr: j.h}
	}
	// The slices are this request's own (parsed from its token).
	p := newPrincipalOwning(ctx, out)
	a.fillPrincipal(p, &c, j.payload)
	return p, nil
}

// checkClaims judges the claims of a token whose signature verified.
func (a *Authenticator) checkClaims(c *claims, is *issuer) error {
	now := a.cfg.Now()
	nowS := float64(now.UnixNano()) / 1e9
	leeway := a.cfg.Leeway.Seconds()
	if !c.hasExp {
		return invalid("no exp claim")
	}
	if !(nowS < c.exp+leeway) { // RFC 7519 4.1.4: now MUST be before exp
		return newError(ErrTokenExpired, nil)
	}
	if c.hasNbf && nowS+leeway < c.nbf {
		return invalid("token not valid yet (nbf)")
	}
	if c.hasIat && nowS+leeway < c.iat {
		return invalid("token issued in the future (iat)")
	}
	start := nowS
	if c.hasIat {
		start = c.iat
	} else if c.sid != "" {
		// Without iat the token's lifetime cannot be bounded, so neither can
		// how long a revocation of its session must be remembered (the deny
		// set keeps one for denyRetention): a token minted long before a
		// revocation would be accepted again once its entry expired.
		return invalid("token names a session but has no iat")
	}
	if c.exp-start > a.cfg.MaxTokenLifetime.Seconds()+leeway {
		return invalid("token lifetime exceeds MaxTokenLifetime")
	}
	if !c.hasAud || len(c.aud) == 0 {
		return invalid("no aud claim")
	}
	if !slices.ContainsFunc(c.aud, func(s string) bool { return s != "" && slices.Contains(is.cfg.Audience, s) }) {
		return invalid("aud names no accepted audience")
	}
	if !c.hasSub || c.sub == "" {
		return invalid("no sub claim")
	}
	// A sender-constrained token (cnf: DPoP, mTLS) is judged per request by
	// checkBinding, which refuses it as a plain bearer token (RFC 9449
	// section 7.2, RFC 8705 section 3).
	if c.hasEvents {
		return invalid("security event token presented as access token")
	}
	if a.cfg.RequireAccessTokenType && (c.jti == "" || c.clientID == "" || !c.hasIat) {
		return invalid("RFC 9068 claims missing")
	}
	return nil
}

// fillPrincipal sets p from verified claims c and their JSON.
func (a *Authenticator) fillPrincipal(p *Principal, c *claims, payload []byte) {
	*p = Principal{
		Subject:   c.sub,
		SessionID: c.sid,
		TokenID:   c.jti,
		Issuer:    c.iss,
		Audience:  c.aud,
		Roles:     c.roles,
		Tenant:    c.tenant,
		ExpiresAt: numericTime(c.exp),
		Kind:      KindJWT,
		cnfJKT:    c.cnfJKT,
		cnfX5T:    c.cnfX5T,
		cnfOther:  c.cnfOther,
		raw:       payload,
	}
	if c.hasIat {
		p.IssuedAt = numericTime(c.iat)
	}
	p.Scopes = mergeScopes(c.scope, c.scp)
}

func numericTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}

var errNoKeys = errors.New("no keys loaded for the issuer yet")
