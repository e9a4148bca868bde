package core

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Scale curves (issue #22), behind AUTHGATE_SCALE=1: memory per entry from
// runtime.MemStats HeapAlloc deltas after GC, and lookup latency, printed
// as a table for docs/scale.md. Correctness is asserted, timings only
// printed.

func scaleOn(t *testing.T) {
	if os.Getenv("AUTHGATE_SCALE") != "1" {
		t.Skip("set AUTHGATE_SCALE=1 to measure the scale curves")
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// lat returns the mean time of f over n calls.
func lat(n int, f func(i int)) time.Duration {
	start := time.Now()
	for i := range n {
		f(i)
	}
	return time.Since(start) / time.Duration(n)
}

func TestScaleMemoryStore(t *testing.T) {
	scaleOn(t)
	ctx := context.Background()
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		before := heap()
		m := NewMemoryStore(StoreOptions{})
		sids := make([]string, n)
		for i := range n {
			s, _, err := m.Create(ctx, SessionParams{Subject: "user-" + strconv.Itoa(i), Issuer: "https://idp.example"})
			if err != nil {
				t.Fatal(err)
			}
			sids[i] = s.ID
		}
		idsBytes := uint64(n) * uint64(16+len(sids[0])) // the test's own slice of ids
		after := heap()
		per := float64(after-before-idsBytes) / float64(n)
		d := lat(200_000, func(i int) {
			if st, err := m.Check(ctx, sids[(i*7919)%n]); err != nil || st != StateActive {
				t.Fatalf("Check = %v, %v", st, err)
			}
		})
		fmt.Printf("SCALE memorystore sessions=%d bytes_per_session=%.0f check_ns=%d\n", n, per, d.Nanoseconds())
		m.Close()
		runtime.KeepAlive(sids)
	}
	// RevokeSubject of one subject with 10k sessions.
	m := NewMemoryStore(StoreOptions{Audit: AuditFunc(func(context.Context, AuditEvent) {})})
	defer m.Close()
	for range 10_000 {
		if _, _, err := m.Create(ctx, SessionParams{Subject: "mass"}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	k, err := m.RevokeSubject(ctx, "mass")
	if err != nil || k != 10_000 {
		t.Fatalf("RevokeSubject = %d, %v", k, err)
	}
	fmt.Printf("SCALE memorystore revoke_subject sessions=10000 ms=%.1f\n", float64(time.Since(start).Microseconds())/1000)
}

func TestScaleDenySetAndCutoffs(t *testing.T) {
	scaleOn(t)
	const n = 100_000
	now := time.Now
	sids := make([]string, n)
	for i := range sids {
		sids[i] = fmt.Sprintf("%016x.%022d", i, i) // a redisstore-shaped sid, 39 bytes
	}
	before := heap()
	d := newDenySet(24*time.Hour, n, now)
	for _, sid := range sids {
		if !d.add(Revocation{SessionID: sid, Issuer: "https://idp.example", At: now()}) {
			t.Fatal("deny set overflowed below its capacity")
		}
	}
	per := float64(heap()-before) / n
	l := lat(1_000_000, func(i int) {
		if !d.has("https://idp.example", sids[(i*7919)%n]) {
			t.Fatal("a revoked session is missing from the deny set")
		}
	})
	miss := lat(1_000_000, func(i int) {
		if d.has("https://idp.example", "never-revoked") {
			t.Fatal("an unknown session is in the deny set")
		}
	})
	fmt.Printf("SCALE denyset entries=%d bytes_per_entry=%.0f hit_ns=%d miss_ns=%d\n", n, per, l.Nanoseconds(), miss.Nanoseconds())

	subs := make([]string, n)
	for i := range subs {
		subs[i] = "user-" + strconv.Itoa(i)
	}
	before = heap()
	c := newCutoffSet(24*time.Hour, n, now)
	at := now()
	for _, s := range subs {
		if !c.add("https://idp.example", s, at) {
			t.Fatal("cutoff set overflowed below its capacity")
		}
	}
	per = float64(heap()-before) / n
	old := at.Add(-time.Minute)
	l = lat(1_000_000, func(i int) {
		if c.judge("https://idp.example", subs[(i*7919)%n], old) == c.judge("https://idp.example", "nobody", old) {
			t.Fatal("a token issued before its subject's cutoff is judged like one of a subject without a cutoff")
		}
	})
	fmt.Printf("SCALE cutoffs entries=%d bytes_per_entry=%.0f judge_pair_ns=%d\n", n, per, l.Nanoseconds())
	runtime.KeepAlive(d)
	runtime.KeepAlive(c)
}
