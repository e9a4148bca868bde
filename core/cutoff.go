package core

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// A subject cutoff says "the tokens of subject sub from issuer iss issued at
// or before T are refused": the revocation kind for deployments whose
// tokens name no session (no sid), where a revoked session id would
// reach nothing. It comes as a Revocation with Cutoff set (from a store's
// feed, the back-channel logout receiver or a Shared Signals event) and is
// applied on every route, to cached tokens too (the deny check runs after
// the verified-token cache).
//
// A token is refused when its iat is not after T (iat <= T: the issuers'
// iat has whole seconds, so a token minted in the second of the cutoff is
// refused rather than admitted), and when it has no iat at all (it cannot
// show it was issued after T). Opaque tokens are looked up live and are
// not judged by cutoffs.

// subjKey names a subject across issuers. An empty iss means every issuer.
type subjKey struct{ iss, sub string }

// cutoff is one recorded cutoff: tokens with iat <= before (unix ms) are
// refused until until.
type cutoff struct {
	before int64 // unix milliseconds
	until  time.Time
}

// cutoffSet remembers subject cutoffs for as long as a token issued before
// one can still be accepted: denyRetention (MaxTokenLifetime + 3 Leeway)
// from the cutoff time T, which is clamped to the clock (a cutoff in the
// future would refuse tokens not yet minted, and would have to be kept
// longer).
//
// Like the deny set it is bounded and never evicts a live entry: when full
// it records the overflow (the latest T and the latest expiry of the lost
// cutoffs) and, until the lost cutoffs would have expired, refuses every
// JWT issued at or before that T with 503 (fail closed: no live check can
// answer for a token without a session). Tokens issued after it are
// unaffected.
//
// Reads take no lock: an empty set costs one atomic load.
type cutoffSet struct {
	retention time.Duration
	capacity  int
	now       func() time.Time

	mu sync.Mutex // serializes writers
	m  sync.Map   // subjKey -> *cutoff; written under mu
	// n counts the entries of m, wild those with an empty issuer; active
	// is n plus 1 while an overflow is recorded (one load on the hot path).
	n, wild, active atomic.Int64
	overflow        atomic.Pointer[cutoff] // nil when none was lost
}

func newCutoffSet(retention time.Duration, capacity int, now func() time.Time) *cutoffSet {
	return &cutoffSet{retention: retention, capacity: capacity, now: now}
}

// add records that the tokens of (iss, sub) issued at or before at are
// refused, and reports whether it could (false: overflow).
func (c *cutoffSet) add(iss, sub string, at time.Time) bool {
	now := c.now()
	if at.IsZero() || at.After(now) {
		at = now
	}
	until := at.Add(c.retention)
	if !now.Before(until) {
		return true // no token issued before it can still be accepted
	}
	e := &cutoff{before: at.UnixMilli(), until: until}
	k := subjKey{iss, sub}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m.Load(k); ok {
		old := v.(*cutoff)
		if e.before > old.before {
			c.m.Store(k, e) // a later cutoff covers the earlier one and lasts longer
		}
		return true
	}
	if int(c.n.Load()) >= c.capacity {
		c.m.Range(func(key, v any) bool {
			if !now.Before(v.(*cutoff).until) {
				c.m.Delete(key)
				c.count(key.(subjKey), -1)
			}
			return true
		})
	}
	if int(c.n.Load()) >= c.capacity {
		o := c.overflow.Load()
		if o == nil {
			c.active.Add(1)
			o = e
		} else {
			o = &cutoff{before: max(o.before, e.before), until: o.until}
			if until.After(o.until) {
				o.until = until
			}
		}
		c.overflow.Store(o)
		return false
	}
	c.m.Store(k, e)
	c.count(k, 1)
	return true
}

// count adds delta to the entry counts for k. The caller holds mu.
func (c *cutoffSet) count(k subjKey, delta int64) {
	c.n.Add(delta)
	c.active.Add(delta)
	if k.iss == "" {
		c.wild.Add(delta)
	}
}

