//go:build !otel

package setup

import (
	"context"
	"errors"
	"testing"
)

func TestDefaultBuildRefusesTelemetryItCannotDo(t *testing.T) {
	for _, k := range []string{"AUTHGATE_METRICS", "AUTHGATE_METRICS_INTERVAL", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		_, err := FromEnv(context.Background(), func(name string) string {
			if name == k {
				return "stdout"
			}
			return ""
		})
		if !errors.Is(err, errNoTelemetry) {
			t.Errorf("%s set in a build without telemetry: err %v, want errNoTelemetry", k, err)
		}
	}
	a, err := FromEnv(context.Background(), func(string) string { return "" })
	if err != nil || a.tel != nil {
		t.Fatalf("no telemetry asked: tel %v, err %v", a, err)
	}
	_ = a.Close()
}
