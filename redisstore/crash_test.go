package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/redis/go-redis/v9"
)

// RD-07: the client's connections are killed again and again while it
// creates, revokes and revokes whole subjects in parallel. Whatever calls
// failed, Redis holds no half-session: every session is in its token index
// and its subject's set, and every index entry names a session.
func TestKilledClientLeavesNoHalfSession(t *testing.T) {
	addr := startRedis(t).Addr() // private: the test kills every other client
	o := quiet(Options{MaxSessions: 3, EvictOldest: true})
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	s, err := New(context.Background(), c, o)
	must(t, err)
	defer s.Close()
	admin := newClient(t, addr)
	ctx := context.Background()

	var wg, killer sync.WaitGroup
	var mu sync.Mutex
	stop := make(chan struct{})
	var failed, done int
	for w := range 4 {
		wg.Go(func() {
			for i := range 150 {
				subject := fmt.Sprintf("user-%d", (w+i)%5)
				var err error
				switch i % 6 {
				case 0, 1, 2, 3:
					var sess *core.Session
					sess, _, err = s.Create(ctx, core.SessionParams{Subject: subject, Scopes: []string{"a"}})
					if err == nil && i%4 == 1 {
						err = s.Revoke(ctx, sess.ID)
					}
				case 4:
					_, err = s.RevokeSubject(ctx, subject)
				case 5:
					_, err = s.List(ctx, subject)
				}
				mu.Lock()
				done++
				if err != nil {
					failed++
				}
				mu.Unlock()
			}
		})
	}
	killer.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = admin.Do(ctx, "CLIENT", "KILL", "USER", "default", "SKIPME", "yes").Err() // every client but the admin
		}
	})
	wg.Wait()
	close(stop)
	killer.Wait()
	t.Logf("%d calls, %d failed on killed connections", done, failed)
	if failed == 0 {
		t.Fatal("no call failed: the kills missed every call, the test proves nothing")
	}
	checkIndexes(t, admin, s)
}

// checkIndexes asserts the store's keys are mutually consistent.
func checkIndexes(t *testing.T, rdb *redis.Client, s *Store) {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, s.prefix+"*").Result() // test-only
	must(t, err)
	sessions := 0
	for _, k := range keys {
		switch {
		case strings.Contains(k, "}:s:"):
			sessions++
			f, err := rdb.HMGet(ctx, k, "tk", "uk", "sub", "th").Result()
			must(t, err)
			sid := k[strings.Index(k, "}:s:")+4:]
			tk, _ := f[0].(string)
			uk, _ := f[1].(string)
			if tk == "" || uk == "" || f[2] == nil || f[3] == nil {
				t.Fatalf("RD-07: half-written session %s: %v", k, f)
			}
			if v, err := rdb.Get(ctx, tk).Result(); err != nil || v != sid {
				t.Fatalf("RD-07: session %s without its token index (%q, %v)", sid, v, err)
			}
			if _, err := rdb.ZScore(ctx, uk, sid).Result(); err != nil {
				t.Fatalf("RD-07: session %s missing from its subject's set: %v", sid, err)
			}
		case strings.Contains(k, "}:t:"):
			sid, err := rdb.Get(ctx, k).Result()
			must(t, err)
			tag, _ := parseSID(sid)
			if n, _ := rdb.Exists(ctx, s.sessKey(tag, sid)).Result(); n != 1 {
				t.Fatalf("RD-07: token index %s names a missing session %s", k, sid)
			}
		case strings.Contains(k, "}:u:"):
			members, err := rdb.ZRange(ctx, k, 0, -1).Result()
			must(t, err)
			if len(members) > 3 {
				t.Fatalf("SS-18: %d sessions in %s, cap 3", len(members), k)
			}
			for _, sid := range members {
				tag, _ := parseSID(sid)
				if n, _ := rdb.Exists(ctx, s.sessKey(tag, sid)).Result(); n != 1 {
					t.Fatalf("RD-07: subject set %s names a missing session %s", k, sid)
				}
			}
		}
	}
	t.Logf("%d sessions consistent", sessions)
}