// cutVerdict is what the cutoff set says of one token.
type cutVerdict uint8

const (
	cutNone     cutVerdict = iota // no cutoff applies
	cutRefused                    // issued at or before its subject's cutoff
	cutOverflow                   // a cutoff that may apply was lost: 503
)

// judge says whether a token of (iss, sub) with issued-at iat (zero: none)
// is cut off.
func (c *cutoffSet) judge(iss, sub string, iat time.Time) cutVerdict {
	if c.active.Load() == 0 {
		return cutNone
	}
	now := c.now()
	ms := int64(0)
	if !iat.IsZero() {
		ms = iat.UnixMilli()
	}
	hit := func(k subjKey) bool {
		v, ok := c.m.Load(k)
		if !ok {
			return false
		}
		e := v.(*cutoff)
		return now.Before(e.until) && (iat.IsZero() || ms <= e.before)
	}
	if c.n.Load() > 0 {
		if hit(subjKey{iss, sub}) || iss != "" && c.wild.Load() > 0 && hit(subjKey{"", sub}) {
			return cutRefused
		}
	}
	if o := c.overflow.Load(); o != nil && now.Before(o.until) && (iat.IsZero() || ms <= o.before) {
		return cutOverflow
	}
	return cutNone
}

// overflowed reports whether a cutoff was lost and could still matter.
func (c *cutoffSet) overflowed() bool {
	o := c.overflow.Load()
	return o != nil && c.now().Before(o.until)
}

func (c *cutoffSet) len() int { return int(c.n.Load()) }

// cutOff records a subject cutoff from a feed (or a receiver). It runs on
// the feed's goroutine and only records.
func (s *sessionPolicy) cutOff(r Revocation) {
	if r.Subject == "" {
		return
	}
	s.noteRevocation(r)
	if !s.cut.add(r.Issuer, r.Subject, r.At) {
		s.loud.Do(func() {
			s.log.Error("authgate: subject cutoff set is full; every token issued before the lost cutoff is answered 503 until it expires (raise SessionCheck.DenySetSize)",
				slog.Int("size", s.opts.DenySetSize))
		})
	}
	s.streamsCutOff(r)
	if s.a.obs != nil {
		s.a.observe(s.a.ctx, Event{Kind: EventRevocation, Issuer: r.Issuer, Lag: revocationLag(r, s.now()),
			DenySetSize: s.deny.len() + s.cut.len(), Subject: r.Subject})
	}
}

// cutoffDenied refuses a JWT issued at or before its subject's cutoff
// (401), or one a lost cutoff may cover (503).
func (s *sessionPolicy) cutoffDenied(p *Principal) error {
	return s.cutoffJudged(p.Issuer, p.Subject, p.IssuedAt)
}

// cutoffJudged is cutoffDenied for the token of iss and sub issued at iat
// (a request's principal, or an open stream's copy of it).
func (s *sessionPolicy) cutoffJudged(iss, sub string, iat time.Time) error {
	switch s.cut.judge(iss, sub, iat) {
	case cutRefused:
		return revokedErr("token issued before its subject's cutoff")
	case cutOverflow:
		return newError(ErrUnavailable, errors.New("a subject cutoff was lost to a full cutoff set and may cover this token"))
	}
	return nil
}

// unsessionedDenied judges a JWT that names no session while a feed is
// behind: a subject cutoff may be missing, and no live check can answer
// for a token without a session, so it is answered 503 (fail closed) until
// the feed has caught up.
func (s *sessionPolicy) unsessionedDenied(p *Principal) error {
	if p.Kind == KindJWT && s.behind.Load() > 0 {
		return newError(ErrUnavailable, errors.New("a revocation feed is behind and may be missing a subject cutoff for this token"))
	}
	return nil
}
