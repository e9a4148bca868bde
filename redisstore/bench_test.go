package redisstore

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/redis/go-redis/v9"
)

// BenchmarkSensitiveCheck measures one request on a sensitive route backed
// by the Redis store, uncached and with SensitiveCacheTTL, beside a plain
// Redis round trip (PING, GET) and the store's Check alone, in one run.
//
//	go test ./redisstore -run '^$' -bench SensitiveCheck -benchmem
func BenchmarkSensitiveCheck(b *testing.B) {
	addr := sharedAddr(b)
	iss := authtest.New(b)
	ctx := context.Background()
	serve := func(b *testing.B, in *instance, tok string, sensitive bool) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		req := stdReq{r}
		b.ReportAllocs()
		for b.Loop() {
			c, err := adapter.Admit(in.auth, ctx, req, false)
			if err == nil && sensitive {
				err = core.Require(c, core.Requirements{Sensitive: true})
			}
			if err != nil {
				b.Fatalf("status %d", adapter.Render(in.auth, err).Status)
			}
		}
	}
	uncached := newInstance(b, addr, iss, Options{}, nil)
	sess, tok := uncached.login(iss, "alice")
	// inline: the client has ContextTimeoutEnabled, so the Store honours
	// its context (HonorsContext) and core runs the check on the request's
	// goroutine.
	inline := newInstanceOn(b, redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true}), iss, Options{}, nil)
	if !inline.store.HonorsContext() || uncached.store.HonorsContext() {
		b.Fatal("HonorsContext does not follow the client's ContextTimeoutEnabled")
	}
	isess, itok := inline.login(iss, "carol")
	cached := newInstance(b, addr, iss, Options{}, func(c *core.Config) { c.SessionCheck.SensitiveCacheTTL = time.Second })
	_, ctok := cached.login(iss, "bob")

	b.Run("redis-PING", func(b *testing.B) {
		for b.Loop() {
			if err := uncached.rdb.Ping(ctx).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("redis-GET", func(b *testing.B) {
		for b.Loop() {
			_ = uncached.rdb.Get(ctx, "authgate-bench-missing").Err()
		}
	})
	b.Run("store-Check", func(b *testing.B) {
		for b.Loop() {
			if st, err := uncached.store.Check(ctx, sess.ID); err != nil || st != core.StateActive {
				b.Fatal(st, err)
			}
		}
	})
	b.Run("store-Check-ctx", func(b *testing.B) {
		for b.Loop() {
			if st, err := inline.store.Check(ctx, isess.ID); err != nil || st != core.StateActive {
				b.Fatal(st, err)
			}
		}
	})
	b.Run("plain-route", func(b *testing.B) { serve(b, uncached, tok, false) })
	b.Run("sensitive-uncached", func(b *testing.B) { serve(b, uncached, tok, true) })
	b.Run("sensitive-uncached-ctx", func(b *testing.B) { serve(b, inline, itok, true) })
	b.Run("sensitive-cached-1s", func(b *testing.B) { serve(b, cached, ctok, true) })
}

// BenchmarkSensitiveCheckPaired alternates, op by op, the store's own
// Check and a sensitive request through core on the same store (a client
// with ContextTimeoutEnabled, and the default client), timing each, so
// that a busy machine's drift between sub-benchmarks cannot move the
// ratio: the metric x-backend is (sensitive request) ÷ (Check), summed
// over the run.
//
//	go test ./redisstore -run '^$' -bench SensitiveCheckPaired -count 8
func BenchmarkSensitiveCheckPaired(b *testing.B) {
	addr := sharedAddr(b)
	iss := authtest.New(b)
	ctx := context.Background()
	for _, v := range []struct {
		name string
		ctxt bool
	}{{"ctx-client", true}, {"default-client", false}} {
		in := newInstanceOn(b, redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: v.ctxt}), iss, Options{}, nil)
		sess, tok := in.login(iss, "paired-"+v.name)
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		req := stdReq{r}
		b.Run(v.name, func(b *testing.B) {
			var check, route time.Duration
			for b.Loop() {
				t0 := time.Now()
				if st, err := in.store.Check(ctx, sess.ID); err != nil || st != core.StateActive {
					b.Fatal(st, err)
				}
				t1 := time.Now()
				c, err := adapter.Admit(in.auth, ctx, req, false)
				if err == nil {
					err = core.Require(c, core.Requirements{Sensitive: true})
				}
				if err != nil {
					b.Fatalf("status %d", adapter.Render(in.auth, err).Status)
				}
				t2 := time.Now()
				check += t1.Sub(t0)
				route += t2.Sub(t1)
			}
			b.ReportMetric(float64(check.Nanoseconds())/float64(b.N), "check-ns/op")
			b.ReportMetric(float64(route.Nanoseconds())/float64(b.N), "route-ns/op")
			b.ReportMetric(float64(route)/float64(check), "x-backend")
		})
	}
}
