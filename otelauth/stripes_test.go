package otelauth_test

import (
	"context"
	"sync"
	"testing"

	"github.com/authgate/authgate/core"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Accepted tokens are counted in stripes (one per group of goroutines) and
// summed at collection: a count made from many goroutines at once, while
// collections run, is exact.
func TestAcceptedCountIsExactUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	tok := e.iss.Token(nil)
	ctx := context.Background()
	if _, err := e.auth.Authenticate(ctx, bearer(tok)); err != nil { // fills the cache
		t.Fatal(err)
	}
	const goroutines, each = 16, 250
	var wg sync.WaitGroup
	stop := make(chan struct{})
	collected := make(chan struct{})
	go func() { // collections race with the counting
		defer close(collected)
		for {
			select {
			case <-stop:
				return
			default:
				var rm metricdata.ResourceMetrics
				if err := e.reader.Collect(ctx, &rm); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for range goroutines {
		wg.Go(func() {
			req := bearer(tok)
			for range each {
				if _, err := e.auth.Authenticate(ctx, req); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-collected
	rm := e.collect()
	hits := point(t, rm, "authgate.authentications", "{request}",
		map[string]string{"authgate.token.kind": "jwt", "authgate.token.source": "header", "authgate.token.cache": "hit"})
	misses := point(t, rm, "authgate.authentications", "{request}",
		map[string]string{"authgate.token.kind": "jwt", "authgate.token.source": "header", "authgate.token.cache": "miss"})
	if hits != goroutines*each || misses != 1 {
		t.Fatalf("counted %v hits and %v misses, want %d and 1", hits, misses, goroutines*each)
	}
}

// CountCacheHit (core's path for a cache hit, without an Event) counts in
// authgate.authentications with the same attributes as Observe would.
func TestCountCacheHit(t *testing.T) {
	e := newEnv(t)
	e.obs.CountCacheHit(core.KindJWT, core.SourceCookie)
	e.obs.CountCacheHit(core.KindJWT, core.SourceCookie)
	e.obs.Observe(context.Background(), core.Event{Kind: core.EventAuthenticated, TokenKind: core.KindJWT,
		Source: core.SourceCookie, Cache: core.CacheHit})
	got := point(t, e.collect(), "authgate.authentications", "{request}",
		map[string]string{"authgate.token.kind": "jwt", "authgate.token.source": "cookie", "authgate.token.cache": "hit"})
	if got != 3 {
		t.Fatalf("counted %v cache hits, want 3", got)
	}
}
