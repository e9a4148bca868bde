package core

import (
	"context"
	"crypto/subtle"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
)

// MemoryStore is the embedded session store: sessions live in this process's
// memory. It is a SessionChecker, an OpaqueAuthenticator and a
// RevocationFeed, so one value serves as Config.Sessions, Config.Opaque and
// (automatically) the revocation feed: in one process a revoked session is
// refused on every route at once. Sessions do not survive a restart and are
// not shared between processes; use the Redis store for that.
//
// Opaque tokens are kept only as their SHA-256. A sweeper goroutine removes
// expired sessions; Close stops it.
type MemoryStore struct {
	opts StoreOptions

	mu        sync.Mutex
	byID      map[string]*memSession
	byHash    map[[32]byte]*memSession
	bySubject map[string]map[string]*memSession
	tombs     map[string]memTomb // revoked sids, replayed to new subscribers
	foreign   map[string]memTomb // published revocations of sessions it does not hold, and cutoffs (publish.go)
	subs      map[uint64]func(Revocation)
	nextSub   uint64
	closed    bool

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

type memSession struct {
	s    Session // ExpiresAt kept current
	hash [32]byte
}

type memTomb struct {
	r     Revocation
	until time.Time
}

var _ SessionStore = (*MemoryStore)(nil)

// inProcess marks the store as answering from memory (see inProcessChecker).
func (m *MemoryStore) inProcess() {}

// NewMemoryStore returns a running MemoryStore. Call Close to stop its
// sweeper.
func NewMemoryStore(opts StoreOptions) *MemoryStore {
	m := &MemoryStore{
		opts:      opts.withDefaults(),
		byID:      map[string]*memSession{},
		byHash:    map[[32]byte]*memSession{},
		bySubject: map[string]map[string]*memSession{},
		tombs:     map[string]memTomb{},
		subs:      map[uint64]func(Revocation){},
		done:      make(chan struct{}),
	}
	m.wg.Add(1)
	go m.sweeper()
	return m
}

var errStoreClosed = errors.New("authgate: session store closed")

func notFound() error {
	return newError(ErrSessionRevoked, errors.New("session unknown, revoked or expired"))
}

// Create opens a session for ns.Subject and returns a copy of it and its
// opaque token.
func (m *MemoryStore) Create(ctx context.Context, ns SessionParams) (*Session, string, error) {
	if ns.Subject == "" {
		return nil, "", errors.New("authgate: NewSession.Subject is empty")
	}
	now := m.opts.Now()
	tok, hash := newOpaqueToken()
	ms := &memSession{hash: hash, s: Session{
		ID: newSessionID(), Subject: ns.Subject, Issuer: ns.Issuer,
		Scopes: slices.Clone(ns.Scopes), Roles: slices.Clone(ns.Roles), Tenant: ns.Tenant,
		CreatedAt: now, LastSeen: now, ExpiresAt: m.opts.Deadline(now, now),
		Metadata: maps.Clone(ns.Metadata),
	}}
	ms.s.claims = sessionClaims(&ms.s)
	var evicted []Revocation
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, "", errStoreClosed
	}
	if m.opts.MaxSessions > 0 {
		live := m.liveOfLocked(ns.Subject, now)
		for len(live) >= m.opts.MaxSessions {
			if !m.opts.EvictOldest {
				m.mu.Unlock()
				return nil, "", ErrTooManySessions
			}
			evicted = append(evicted, m.removeLocked(live[0], now))
			live = live[1:]
		}
	}
	m.byID[ms.s.ID] = ms
	m.byHash[hash] = ms
	subj := m.bySubject[ns.Subject]
	if subj == nil {
		subj = map[string]*memSession{}
		m.bySubject[ns.Subject] = subj
	}
	subj[ms.s.ID] = ms
	out := copySession(&ms.s)
	subs := m.subscribersLocked()
	m.mu.Unlock()
	m.announce(ctx, subs, evicted, RevokeOptions{Reason: "session limit", Actor: "system"})
	return out, tok, nil
}

