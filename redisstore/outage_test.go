package redisstore

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/redis/go-redis/v9"
)

// RD-01: Redis stops. Sensitive routes answer 503 (fail closed), the store's
// calls fail with core.ErrUnavailable, the feed reports itself behind so
// plain routes are checked live (503 too), nothing panics; when Redis comes
// back everything recovers by itself.
func TestRedisStoppedFailsClosedAndRecovers(t *testing.T) {
	srv := startRedis(t)
	iss := authtest.New(t)
	in := newInstance(t, srv.Addr(), iss, Options{}, nil)
	ctx := context.Background()
	sess, tok := in.login(iss, "alice")
	if st := in.status(tok, true); st != http.StatusOK {
		t.Fatalf("sensitive route with Redis up: %d", st)
	}

	srv.Stop()
	if st := in.status(tok, true); st != http.StatusServiceUnavailable {
		t.Fatalf("RD-01: sensitive route with Redis down: %d, want 503", st)
	}
	waitUntil(t, 10*time.Second, "plain route refused once the feed knows it is cut off", func() bool {
		return in.status(tok, false) == http.StatusServiceUnavailable
	})
	if _, _, err := in.store.Create(ctx, core.SessionParams{Subject: "bob"}); !errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("Create with Redis down: %v, want ErrUnavailable", err)
	}
	if err := in.store.Revoke(ctx, sess.ID); !errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("Revoke with Redis down: %v, want ErrUnavailable (never a false 'revoked')", err)
	}
	if st, err := in.store.Check(ctx, sess.ID); err == nil || st == core.StateActive {
		t.Fatalf("Check with Redis down: %v, %v; want an error", st, err)
	}
	if _, err := in.store.List(ctx, "alice"); !errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("List with Redis down: %v", err)
	}

	srv.Start() // no persistence: the old session is gone (RD-08)
	waitUntil(t, 10*time.Second, "feed caught up after restart", func() bool { return feedCurrent(in.store) })
	// The client's pool redials on its own schedule: recovery is awaited.
	waitUntil(t, 10*time.Second, "the lost session refused with 401 (not 503) after the restart", func() bool {
		return in.status(tok, true) == http.StatusUnauthorized
	})
	_, tok2 := in.login(iss, "alice")
	if st := in.status(tok2, true); st != http.StatusOK {
		t.Fatalf("after recovery, a new session on a sensitive route: %d", st)
	}
	if st := in.status(tok2, false); st != http.StatusOK {
		t.Fatalf("after recovery, a new session on a plain route: %d", st)
	}
}

// RD-02: Redis paused (CLIENT PAUSE). Calls fail within CommandTimeout with
// core.ErrUnavailable (503), and the pool works again afterwards.
func TestRedisPausedAnswersUnavailableWithinTheBound(t *testing.T) {
	srv := startRedis(t)
	iss := authtest.New(t)
	in := newInstance(t, srv.Addr(), iss, Options{CommandTimeout: 200 * time.Millisecond}, nil)
	sess, tok := in.login(iss, "alice")
	admin := newClient(t, srv.Addr())
	must(t, admin.Do(context.Background(), "CLIENT", "PAUSE", "1500", "ALL").Err())
	if _, err := in.store.Check(context.Background(), sess.ID); !errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("RD-02: Check while Redis is paused: %v, want ErrUnavailable", err)
	}
	if st := in.status(tok, true); st != http.StatusServiceUnavailable {
		t.Fatalf("RD-02: sensitive route while Redis is paused: %d, want 503", st)
	}
	waitUntil(t, 10*time.Second, "answers again after the pause", func() bool { return in.status(tok, true) == http.StatusOK })
}

// RD-08: FLUSHALL loses every session: a token naming one is refused on
// sensitive routes (unknown is never active).
func TestFlushedSessionsAreUnknown(t *testing.T) {
	srv := startRedis(t)
	iss := authtest.New(t)
	in := newInstance(t, srv.Addr(), iss, Options{}, nil)
	_, tok := in.login(iss, "alice")
	if st := in.status(tok, true); st != http.StatusOK {
		t.Fatalf("before FLUSHALL: %d", st)
	}
	must(t, newClient(t, srv.Addr()).FlushAll(context.Background()).Err())
	if st := in.status(tok, true); st != http.StatusUnauthorized {
		t.Fatalf("RD-08: sensitive route after FLUSHALL: %d, want 401", st)
	}
}

