package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/redis/go-redis/v9"
)

// SS-02: a session revoked through instance A is refused by instance B on a
// route without a live check, through B's deny set fed by the stream.
func TestRevokeOnOneInstanceIsRefusedByAnotherOnPlainRoutes(t *testing.T) {
	addr := sharedAddr(t)
	iss := authtest.New(t)
	o := Options{Prefix: testPrefix()}
	a := newInstance(t, addr, iss, o, nil)
	b := newInstance(t, addr, iss, o, nil)
	waitUntil(t, 5*time.Second, "B's feed caught up", func() bool { return feedCurrent(b.store) })

	var delays []time.Duration
	for i := range 20 {
		sess, tok := a.login(iss, fmt.Sprintf("user-%d", i))
		other, otherTok := a.login(iss, fmt.Sprintf("user-%d", i))
		if st := b.status(tok, false); st != http.StatusOK {
			t.Fatalf("B refuses a live session before any revocation: %d", st)
		}
		start := time.Now()
		must(t, a.store.Revoke(context.Background(), sess.ID, core.WithReason("logout")))
		if st := a.status(tok, false); st != http.StatusUnauthorized {
			t.Fatalf("A itself still accepts the revoked session on a plain route: %d", st)
		}
		waitUntil(t, 5*time.Second, "B refuses the revoked session", func() bool {
			return b.status(tok, false) == http.StatusUnauthorized
		})
		delays = append(delays, time.Since(start))
		if !feedCurrent(b.store) {
			t.Fatal("B's feed was behind: the refusal may come from a live check, not from the feed")
		}
		if st := b.status(tok, true); st != http.StatusUnauthorized {
			t.Fatalf("B's sensitive route: %d, want 401", st)
		}
		if st := b.status(otherTok, false); st != http.StatusOK {
			t.Fatalf("revoking one session refused another (%s) on B: %d", other.ID, st)
		}
	}
	slices.Sort(delays)
	t.Logf("SS-02 revocation delay A -> B on a plain route, %d runs on loopback: min %v, median %v, max %v",
		len(delays), delays[0], delays[len(delays)/2], delays[len(delays)-1])
}

// clientIDs returns the ids of the connections named name.
func clientIDs(t *testing.T, admin *redis.Client, name string) []string {
	t.Helper()
	list, err := admin.ClientList(context.Background()).Result()
	must(t, err)
	var ids []string
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// RD-03: B's stream reader loses its connection (CLIENT KILL) again and
// again while A revokes 100 sessions; after reconnecting B refuses every
// one of them on a plain route, from its deny set.
func TestFeedLosesNoRevocationWhenItsConnectionIsKilled(t *testing.T) {
	addr := sharedAddr(t)
	iss := authtest.New(t)
	o := Options{Prefix: testPrefix()}
	a := newInstance(t, addr, iss, o, nil)

	name := "authgate-b-" + strings.TrimSuffix(o.Prefix, ":")
	// No retries inside go-redis: every kill reaches the store's reader,
	// which must resume from its last seen id.
	bClient := redis.NewClient(&redis.Options{Addr: addr, ClientName: name, ReadTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = bClient.Close() })
	bStore, err := New(context.Background(), bClient, quiet(o))
	must(t, err)
	t.Cleanup(func() { _ = bStore.Close() })
	cfg := iss.Config()
	cfg.Sessions, cfg.Revocations = bStore, bStore
	cfg.Logger = slog.New(slog.DiscardHandler)
	bAuth, err := core.New(context.Background(), cfg)
	must(t, err)
	t.Cleanup(func() { bAuth.Close() })
	b := &instance{t: t, rdb: bClient, store: bStore, auth: bAuth}
	var rec recorder
	stopRec, err := bStore.SubscribeRevocations(context.Background(), rec.add)
	must(t, err)
	defer stopRec()
	waitUntil(t, 5*time.Second, "B's feed caught up", func() bool { return feedCurrent(b.store) })

	type login struct {
		sess *core.Session
		tok  string
	}
	var logins []login
	for i := range 100 {
		s, tok := a.login(iss, fmt.Sprintf("user-%d", i%7))
		logins = append(logins, login{s, tok})
	}
	keep, keepTok := a.login(iss, "keeper")

	admin := newClient(t, addr)
	kills := 0
	for i, l := range logins {
		if i%10 == 0 {
			for _, id := range clientIDs(t, admin, name) {
				if n, err := admin.ClientKillByFilter(context.Background(), "ID", id).Result(); err == nil {
					kills += int(n)
				}
			}
		}
		must(t, a.store.Revoke(context.Background(), l.sess.ID))
	}
	if kills == 0 {
		t.Fatal("no connection of B was killed: the test proves nothing")
	}
	t.Logf("killed B's connections %d times during 100 revocations", kills)
	defer func() { t.Logf("B's reader reported %d disconnects and resumed", rec.behindReports()-1) }()
	waitUntil(t, 10*time.Second, "all 100 revocations delivered to B", func() bool {
		got := map[string]bool{}
		for _, sid := range rec.sids() {
			got[sid] = true
		}
		for _, l := range logins {
			if !got[l.sess.ID] {
				return false
			}
		}
		return true
	})
	if n := rec.behindReports(); n < 2 {
		t.Fatalf("B's reader reported %d disconnects: the kills never reached it, the test proves nothing", n-1)
	}
	waitUntil(t, 10*time.Second, "B's feed caught up after the kills", func() bool { return feedCurrent(b.store) })
	for i, l := range logins {
		if st := b.status(l.tok, false); st != http.StatusUnauthorized {
			t.Fatalf("RD-03: revocation %d (%s) lost: B answers %d on a plain route", i, l.sess.ID, st)
		}
	}
	if st := b.status(keepTok, false); st != http.StatusOK {
		t.Fatalf("a session that was never revoked (%s) is refused: %d", keep.ID, st)
	}
}

// recorder collects what a subscription delivers.
type recorder struct {
	mu     sync.Mutex
	rs     []core.Revocation
	behind []bool
}

func (r *recorder) add(x core.Revocation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if x.SessionID == "" {
		r.behind = append(r.behind, x.Behind)
		return
	}
	r.rs = append(r.rs, x)
}

func (r *recorder) sids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, x := range r.rs {
		out = append(out, x.SessionID)
	}
	return out
}

