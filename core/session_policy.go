package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// Defaults and bounds of SessionCheckOptions.
const (
	defaultCheckTimeout = 3 * time.Second
	maxCheckTimeout     = 30 * time.Second
	defaultCacheSize    = 10000
	defaultMaxInFlight  = 64
	defaultDenySetSize  = 100000
	maxCacheTTL         = time.Hour
	maxStaleBound       = 24 * time.Hour
	// negativeKeep is how long a checker's "revoked" answer is cached. The
	// backend stays authoritative (a revoked session is answered revoked
	// again), so this only saves calls and orders answers (SS-05); it is
	// longer than any check may run, so no call that began before a
	// negative answer can outlive it. Feed revocations live in the deny set.
	negativeKeep = time.Minute
)

// sessionPolicy applies Config.SessionPolicy: live checks, their cache, the
// deny set fed by revocations, and opaque tokens.
type sessionPolicy struct {
	a      *Authenticator
	policy Policy
	opts   SessionCheckOptions
	now    func() time.Time
	log    *slog.Logger

	cache  *sessionCache
	deny   *denySet
	cut    *cutoffSet // subject cutoffs (cutoff.go)
	flight singleflight.Group
	sem    chan struct{} // bounds concurrent backend calls

	fresh freshCalls[SessionState] // checks that must be read after the request arrived

	streams streamRegistry // open streams, ended by revocations (stream.go)

	issuerKeys []string     // every configured issuer, for ("", sid) revocations
	behind     atomic.Int32 // feeds that reported they may be missing revocations
	stops      []func()
	loud       rate.Sometimes // rate-limits the misconfiguration and overflow logs
	openLog    rate.Sometimes // rate-limits the fail-open warning

	feeds int         // revocation feeds subscribed to
	st    policyStats // for Status (status.go)
}

func newSessionPolicy(a *Authenticator) (*sessionPolicy, error) {
	cfg := &a.cfg
	o := cfg.SessionCheck
	if o.Timeout == 0 {
		o.Timeout = defaultCheckTimeout
	}
	if o.Timeout < 0 || o.Timeout > maxCheckTimeout {
		return nil, configErr("SessionCheck.Timeout %v is outside (0, %v]", o.Timeout, maxCheckTimeout)
	}
	if o.CacheTTL < 0 || o.CacheTTL > maxCacheTTL || o.SensitiveCacheTTL < 0 || o.SensitiveCacheTTL > maxCacheTTL {
		return nil, configErr("SessionCheck.CacheTTL and SensitiveCacheTTL must be within [0, %v]", maxCacheTTL)
	}
	if o.SensitiveCacheTTL > 0 && o.CacheTTL < o.SensitiveCacheTTL {
		// A non-sensitive route never needs a fresher answer than a sensitive one.
		o.CacheTTL = o.SensitiveCacheTTL
	}
	if o.MaxStale < 0 || o.MaxStale > maxStaleBound {
		return nil, configErr("SessionCheck.MaxStale %v is outside [0, %v]", o.MaxStale, maxStaleBound)
	}
	if o.CacheSize == 0 {
		o.CacheSize = defaultCacheSize
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = defaultMaxInFlight
	}
	if o.DenySetSize == 0 {
		o.DenySetSize = defaultDenySetSize
	}
	if o.CacheSize < 1 || o.MaxInFlight < 1 || o.DenySetSize < 1 {
		return nil, configErr("SessionCheck.CacheSize, MaxInFlight and DenySetSize must be positive")
	}
	hasChecker := cfg.Sessions != nil
	for _, is := range a.issuers {
		hasChecker = hasChecker || is.cfg.Sessions != nil || is.cfg.TokenIntrospection != nil
	}
	for _, is := range a.issuers {
		if is.cfg.TokenIntrospection != nil && cfg.SessionPolicy == PolicyNever {
			return nil, configErr("issuer %q has TokenIntrospection but SessionPolicy is PolicyNever, which makes no live check: it would never be called", is.cfg.Issuer)
		}
	}
	if cfg.SessionPolicy == PolicyAlways && !hasChecker && len(a.issuers) > 0 {
		return nil, configErr("SessionPolicy PolicyAlways needs a session checker: set Sessions (e.g. a MemoryStore) or use PolicySensitiveOnly")
	}

	retention := denyRetention(cfg.MaxTokenLifetime, cfg.Leeway)
	s := &sessionPolicy{
		a:       a,
		policy:  cfg.SessionPolicy,
		opts:    o,
		now:     cfg.Now,
		log:     cfg.Logger,
		cache:   newSessionCache(o.CacheSize, max(o.CacheTTL, o.SensitiveCacheTTL, o.MaxStale), negativeKeep, cfg.Now),
		deny:    newDenySet(retention, o.DenySetSize, cfg.Now),
		cut:     newCutoffSet(retention, o.DenySetSize, cfg.Now),
		sem:     make(chan struct{}, o.MaxInFlight),
		loud:    rate.Sometimes{First: 1, Interval: time.Minute},
		openLog: rate.Sometimes{First: 1, Interval: 10 * time.Second},
		st:      policyStats{failLog: rate.Sometimes{First: 1, Interval: 10 * time.Second}},
	}
	s.issuerKeys = append(s.issuerKeys, "")
	for iss := range a.issuers {
		s.issuerKeys = append(s.issuerKeys, iss)
	}
	for _, f := range revocationFeeds(cfg) {
		var behind atomic.Bool
		stop, err := f.SubscribeRevocations(a.ctx, func(r Revocation) {
			if r.SessionID != "" || r.Cutoff {
				s.revoke(r)
				return
			}
			if behind.Swap(r.Behind) != r.Behind {
				var n int32
				if r.Behind {
					n = s.behind.Add(1)
					s.log.Warn("authgate: a revocation feed is behind; checking every request live until it catches up")
					s.streamsBehind()
				} else {
					n = s.behind.Add(-1)
					s.log.Info("authgate: revocation feed caught up")
				}
				if a.obs != nil {
					a.observe(a.ctx, Event{Kind: EventFeedBehind, Behind: r.Behind, FeedsBehind: int(n)})
				}
			}
		})
		if err != nil {
			s.close()
			return nil, fmt.Errorf("authgate: subscribing to revocations: %w", err)
		}
		s.stops = append(s.stops, stop)
		s.feeds++
	}
	return s, nil
}

