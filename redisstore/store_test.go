package redisstore

import (
	"context"
	"sync"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storetest"
)

// TestConformance runs the SessionStore contract (core/storetest) against
// the Redis store: timeouts on the suite's clock, the session cap under
// parallel creates (SS-18), RevokeSubject racing creates (SS-03), opaque
// tokens by hash (SS-13), the feed.
func TestConformance(t *testing.T) {
	addr := sharedAddr(t)
	storetest.Run(t, func(t *testing.T, opts core.StoreOptions) core.SessionStore {
		return newStore(t, addr, Options{
			IdleTimeout: opts.IdleTimeout, AbsoluteTimeout: opts.AbsoluteTimeout, MaxSessions: opts.MaxSessions,
			EvictOldest: opts.EvictOldest, TouchInterval: opts.TouchInterval, Audit: opts.Audit, Now: opts.Now,
		})
	})
}

// SS-18 and SS-03 across instances: two Stores on separate clients (two
// processes) create sessions of one subject in parallel under a cap of 3,
// while a third revokes the subject. At the end at most 3 sessions live,
// each fully indexed, and a final RevokeSubject ends exactly those.
func TestCapAndRevokeSubjectAcrossInstances(t *testing.T) {
	addr := sharedAddr(t)
	o := Options{Prefix: testPrefix(), MaxSessions: 3, EvictOldest: true}
	a, b, c := newStore(t, addr, o), newStore(t, addr, o), newStore(t, addr, o)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var made []*core.Session
	for _, s := range []*Store{a, b, a, b} {
		wg.Go(func() {
			for range 25 {
				sess, _, err := s.Create(ctx, core.SessionParams{Subject: "alice"})
				if err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				mu.Lock()
				made = append(made, sess)
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := c.RevokeSubject(ctx, "alice"); err != nil {
				t.Errorf("RevokeSubject: %v", err)
			}
		}
	})
	wg.Wait()
	live, err := c.List(ctx, "alice")
	must(t, err)
	if len(live) > 3 {
		t.Fatalf("SS-18: %d live sessions across instances, cap 3", len(live))
	}
	alive := 0
	for _, s := range made {
		if _, err := b.Get(ctx, s.ID); err == nil {
			alive++
		}
	}
	if alive != len(live) {
		t.Fatalf("SS-03: %d sessions answer Get, %d listed", alive, len(live))
	}
	checkIndexes(t, newClient(t, addr), a)
	if n, err := a.RevokeSubject(ctx, "alice"); err != nil || n != len(live) {
		t.Fatalf("final RevokeSubject = %d, %v; want %d", n, err, len(live))
	}
}