// RD-05: sids and subjects carrying key syntax ({ } * ? [ : newline) or
// 1 MiB never reach a key name: such sids are unknown sessions, such
// subjects work and are stored only as hashes, and every key of a subject
// lives under one hash tag.
func TestHostileIDsNeverShapeKeys(t *testing.T) {
	addr := sharedAddr(t)
	s := newStore(t, addr, Options{})
	ctx := context.Background()
	hostile := []string{"{", "}", "{x}", "*", "?", "[a-z]", ":", "a:b", "\n", "a\nb", "{sub:1}*?[", strings.Repeat("{", 1<<20), strings.Repeat("a", 1<<20)}
	legit, tok, err := s.Create(ctx, core.SessionParams{Subject: "alice"})
	must(t, err)
	for _, h := range hostile {
		name := h
		if len(name) > 20 {
			name = name[:10] + "...(1 MiB)"
		}
		for _, sid := range []string{h, legit.ID[:17] + h, h + legit.ID} {
			if st, err := s.Check(ctx, sid); err != nil || st != core.StateRevoked {
				t.Fatalf("RD-05: Check(%q) = %v, %v; want revoked, no error", name, st, err)
			}
			if _, err := s.Get(ctx, sid); !errors.Is(err, core.ErrSessionRevoked) {
				t.Fatalf("RD-05: Get(%q) = %v", name, err)
			}
			if err := s.Revoke(ctx, sid); !errors.Is(err, core.ErrSessionRevoked) {
				t.Fatalf("RD-05: Revoke(%q) = %v", name, err)
			}
			if _, err := s.AuthenticateOpaque(ctx, sid); !errors.Is(err, core.ErrSessionRevoked) {
				t.Fatalf("RD-05: AuthenticateOpaque(%q) = %v", name, err)
			}
		}
		// The hostile string as a subject: works, and is isolated.
		sess, stok, err := s.Create(ctx, core.SessionParams{Subject: h})
		if err != nil {
			t.Fatalf("RD-05: Create(subject %q): %v", name, err)
		}
		if got, err := s.AuthenticateOpaque(ctx, stok); err != nil || got.Subject != h {
			t.Fatalf("RD-05: token of subject %q: %v", name, err)
		}
		if l, err := s.List(ctx, h); err != nil || len(l) != 1 || l[0].ID != sess.ID {
			t.Fatalf("RD-05: List(%q) = %d sessions, %v", name, len(l), err)
		}
		if n, err := s.RevokeSubject(ctx, h); err != nil || n != 1 {
			t.Fatalf("RD-05: RevokeSubject(%q) = %d, %v", name, n, err)
		}
	}
	if _, err := s.AuthenticateOpaque(ctx, tok); err != nil {
		t.Fatalf("the legitimate session was disturbed: %v", err)
	}
	// Every key is built from hex digests and store-made sids only.
	raw := newClient(t, addr)
	p := regexp.QuoteMeta(s.prefix)
	shape := regexp.MustCompile(`^` + p + `(revocations|\{([0-9a-f]{16})\}:(s:([0-9a-f]{16})\.[A-Za-z0-9_-]{22}|t:[0-9a-f]{64}|u:[0-9a-f]{64}))$`)
	keys, err := raw.Keys(ctx, s.prefix+"*").Result() // test-only; the store never lists keys
	must(t, err)
	if len(keys) == 0 {
		t.Fatal("no keys found")
	}
	for _, k := range keys {
		m := shape.FindStringSubmatch(k)
		if m == nil {
			t.Fatalf("RD-05: key %q does not have the store's shape", k)
		}
		if m[4] != "" && m[4] != m[2] {
			t.Fatalf("RD-05: session key %q is not under its own sid's hash tag", k)
		}
	}
}

// RD-04: a Cluster client that would send reads to replicas is refused,
// since a replica may not have a revocation yet.
func TestReplicaReadsAreRefused(t *testing.T) {
	for _, o := range []redis.ClusterOptions{
		{Addrs: []string{"127.0.0.1:1"}, ReadOnly: true},
		{Addrs: []string{"127.0.0.1:1"}, RouteByLatency: true},
		{Addrs: []string{"127.0.0.1:1"}, RouteRandomly: true},
	} {
		c := redis.NewClusterClient(&o)
		_, err := New(context.Background(), c, Options{})
		_ = c.Close()
		if err == nil || !strings.Contains(err.Error(), "primaries") {
			t.Fatalf("RD-04: New accepted a cluster client with %+v: %v", o, err)
		}
	}
}

// New refuses what cannot work, before any request.
func TestNewRefusesBadOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, o := range []Options{
		{Prefix: "a{b}:"},
		{Prefix: strings.Repeat("p", 65)},
		{CommandTimeout: -1},
		{CommandTimeout: time.Minute},
		{FeedMaxLen: 5},
		{FeedReplay: time.Second},
		{FeedBlock: time.Hour},
	} {
		if _, err := New(context.Background(), c, o); err == nil || strings.Contains(err.Error(), "unreachable") {
			t.Fatalf("New(%+v) = %v, want an options error", o, err)
		}
	}
	if _, err := New(context.Background(), nil, Options{}); err == nil {
		t.Fatal("New accepted a nil client")
	}
	if _, err := New(context.Background(), c, Options{}); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("New with Redis unreachable: %v", err)
	}
}