// revocationFeeds returns Config.Revocations, or when it is nil every
// distinct one of Config.Sessions, Config.Opaque and the issuers' Sessions
// that is itself a RevocationFeed (a MemoryStore or Redis store is).
func revocationFeeds(cfg *Config) []RevocationFeed {
	if cfg.Revocations != nil {
		return []RevocationFeed{cfg.Revocations}
	}
	var feeds []RevocationFeed
	add := func(v any) {
		f, ok := v.(RevocationFeed)
		if !ok || f == nil {
			return
		}
		if reflect.TypeOf(f).Comparable() { // == on a non-comparable value would panic
			for _, g := range feeds {
				if reflect.TypeOf(g).Comparable() && g == f {
					return
				}
			}
		}
		feeds = append(feeds, f)
	}
	if cfg.Sessions != nil {
		add(cfg.Sessions)
	}
	if cfg.Opaque != nil {
		add(cfg.Opaque)
	}
	for _, ic := range cfg.Issuers {
		if ic.Sessions != nil {
			add(ic.Sessions)
		}
	}
	return feeds
}

// revoke records one revocation from a feed: deny set, negative cache, new
// generation. It runs on the feed's goroutine and only records.
func (s *sessionPolicy) revoke(r Revocation) {
	if r.Cutoff && r.SessionID == "" {
		s.cutOff(r)
		return
	}
	if r.SessionID == "" {
		return
	}
	s.noteRevocation(r)
	if !s.deny.add(r) {
		s.loud.Do(func() {
			s.log.Error("authgate: revocation deny set is full; every request is now checked live until the lost revocation expires (raise SessionCheck.DenySetSize)",
				slog.Int("size", s.opts.DenySetSize))
		})
	}
	var keys []sessKey
	if r.Issuer != "" {
		keys = []sessKey{{r.Issuer, r.SessionID}}
	} else {
		for _, iss := range s.issuerKeys {
			keys = append(keys, sessKey{iss, r.SessionID})
		}
	}
	s.cache.revoked(keys)
	s.streamsRevoked(r)
	if s.a.obs != nil {
		s.a.observe(s.a.ctx, Event{Kind: EventRevocation, Issuer: r.Issuer, Lag: revocationLag(r, s.now()),
			DenySetSize: s.deny.len(), Subject: r.Subject, SessionID: r.SessionID})
	}
}

