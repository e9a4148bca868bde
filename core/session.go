package core

import (
	"context"
	"errors"
	"time"
)

// Policy says which routes get a live session check.
type Policy uint8

// Session policies. The zero value is PolicySensitiveOnly.
const (
	// PolicySensitiveOnly checks the session live on routes marked Sensitive only;
	// other routes trust the token (and the deny set) alone. The default.
	PolicySensitiveOnly Policy = iota
	// PolicyNever makes no live check, not even on Sensitive routes: tokens are
	// trusted until exp, except for session ids a RevocationFeed reported.
	PolicyNever
	// PolicyAlways checks the session on every authenticated request; answers may
	// be reused from the cache for SessionCheckOptions.CacheTTL on routes
	// that are not Sensitive.
	PolicyAlways
)

// SessionState is a session checker's answer.
type SessionState uint8

// Session states.
const (
	// StateRevoked means revoked, expired or unknown: the token is refused.
	StateRevoked SessionState = iota
	// StateActive means the session is alive.
	StateActive
)

// SessionChecker answers whether a session is still alive. It returns an error
// only when it cannot tell (backend down, timeout, garbage); that error is
// answered 503, never 401. Implementations: MemoryStore, the Redis store,
// HTTPSessionChecker, Introspector.
type SessionChecker interface {
	Check(ctx context.Context, sid string) (SessionState, error)
}

// SubjectSessionChecker is a SessionChecker that takes the session's subject
// (the token's "sub") too, for endpoints that look a session up per user
// (Ory Hydra's consent sessions). The session policy calls CheckSession
// instead of Check when the checker implements it. HTTPSessionChecker does.
type SubjectSessionChecker interface {
	SessionChecker
	CheckSession(ctx context.Context, subject, sid string) (SessionState, error)
}

// subjectKey carries the subject of the session being checked from the
// session policy to the checker call (which may run on a shared,
// detached context).
type subjectKey struct{}

// withSessionSubject returns ctx carrying the subject of the session the
// policy is about to check.
func withSessionSubject(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, subjectKey{}, subject)
}

// sessionSubject returns the subject withSessionSubject put in ctx.
func sessionSubject(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(subjectKey{}).(string)
	return s, ok
}

// checkSession calls c for sid, with the subject the policy put in ctx when
// c is a SubjectSessionChecker.
func checkSession(ctx context.Context, c SessionChecker, sid string) (SessionState, error) {
	if sc, ok := c.(SubjectSessionChecker); ok {
		if sub, ok := sessionSubject(ctx); ok {
			return sc.CheckSession(ctx, sub, sid)
		}
	}
	return c.Check(ctx, sid)
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

	// claims, when set by an OpaqueAuthenticator, becomes the Principal's raw
	// claims (e.g. an introspection response).
	claims []byte
	// The token's confirmation (cnf) from an introspection answer.
	cnfJKT, cnfX5T string
	cnfOther       bool
}

// Revocation is one revoked session, or one subject cutoff, as a
// RevocationFeed delivers it.
//
// An empty Issuer means the revocation applies to the session id (or the
// subject) under every issuer. A message with an empty SessionID and
// Cutoff unset reports the feed's state instead (see Behind).
type Revocation struct {
	SessionID string
	Subject   string
	Issuer    string
	At        time.Time
	// Cutoff, with Subject set and SessionID empty, makes the message a
	// subject cutoff: every JWT of Subject (from Issuer, or any issuer when
	// it is empty) issued at or before At, or without iat, is refused on
	// every route, whether it names a session or not. It is remembered for
	// MaxTokenLifetime + 3 Leeway after At (At is clamped to the clock).
	Cutoff bool
	// Behind, on a message with an empty SessionID, says the feed lost its
	// source and may be missing revocations (true), or has caught up again,
	// having replayed what it missed (false). While any feed is behind, the
	// authenticator checks the session of every request live, on every
	// route (fail closed), as when its deny set overflows.
	Behind bool
}

