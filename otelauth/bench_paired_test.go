package otelauth_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// BenchmarkHotPathPaired measures what the Observer adds to a cache hit in a
// way that a busy machine skews little: two Authenticators, without and
// with an otelauth Observer (real SDK), serve alternating blocks of
// requests (~0.1 ms each, the order flipping from pair to pair), and each
// pair of blocks gives one ratio of their times. Load that drifts, and a
// block preempted by another process, shift single ratios, not their
// median, which it reports as overhead-%; without-ns/op and with-ns/op are
// the medians of each side's time per request. ns/op mixes both sides.
//
// observer=otel is the Observer's whole cost, observer=noop the seam's
// alone (a no-op ObserverFunc), observer=none an A/A run (no Observer on
// either side) that shows how far from zero the method itself reads.
func BenchmarkHotPathPaired(b *testing.B) { benchPairs(b, benchPaired) }

// BenchmarkHotPathPairedParallel is BenchmarkHotPathPaired from GOMAXPROCS
// goroutines at once (run it with -cpu 1,2), where counters shared between
// cores would contend. The sides alternate by the clock (every 200µs, all
// goroutines on the same side); each goroutine times blocks of 64 requests,
// a block that straddles a switch is dropped, and overhead-% compares the
// medians of the two sides' block times.
func BenchmarkHotPathPairedParallel(b *testing.B) { benchPairs(b, benchPairedParallel) }

func benchPairs(b *testing.B, bench func(*testing.B, [2]*core.Authenticator, string)) {
	iss := authtest.New(b)
	tok := iss.Token(nil)
	for _, side := range []struct {
		name string
		obs  func() core.Observer // nil: an otelauth Observer on the SDK
	}{
		{"otel", nil},
		// The seam alone: an Observer that does nothing.
		{"noop", func() core.Observer { return core.ObserverFunc(func(context.Context, core.Event) {}) }},
		// No observer on either side: how far from 0 the method reads.
		{"none", func() core.Observer { return nil }},
	} {
		b.Run("observer="+side.name, func(b *testing.B) {
			with := hotPathAuth(b, iss, false, side.obs == nil)
			if side.obs != nil {
				cfg := iss.Config()
				cfg.Observer = side.obs()
				a, err := core.New(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { a.Close() })
				with = a
			}
			bench(b, [2]*core.Authenticator{hotPathAuth(b, iss, false, false), with}, tok)
		})
	}
}

func benchPaired(b *testing.B, auths [2]*core.Authenticator, tok string) {
	ctx := context.Background()
	req := bearer(tok)
	for _, a := range auths {
		if _, err := a.Authenticate(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	const block = 256
	run := func(a *core.Authenticator, k int) time.Duration {
		start := time.Now()
		for range k {
			if _, err := a.Authenticate(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	pairs := b.N / (2 * block)
	ratios := make([]float64, 0, pairs)
	per := [2][]float64{make([]float64, 0, pairs), make([]float64, 0, pairs)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range pairs {
		var t [2]time.Duration
		first := i % 2
		t[first] = run(auths[first], block)
		t[1-first] = run(auths[1-first], block)
		ratios = append(ratios, float64(t[1])/float64(t[0]))
		per[0] = append(per[0], float64(t[0])/block)
		per[1] = append(per[1], float64(t[1])/block)
	}
	run(auths[0], b.N-2*block*pairs) // b.N in all
	b.StopTimer()
	if pairs == 0 {
		return // b.N too small for one pair
	}
	b.ReportMetric(median(per[0]), "without-ns/op")
	b.ReportMetric(median(per[1]), "with-ns/op")
	b.ReportMetric(100*(median(ratios)-1), "overhead-%")
}

func benchPairedParallel(b *testing.B, auths [2]*core.Authenticator, tok string) {
	ctx := context.Background()
	for _, a := range auths {
		if _, err := a.Authenticate(ctx, bearer(tok)); err != nil {
			b.Fatal(err)
		}
	}
	const (
		block  = 64
		period = 200 * time.Microsecond
	)
	var (
		mu  sync.Mutex
		per [2][]float64
	)
	side := func(t time.Time) int { return int(t.UnixNano()/int64(period)) & 1 }
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := bearer(tok) // each goroutine its own request
		var local [2][]float64
		for {
			t0 := time.Now()
			s := side(t0)
			k := 0
			for ; k < block && pb.Next(); k++ {
				if _, err := auths[s].Authenticate(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
			t1 := time.Now()
			if k < block {
				break
			}
			if side(t1) == s && t1.Sub(t0) < period {
				local[s] = append(local[s], float64(t1.Sub(t0))/block)
			}
		}
		mu.Lock()
		per[0] = append(per[0], local[0]...)
		per[1] = append(per[1], local[1]...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(per[0]) == 0 || len(per[1]) == 0 {
		return
	}
	none, with := median(per[0]), median(per[1])
	b.ReportMetric(none, "without-ns/op")
	b.ReportMetric(with, "with-ns/op")
	b.ReportMetric(100*(with-none)/none, "overhead-%")
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}