// denyRetention is how long after a revocation at time T a token naming the
// revoked session can still be accepted, so how long the deny set must keep
// it: the token was minted by T on the issuer's clock, which may run up to
// leeway ahead of ours (iat <= T + leeway); its exp - iat is at most
// lifetime + leeway (checkClaims); and it is accepted until exp + leeway.
// Tokens that name a session must carry iat (checkClaims), so nothing longer
// exists.
func denyRetention(lifetime, leeway time.Duration) time.Duration {
	return lifetime + 3*leeway
}

func revokedErr(cause string) error { return newError(ErrSessionRevoked, errors.New(cause)) }

// denied refuses p when its session is in the deny set. If the deny set may
// be missing a revocation (it overflowed, or a feed is behind), p's session
// is checked live instead, on every route; without a checker the request is
// answered 503 (fail closed).
func (s *sessionPolicy) denied(ctx context.Context, p *Principal) error {
	if p.Kind == KindJWT {
		if err := s.cutoffDenied(p); err != nil {
			return err
		}
	}
	if p.SessionID == "" {
		return s.unsessionedDenied(p)
	}
	if s.deny.has(p.Issuer, p.SessionID) {
		return revokedErr("session id is in the deny set")
	}
	if !p.SessionChecked && (s.behind.Load() > 0 || s.deny.overflowed()) {
		// The deny set may be missing a revocation: check live, or refuse.
		if s.checkerFor(p.Issuer) == nil && s.introspectorFor(p.Issuer) == nil {
			return newError(ErrUnavailable, errors.New("revocations may be missing and no session checker is configured"))
		}
		return s.check(ctx, p, true)
	}
	return nil
}

// gate runs the live session check for p when the policy asks for one:
// PolicyNever: no check; PolicySensitiveOnly: on sensitive routes; PolicyAlways: on every
// request (admit calls it with sensitive false).
func (s *sessionPolicy) gate(ctx context.Context, p *Principal, sensitive bool) error {
	switch {
	case s.policy == PolicyNever, s.policy == PolicySensitiveOnly && !sensitive:
		return nil
	}
	return s.check(ctx, p, sensitive)
}

// check confirms p's session (see decide) and reports the decision to the
// Observer.
func (s *sessionPolicy) check(ctx context.Context, p *Principal, sensitive bool) error {
	if s.a.obs == nil {
		_, err := s.decide(ctx, p, sensitive)
		return err
	}
	start := time.Now()
	out, err := s.decide(ctx, p, sensitive)
	if out != 0 {
		e := Event{Kind: EventSessionCheck, Outcome: out, Sensitive: sensitive, Issuer: p.Issuer,
			Start: start, Duration: time.Since(start), Subject: p.Subject, SessionID: p.SessionID}
		if out == OutcomeError {
			e.Err = redact(err)
		}
		s.a.observe(ctx, e)
	}
	return err
}

// decide confirms p's session: from a live lookup made earlier in this
// request (p.SessionChecked: an opaque token's lookup, or Admit's check under
// PolicyAlways), else by the session id check (decideSession) and, for a
// JWT of an issuer with TokenIntrospection, by introspecting the token:
// both must pass, and a token without a session id is introspected only.
// Only live answers set p.SessionChecked. The outcome is 0 when no decision
// was needed or the token cannot name a session.
func (s *sessionPolicy) decide(ctx context.Context, p *Principal, sensitive bool) (SessionOutcome, error) {
	if p.SessionChecked {
		return 0, nil
	}
	in := s.introspectorFor(p.Issuer)
	if in == nil || p.Kind != KindJWT {
		out, err := s.decideSession(ctx, p, sensitive)
		if err == nil && out == OutcomeActive {
			p.SessionChecked = true
		}
		return out, err
	}
	out := OutcomeActive
	if p.SessionID != "" && s.checkerFor(p.Issuer) != nil {
		o, err := s.decideSession(ctx, p, sensitive)
		if err != nil {
			return o, err
		}
		out = o // active, cached or failed open: introspection still decides
	}
	if err := s.introspect(ctx, in, p); err != nil {
		if errors.Is(err, ErrSessionRevoked) {
			return OutcomeRevoked, err
		}
		return OutcomeError, err
	}
	// A revocation heard while the call was running wins over its answer.
	if p.SessionID != "" && s.deny.has(p.Issuer, p.SessionID) {
		return OutcomeRevoked, revokedErr("session id is in the deny set")
	}
	if out == OutcomeActive {
		p.SessionChecked = true
	}
	return out, nil
}

