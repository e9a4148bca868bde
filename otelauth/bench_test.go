package otelauth_test

import (
	"context"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/otelauth"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkHotPath measures Authenticate with and without an otelauth
// Observer on a real SDK MeterProvider (and TracerProvider), in the same run:
// a token served by the verified-token cache, and an RS256 token verified in
// full (cache disabled).
func BenchmarkHotPath(b *testing.B) {
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
				cfg := iss.Config()
				cfg.TokenCache.Disabled = path.noCache
				if observed {
					mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
					tp := sdktrace.NewTracerProvider()
					defer mp.Shutdown(context.Background())
					defer tp.Shutdown(context.Background())
					obs, err := otelauth.New(mp, tp)
					if err != nil {
						b.Fatal(err)
					}
					defer obs.Close()
					cfg.Observer = obs
				}
				a, err := core.New(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer a.Close()
				req := bearer(tok)
				ctx := context.Background()
				if _, err := a.Authenticate(ctx, req); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := a.Authenticate(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
