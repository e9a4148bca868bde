package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Observer receives what an Authenticator does, for metrics and traces (the
// otelauth module implements one for OpenTelemetry). Set it in
// Config.Observer; with none set, no event is built and nothing is measured.
//
// Observe is called synchronously on the request's goroutine (or on the
// background goroutine of a key-set refresh or revocation feed), so it must
// be fast and must not block. A panic in Observe is recovered and logged; the
// request goes on as if no observer were set.
//
// Events never carry a token. SessionID and Subject are filled where known so
// that an observer can use them when its user asks for it; an observer must
// not export them by default.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// CacheHitCounter may be implemented by an Observer that, of a token the
// verified-token cache served, only counts the kind and source: core then
// calls CountCacheHit instead of Observe for each such EventAuthenticated
// (Cache CacheHit), without building an Event. A cache hit takes a few
// hundred nanoseconds, and building and passing an Event costs several
// percent of it; this is the most frequent event. Every other event still
// goes to Observe. Like Observe, CountCacheHit must be fast and must not
// block; a panic in it is recovered and logged.
type CacheHitCounter interface {
	CountCacheHit(kind Kind, source Source)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f.
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// EventKind says which of the fields of an [Event] are set.
type EventKind uint8

// Event kinds.
const (
	// EventAuthenticated: Authenticate accepted a token. TokenKind, Source,
	// Cache, Issuer, Subject, SessionID, and for a token verified in full
	// (not a cache hit) Start and Duration: the verification, the claim
	// checks and the deny set (while revocations may be missing, also the
	// live session check that replaces it). A cache hit is not timed (Start
	// and Duration are zero): two clock reads can cost more than the hit.
	// The session policy and route requirements come after: a request may
	// still be refused. An Observer that implements [CacheHitCounter] gets
	// cache hits through it instead.
	EventAuthenticated EventKind = iota + 1
	// EventRefused: Authenticate, Admit or Require refused a request.
	// Reason (a class from [ClassOf]), Cause (why, see [Cause]) and Status. A request that an Optional
	// middleware admits anonymously is not refused.
	EventRefused
	// EventSessionCheck: the session policy decided on a session. Outcome,
	// Issuer, Start and Duration (the whole decision, backend call included),
	// Sensitive, Err (outcome error: the backend's error, redacted).
	EventSessionCheck
	// EventKeySetRefresh: a JWKS fetch ended. Issuer, Start, Duration, Keys
	// (keys in service afterwards), Age (how old the keys in service are:
	// zero after a success), Err (nil on success; redacted of URLs).
	EventKeySetRefresh
	// EventUnknownKID: a token named a key id the issuer's key set does not
	// hold, even after the refetch it may have triggered. Issuer. The kid
	// itself is not reported.
	EventUnknownKID
	// EventRevocation: a revocation feed reported a revoked session. Issuer
	// (may be empty: every issuer), Lag (when heard minus Revocation.At;
	// zero when At is unset or in the future), DenySetSize (after adding it).
	EventRevocation
	// EventFeedBehind: a revocation feed reported that it is behind (Behind
	// true) or caught up (Behind false). FeedsBehind is how many feeds are
	// behind now.
	EventFeedBehind
)

// String returns the kind's name, e.g. "authenticated".
func (k EventKind) String() string {
	switch k {
	case EventAuthenticated:
		return "authenticated"
	case EventRefused:
		return "refused"
	case EventSessionCheck:
		return "session_check"
	case EventKeySetRefresh:
		return "keyset_refresh"
	case EventUnknownKID:
		return "unknown_kid"
	case EventRevocation:
		return "revocation"
	case EventFeedBehind:
		return "feed_behind"
	}
	return "unknown"
}

// CacheResult says whether a token was served by the verified-token cache.
type CacheResult uint8

// Cache results.
const (
	// CacheOff: the token cache is disabled, or the token is not a JWT
	// (opaque tokens are never cached).
	CacheOff CacheResult = iota
	// CacheHit: the token was found in the cache; its signature was not
	// verified again.
	CacheHit
	// CacheMiss: the token was verified in full.
	CacheMiss
)

// String returns "off", "hit" or "miss".
func (c CacheResult) String() string {
	switch c {
	case CacheHit:
		return "hit"
	case CacheMiss:
		return "miss"
	}
	return "off"
}

// SessionOutcome is how a session decision ended.
type SessionOutcome uint8

// Session outcomes.
const (
	// OutcomeActive: the session checker confirmed the session live.
	OutcomeActive SessionOutcome = iota + 1
	// OutcomeCached: a recent positive answer was reused
	// (SessionCheckOptions.CacheTTL, SensitiveCacheTTL); no backend call.
	OutcomeCached
	// OutcomeRevoked: the session is revoked or unknown (from the
	// checker, the negative cache or the deny set).
	OutcomeRevoked
	// OutcomeError: the checker failed, timed out, was too busy or
	// is missing; the request is refused (503, or 500 when none is
	// configured).
	OutcomeError
	// OutcomeFailOpen: the checker failed, and a session confirmed
	// within SessionCheckOptions.MaxStale was accepted.
	OutcomeFailOpen
)

// String returns "active", "cached", "revoked", "error" or "fail_open".
func (o SessionOutcome) String() string {
	switch o {
	case OutcomeActive:
		return "active"
	case OutcomeCached:
		return "cached"
	case OutcomeRevoked:
		return "revoked"
	case OutcomeError:
		return "error"
	case OutcomeFailOpen:
		return "fail_open"
	}
	return "unknown"
}

// Event is one thing an Authenticator did. Kind says which fields are set;
// the others are zero. It never holds a token.
type Event struct {
	Kind EventKind

	// Issuer is the configured issuer concerned ("" for opaque tokens and
	// for refusals).
	Issuer string
	// TokenKind and Source describe an authenticated token.
	TokenKind Kind
	Source    Source
	// Cache says whether the verified-token cache served the token.
	Cache CacheResult

	// Class is the refusal class (see [ClassOf]); Status the HTTP status.
	Class  string
	Status int
	// Cause says why, for an operator (see [Cause]): e.g. "aud names no
	// accepted audience". It never holds token bytes or claim values, but it
	// is free text: keep it out of metric attributes.
	Cause string

	// Outcome is the session decision; Sensitive whether the route was.
	Outcome   SessionOutcome
	Sensitive bool

	// Start and Duration time the work: verification, a session decision,
	// a key-set fetch. Duration is measured on the monotonic clock.
	Start    time.Time
	Duration time.Duration

	// Keys and Age describe the issuer's key set after a refresh.
	Keys int
	Age  time.Duration

	// Lag is how late a revocation was heard; DenySetSize the revoked
	// sessions remembered; FeedsBehind the feeds now behind; Behind what
	// the feed said.
	Lag         time.Duration
	DenySetSize int
	FeedsBehind int
	Behind      bool

	// Err is the failure of a key-set refresh or session backend. Its text
	// has URLs removed (they may carry credentials) but may still name
	// hosts; it never holds a token.
	Err error

	// Subject and SessionID identify the principal of an authenticated
	// token or a session check. Observers must leave them out of their
	// output unless their user opts in.
	Subject   string
	SessionID string
}

// Refusal reason classes, one per sentinel error, as [ClassOf] returns them.
const (
	ClassNoToken           = "no_token"
	ClassInvalidRequest    = "invalid_request"
	ClassInvalidToken      = "invalid_token"
	ClassTokenExpired      = "token_expired"
	ClassSessionRevoked    = "session_revoked"
	ClassInsufficientScope = "insufficient_scope"
	ClassForbidden         = "forbidden"
	ClassCrossOrigin       = "cross_origin"
	ClassUnavailable       = "unavailable"
	ClassMisconfigured     = "misconfigured"
)

// ClassOf returns the reason class of an error of authgate: a short fixed
// string naming its sentinel, e.g. "token_expired". It says nothing of the
// token. Errors that are not authgate's are "invalid_token", as they are
// rendered.
func ClassOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return reasonOfKind(e.kind)
	}
	for _, k := range sentinels {
		if errors.Is(err, k) {
			return reasonOfKind(k)
		}
	}
	return ClassInvalidToken
}

