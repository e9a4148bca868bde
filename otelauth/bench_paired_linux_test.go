//go:build linux

package otelauth_test

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// BenchmarkHotPathPaired measures what the Observer adds to a cache hit in a
// way a busy machine cannot skew: two Authenticators, without and with an
// otelauth Observer (real SDK), serve alternating blocks of requests on one
// locked OS thread, each block timed by the thread's own CPU time, so that
// load drifting during the run falls on both sides alike. It reports each
// side's CPU time per request (none-ns/op, otel-ns/op) and the difference
// (overhead-%); ns/op mixes both sides.
func BenchmarkHotPathPaired(b *testing.B) {
	iss := authtest.New(b)
	tok := iss.Token(nil)
	auths := [2]*core.Authenticator{hotPathAuth(b, iss, false, false), hotPathAuth(b, iss, false, true)}
	ctx := context.Background()
	req := bearer(tok)
	for _, a := range auths {
		if _, err := a.Authenticate(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const block = 256 // ~0.1ms: many alternations per second, few clock reads
	var (
		cpu [2]time.Duration
		n   [2]int
	)
	b.ReportAllocs()
	b.ResetTimer()
	for i, side := 0, 0; i < b.N; side ^= 1 {
		k := min(block, b.N-i)
		a := auths[side]
		t0 := threadCPU()
		for range k {
			if _, err := a.Authenticate(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		cpu[side] += threadCPU() - t0
		n[side] += k
		i += k
	}
	b.StopTimer()
	if n[0] == 0 || n[1] == 0 {
		return // b.N too small for both sides
	}
	none, otel := float64(cpu[0])/float64(n[0]), float64(cpu[1])/float64(n[1])
	b.ReportMetric(none, "none-ns/op")
	b.ReportMetric(otel, "otel-ns/op")
	b.ReportMetric(100*(otel-none)/none, "overhead-%")
}

// threadCPU returns the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
