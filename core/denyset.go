package core

import (
	"sync"
	"time"
)

// sessKey names a session across issuers (CL-15). An empty iss in the deny
// set means "every issuer".
type sessKey struct{ iss, sid string }

// denySet remembers revoked sessions pushed by a RevocationFeed, each for as
// long as a token naming it can still be valid: MaxTokenLifetime + Leeway
// from the revocation (SS-15), not the exp of the token used to log out,
// since a refresh mints new tokens with the same sid.
//
// It is bounded. When full of live entries it never evicts one: it records
// an overflow instead, and until the lost revocation would have expired
// every request is checked live (fail closed).
type denySet struct {
	retention time.Duration
	capacity  int
	now       func() time.Time

	mu            sync.RWMutex
	m             map[sessKey]time.Time // until
	overflowUntil time.Time
}

func newDenySet(retention time.Duration, capacity int, now func() time.Time) *denySet {
	return &denySet{retention: retention, capacity: capacity, now: now, m: map[sessKey]time.Time{}}
}

// add records r and reports whether it could (false: overflow).
func (d *denySet) add(r Revocation) bool {
	now := d.now()
	at := r.At
	if at.IsZero() || at.After(now) {
		at = now
	}
	until := at.Add(d.retention)
	if !now.Before(until) {
		return true // no token naming it can still be valid
	}
	k := sessKey{r.Issuer, r.SessionID}
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.m[k]; ok {
		if until.After(old) {
			d.m[k] = until
		}
		return true
	}
	if len(d.m) >= d.capacity {
		for k, u := range d.m {
			if !now.Before(u) {
				delete(d.m, k)
			}
		}
	}
	if len(d.m) >= d.capacity {
		if until.After(d.overflowUntil) {
			d.overflowUntil = until
		}
		return false
	}
	d.m[k] = until
	return true
}

// has reports whether session sid of issuer iss is revoked: an entry for
// (iss, sid) or for ("", sid).
func (d *denySet) has(iss, sid string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if len(d.m) == 0 {
		return false
	}
	now := d.now()
	if u, ok := d.m[sessKey{iss, sid}]; ok && now.Before(u) {
		return true
	}
	if iss != "" {
		if u, ok := d.m[sessKey{"", sid}]; ok && now.Before(u) {
			return true
		}
	}
	return false
}

// overflowed reports whether a revocation was lost and could still matter.
func (d *denySet) overflowed() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return !d.overflowUntil.IsZero() && d.now().Before(d.overflowUntil)
}

func (d *denySet) len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.m)
}