var sentinels = []error{ErrNoToken, ErrInvalidRequest, ErrInvalidToken, ErrTokenExpired, ErrSessionRevoked,
	ErrInsufficientScope, ErrForbidden, ErrCrossOrigin, ErrUnavailable, ErrMisconfigured}

func reasonOfKind(kind error) string {
	switch kind {
	case ErrNoToken:
		return ClassNoToken
	case ErrInvalidRequest:
		return ClassInvalidRequest
	case ErrTokenExpired:
		return ClassTokenExpired
	case ErrSessionRevoked:
		return ClassSessionRevoked
	case ErrInsufficientScope:
		return ClassInsufficientScope
	case ErrForbidden:
		return ClassForbidden
	case ErrCrossOrigin:
		return ClassCrossOrigin
	case ErrUnavailable:
		return ClassUnavailable
	case ErrMisconfigured:
		return ClassMisconfigured
	}
	return ClassInvalidToken
}

// observe hands e to the observer, recovering a panic (OP-05). Callers
// check a.obs != nil first, so that nothing is built when nobody listens.
func (a *Authenticator) observe(ctx context.Context, e Event) {
	defer func() {
		if r := recover(); r != nil {
			a.observerPanicked(e.Kind, r)
		}
	}()
	a.obs.Observe(ctx, e)
}

