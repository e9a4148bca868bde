//go:build otel

package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/otelauth"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// telemetry holds the OpenTelemetry SDK the example sets up: the SDK and
// its exporters live in the examples module only (authgate's otelauth uses
// the OpenTelemetry API alone), and only in builds with the tag otel
// (go run -tags otel ./examples/nethttp), so that the default build of the
// examples compiles no exporter, gRPC or protobuf code.
type telemetry struct {
	mode     string // for the banner
	observer *otelauth.Observer
	shutdown []func(context.Context) error
}

// newTelemetry reads the environment:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT  export metrics and traces over OTLP/HTTP
//	                             (the exporters read the other OTEL_* variables)
//	AUTHGATE_METRICS=stdout      otherwise, print metrics to out every
//	                             AUTHGATE_METRICS_INTERVAL (default 60s) and at exit
//
// With neither, it returns nil: no observer, nothing measured.
func newTelemetry(ctx context.Context, env func(string) string, out io.Writer) (*telemetry, error) {
	var (
		reader sdkmetric.Reader
		tp     *sdktrace.TracerProvider
		mode   string
	)
	interval := 60 * time.Second
	if v := env("AUTHGATE_METRICS_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("AUTHGATE_METRICS_INTERVAL %q: a duration of at least 1s, e.g. 10s", v)
		}
		interval = d
	}
	switch {
	case env("OTEL_EXPORTER_OTLP_ENDPOINT") != "":
		me, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTLP metric exporter: %w", err)
		}
		te, err := otlptracehttp.New(ctx)
		if err != nil {
			_ = me.Shutdown(ctx)
			return nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		reader = sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(interval))
		tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(te))
		mode = "metrics and traces over OTLP to " + env("OTEL_EXPORTER_OTLP_ENDPOINT")
	case env("AUTHGATE_METRICS") == "stdout":
		if out == nil {
			out = io.Discard
		}
		me, err := stdoutmetric.New(stdoutmetric.WithWriter(out))
		if err != nil {
			return nil, err
		}
		reader = sdkmetric.NewPeriodicReader(me, sdkmetric.WithInterval(interval))
		mode = "metrics to stdout every " + interval.String()
	case env("AUTHGATE_METRICS") != "":
		return nil, fmt.Errorf("AUTHGATE_METRICS %q: the only value is \"stdout\" (set OTEL_EXPORTER_OTLP_ENDPOINT for OTLP)", env("AUTHGATE_METRICS"))
	default:
		return nil, nil
	}
	t := &telemetry{mode: mode}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.shutdown = append(t.shutdown, mp.Shutdown)
	if tp != nil {
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}
	var tracing trace.TracerProvider // nil (no spans) unless OTLP: never a typed nil
	if tp != nil {
		tracing = tp
	}
	var err error
	if t.observer, err = otelauth.New(mp, tracing); err != nil {
		_ = t.close()
		return nil, err
	}
	return t, nil
}

// close flushes and stops the exporters.
func (t *telemetry) close() error {
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	if t.observer != nil {
		errs = append(errs, t.observer.Close())
	}
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

func (t *telemetry) coreObserver() core.Observer {
	if t == nil {
		return nil
	}
	return t.observer
}

// watch lets the observer's gauges read a's Status at each collection.
func (t *telemetry) watch(a *core.Authenticator) {
	if t != nil {
		t.observer.Watch(a)
	}
}
