package redisstore

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
)

// Scale curves on a real redis-server (issue #22), behind AUTHGATE_SCALE=1:
// Redis memory per session, RevokeSubject of a subject with 10k sessions,
// and the revocation feed's fan-out to 8 instances at 1k revocations per
// second. Correctness is asserted; sizes and delays are printed for
// docs/scale.md, never asserted.
//
//	AUTHGATE_SCALE=1 go test -run TestScaleRedis -count=1 -v ./redisstore | grep SCALE

func scaleOn(t *testing.T) {
	if os.Getenv("AUTHGATE_SCALE") != "1" {
		t.Skip("set AUTHGATE_SCALE=1 to measure the scale curves")
	}
}

// usedMemory is INFO memory's used_memory of the server.
func usedMemory(t *testing.T, s *Store) int64 {
	t.Helper()
	info, err := s.cmd.Info(context.Background(), "memory").Result()
	must(t, err)
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			must(t, err)
			return n
		}
	}
	t.Fatal("no used_memory in INFO memory")
	return 0
}

func TestScaleRedisMemoryPerSession(t *testing.T) {
	scaleOn(t)
	s := newStore(t, startRedis(t).Addr(), Options{})
	ctx := context.Background()
	made := 0
	before := usedMemory(t, s)
	for _, n := range []int{10_000, 100_000} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var first error
		work := make(chan int)
		for range 8 {
			wg.Go(func() {
				for i := range work {
					_, _, err := s.Create(ctx, core.SessionParams{Subject: "user-" + strconv.Itoa(i), Issuer: "https://idp.example.com",
						Scopes: []string{"read", "write"}})
					if err != nil {
						mu.Lock()
						first = err
						mu.Unlock()
					}
				}
			})
		}
		start := time.Now()
		for i := made; i < n; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
		must(t, first)
		took := time.Since(start)
		keys, err := s.cmd.DBSize(ctx).Result()
		must(t, err)
		used := usedMemory(t, s)
		t.Logf("SCALE redis sessions | %d | %.0f B/session (used_memory) | %d keys | %d Creates at 8 in flight: %v each",
			n, float64(used-before)/float64(n), keys, n-made, took/time.Duration(n-made))
		if keys < int64(3*n) {
			t.Fatalf("%d keys for %d sessions, want 3 per session (session, token index, subject index)", keys, n)
		}
		made = n
	}
}

func TestScaleRedisRevokeSubject10k(t *testing.T) {
	scaleOn(t)
	s := newStore(t, startRedis(t).Addr(), Options{})
	ctx := context.Background()
	const n = 10_000
	var heard sync.Map
	stop, err := s.SubscribeRevocations(ctx, func(r core.Revocation) {
		if r.SessionID != "" {
			heard.Store(r.SessionID, true)
		}
	})
	must(t, err)
	defer stop()
	var sids []string
	for range n {
		sess, _, err := s.Create(ctx, core.SessionParams{Subject: "bulk", Issuer: "https://idp.example.com"})
		must(t, err)
		sids = append(sids, sess.ID)
	}
	start := time.Now()
	got, err := s.RevokeSubject(ctx, "bulk")
	took := time.Since(start)
	must(t, err)
	if got != n {
		t.Fatalf("RevokeSubject ended %d sessions, want %d", got, n)
	}
	for _, sid := range []string{sids[0], sids[n/2], sids[n-1]} {
		if st, err := s.Check(ctx, sid); err != nil || st != core.StateRevoked {
			t.Fatalf("Check(%s) after RevokeSubject = %v, %v", sid, st, err)
		}
	}
	waitUntil(t, 10*time.Second, "every revocation heard on the feed", func() bool {
		c := 0
		heard.Range(func(any, any) bool { c++; return true })
		return c == n
	})
	t.Logf("SCALE redis RevokeSubject | %d sessions of one subject | %v (one script, stream entries in it)", n, took)
}