// liveOfLocked returns the subject's live sessions, oldest first, removing
// expired ones on the way.
func (m *MemoryStore) liveOfLocked(subject string, now time.Time) []*memSession {
	var live []*memSession
	for _, ms := range m.bySubject[subject] {
		if !now.Before(ms.s.ExpiresAt) {
			m.dropLocked(ms)
			continue
		}
		live = append(live, ms)
	}
	slices.SortFunc(live, func(a, b *memSession) int {
		if c := a.s.CreatedAt.Compare(b.s.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.s.ID, b.s.ID)
	})
	return live
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dropLocked unindexes ms.
func (m *MemoryStore) dropLocked(ms *memSession) {
	delete(m.byID, ms.s.ID)
	delete(m.byHash, ms.hash)
	if subj := m.bySubject[ms.s.Subject]; subj != nil {
		delete(subj, ms.s.ID)
		if len(subj) == 0 {
			delete(m.bySubject, ms.s.Subject)
		}
	}
}

// removeLocked unindexes ms and leaves a tombstone for late subscribers.
func (m *MemoryStore) removeLocked(ms *memSession, now time.Time) Revocation {
	m.dropLocked(ms)
	r := Revocation{SessionID: ms.s.ID, Subject: ms.s.Subject, Issuer: ms.s.Issuer, At: now}
	// Replayed to late subscribers while a token naming the session may
	// still be accepted: at least until the session's absolute end, and the
	// deny-set retention of a default token lifetime with the largest
	// leeway after the revocation.
	until := ms.s.CreatedAt.Add(m.opts.AbsoluteTimeout)
	if u := now.Add(denyRetention(defaultLifetime, maxLeeway)); u.After(until) {
		until = u
	}
	m.tombs[ms.s.ID] = memTomb{r: r, until: until}
	return r
}

// liveLocked returns the live session sid, or nil.
func (m *MemoryStore) liveLocked(sid string, now time.Time) *memSession {
	ms := m.byID[sid]
	if ms == nil {
		return nil
	}
	if !now.Before(ms.s.ExpiresAt) {
		m.dropLocked(ms)
		return nil
	}
	return ms
}

// touchLocked records activity at now, at most once per TouchInterval, and
// never past the absolute deadline (Deadline caps it).
func (m *MemoryStore) touchLocked(ms *memSession, now time.Time) {
	if now.Sub(ms.s.LastSeen) < m.opts.TouchInterval {
		return
	}
	ms.s.LastSeen = now
	ms.s.ExpiresAt = m.opts.Deadline(ms.s.CreatedAt, now)
	ms.s.claims = sessionClaims(&ms.s) // rebuilt per write, not per request
}

// Get returns a copy of the live session sid.
func (m *MemoryStore) Get(ctx context.Context, sid string) (*Session, error) {
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ms := m.liveLocked(sid, now)
	if ms == nil {
		return nil, notFound()
	}
	return copySession(&ms.s), nil
}

// Touch records activity on session sid (throttled by TouchInterval).
func (m *MemoryStore) Touch(ctx context.Context, sid string) error {
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ms := m.liveLocked(sid, now)
	if ms == nil {
		return notFound()
	}
	m.touchLocked(ms, now)
	return nil
}

// Check reports whether session sid is alive, and records the activity
// (throttled). It never fails: the memory store cannot be unreachable.
func (m *MemoryStore) Check(ctx context.Context, sid string) (SessionState, error) {
	if !validSessionID(sid) {
		return StateRevoked, nil
	}
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ms := m.liveLocked(sid, now)
	if ms == nil {
		return StateRevoked, nil
	}
	m.touchLocked(ms, now)
	return StateActive, nil
}

// AuthenticateOpaque looks the token up by its SHA-256 and returns a copy of
// its live session, recording the activity. Unknown, revoked and expired
// tokens all get the same error, wrapping ErrSessionRevoked.
func (m *MemoryStore) AuthenticateOpaque(ctx context.Context, token string) (*Session, error) {
	h := hashOpaqueToken(token)
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ms := m.byHash[h]
	// The map finds the entry by hash; the stored hash is compared in
	// constant time as well, so no secret-dependent early exit remains.
	if ms == nil || subtle.ConstantTimeCompare(ms.hash[:], h[:]) != 1 {
		return nil, notFound()
	}
	if m.liveLocked(ms.s.ID, now) == nil {
		return nil, notFound()
	}
	m.touchLocked(ms, now)
	return copySession(&ms.s), nil
}

// Revoke ends session sid. Subscribers (the deny sets of authenticators) and
// the audit sink hear of it before Revoke returns.
func (m *MemoryStore) Revoke(ctx context.Context, sid string, opts ...RevokeOption) error {
	now := m.opts.Now()
	m.mu.Lock()
	ms := m.liveLocked(sid, now)
	if ms == nil {
		m.mu.Unlock()
		return notFound()
	}
	r := m.removeLocked(ms, now)
	subs := m.subscribersLocked()
	m.mu.Unlock()
	m.announce(ctx, subs, []Revocation{r}, newRevokeOptions(opts...))
	return nil
}

// RevokeSubject ends every session of subject. It holds the store's lock for
// the whole removal, so a concurrent Create lands either before (and is
// ended) or after (and stays alive).
func (m *MemoryStore) RevokeSubject(ctx context.Context, subject string, opts ...RevokeOption) (int, error) {
	now := m.opts.Now()
	m.mu.Lock()
	var rs []Revocation
	for _, ms := range m.bySubject[subject] {
		if !now.Before(ms.s.ExpiresAt) {
			m.dropLocked(ms)
			continue
		}
		rs = append(rs, m.removeLocked(ms, now))
	}
	subs := m.subscribersLocked()
	m.mu.Unlock()
	m.announce(ctx, subs, rs, newRevokeOptions(opts...))
	return len(rs), nil
}

// List returns copies of subject's live sessions, oldest first.
func (m *MemoryStore) List(ctx context.Context, subject string) ([]*Session, error) {
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	live := m.liveOfLocked(subject, now)
	out := make([]*Session, len(live))
	for i, ms := range live {
		out[i] = copySession(&ms.s)
	}
	return out, nil
}

// SubscribeRevocations calls fn for every revocation from now on, after
// replaying the revocations of sessions that could still be named by a
// token. fn runs on the revoking goroutine, before Revoke returns.
func (m *MemoryStore) SubscribeRevocations(ctx context.Context, fn func(Revocation)) (func(), error) {
	if fn == nil {
		return nil, errors.New("authgate: SubscribeRevocations with a nil function")
	}
	now := m.opts.Now()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errStoreClosed
	}
	id := m.nextSub
	m.nextSub++
	m.subs[id] = fn
	var replay []Revocation
	for _, t := range m.tombs {
		if now.Before(t.until) {
			replay = append(replay, t.r)
		}
	}
	for _, t := range m.foreign {
		if now.Before(t.until) {
			replay = append(replay, t.r)
		}
	}
	m.mu.Unlock()
	for _, r := range replay {
		fn(r)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.subs, id)
			m.mu.Unlock()
		})
	}, nil
}