// introspect asks in about p's token itself (RFC 7662). The Introspector
// answers each request with a call that began after it arrived (freshCalls
// per token hash) and never caches an active answer. Not active, or an
// answer about another subject, is 401; no answer is 503.
func (s *sessionPolicy) introspect(ctx context.Context, in *Introspector, p *Principal) error {
	if p.token == nil {
		return newError(ErrMisconfigured, errors.New("token introspection needed but the principal holds no token"))
	}
	// A copy: the call may outlive the request and the adapter's buffers.
	sess, err := in.AuthenticateOpaque(ctx, strings.Clone(*p.token))
	switch {
	case err == nil && sess != nil && sess.Subject == p.Subject:
		return nil
	case err == nil && sess != nil:
		return revokedErr("introspection: the answer names another subject than the token")
	case err == nil, errors.Is(err, ErrSessionRevoked), errors.Is(err, ErrInvalidToken), errors.Is(err, ErrTokenExpired):
		return revokedErr("introspection: token not active")
	}
	return newError(ErrUnavailable, fmt.Errorf("token introspection: %w", err))
}

// decideSession is decide's session id check: from the cache where the
// options allow, or from the checker through a shared, bounded call.
func (s *sessionPolicy) decideSession(ctx context.Context, p *Principal, sensitive bool) (SessionOutcome, error) {
	if p.SessionID == "" {
		return 0, invalid("no session id")
	}
	if !validSessionID(p.SessionID) {
		return 0, invalid("session id has an unusable form")
	}
	checker := s.checkerFor(p.Issuer)
	if checker == nil {
		s.loud.Do(func() {
			s.log.Error("authgate: a session check is needed but no SessionChecker is configured (set Config.Sessions); answering 500",
				slog.String("issuer", p.Issuer))
		})
		return OutcomeError, newError(ErrMisconfigured, errors.New("session check needed but no checker configured"))
	}
	ctx = withSessionSubject(ctx, p.Subject) // for a SubjectSessionChecker (checkSession)
	k := sessKey{p.Issuer, p.SessionID}
	ttl := s.opts.CacheTTL
	if sensitive {
		ttl = s.opts.SensitiveCacheTTL
	}
	start := s.now()
	e, hit := s.cache.get(k)
	if hit && e.revoked {
		return OutcomeRevoked, revokedErr("session revoked (cached)")
	}
	if hit && ttl > 0 && start.Sub(e.at) < ttl {
		// Reused answer: SessionChecked stays false (it means "confirmed
		// live during this request"), so a later sensitive check in the same
		// request still asks for its own, fresher answer.
		return OutcomeCached, nil
	}
	var state SessionState
	var err error
	if _, ok := checker.(inProcessChecker); ok {
		// An in-process store answers from memory: it can neither hang nor
		// fail, so it needs no shared call, timeout or goroutine.
		gen := s.cache.generation()
		state, err = checker.Check(ctx, k.sid)
		s.record(k, start, gen, state, err)
	} else {
		// Unless the options allow a cached answer, the answer must have
		// been read after the request arrived: a feed (if any) may not have
		// delivered a revocation yet, and a backend without one (an HTTP
		// endpoint) revokes where no generation moves.
		state, err = s.shared(ctx, checker, k, ttl == 0)
	}
	// A revocation heard while the call was running wins over its answer
	// (SS-04, SS-05).
	if s.deny.has(k.iss, k.sid) {
		return OutcomeRevoked, revokedErr("session id is in the deny set")
	}
	if err != nil {
		err = s.failOpen(ctx, p, k, err)
		switch {
		case err == nil:
			return OutcomeFailOpen, nil
		case errors.Is(err, ErrSessionRevoked):
			return OutcomeRevoked, err
		}
		return OutcomeError, err
	}
	if state != StateActive {
		return OutcomeRevoked, revokedErr("session checker: revoked or unknown")
	}
	if e, ok := s.cache.get(k); ok && e.revoked {
		return OutcomeRevoked, revokedErr("session revoked (cached)")
	}
	return OutcomeActive, nil
}

