package otelauth_test

import (
	"context"
	"testing"

	"github.com/authgate/authgate/core/adaptertest"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/otelauth"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkHotPath measures Authenticate with and without an otelauth
// Observer on a real SDK MeterProvider (and TracerProvider), in the same run:
// a token served by the verified-token cache, and an RS256 token verified in
// full (cache disabled). BenchmarkHotPathParallel does the same from
// GOMAXPROCS goroutines at once (run it with -cpu 1,2), where counters
// shared between cores would contend. Both report cpu-ns/op (the process's
// CPU time) besides ns/op.
//
// One run measures every round of one side before the other's, so load
// that drifts on a shared machine falls on one side: interleave them (one
// process per side, alternating; bench/otel-ab.sh), or see
// BenchmarkHotPathPaired.
func BenchmarkHotPath(b *testing.B) { benchHotPath(b, false) }

// BenchmarkHotPathParallel is BenchmarkHotPath under b.RunParallel.
func BenchmarkHotPathParallel(b *testing.B) { benchHotPath(b, true) }

func benchHotPath(b *testing.B, parallel bool) {
	iss := authtest.New(b)
	tok := iss.Token(nil)
	for _, path := range []struct {
		name    string
		noCache bool
	}{{"cache-hit", false}, {"verify-rs256", true}} {
		for _, observed := range []bool{false, true} {
			name := path.name + "/observer=none"
			if observed {
				name = path.name + "/observer=otel"
			}
			b.Run(name, func(b *testing.B) {
				a := hotPathAuth(b, iss, path.noCache, observed)
				ctx := context.Background()
				if _, err := a.Authenticate(ctx, bearer(tok)); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				if !parallel {
					req := bearer(tok)
					done := adaptertest.ReportCPU(b)
					for b.Loop() {
						if _, err := a.Authenticate(ctx, req); err != nil {
							b.Fatal(err)
						}
					}
					done()
					return
				}
				b.ResetTimer()
				done := adaptertest.ReportCPU(b)
				b.RunParallel(func(pb *testing.PB) {
					req := bearer(tok) // each goroutine its own request
					for pb.Next() {
						if _, err := a.Authenticate(ctx, req); err != nil {
							b.Error(err)
							return
						}
					}
				})
				done()
			})
		}
	}
}

// hotPathAuth returns an Authenticator for iss, with its token cache off
// when noCache, and, when observed, an otelauth Observer on real SDK
// providers (a ManualReader and a TracerProvider without processors).
func hotPathAuth(b *testing.B, iss *authtest.Issuer, noCache, observed bool) *core.Authenticator {
	cfg := iss.Config()
	cfg.TokenCache.Disabled = noCache
	if observed {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		tp := sdktrace.NewTracerProvider()
		obs, err := otelauth.New(mp, tp)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			obs.Close()
			mp.Shutdown(context.Background())
			tp.Shutdown(context.Background())
		})
		cfg.Observer = obs
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	return a
}
