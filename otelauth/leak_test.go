package otelauth_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/otelauth"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Leak checks (issue 9, OP-07). otelauth starts no goroutine of its own:
// it records synchronously, and its one metric callback (the gauges and
// the accepted-token counter) runs on the collector's goroutine until
// Observer.Close unregisters it. TestMain fails the package when a
// goroutine outlives its tests.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// An Observer watching an Authenticator leaves no goroutine once both are
// closed, and after Close its callback no longer runs (a collection no
// longer reads the closed Authenticator's Status).
func TestLeakObserverCloseUnregistersAndLeavesNothing(t *testing.T) {
	iss := authtest.New(t)
	ignore := goleak.IgnoreCurrent()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	obs, err := otelauth.New(mp, tp)
	if err != nil {
		t.Fatal(err)
	}
	cfg := iss.Config()
	cfg.Observer = obs
	cfg.Logger = slog.New(slog.DiscardHandler)
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	obs.Watch(a)
	if _, err := a.Authenticate(context.Background(), bearer(iss.Token(nil))); err != nil {
		t.Fatal(err)
	}
	keyPoints := func() int {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		m, ok := find(rm, "authgate.keyset.keys")
		if !ok {
			return 0
		}
		return len(m.Data.(metricdata.Gauge[int64]).DataPoints)
	}
	if keyPoints() != 1 {
		t.Fatal("the watched gauge reports nothing before Close")
	}
	a.Close()
	if err := obs.Close(); err != nil {
		t.Fatal(err)
	}
	if n := keyPoints(); n != 0 {
		t.Fatalf("the callback still ran after Close (%d points)", n)
	}
	if err := mp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}