// failOpen decides after a failed check: 503 unless MaxStale allows a
// session positively confirmed within MaxStale (SS-14) during an outage of
// the checker. Our own limit (MaxInFlight) is no outage: whoever can fill it
// (64 checks of their own sessions) must not turn the live check of a
// stolen token into a cached one, so it is 503 whatever MaxStale says.
func (s *sessionPolicy) failOpen(ctx context.Context, p *Principal, k sessKey, err error) error {
	if errors.Is(err, ErrSessionRevoked) {
		return newError(ErrSessionRevoked, err)
	}
	if s.opts.MaxStale > 0 && !errors.Is(err, errBusy) {
		if e, ok := s.cache.get(k); ok && !e.revoked && s.now().Sub(e.at) <= s.opts.MaxStale {
			s.openLog.Do(func() {
				s.log.WarnContext(ctx, "authgate: session checker unavailable; accepting recently confirmed sessions (fail-open, SessionCheck.MaxStale)",
					slog.Duration("confirmed_ago", s.now().Sub(e.at)), slog.String("error", errorText(err)))
			})
			return nil
		}
	}
	return newError(ErrUnavailable, err)
}

var errBusy = errors.New("too many session checks in flight")

// shared calls checker for k for concurrent callers, on a context detached
// from any one caller, with its own timeout, so one cancelled client fails
// nobody else; a panicking checker becomes an error for every waiter. Each
// caller waits at most the timeout.
//
// With fresh set (no cached answer may be reused), every caller gets the
// answer of a call that began after it arrived (freshCalls: at most two
// calls per burst, one at a time per session). Otherwise callers of one
// generation share one call (singleflight): the options allow an answer up
// to the cache TTL old, and a revocation this process hears of moves the
// generation, so no call begun before it is joined after it (SS-04).
func (s *sessionPolicy) shared(ctx context.Context, checker SessionChecker, k sessKey, fresh bool) (SessionState, error) {
	gen := s.cache.generation()
	// Callers that start after a revocation never join a call that began
	// before it: the generation is part of the key (SS-04).
	fk := k.iss + "\x00" + k.sid + "\x00" + strconv.FormatUint(gen, 10)
	if fresh {
		fn := func() (SessionState, error) { return s.call(ctx, checker, k, gen) }
		var b *freshBatch[SessionState]
		if honorsContext(checker) {
			// The checker returns by call's deadline: the first caller runs
			// the call itself, saving a goroutine handoff and its wake-up
			// (most of what a live check added to its round trip).
			var st SessionState
			var err error
			if st, err, b = s.fresh.lead(fk, fn); b == nil {
				return answer(st, err)
			}
		} else {
			b = s.fresh.do(fk, fn)
		}
		if _, err := await(ctx, s.opts.Timeout, b.done); err != nil {
			return StateRevoked, err
		}
		return answer(b.v, b.err)
	}
	r, err := await(ctx, s.opts.Timeout, s.flight.DoChan(fk, func() (any, error) { return s.call(ctx, checker, k, gen) }))
	if err != nil {
		return StateRevoked, err
	}
	if r.Err != nil {
		return StateRevoked, r.Err
	}
	return r.Val.(SessionState), nil
}

// answer is a check's result as shared returns it: StateRevoked with any
// error.
func answer(st SessionState, err error) (SessionState, error) {
	if err != nil {
		return StateRevoked, err
	}
	return st, nil
}

