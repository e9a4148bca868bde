package core

import (
	"context"
	"time"
)

// Policy says which routes get a live session check.
type Policy uint8

// Session policies. The zero value is SensitiveOnly.
const (
	// SensitiveOnly checks the session live on routes marked Sensitive only;
	// other routes trust the token (and the deny set) alone. The default.
	SensitiveOnly Policy = iota
	// Never makes no live check, not even on Sensitive routes: tokens are
	// trusted until exp, except for session ids a RevocationFeed reported.
	Never
	// Always checks the session on every authenticated request; answers may
	// be reused from the cache for SessionCheckOptions.CacheTTL on routes
	// that are not Sensitive.
	Always
)

// SessionState is a session checker's answer.
type SessionState uint8

// Session states.
const (
	// SessionRevoked means revoked, expired or unknown: the token is refused.
	SessionRevoked SessionState = iota
	// SessionActive means the session is alive.
	SessionActive
)

// SessionChecker answers whether a session is still alive. It returns an error
// only when it cannot tell (backend down, timeout, garbage); that error is
// answered 503, never 401. Implementations: MemoryStore, the Redis store,
// HTTPSessionChecker, Introspector.
type SessionChecker interface {
	Check(ctx context.Context, sid string) (SessionState, error)
}

// OpaqueAuthenticator authenticates tokens that are not JWTs: opaque session
// tokens held by a store, or tokens an OAuth server introspects. It returns
// the principal's session, or an error wrapping ErrSessionRevoked (unknown,
// revoked, expired) or ErrUnavailable (cannot tell).
type OpaqueAuthenticator interface {
	AuthenticateOpaque(ctx context.Context, token string) (*Session, error)
}

// Session is a server-side session as a store keeps it.
type Session struct {
	// ID is the session id (the "sid" claim of tokens minted for it).
	ID string
	// Subject is the user the session belongs to.
	Subject string
	// Issuer, when set, is the issuer of the tokens that name this session.
	Issuer string
	// Scopes, Roles and Tenant are copied into the Principal of an opaque token.
	Scopes []string
	Roles  []string
	Tenant string
	// CreatedAt, LastSeen and ExpiresAt are the session's times; ExpiresAt is
	// the earliest of the idle and absolute deadlines.
	CreatedAt, LastSeen, ExpiresAt time.Time
	// Metadata is free-form data of the application (device, IP, ...).
	Metadata map[string]string
}

// Revocation is one revoked session, as a RevocationFeed delivers it.
type Revocation struct {
	SessionID string
	Subject   string
	Issuer    string
	At        time.Time
}

// RevocationFeed pushes revocations to an authenticator. Subscribe calls fn
// for every revocation from now on (and may replay recent ones); the returned
// function stops the subscription. Implementations must not block in fn's
// caller for long: fn only records the revocation.
type RevocationFeed interface {
	SubscribeRevocations(ctx context.Context, fn func(Revocation)) (stop func(), err error)
}

// SessionCheckOptions tunes live session checks.
type SessionCheckOptions struct {
	// Timeout bounds one live check; default 3s, at most 30s.
	Timeout time.Duration
	// CacheTTL lets a positive answer be reused on routes that are not
	// Sensitive (policy Always); default 0 (no reuse).
	CacheTTL time.Duration
	// SensitiveCacheTTL lets a positive answer be reused on Sensitive routes;
	// default 0: every sensitive request gets a fresh answer.
	SensitiveCacheTTL time.Duration
	// MaxStale enables fail-open: when the checker is unreachable, a session
	// positively confirmed within MaxStale is accepted. Default 0: fail closed
	// (503). Never applies to sessions known to be revoked.
	MaxStale time.Duration
	// CacheSize bounds the number of cached session answers; default 10000.
	CacheSize int
	// MaxInFlight bounds concurrent backend checks; default 64. Beyond it,
	// checks are answered 503 at once.
	MaxInFlight int
}