// RevocationFeed pushes revocations to an authenticator. Subscribe calls fn
// for every revocation from now on (and may replay recent ones); the returned
// function stops the subscription. fn only records the revocation and never
// blocks for long. A feed that can lose messages (a network connection)
// reports it with a Revocation{Behind: true} and, once it has caught up,
// Revocation{Behind: false}.
//
// New subscribes to Config.Revocations, or, when that is nil, to each of
// Config.Sessions, Config.Opaque and the issuers' Sessions that is itself a
// RevocationFeed (MemoryStore and the Redis store are).
type RevocationFeed interface {
	SubscribeRevocations(ctx context.Context, fn func(Revocation)) (stop func(), err error)
}

// SessionCheckOptions tunes live session checks.
type SessionCheckOptions struct {
	// Timeout bounds one live check; default 3s, at most 30s.
	Timeout time.Duration
	// CacheTTL lets a positive answer be reused on routes that are not
	// Sensitive (PolicyAlways); default 0 (no reuse), at most 1h. A session
	// revoked at a backend without a revocation feed may then be accepted on
	// those routes for up to CacheTTL.
	CacheTTL time.Duration
	// SensitiveCacheTTL lets a positive answer be reused on Sensitive routes;
	// default 0: every sensitive request gets a fresh answer. At most 1h;
	// CacheTTL is raised to it when lower.
	SensitiveCacheTTL time.Duration
	// MaxStale enables fail-open: when the checker is unreachable, a session
	// positively confirmed within MaxStale is accepted. Default 0: fail closed
	// (503). At most 24h. Never applies to sessions known to be revoked, nor
	// to sessions never confirmed.
	MaxStale time.Duration
	// CacheSize bounds the number of cached session answers; default 10000.
	CacheSize int
	// MaxInFlight bounds concurrent backend checks; default 64. Beyond it,
	// checks are answered 503 at once.
	MaxInFlight int
	// DenySetSize bounds the revoked session ids remembered from the
	// revocation feed; default 100000. When it is full and a revocation
	// arrives that cannot be recorded, every request of every route is
	// checked live (fail closed) until that revocation would have expired.
	// It bounds the subject cutoffs (Revocation.Cutoff) too, separately:
	// when those are full, every JWT issued at or before a lost cutoff is
	// answered 503 until the lost cutoff would have expired.
	DenySetSize int
}

// ErrTooManySessions is returned by a store's Create when the subject already
// holds StoreOptions.MaxSessions sessions and EvictOldest is false.
var ErrTooManySessions = errors.New("authgate: too many sessions for this subject")

// StoreOptions configures a session store (MemoryStore, the Redis store).
// The zero value is usable: no idle timeout, a 7-day absolute timeout, no
// cap, last-seen written at most once a minute, revocations audited to slog.
type StoreOptions struct {
	// IdleTimeout ends a session not seen for this long; 0: no idle timeout.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after its creation, however
	// active; default 7 days.
	AbsoluteTimeout time.Duration
	// MaxSessions caps the live sessions of one subject; 0: no cap.
	MaxSessions int
	// EvictOldest decides what happens at the cap: true revokes the oldest
	// session (reason "session limit"), false refuses the new one with
	// ErrTooManySessions.
	EvictOldest bool
	// TouchInterval is the least time between two last-seen writes of one
	// session; default 1 minute.
	TouchInterval time.Duration
	// Audit receives an event for every revocation; default: slog.Default()
	// through NewSlogAudit.
	Audit AuditSink
	// Now is the clock; default time.Now. For tests.
	Now func() time.Time
	// SweepInterval is how often expired sessions are removed; default 1
	// minute. Expired sessions are refused at once either way.
	SweepInterval time.Duration
}