// await receives from ch, waiting at most timeout and while ctx lives: a
// caller's own bound on its wait for a shared call.
func await[T any](ctx context.Context, timeout time.Duration, ch <-chan T) (v T, err error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case v = <-ch:
		return v, nil
	case <-ctx.Done():
		return v, fmt.Errorf("session check abandoned: %w", ctx.Err())
	case <-t.C:
		return v, errors.New("session check timed out")
	}
}

// call makes one backend call for k: bounded by MaxInFlight and the
// timeout, detached from the caller's cancellation but ended by Close, a
// panic recovered; its answer is recorded in the cache under generation gen.
func (s *sessionPolicy) call(ctx context.Context, checker SessionChecker, k sessKey, gen uint64) (SessionState, error) {
	select {
	case s.sem <- struct{}{}:
	default:
		return StateRevoked, errBusy
	}
	defer func() { <-s.sem }()
	start := s.now()
	// The call lives as long as the Authenticator (Close ends calls in
	// flight), at most the timeout, whatever the caller does; it sees the
	// caller's values (the subject, trace spans).
	cctx, cancel := context.WithTimeout(s.a.ctx, s.opts.Timeout)
	defer cancel()
	st, err := safeCheck(callCtx{cctx, ctx}, checker, k.sid)
	s.record(k, start, gen, st, err)
	return st, err
}

// callCtx is a backend call's context: the lifetime (Done, Err, Deadline)
// of its own context, the values of the request's as well. Its own values
// come first, so the context package finds the call's cancelCtx under it,
// and contexts derived from it need no goroutine to follow it.
type callCtx struct {
	context.Context
	values context.Context
}

func (c callCtx) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}

// record caches the answer of a call that started at start in generation gen.
func (s *sessionPolicy) record(k sessKey, start time.Time, gen uint64, st SessionState, err error) {
	s.noteBackend(err)
	switch {
	case err != nil:
	case st == StateActive:
		s.cache.putPositive(k, start, gen)
	default:
		s.cache.putNegative(k)
	}
}

// ContextHonorer is implemented by a SessionChecker whose Check returns
// promptly once its context is done (its deadline passed, or it was
// cancelled), as go-redis and net/http calls do: redisstore.Store and
// core's HTTP session checker. authgate then runs a live check that no
// other request is already making on the request's own goroutine, instead
// of a goroutine of its own that lets the request leave at the timeout
// even if the checker never returns; that saves a handoff per check.
// HonorsContext reports whether the promise holds (a wrapper may pass on
// its inner checker's answer).
type ContextHonorer interface {
	HonorsContext() bool
}

// honorsContext reports whether checker promises to return by its
// context's deadline (ContextHonorer).
func honorsContext(checker SessionChecker) bool {
	h, ok := checker.(ContextHonorer)
	return ok && h.HonorsContext()
}

// inProcessChecker marks checkers that answer from this process's memory
// (MemoryStore): they are called directly, without singleflight.
type inProcessChecker interface {
	SessionChecker
	inProcess()
}

// safeCheck calls checker, turning a panic into an error.
func safeCheck(ctx context.Context, c SessionChecker, sid string) (st SessionState, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = StateRevoked, fmt.Errorf("session checker panicked: %v", r)
		}
	}()
	st, err = checkSession(ctx, c, sid)
	if err == nil && st != StateActive && st != StateRevoked {
		return StateRevoked, fmt.Errorf("session checker returned unknown state %d", st)
	}
	return st, err
}

// introspectorFor returns the issuer's TokenIntrospection, or nil.
func (s *sessionPolicy) introspectorFor(iss string) *Introspector {
	if is := s.a.issuers[iss]; is != nil {
		return is.cfg.TokenIntrospection
	}
	return nil
}

// checkerFor returns the issuer's own checker, else Config.Sessions.
func (s *sessionPolicy) checkerFor(iss string) SessionChecker {
	if is := s.a.issuers[iss]; is != nil && is.cfg.Sessions != nil {
		return is.cfg.Sessions
	}
	return s.a.cfg.Sessions
}

func (s *sessionPolicy) close() {
	for _, stop := range s.stops {
		stop()
	}
	s.stops = nil
}
