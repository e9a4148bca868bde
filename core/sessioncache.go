package core

import (
	"sync"
	"time"
)

// sessionCache holds the answers of live session checks, keyed by (issuer,
// sid) (CL-15). Positive entries say when the session was last confirmed
// (the start of the confirming call); negative entries say it is revoked
// and always win (SS-05): a positive answer never replaces a negative one,
// and a positive answer from a call that began before a revocation (the
// generation changed) is not stored.
type sessionCache struct {
	capacity int
	posKeep  time.Duration // how long positives are kept: max(TTLs, MaxStale)
	negKeep  time.Duration // how long negatives are kept
	now      func() time.Time

	mu        sync.Mutex
	gen       uint64
	entries   map[sessKey]cacheEntry
	lastSweep time.Time
}

type cacheEntry struct {
	revoked bool
	at      time.Time // confirmation (positive) or revocation (negative)
}

func newSessionCache(capacity int, posKeep, negKeep time.Duration, now func() time.Time) *sessionCache {
	return &sessionCache{capacity: capacity, posKeep: posKeep, negKeep: negKeep, now: now,
		entries: map[sessKey]cacheEntry{}}
}

// generation returns the revocation generation: it grows with every
// revocation this process hears of.
func (c *sessionCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// get returns k's live entry.
func (c *sessionCache) get(k sessKey) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return e, false
	}
	keep := c.posKeep
	if e.revoked {
		keep = c.negKeep
	}
	if c.now().Sub(e.at) >= keep {
		delete(c.entries, k)
		return cacheEntry{}, false
	}
	return e, true
}

// putPositive records that k was confirmed by a call that started at at, in
// generation gen. It does nothing if a revocation happened since, or k is
// known revoked, or positives are not kept at all.
func (c *sessionCache) putPositive(k sessKey, at time.Time, gen uint64) {
	if c.posKeep <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if old, ok := c.entries[k]; ok && (old.revoked || old.at.After(at)) {
		return
	}
	if !c.roomLocked(k) {
		return
	}
	c.entries[k] = cacheEntry{at: at}
}

// putNegative records that k is revoked.
func (c *sessionCache) putNegative(k sessKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putNegativeLocked(k)
}

func (c *sessionCache) putNegativeLocked(k sessKey) {
	if !c.roomLocked(k) {
		// Make room by dropping a positive entry: a negative answer is
		// worth more, and the backend would answer it again anyway.
		for ok, e := range c.entries {
			if !e.revoked {
				delete(c.entries, ok)
				break
			}
		}
		if !c.roomLocked(k) {
			delete(c.entries, k) // at least no stale positive remains
			return
		}
	}
	c.entries[k] = cacheEntry{revoked: true, at: c.now()}
}

// revoked handles a revocation pushed by a feed: a new generation, and the
// sid marked revoked under every given issuer key.
func (c *sessionCache) revoked(keys []sessKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		if _, ok := c.entries[k]; ok {
			c.putNegativeLocked(k)
		}
	}
}

// roomLocked reports whether k can be stored, sweeping expired entries when
// the cache is full.
func (c *sessionCache) roomLocked(k sessKey) bool {
	if _, ok := c.entries[k]; ok || len(c.entries) < c.capacity {
		return true
	}
	now := c.now()
	if now.Sub(c.lastSweep) < time.Second {
		return false // a full cache is swept at most once a second
	}
	c.lastSweep = now
	for key, e := range c.entries {
		keep := c.posKeep
		if e.revoked {
			keep = c.negKeep
		}
		if now.Sub(e.at) >= keep {
			delete(c.entries, key)
		}
	}
	return len(c.entries) < c.capacity
}