// Default store settings.
const (
	DefaultAbsoluteTimeout = 7 * 24 * time.Hour
	DefaultTouchInterval   = time.Minute
	defaultSweepInterval   = time.Minute
)

// withDefaults returns o with every unset or invalid field at its default.
// Stores call it once at construction.
func (o StoreOptions) withDefaults() StoreOptions {
	if o.IdleTimeout < 0 {
		o.IdleTimeout = 0
	}
	if o.AbsoluteTimeout <= 0 {
		o.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if o.MaxSessions < 0 {
		o.MaxSessions = 0
	}
	if o.TouchInterval <= 0 {
		o.TouchInterval = DefaultTouchInterval
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = defaultSweepInterval
	}
	if o.Audit == nil {
		o.Audit = NewSlogAudit(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Deadline returns when a session created at created and last seen at
// lastSeen ends: the earlier of the idle and absolute deadlines.
func (o StoreOptions) Deadline(created, lastSeen time.Time) time.Time {
	end := created.Add(o.AbsoluteTimeout)
	if o.IdleTimeout > 0 {
		if idle := lastSeen.Add(o.IdleTimeout); idle.Before(end) {
			end = idle
		}
	}
	return end
}

// SessionParams is what a store's Create needs to open a session.
type SessionParams struct {
	// Subject is the user; required.
	Subject string
	// Issuer is the issuer of the tokens that will name the session ("" when
	// the session is used with opaque tokens only, or applies to every issuer).
	Issuer string
	Scopes []string
	Roles  []string
	Tenant string
	// Metadata is free-form data of the application (device, IP, ...).
	Metadata map[string]string
}

// SessionStore is the contract of a server-side session store (MemoryStore;
// the Redis store). core/storetest checks an implementation against it.
type SessionStore interface {
	SessionChecker
	OpaqueAuthenticator
	RevocationFeed
	// Create opens a session and returns it with its opaque token: 256 bits
	// from crypto/rand, base64url. The store keeps only the token's SHA-256.
	// At the cap it evicts the oldest session or fails with
	// ErrTooManySessions, as StoreOptions says.
	Create(ctx context.Context, ns SessionParams) (s *Session, token string, err error)
	// Get returns a live session; an unknown, revoked or expired one is an
	// error wrapping ErrSessionRevoked.
	Get(ctx context.Context, sid string) (*Session, error)
	// Touch records activity (throttled by TouchInterval); it never extends
	// a session past its absolute timeout. Unknown: ErrSessionRevoked.
	Touch(ctx context.Context, sid string) error
	// Revoke ends a session, audits it and publishes it to subscribers
	// before returning. Unknown or already ended: an error wrapping
	// ErrSessionRevoked.
	Revoke(ctx context.Context, sid string, opts ...RevokeOption) error
	// RevokeSubject ends every session of subject ("log out everywhere") and
	// returns how many it ended. A session created concurrently is either
	// ended too or fully alive afterwards, never half-indexed.
	RevokeSubject(ctx context.Context, subject string, opts ...RevokeOption) (int, error)
	// List returns the live sessions of subject, oldest first.
	List(ctx context.Context, subject string) ([]*Session, error)
	// Close stops background work (sweeper, subscriptions).
	Close() error
}

// RevokeOption annotates a revocation for the audit trail.
type RevokeOption func(*RevokeOptions)

// RevokeOptions are the collected RevokeOption values; stores read them
// with NewRevokeOptions.
type RevokeOptions struct {
	Reason string
	Actor  string
}

// WithReason records why a session was revoked ("password changed").
func WithReason(s string) RevokeOption { return func(o *RevokeOptions) { o.Reason = s } }

// WithActor records who revoked a session (an admin id, "user", "system").
func WithActor(s string) RevokeOption { return func(o *RevokeOptions) { o.Actor = s } }

// NewRevokeOptions applies opts, for store implementations.
func newRevokeOptions(opts ...RevokeOption) RevokeOptions {
	var o RevokeOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}