func (m *MemoryStore) subscribersLocked() []func(Revocation) {
	if len(m.subs) == 0 {
		return nil
	}
	out := make([]func(Revocation), 0, len(m.subs))
	for _, f := range m.subs {
		out = append(out, f)
	}
	return out
}

// announce tells subscribers and the audit sink, outside the lock.
func (m *MemoryStore) announce(ctx context.Context, subs []func(Revocation), rs []Revocation, o RevokeOptions) {
	for _, r := range rs {
		for _, f := range subs {
			f(r)
		}
		m.opts.Audit.Revoked(ctx, AuditEvent{
			SessionID: r.SessionID, Subject: r.Subject, Issuer: r.Issuer,
			At: r.At, Reason: o.Reason, Actor: o.Actor, Cutoff: r.Cutoff,
		})
	}
}

// Close stops the sweeper and ends subscriptions. Sessions are kept; the
// store answers lookups but refuses new sessions and subscriptions. Each
// subscriber is first told the feed is behind (Revocation{Behind: true}):
// no revocation will reach it any more, so its deny set alone can no
// longer be trusted, and authenticators check every request live.
func (m *MemoryStore) Close() error {
	m.once.Do(func() {
		m.mu.Lock()
		m.closed = true
		subs := m.subscribersLocked()
		clear(m.subs)
		m.mu.Unlock()
		for _, f := range subs {
			f(Revocation{Behind: true})
		}
		close(m.done)
		m.wg.Wait()
	})
	return nil
}

func (m *MemoryStore) sweeper() {
	defer m.wg.Done()
	t := time.NewTicker(m.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
			m.sweep()
		}
	}
}

// sweep removes expired sessions and stale tombstones now; the sweeper calls
// it every SweepInterval. Expired sessions are refused whether swept or not.
func (m *MemoryStore) sweep() {
	now := m.opts.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ms := range m.byID {
		if !now.Before(ms.s.ExpiresAt) {
			m.dropLocked(ms)
		}
	}
	for sid, t := range m.tombs {
		if !now.Before(t.until) {
			delete(m.tombs, sid)
		}
	}
	for k, t := range m.foreign {
		if !now.Before(t.until) {
			delete(m.foreign, k)
		}
	}
}

// Len returns the number of sessions held, live or expired but not yet swept.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}

func copySession(s *Session) *Session {
	c := *s
	c.Scopes = slices.Clone(s.Scopes)
	c.Roles = slices.Clone(s.Roles)
	c.Metadata = maps.Clone(s.Metadata)
	return &c
}
