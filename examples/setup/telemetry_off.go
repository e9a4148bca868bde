//go:build !otel

package setup

import (
	"context"
	"errors"
	"io"

	"github.com/authgate/authgate/core"
)

// telemetry is absent from the default build: the OpenTelemetry SDK and its
// exporters (OTLP, gRPC, protobuf) more than double what the examples
// compile, and the README's try-it command must start within a minute from
// an empty build cache. Build with -tags otel for metrics and traces
// (telemetry.go).
type telemetry struct{ mode string }

// errNoTelemetry says how to get telemetry: asking for it in a build without
// it stops the app rather than running unobserved.
var errNoTelemetry = errors.New("this build of the example has no telemetry: build or run it with -tags otel (go run -tags otel ./examples/nethttp), or unset AUTHGATE_METRICS and OTEL_EXPORTER_OTLP_ENDPOINT")

// newTelemetry returns nil, or errNoTelemetry when the environment asks for
// telemetry (AUTHGATE_METRICS, AUTHGATE_METRICS_INTERVAL,
// OTEL_EXPORTER_OTLP_ENDPOINT).
func newTelemetry(_ context.Context, env func(string) string, _ io.Writer) (*telemetry, error) {
	for _, k := range []string{"AUTHGATE_METRICS", "AUTHGATE_METRICS_INTERVAL", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if env(k) != "" {
			return nil, errNoTelemetry
		}
	}
	return nil, nil
}

func (t *telemetry) close() error                { return nil }
func (t *telemetry) coreObserver() core.Observer { return nil }
func (t *telemetry) watch(*core.Authenticator)   {}