func (r *recorder) behindReports() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, b := range r.behind {
		if b {
			n++
		}
	}
	return n
}

func (r *recorder) lastBehind() (bool, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.behind) == 0 {
		return false, false
	}
	return r.behind[len(r.behind)-1], true
}

// RD-06: garbage on the stream is ignored (bounded, no panic) and the feed
// goes on; an entry can only add a revocation.
func TestFeedIgnoresMalformedEntries(t *testing.T) {
	addr := sharedAddr(t)
	s := newStore(t, addr, Options{})
	var rec recorder
	stop, err := s.SubscribeRevocations(context.Background(), rec.add)
	must(t, err)
	defer stop()
	raw := newClient(t, addr)
	ctx := context.Background()
	good := "0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAA"
	many := []any{"v", "1", "sid", good, "sub", "x", "iss", "", "at", "1"}
	for i := range 20 {
		many = append(many, fmt.Sprintf("extra%d", i), "x")
	}
	garbage := []struct {
		name   string
		values []any
	}{
		{"no fields of ours", []any{"foo", "bar"}},
		{"unknown version", []any{"v", "2", "sid", good, "sub", "x", "iss", "", "at", "1"}},
		{"sid with key characters", []any{"v", "1", "sid", "{a}*?[x]:\n", "sub", "x", "iss", "", "at", "1"}},
		{"sid too long", []any{"v", "1", "sid", strings.Repeat("a", 300), "sub", "x", "iss", "", "at", "1"}},
		{"negative time", []any{"v", "1", "sid", good, "sub", "x", "iss", "", "at", "-5"}},
		{"time not a number", []any{"v", "1", "sid", good, "sub", "x", "iss", "", "at", "soon"}},
		{"10 MiB subject", []any{"v", "1", "sid", good, "sub", strings.Repeat("x", 10<<20), "iss", "", "at", "1"}},
		{"too many fields", many},
		{"missing issuer", []any{"v", "1", "sid", good, "sub", "x", "at", "1"}},
	}
	for _, g := range garbage {
		must(t, raw.XAdd(ctx, &redis.XAddArgs{Stream: s.stream, Values: g.values}).Err())
	}
	// A well-formed entry after the garbage still arrives.
	valid := "fedcba9876543210.BBBBBBBBBBBBBBBBBBBBBB"
	must(t, raw.XAdd(ctx, &redis.XAddArgs{Stream: s.stream, Values: entry(core.Revocation{SessionID: valid, Subject: "u", At: time.Now()})}).Err())
	waitUntil(t, 5*time.Second, "the valid entry after the garbage", func() bool { return slices.Contains(rec.sids(), valid) })
	if got := rec.sids(); !slices.Equal(got, []string{valid}) {
		t.Fatalf("RD-06: delivered %q, want only the valid entry", got)
	}
}