// Fan-out: 8 instances (each its own client and subscription) hear
// revocations made at 1k per second by a ninth; the delay from the start
// of each Revoke call to its delivery at each instance.
func TestScaleRedisFanOut8(t *testing.T) {
	scaleOn(t)
	t.Run("1k per second, 1 instance", func(t *testing.T) { fanOut(t, 1, 1000, 5000, 4) })
	t.Run("1k per second", func(t *testing.T) { fanOut(t, 8, 1000, 5000, 4) })
	t.Run("1k per second, 16 instances", func(t *testing.T) { fanOut(t, 16, 1000, 5000, 4) })
	// Saturation: 16 workers revoke as fast as one Redis lets them, to
	// find where one stream (and one Redis) stops keeping up.
	t.Run("saturation", func(t *testing.T) { fanOut(t, 8, 0, 20000, 16) })
	// The threshold: 16 instances at rising rates (instance-revocations
	// per second from 16k to 64k), where reads stop keeping pace one by
	// one and start to batch.
	for _, rate := range []int{1000, 2000, 4000} {
		t.Run(fmt.Sprintf("16 instances at %d per second", rate), func(t *testing.T) { fanOut(t, 16, rate, 3*rate, 8) })
	}
}

// fanOut makes n revocations at rate per second (0: as fast as workers
// go) and measures their delivery to instances subscribers.
func fanOut(t *testing.T, instances, rate, n, workers int) {
	addr := startRedis(t).Addr()
	o := Options{Prefix: testPrefix()}
	pub := newStore(t, addr, o)
	ctx := context.Background()
	var sids []string
	for i := range n {
		sess, _, err := pub.Create(ctx, core.SessionParams{Subject: "user-" + strconv.Itoa(i), Issuer: "https://idp.example.com"})
		must(t, err)
		sids = append(sids, sess.ID)
	}
	sent := make([]time.Time, n)
	index := make(map[string]int, n)
	for i, sid := range sids {
		index[sid] = i
	}
	var mu sync.Mutex
	delays := make([][]time.Duration, instances)
	for k := range instances {
		st := newStore(t, addr, o)
		delays[k] = make([]time.Duration, 0, n)
		stop, err := st.SubscribeRevocations(ctx, func(r core.Revocation) {
			at := time.Now()
			i, ok := index[r.SessionID]
			if !ok {
				return
			}
			mu.Lock()
			delays[k] = append(delays[k], at.Sub(sent[i]))
			mu.Unlock()
		})
		must(t, err)
		t.Cleanup(stop)
		waitUntil(t, 5*time.Second, "instance subscribed", func() bool { return feedCurrent(st) })
	}
	cpu0, cmds0 := redisCost(t, pub)
	// An open-loop schedule: revocation i is due at start + i/rate, made by
	// one of 4 workers (one Revoke is a round trip, ~0.1 ms, but a busy
	// machine has pauses longer than 1 ms).
	work := make(chan int, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range work {
				mu.Lock()
				sent[i] = time.Now()
				mu.Unlock()
				if err := pub.Revoke(ctx, sids[i]); err != nil {
					t.Error(err)
				}
			}
		})
	}
	start := time.Now()
	for i := range sids {
		if rate > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		}
		work <- i
	}
	close(work)
	wg.Wait()
	took := time.Since(start)
	waitUntil(t, 20*time.Second, "every instance heard every revocation", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range delays {
			if len(d) < n {
				return false
			}
		}
		return true
	})
	cpu1, cmds1 := redisCost(t, pub)
	var all []time.Duration
	for _, d := range delays {
		all = append(all, d...)
	}
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
	t.Logf("SCALE redis fan-out | %d instances | %d revocations in %v (%.0f/s, asked %d/s, 0: as fast as %d workers go) | delay p50 %v p99 %v p99.9 %v max %v",
		instances, n, took.Round(time.Millisecond), float64(n)/took.Seconds(), rate, workers, q(0.5), q(0.99), q(0.999), all[len(all)-1])
	t.Logf("SCALE redis fan-out cost | %d instances | Redis CPU %.1f µs and %.1f commands per revocation (the Revoke and every subscriber's reads)",
		instances, (cpu1-cpu0)*1e6/float64(n), float64(cmds1-cmds0)/float64(n))
}

// redisCost is the server's CPU seconds (user + sys) and commands processed
// so far (INFO cpu, INFO stats).
func redisCost(t *testing.T, s *Store) (cpu float64, cmds int64) {
	t.Helper()
	info, err := s.cmd.Info(context.Background(), "cpu", "stats").Result()
	must(t, err)
	for _, l := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(l, ":")
		switch k {
		case "used_cpu_user", "used_cpu_sys":
			f, err := strconv.ParseFloat(v, 64)
			must(t, err)
			cpu += f
		case "total_commands_processed":
			cmds, err = strconv.ParseInt(v, 10, 64)
			must(t, err)
		}
	}
	return cpu, cmds
}
