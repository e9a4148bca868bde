package core

import (
	"context"
	"errors"
	"time"
)

// RevocationPublisher publishes a revocation to every subscriber of its
// feed, in this process and (for a shared store) in every other: a session
// id it does not hold itself (sessions kept at the identity provider, named
// by a logout token or a security event), or a subject cutoff
// (Revocation.Cutoff). A session it does hold is ended as Revoke ends it.
// The revocation is audited, and this process's subscribers have it before
// PublishRevocation returns.
//
// MemoryStore and the Redis store implement it; with sessions at the
// identity provider, the Redis store can serve as the revocation bus alone.
// Receivers (the back-channel logout receiver, the Shared Signals
// receiver) publish through it.
type RevocationPublisher interface {
	PublishRevocation(ctx context.Context, r Revocation, opts ...RevokeOption) error
}

var _ RevocationPublisher = (*MemoryStore)(nil)

// maxMemForeign bounds the revocations a MemoryStore remembers for late
// subscribers beyond its own sessions: foreign session ids and cutoffs.
const maxMemForeign = 100000

// ErrRevocationInvalid is wrapped by PublishRevocation for a revocation that
// names nothing usable: no valid session id and no subject cutoff.
var ErrRevocationInvalid = errors.New("authgate: revocation names neither a valid session id nor a subject cutoff")

// CheckRevocation reports whether r can be published: a valid session id
// (ValidSessionID), or a cutoff of a non-empty subject without a session
// id; issuer and subject at most 4096 bytes. Stores call it.
func checkRevocation(r Revocation) error {
	if len(r.Subject) > 4096 || len(r.Issuer) > 4096 {
		return ErrRevocationInvalid
	}
	if r.Cutoff {
		if r.SessionID != "" || r.Subject == "" {
			return ErrRevocationInvalid
		}
		return nil
	}
	if !validSessionID(r.SessionID) {
		return ErrRevocationInvalid
	}
	return nil
}

// PublishRevocation publishes r to the store's subscribers and remembers it
// for later ones while it can still matter. A session id this store holds
// is ended (as Revoke does); another is published as it is. r.At defaults
// to now. The store remembers at most 100000 foreign revocations; beyond
// that, published ones still reach current subscribers, and the call
// fails with an error wrapping ErrUnavailable.
func (m *MemoryStore) PublishRevocation(ctx context.Context, r Revocation, opts ...RevokeOption) error {
	if err := checkRevocation(r); err != nil {
		return err
	}
	now := m.opts.Now()
	if r.At.IsZero() || r.At.After(now) {
		r.At = now
	}
	r.Behind = false
	if !r.Cutoff {
		m.mu.Lock()
		ms := m.liveLocked(r.SessionID, now)
		if ms != nil && (r.Issuer == "" || ms.s.Issuer == "" || ms.s.Issuer == r.Issuer) {
			rr := m.removeLocked(ms, now)
			subs := m.subscribersLocked()
			m.mu.Unlock()
			m.announce(ctx, subs, []Revocation{rr}, newRevokeOptions(opts...))
			return nil
		}
		m.mu.Unlock()
	}
	until := r.At.Add(denyRetention(defaultLifetime, maxLeeway))
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errStoreClosed
	}
	kept := m.rememberLocked(r, until, now)
	subs := m.subscribersLocked()
	m.mu.Unlock()
	m.announce(ctx, subs, []Revocation{r}, newRevokeOptions(opts...))
	if !kept {
		return newError(ErrUnavailable, errors.New("memory store: too many foreign revocations remembered; later subscribers will not replay this one"))
	}
	return nil
}

// rememberLocked keeps r for late subscribers until until, within
// maxMemForeign; it reports false when it could not.
func (m *MemoryStore) rememberLocked(r Revocation, until, now time.Time) bool {
	key := foreignKey(r)
	if t, ok := m.foreign[key]; ok {
		if r.At.After(t.r.At) {
			m.foreign[key] = memTomb{r: r, until: until}
		}
		return true
	}
	if len(m.foreign) >= maxMemForeign {
		for k, t := range m.foreign {
			if !now.Before(t.until) {
				delete(m.foreign, k)
			}
		}
	}
	if len(m.foreign) >= maxMemForeign {
		return false
	}
	if m.foreign == nil {
		m.foreign = map[string]memTomb{}
	}
	m.foreign[key] = memTomb{r: r, until: until}
	return true
}

func foreignKey(r Revocation) string {
	if r.Cutoff {
		return "c\x00" + r.Issuer + "\x00" + r.Subject
	}
	return "s\x00" + r.Issuer + "\x00" + r.SessionID
}
