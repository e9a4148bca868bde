package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// Issue 14, schedule 3: PolicyAlways, two instances. A request on B that
// starts after Revoke returned on A must not take the answer of a check
// whose script ran before the revocation, though B's feed has not delivered
// it yet (150 ms between B and Redis). Plain and sensitive routes.
func TestCheckOnAnotherInstanceAfterRevokeGetsAFreshAnswer(t *testing.T) {
	addr := sharedAddr(t)
	iss := authtest.New(t)
	o := Options{Prefix: testPrefix()}
	a := newInstance(t, addr, iss, o, nil)
	px := newDelayProxy(t, addr)
	b := newInstance(t, px.Addr(), iss, o, func(c *core.Config) {
		c.SessionPolicy = core.PolicyAlways
		c.SessionCheck.Timeout = 10 * time.Second // generous: later requests wait for the first check
	})
	waitUntil(t, 5*time.Second, "B's feed caught up", func() bool { return feedCurrent(b.store) })
	sess, tok := a.login(iss, "alice")
	if st := b.status(tok, false); st != http.StatusOK {
		t.Fatalf("B before any revocation: %d", st)
	}
	ran := make(chan struct{}, 64)
	px.onSent(func(p []byte) {
		if bytes.Contains(p, []byte(sess.ID)) {
			ran <- struct{}{}
		}
	})
	px.setDelay(150 * time.Millisecond)
	var wg sync.WaitGroup
	var first int
	wg.Go(func() { first = b.status(tok, false) })
	<-ran                             // B's check is at Redis...
	time.Sleep(10 * time.Millisecond) // ...and has run: its answer is on the slow way back
	must(t, a.store.Revoke(context.Background(), sess.ID))
	later := make([]int, 8)
	for i := range later {
		wg.Go(func() { later[i] = b.status(tok, i%2 == 1) }) // plain and sensitive
	}
	wg.Wait()
	if first != http.StatusOK {
		t.Errorf("request that started before the revocation: %d, want 200 (its check ran before)", first)
	}
	for i, st := range later {
		if st != http.StatusUnauthorized {
			t.Errorf("request %d (sensitive %v) on B started after Revoke returned on A: %d, want 401", i, i%2 == 1, st)
		}
	}
}

// Issue 14, schedule 4: B's reader is current, then its answers stall
// (no error) while more than FeedMaxLen revocations arrive; the entries
// trimmed between two of its reads must make the feed report Behind, for
// FeedReplay, so every request is checked live.
func TestFeedStallPastFeedMaxLenReportsBehind(t *testing.T) {
	addr := sharedAddr(t)
	o := Options{Prefix: testPrefix(), FeedMaxLen: 100}
	a := newStore(t, addr, o)
	px := newDelayProxy(t, addr)
	b := newStore(t, px.Addr(), o)
	ctx := context.Background()
	var rec recorder
	stop, err := b.SubscribeRevocations(ctx, rec.add)
	must(t, err)
	defer stop()
	waitUntil(t, 5*time.Second, "B's feed caught up", func() bool { return feedCurrent(b) })
	const n = 1002
	sids := make([]string, n)
	for i := range sids {
		s, _, err := a.Create(ctx, core.SessionParams{Subject: fmt.Sprintf("user-%d", i%50)})
		must(t, err)
		sids[i] = s.ID
	}
	px.setDelay(700 * time.Millisecond) // below the clients' 1 s read timeout: a stall, not an error
	for _, sid := range sids {
		must(t, a.Revoke(ctx, sid))
	}
	px.setDelay(0)
	waitUntil(t, 10*time.Second, "B reports the lost entries", func() bool { b, _ := rec.lastBehind(); return b })
	got := map[string]bool{}
	for _, sid := range rec.sids() {
		got[sid] = true
	}
	missed := 0
	for _, sid := range sids {
		if !got[sid] {
			missed++
		}
	}
	if missed == 0 {
		t.Fatal("every revocation reached B: nothing was trimmed, the test proves nothing")
	}
	t.Logf("%d of %d revocations trimmed before B read them; B reported Behind", missed, n)
	var sub *subscription
	b.mu.Lock()
	for _, x := range b.subs {
		sub = x
	}
	b.mu.Unlock()
	if sub.behindUntil.Load() < time.Now().Add(b.replay-time.Minute).UnixNano() {
		t.Fatal("the subscription must stay behind for FeedReplay after a gap")
	}
}

// Issue 14, schedule 4 (restart): a Redis restarted without persistence
// loses the stream and whatever B had not read; B must count it as a gap,
// whether or not it had read entries before.
func TestFeedStreamLostInRestartReportsBehind(t *testing.T) {
	for _, readBefore := range []bool{true, false} {
		t.Run(fmt.Sprintf("B had read entries: %v", readBefore), func(t *testing.T) {
			srv := startRedis(t)
			ctx := context.Background()
			o := Options{Prefix: testPrefix()}
			a := newStore(t, srv.Addr(), o)
			// The stream exists before B starts (an earlier revocation).
			s0, _, err := a.Create(ctx, core.SessionParams{Subject: "old"})
			must(t, err)
			must(t, a.Revoke(ctx, s0.ID))
			b := newStore(t, srv.Addr(), o)
			var rec recorder
			stop, err := b.SubscribeRevocations(ctx, rec.add)
			must(t, err)
			defer stop()
			waitUntil(t, 5*time.Second, "B's feed caught up", func() bool { return feedCurrent(b) })
			if readBefore {
				s1, _, err := a.Create(ctx, core.SessionParams{Subject: "alice"})
				must(t, err)
				must(t, a.Revoke(ctx, s1.ID))
				waitUntil(t, 5*time.Second, "B read the revocation", func() bool { return len(rec.sids()) >= 2 })
			}
			srv.Stop()
			srv.Start() // no persistence: the stream is gone
			var sub *subscription
			b.mu.Lock()
			for _, x := range b.subs {
				sub = x
			}
			b.mu.Unlock()
			waitUntil(t, 10*time.Second, "B counts the lost stream as a gap", func() bool {
				return sub.behindUntil.Load() > time.Now().Add(b.replay-time.Minute).UnixNano()
			})
			waitUntil(t, 5*time.Second, "B reports Behind", func() bool { b, _ := rec.lastBehind(); return b })
		})
	}
}