// The reader goroutine of a subscription ends on stop and on Close: no
// goroutine is left behind.
func TestSubscriptionGoroutineEnds(t *testing.T) {
	addr := sharedAddr(t)
	readers := func() int {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		return strings.Count(string(buf[:n]), "redisstore.(*Store).read(")
	}
	base := readers()
	s := newStore(t, addr, Options{})
	stop, err := s.SubscribeRevocations(context.Background(), func(core.Revocation) {})
	must(t, err)
	waitUntil(t, 5*time.Second, "reader started", func() bool { return readers() == base+1 })
	stop()
	waitUntil(t, 5*time.Second, "reader ends after stop", func() bool { return readers() == base })

	ctx, cancel := context.WithCancel(context.Background())
	_, err = s.SubscribeRevocations(ctx, func(core.Revocation) {})
	must(t, err)
	cancel()
	waitUntil(t, 5*time.Second, "reader ends when its context ends", func() bool { return readers() == base })

	var recs [3]recorder
	for i := range recs {
		_, err := s.SubscribeRevocations(context.Background(), recs[i].add)
		must(t, err)
	}
	for i := range recs {
		waitUntil(t, 5*time.Second, "caught up", func() bool { b, ok := recs[i].lastBehind(); return ok && !b })
	}
	must(t, s.Close())
	for i := range recs {
		if b, _ := recs[i].lastBehind(); !b {
			t.Fatal("a subscriber cut off by Close was not told it is behind")
		}
	}
	if n := readers(); n != base {
		t.Fatalf("%d reader goroutines left after Close", n-base)
	}
	if _, err := s.SubscribeRevocations(context.Background(), func(core.Revocation) {}); err == nil {
		t.Fatal("a closed store accepted a subscription")
	}
}

// A subscription reports itself behind until it has read the replay, and
// replays the revocations made before it started.
func TestNewSubscriptionReplaysAndReportsCatchUp(t *testing.T) {
	addr := sharedAddr(t)
	s := newStore(t, addr, Options{})
	ctx := context.Background()
	sess, _, err := s.Create(ctx, core.SessionParams{Subject: "alice"})
	must(t, err)
	must(t, s.Revoke(ctx, sess.ID))
	var rec recorder
	stop, err := s.SubscribeRevocations(ctx, rec.add)
	must(t, err)
	defer stop()
	if b, ok := rec.lastBehind(); !ok || !b {
		t.Fatal("a new subscription must report Behind: true before it has read the replay")
	}
	waitUntil(t, 5*time.Second, "replay of an earlier revocation", func() bool { return slices.Contains(rec.sids(), sess.ID) })
	waitUntil(t, 5*time.Second, "Behind: false", func() bool { b, ok := rec.lastBehind(); return ok && !b })
}

// A subscription that finds entries it never read trimmed away reports
// itself behind (for FeedReplay), rather than pretending nothing was lost.
func TestTrimmedEntriesKeepTheFeedBehind(t *testing.T) {
	addr := sharedAddr(t)
	s := newStore(t, addr, Options{FeedMaxLen: 100})
	ctx := context.Background()
	raw := newClient(t, addr)
	// Something was revoked, read by nobody, then trimmed away.
	for range 5 {
		must(t, raw.XAdd(ctx, &redis.XAddArgs{Stream: s.stream, Values: entry(core.Revocation{SessionID: "0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAA", At: time.Now()})}).Err())
	}
	must(t, raw.XTrimMaxLen(ctx, s.stream, 0).Err())
	var rec recorder
	stop, err := s.SubscribeRevocations(ctx, rec.add)
	must(t, err)
	defer stop()
	var sub *subscription
	waitUntil(t, 5*time.Second, "the reader read the whole stream", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, x := range s.subs {
			sub = x
		}
		return sub != nil && sub.current.Load()
	})
	sub.report() // what the reader reports on its next turn
	if b, _ := rec.lastBehind(); !b {
		t.Fatal("entries were lost, yet the subscription reported it had caught up")
	}
	if sub.behindUntil.Load() < time.Now().Add(s.replay-time.Minute).UnixNano() {
		t.Fatal("the subscription must stay behind for FeedReplay after a gap")
	}
}
