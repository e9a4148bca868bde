package redisstore

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storetest"
	"github.com/redis/go-redis/v9"
)

func clusterClient(t testing.TB, addr string) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// The whole store contract on a (one-node) Redis Cluster: every script's
// keys hash to one slot, or Redis would refuse it with CROSSSLOT; the
// revocation stream is written after the script (another slot).
func TestConformanceOnCluster(t *testing.T) {
	srv := startCluster(t)
	storetest.Run(t, func(t *testing.T, opts core.StoreOptions) core.SessionStore {
		s, err := New(context.Background(), clusterClient(t, srv.Addr()), quiet(Options{
			IdleTimeout: opts.IdleTimeout, AbsoluteTimeout: opts.AbsoluteTimeout, MaxSessions: opts.MaxSessions,
			EvictOldest: opts.EvictOldest, TouchInterval: opts.TouchInterval, Audit: opts.Audit, Now: opts.Now,
		}))
		if err != nil {
			t.Fatal(err)
		}
		if s.atomicFeed {
			t.Fatal("a Cluster client must not write the stream inside the scripts")
		}
		return s
	})
}

// On a Cluster, a revocation made through one Store reaches another
// Store's subscription through the stream.
func TestClusterFeedReachesOtherStore(t *testing.T) {
	srv := startCluster(t)
	o := quiet(Options{})
	a, err := New(context.Background(), clusterClient(t, srv.Addr()), o)
	must(t, err)
	defer a.Close()
	b, err := New(context.Background(), clusterClient(t, srv.Addr()), o)
	must(t, err)
	defer b.Close()
	var rec recorder
	stop, err := b.SubscribeRevocations(context.Background(), rec.add)
	must(t, err)
	defer stop()
	ctx := context.Background()
	s1, _, err := a.Create(ctx, core.SessionParams{Subject: "alice"})
	must(t, err)
	s2, _, err := a.Create(ctx, core.SessionParams{Subject: "bob"})
	must(t, err)
	must(t, a.Revoke(ctx, s1.ID))
	if n, err := a.RevokeSubject(ctx, "bob"); err != nil || n != 1 {
		t.Fatalf("RevokeSubject = %d, %v", n, err)
	}
	waitUntil(t, 5*time.Second, "both revocations on B", func() bool {
		got := rec.sids()
		return slices.Contains(got, s1.ID) && slices.Contains(got, s2.ID)
	})
}
