//go:build otel

package setup

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

type req struct{ r *http.Request }

func (q req) Method() string              { return q.r.Method }
func (q req) Host() string                { return q.r.Host }
func (q req) Header(name string) []string { return q.r.Header[name] }
func (q req) RawQuery() string            { return q.r.URL.RawQuery }

func TestStdoutMetricsAreFlushedAtClose(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"AUTHGATE_METRICS": "stdout"}
	tel, err := newTelemetry(context.Background(), func(k string) string { return env[k] }, &out)
	if err != nil || tel == nil {
		t.Fatalf("%v %v", tel, err)
	}
	iss := authtest.New(t)
	cfg := iss.Config()
	cfg.Observer = tel.coreObserver()
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	tok := iss.Token(nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	if _, err := a.Authenticate(context.Background(), req{r}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := tel.close(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"authgate.verify.duration", "authgate.keyset.refreshes"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("no %s in the stdout export:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), tok) || strings.Contains(out.String(), "user-1") {
		t.Fatal("the export holds the token or the subject")
	}
}

func TestTelemetryEnvironment(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		on   bool
		bad  bool
	}{
		{"nothing set: no telemetry", nil, false, false},
		{"stdout", map[string]string{"AUTHGATE_METRICS": "stdout"}, true, false},
		{"OTLP", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, false},
		{"an unknown exporter", map[string]string{"AUTHGATE_METRICS": "prometheus"}, false, true},
		{"a bad interval", map[string]string{"AUTHGATE_METRICS": "stdout", "AUTHGATE_METRICS_INTERVAL": "1ms"}, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tel, err := newTelemetry(context.Background(), func(k string) string { return c.env[k] }, io.Discard)
			if (err != nil) != c.bad || (tel != nil) != c.on {
				t.Fatalf("telemetry %v, err %v", tel, err)
			}
			if tel != nil {
				tel.observer.Close() // no export: the OTLP endpoint is not there
			}
		})
	}
}
