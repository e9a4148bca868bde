package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/authgate/authgate/core"
)

// Leak checks (issue 9, OP-07). TestMain fails the package when any
// goroutine is still running after all its tests. The tests below run a
// revocation feed subscription (one reader goroutine per subscription,
// started by SubscribeRevocations, ended by its stop function, by its
// context, or by Store.Close, which waits for it) in each of its states, on
// a redis-server of their own, and check that Close leaves nothing.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// leakWait bounds how long a test waits for something that must happen; it
// is a bound on waiting, not a timing assertion.
const leakWait = 30 * time.Second

// closeWithin runs fn (a Close) and fails t if it has not returned within
// leakWait.
func closeWithin(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fn()
	}()
	select {
	case <-done:
	case <-time.After(leakWait):
		t.Fatalf("%s did not return within %v", what, leakWait)
	}
}

// blockedInXRead reports whether a client of the server is blocked in an
// XREAD.
func blockedInXRead(t *testing.T, admin *redis.Client) bool {
	t.Helper()
	list, err := admin.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "cmd=xread") && strings.Contains(line, "flags=b") {
			return true
		}
	}
	return false
}

// leakSetup starts a redis-server, and returns a Store on a client of its
// own (both closed by the test, not by Cleanup, so that the check sees
// them gone) and an Authenticator subscribed to the Store's feed.
func leakSetup(t *testing.T, o Options) (*redisServer, *redis.Client, *Store, *core.Authenticator, *recorder) {
	t.Helper()
	srv := startRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: time.Second, WriteTimeout: time.Second})
	s, err := New(context.Background(), rdb, quiet(o))
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	a, err := core.New(context.Background(), core.Config{Opaque: s, Sessions: s, Logger: quiet(Options{}).Logger,
		Observer: core.ObserverFunc(func(_ context.Context, e core.Event) {
			if e.Kind == core.EventFeedBehind {
				rec.add(core.Revocation{Behind: e.Behind})
			}
		})})
	if err != nil {
		t.Fatal(err)
	}
	return srv, rdb, s, a, rec
}

// Close ends the feed's reader while it is blocked in XREAD on a live
// server, whichever of the Authenticator and the Store is closed first.
func TestLeakFeedBlockedInXReadEndsOnClose(t *testing.T) {
	for _, storeFirst := range []bool{false, true} {
		name := "authenticator first"
		if storeFirst {
			name = "store first"
		}
		t.Run(name, func(t *testing.T) {
			ignore := goleak.IgnoreCurrent()
			srv, rdb, s, a, _ := leakSetup(t, Options{FeedBlock: 2 * time.Second})
			admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
			// A session revoked through the feed reaches the authenticator,
			// so the reader is running; then it waits in XREAD.
			sess, tok, err := s.Create(context.Background(), core.SessionParams{Subject: "u1"})
			must(t, err)
			if _, err := a.Authenticate(context.Background(), bearer(tok)); err != nil {
				t.Fatal(err)
			}
			must(t, s.Revoke(context.Background(), sess.ID))
			waitUntil(t, leakWait, "reader blocked in XREAD", func() bool { return blockedInXRead(t, admin) })
			if storeFirst {
				closeWithin(t, "Store.Close with a reader in XREAD", s.Close)
				closeWithin(t, "Authenticator.Close", a.Close)
			} else {
				closeWithin(t, "Authenticator.Close", a.Close)
				closeWithin(t, "Store.Close with a reader in XREAD", s.Close)
			}
			must(t, rdb.Close())
			must(t, admin.Close())
			goleak.VerifyNone(t, ignore)
		})
	}
}

// Close ends the reader while it backs off from a Redis that is down.
func TestLeakFeedInBackoffEndsOnClose(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	srv, rdb, s, a, rec := leakSetup(t, Options{FeedBlock: 10 * time.Millisecond})
	waitUntil(t, leakWait, "feed caught up", func() bool { b, ok := rec.lastBehind(); return ok && !b })
	srv.Stop()
	waitUntil(t, leakWait, "feed reports itself behind", func() bool { b, _ := rec.lastBehind(); return b })
	closeWithin(t, "Authenticator.Close", a.Close)
	closeWithin(t, "Store.Close while Redis is down", s.Close)
	must(t, rdb.Close())
	goleak.VerifyNone(t, ignore)
}

// bearer is a request carrying tok as a Bearer token.
func bearer(tok string) core.Request {
	return leakReq{"Bearer " + tok}
}

type leakReq struct{ authz string }

func (q leakReq) Method() string { return "GET" }
func (q leakReq) Host() string   { return "api.example.com" }
func (q leakReq) Header(name string) []string {
	if name == "Authorization" {
		return []string{q.authz}
	}
	return nil
}
func (q leakReq) RawQuery() string { return "" }
