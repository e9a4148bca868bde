package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/redis/go-redis/v9"
)

// twoInstances starts two API processes on one Redis with one key prefix,
// both caught up with the feed.
func twoInstances(t *testing.T) (*authtest.Issuer, *instance, *instance) {
	t.Helper()
	addr := sharedAddr(t)
	iss := authtest.New(t)
	prefix := testPrefix()
	a := newInstance(t, addr, iss, Options{Prefix: prefix}, nil)
	b := newInstance(t, addr, iss, Options{Prefix: prefix}, nil)
	waitUntil(t, 5*time.Second, "feeds current", func() bool { return feedCurrent(a.store) && feedCurrent(b.store) })
	return iss, a, b
}

// TestPublishCutoffReachesEveryInstance: a subject cutoff published through
// one store refuses the subject's earlier tokens (no sid) on the other
// instance sharing the Redis, on every route, and not later ones. The
// received-to-refused delay on the other instance is logged (a
// measurement, not an assertion).
func TestPublishCutoffReachesEveryInstance(t *testing.T) {
	iss, a, b := twoInstances(t)
	ctx := context.Background()
	var delays []time.Duration
	for i := range 15 {
		sub := fmt.Sprintf("alice-%d", i)
		old := iss.Token(authtest.Claims{"sub": sub, "sid": nil, "iat": time.Now().Add(-time.Minute).Unix()})
		for _, in := range []*instance{a, b} {
			if st := in.status(old, false); st != http.StatusOK {
				t.Fatalf("before the cutoff: %d", st)
			}
		}
		sent := time.Now() // "received": the call a receiver makes
		must(t, a.store.PublishRevocation(ctx, core.Revocation{Cutoff: true, Subject: sub, Issuer: iss.URL}, core.WithReason("test")))
		if st := a.status(old, false); st != http.StatusUnauthorized {
			t.Fatalf("publishing instance, right after PublishRevocation returned: %d, want 401", st)
		}
		waitUntil(t, 5*time.Second, "cutoff reaches the other instance", func() bool { return b.status(old, false) == http.StatusUnauthorized })
		delays = append(delays, time.Since(sent))
		if st := b.status(old, true); st != http.StatusUnauthorized {
			t.Fatalf("other instance, sensitive route: %d, want 401", st)
		}
	}
	slices.Sort(delays)
	t.Logf("cutoff published on one instance to refused on the other: median %v, max %v (%d runs)", delays[len(delays)/2], delays[len(delays)-1], len(delays))
	time.Sleep(1100 * time.Millisecond) // the next second: iat is in whole seconds, and iat <= T is refused
	fresh := iss.Token(authtest.Claims{"sub": "alice-0", "sid": nil})
	if st := b.status(fresh, false); st != http.StatusOK {
		t.Fatalf("a token issued after the cutoff: %d", st)
	}
}

// TestPublishForeignSession: a session id the store does not hold (one of
// the identity provider's) published on one instance is refused on the
// other; a session the store holds is ended as Revoke ends it.
func TestPublishForeignSession(t *testing.T) {
	iss, a, b := twoInstances(t)
	ctx := context.Background()
	tok := iss.Token(authtest.Claims{"sid": "8d7d3c5e-4d6a-4f0e-9a43-2f3b3c2e1d00"})
	if st := b.status(tok, false); st != http.StatusOK {
		t.Fatalf("before: %d", st)
	}
	must(t, a.store.PublishRevocation(ctx, core.Revocation{SessionID: "8d7d3c5e-4d6a-4f0e-9a43-2f3b3c2e1d00", Issuer: iss.URL}))
	waitUntil(t, 5*time.Second, "foreign sid reaches the other instance", func() bool { return b.status(tok, false) == http.StatusUnauthorized })

	s, own := a.login(iss, "bob")
	must(t, a.store.PublishRevocation(ctx, core.Revocation{SessionID: s.ID, Issuer: iss.URL}))
	if _, err := a.store.Get(ctx, s.ID); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("own session after PublishRevocation: %v, want ended", err)
	}
	waitUntil(t, 5*time.Second, "own sid reaches the other instance", func() bool { return b.status(own, false) == http.StatusUnauthorized })
	if err := a.store.PublishRevocation(ctx, core.Revocation{Subject: "x"}); !errors.Is(err, core.ErrRevocationInvalid) {
		t.Fatalf("a revocation naming nothing: %v", err)
	}
}

// TestParseCutoffEntry: the feed reads cutoff entries strictly.
func TestParseCutoffEntry(t *testing.T) {
	ok := map[string]any{"v": "1", "k": "cut", "sub": "alice", "iss": "https://id/", "at": "1700000000000"}
	r, good := parseEntry(redis.XMessage{Values: ok})
	if !good || !r.Cutoff || r.Subject != "alice" || r.Issuer != "https://id/" || r.SessionID != "" || r.At.UnixMilli() != 1700000000000 {
		t.Fatalf("%+v %v", r, good)
	}
	for name, mut := range map[string]func(m map[string]any){
		"other kind":   func(m map[string]any) { m["k"] = "del" },
		"no subject":   func(m map[string]any) { m["sub"] = "" },
		"with a sid":   func(m map[string]any) { m["sid"] = "s-1" },
		"bad time":     func(m map[string]any) { m["at"] = "-5" },
		"kind not str": func(m map[string]any) { m["k"] = 5 },
	} {
		m := map[string]any{}
		for k, v := range ok {
			m[k] = v
		}
		mut(m)
		if _, good := parseEntry(redis.XMessage{Values: m}); good {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestReplayCacheShared: a jti recorded through one store is a replay on
// another sharing the Redis, until it expires or is forgotten.
func TestReplayCacheShared(t *testing.T) {
	addr := sharedAddr(t)
	prefix := testPrefix()
	a := newStore(t, addr, Options{Prefix: prefix})
	b := newStore(t, addr, Options{Prefix: prefix})
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	first, err := a.FirstUse(ctx, "iss\x00jti-1", until)
	must(t, err)
	again, err := b.FirstUse(ctx, "iss\x00jti-1", until)
	must(t, err)
	if !first || again {
		t.Fatalf("first %v, on the other store %v: want true, false", first, again)
	}
	must(t, b.Forget(ctx, "iss\x00jti-1"))
	if ok, err := a.FirstUse(ctx, "iss\x00jti-1", until); err != nil || !ok {
		t.Fatalf("after Forget: %v %v, want a first use", ok, err)
	}
}
