package core

import (
	"sync"
	"sync/atomic"
	"time"
)

// sessKey names a session across issuers (CL-15). An empty iss in the deny
// set means "every issuer".
type sessKey struct{ iss, sid string }

// denySet remembers revoked sessions pushed by a RevocationFeed, each for as
// long as a token naming it can still be accepted: denyRetention
// (MaxTokenLifetime + 3 Leeway) from the revocation (SS-15), not the exp of
// the token used to log out, since a refresh mints new tokens with the same
// sid.
//
// It is bounded. When full of live entries it never evicts one: it records
// an overflow instead, and until the lost revocation would have expired
// every request is checked live (fail closed).
//
// Every request reads it, so reads take no lock and write nothing shared:
// an empty set costs two atomic loads, a non-empty one a lock-free map load
// per key. Writers (the feeds) serialize on mu. A revocation is visible to
// every request that starts after add returns, as with a lock.
type denySet struct {
	retention time.Duration
	capacity  int
	now       func() time.Time

	mu sync.Mutex // serializes writers; readers take no lock
	// m maps a sessKey to its *time.Time until. Written under mu.
	m sync.Map
	// n counts the entries of m, wild those with an empty issuer (so that
	// a lookup skips the ("", sid) probe when there are none). Written
	// under mu, read without it.
	n, wild atomic.Int64
	// overflow is when the latest revocation lost to a full set would
	// have expired; nil when none was ever lost.
	overflow atomic.Pointer[time.Time]
}

func newDenySet(retention time.Duration, capacity int, now func() time.Time) *denySet {
	return &denySet{retention: retention, capacity: capacity, now: now}
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
	if v, ok := d.m.Load(k); ok {
		if until.After(*v.(*time.Time)) {
			d.m.Store(k, &until)
		}
		return true
	}
	if int(d.n.Load()) >= d.capacity {
		d.m.Range(func(key, v any) bool {
			if !now.Before(*v.(*time.Time)) {
				d.m.Delete(key)
				d.count(key.(sessKey), -1)
			}
			return true
		})
	}
	if int(d.n.Load()) >= d.capacity {
		if o := d.overflow.Load(); o == nil || until.After(*o) {
			d.overflow.Store(&until)
		}
		return false
	}
	d.m.Store(k, &until)
	d.count(k, 1)
	return true
}

// count adds delta to the entry counts for k. The caller holds mu.
func (d *denySet) count(k sessKey, delta int64) {
	d.n.Add(delta)
	if k.iss == "" {
		d.wild.Add(delta)
	}
}

// has reports whether session sid of issuer iss is revoked: an entry for
// (iss, sid) or for ("", sid).
func (d *denySet) has(iss, sid string) bool {
	if d.n.Load() == 0 {
		return false
	}
	if v, ok := d.m.Load(sessKey{iss, sid}); ok && d.now().Before(*v.(*time.Time)) {
		return true
	}
	if iss != "" && d.wild.Load() > 0 {
		if v, ok := d.m.Load(sessKey{"", sid}); ok && d.now().Before(*v.(*time.Time)) {
			return true
		}
	}
	return false
}

// overflowed reports whether a revocation was lost and could still matter.
func (d *denySet) overflowed() bool {
	o := d.overflow.Load()
	return o != nil && d.now().Before(*o)
}

func (d *denySet) len() int { return int(d.n.Load()) }
