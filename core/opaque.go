package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// MaxSessionIDLen is the longest session id authgate accepts.
const MaxSessionIDLen = 256

// ValidSessionID reports whether sid may be used in a lookup: 1 to 256
// characters from A-Z a-z 0-9 - _ . ~ :, not "." or "..", and no "..". Every
// session id read from a token is checked before it reaches a checker, a URL
// template or a store key (CL-16); stores check again.
func validSessionID(sid string) bool {
	if sid == "" || len(sid) > MaxSessionIDLen || strings.Contains(sid, "..") || sid == "." {
		return false
	}
	for i := 0; i < len(sid); i++ {
		c := sid[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '~' || c == ':':
		default:
			return false
		}
	}
	return true
}

// NewSessionID returns a fresh session id: 128 bits from crypto/rand,
// base64url without padding (22 characters).
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewOpaqueToken returns a fresh opaque session token (256 bits from
// crypto/rand, base64url without padding, 43 characters) and its SHA-256,
// which is all a store may keep.
func newOpaqueToken() (token string, hash [32]byte) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, sha256.Sum256([]byte(token))
}

// HashOpaqueToken returns the SHA-256 of token, the key a store looks an
// opaque token up by. Compare stored hashes with crypto/subtle.
func hashOpaqueToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// authenticateOpaque authenticates an opaque token through Config.Opaque. The
// OpaqueAuthenticator looked the session up live, so the principal counts as
// session-checked for this request. Unknown, revoked and expired tokens get
// one and the same refusal (SS-13); a backend failure is 503.
func (a *Authenticator) authenticateOpaque(ctx context.Context, tok string) (*Principal, error) {
	s, err := a.cfg.Opaque.AuthenticateOpaque(ctx, tok)
	switch {
	case err == nil && s != nil && s.Subject != "":
	case err == nil, errors.Is(err, ErrSessionRevoked), errors.Is(err, ErrInvalidToken), errors.Is(err, ErrTokenExpired):
		return nil, newError(ErrSessionRevoked, errors.New("opaque token unknown, revoked or expired"))
	default:
		return nil, newError(ErrUnavailable, err)
	}
	if !s.ExpiresAt.IsZero() && !a.cfg.Now().Before(s.ExpiresAt) {
		return nil, newError(ErrSessionRevoked, errors.New("opaque token unknown, revoked or expired"))
	}
	p := &Principal{
		Subject:        s.Subject,
		SessionID:      s.ID,
		Issuer:         s.Issuer,
		Scopes:         s.Scopes,
		Roles:          s.Roles,
		Tenant:         s.Tenant,
		ExpiresAt:      s.ExpiresAt,
		Kind:           KindOpaque,
		SessionChecked: true,
		raw:            s.claims,
		cnfJKT:         s.cnfJKT,
		cnfX5T:         s.cnfX5T,
		cnfOther:       s.cnfOther,
	}
	if p.raw == nil {
		p.raw = sessionClaims(s)
	}
	return p, nil
}

// sessionClaims is the small JSON a Principal of an opaque session carries as
// its claims, so that Decode works as it does for a JWT.
func sessionClaims(s *Session) []byte {
	c := map[string]any{"sub": s.Subject}
	if s.ID != "" {
		c["sid"] = s.ID
	}
	if s.Issuer != "" {
		c["iss"] = s.Issuer
	}
	if len(s.Scopes) > 0 {
		c["scope"] = strings.Join(s.Scopes, " ")
	}
	if len(s.Roles) > 0 {
		c["roles"] = s.Roles
	}
	if s.Tenant != "" {
		c["tenant"] = s.Tenant
	}
	if !s.ExpiresAt.IsZero() {
		c["exp"] = s.ExpiresAt.Unix()
	}
	if !s.CreatedAt.IsZero() {
		c["iat"] = s.CreatedAt.Unix()
	}
	b, _ := json.Marshal(c)
	return b
}