// observeAuthenticated reports an accepted token: p as it is handed out
// (Source set), cache how it was found, start when its verification began
// (zero for a cache hit, which is not timed). Callers check a.obs != nil
// first. A cache hit goes to a CacheHitCounter without an Event.
func (a *Authenticator) observeAuthenticated(ctx context.Context, p *Principal, cache CacheResult, start time.Time) {
	if cache == CacheHit {
		if c, ok := a.obs.(CacheHitCounter); ok {
			a.countCacheHit(c, p.Kind, p.Source)
			return
		}
	}
	e := Event{Kind: EventAuthenticated, Issuer: p.Issuer, TokenKind: p.Kind, Source: p.Source,
		Cache: cache, Start: start, Subject: p.Subject, SessionID: p.SessionID}
	if !start.IsZero() {
		e.Duration = time.Since(start)
	}
	a.observe(ctx, e)
}

// countCacheHit calls c, recovering a panic as observe does.
func (a *Authenticator) countCacheHit(c CacheHitCounter, kind Kind, source Source) {
	defer func() {
		if r := recover(); r != nil {
			a.observerPanicked(EventAuthenticated, r)
		}
	}()
	c.CountCacheHit(kind, source)
}

func (a *Authenticator) observerPanicked(k EventKind, r any) {
	a.obsPanic.Do(func() {
		a.log.LogAttrs(context.Background(), slog.LevelError, "authgate: Observer panicked; event dropped",
			slog.String("event", k.String()), slog.String("panic", fmt.Sprint(r)))
	})
}

// refused reports a refusal: a debug log and an event.
func (a *Authenticator) refused(ctx context.Context, err error) {
	debug := a.log.Enabled(ctx, slog.LevelDebug)
	if !debug && a.obs == nil {
		return
	}
	e, ok := err.(*Error) // refusals are; a type assertion does not allocate
	if !ok {
		e = asError(err)
	}
	reason := reasonOfKind(e.kind)
	cause := Cause(e) // fixed texts and type names only: never token bytes or claim values
	if debug {
		a.log.LogAttrs(ctx, slog.LevelDebug, "authgate: request refused",
			slog.Int("status", e.Status), slog.String("reason", reason), slog.String("cause", cause))
	}
	if a.obs != nil {
		a.observe(ctx, Event{Kind: EventRefused, Class: reason, Status: e.Status, Cause: cause})
	}
}

// redactedError wraps an error whose text had its URLs removed.
type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

// redact returns err with every URL in its text replaced by "[url]": fetch
// errors of net/http quote the URL, whose query or userinfo may hold a
// secret. nil stays nil.
func redact(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: errorText(err)}
}

func redactURLs(s string) string {
	var b strings.Builder
	for {
		i := indexURL(s)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString("[url]")
		s = s[i:]
		end := strings.IndexAny(s, " \t\r\n\"'<>`")
		if end < 0 {
			return b.String()
		}
		s = s[end:]
	}
}

// indexURL finds the first "scheme://" in s (a scheme of letters, digits,
// '+', '-', '.').
func indexURL(s string) int {
	for off := 0; ; {
		j := strings.Index(s[off:], "://")
		if j < 0 {
			return -1
		}
		j += off
		i := j
		for i > 0 && isSchemeByte(s[i-1]) {
			i--
		}
		if i < j {
			return i
		}
		off = j + 3
	}
}

func isSchemeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

// errorText returns the redacted text of err for logs and Status, without
// the URL a *url.Error carries.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.URL != "" {
		return redactURLs(strings.ReplaceAll(err.Error(), ue.URL, "[url]"))
	}
	return redactURLs(err.Error())
}

// observeRefresh reports a key-set fetch that started at start and ended
// with err.
func (is *issuer) observeRefresh(ctx context.Context, start time.Time, err error) {
	e := Event{Kind: EventKeySetRefresh, Issuer: is.cfg.Issuer, Start: start, Duration: time.Since(start), Err: redact(err)}
	if kr := is.keys.Load(); kr != nil {
		e.Keys = kr.count()
		if err != nil {
			e.Age = max(0, is.a.cfg.Now().Sub(kr.loaded))
		}
	}
	is.a.observe(ctx, e)
}
