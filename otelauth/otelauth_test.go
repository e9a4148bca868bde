package otelauth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/otelauth"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

type request struct{ r *http.Request }

func (q request) Method() string              { return q.r.Method }
func (q request) Host() string                { return q.r.Host }
func (q request) Header(name string) []string { return q.r.Header[name] }
func (q request) RawQuery() string            { return q.r.URL.RawQuery }

func bearer(tok string) request {
	r := httptest.NewRequest("GET", "/", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return request{r}
}

// checker answers from a map; err makes it fail.
type checker struct {
	mu      sync.Mutex
	revoked map[string]bool
	err     error
}

func (c *checker) Check(_ context.Context, sid string) (core.SessionState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return core.StateRevoked, c.err
	}
	if c.revoked[sid] {
		return core.StateRevoked, nil
	}
	return core.StateActive, nil
}

type feed struct {
	mu sync.Mutex
	fn func(core.Revocation)
}

func (f *feed) SubscribeRevocations(_ context.Context, fn func(core.Revocation)) (func(), error) {
	f.mu.Lock()
	f.fn = fn
	f.mu.Unlock()
	return func() {}, nil
}

func (f *feed) push(r core.Revocation) { f.mu.Lock(); f.fn(r); f.mu.Unlock() }

type env struct {
	t       *testing.T
	iss     *authtest.Issuer
	auth    *core.Authenticator
	obs     *otelauth.Observer
	reader  *sdkmetric.ManualReader
	spans   *tracetest.SpanRecorder
	tp      *sdktrace.TracerProvider
	checker *checker
	feed    *feed
	logs    *bytes.Buffer
}

func newEnv(t *testing.T, opts ...otelauth.Option) *env {
	t.Helper()
	e := &env{t: t, iss: authtest.New(t), reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder(),
		checker: &checker{revoked: map[string]bool{}}, feed: &feed{}, logs: &bytes.Buffer{}}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader))
	e.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.spans))
	t.Cleanup(func() { mp.Shutdown(context.Background()); e.tp.Shutdown(context.Background()) })
	obs, err := otelauth.New(mp, e.tp, opts...)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.iss.Config()
	cfg.Observer = obs
	cfg.Sessions = e.checker
	cfg.Revocations = e.feed
	cfg.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); obs.Close() })
	e.auth, e.obs = a, obs
	return e
}

// request runs one request through Admit and, when sensitive, Require,
// under a recording parent span named "request".
func (e *env) request(tok string, sensitive bool) (trace.SpanContext, error) {
	ctx, sp := e.tp.Tracer("test").Start(context.Background(), "request")
	defer sp.End()
	ctx, err := adapter.Admit(e.auth, ctx, bearer(tok), false)
	if err == nil && sensitive {
		err = core.Require(ctx, core.Requirements{Sensitive: true})
	}
	return sp.SpanContext(), err
}

func (e *env) collect() metricdata.ResourceMetrics {
	e.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		e.t.Fatal(err)
	}
	return rm
}

func find(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelauth.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

func attrsOf(s attribute.Set) map[string]string {
	m := map[string]string{}
	for _, kv := range s.ToSlice() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func sameAttrs(got attribute.Set, want map[string]string) bool {
	g := attrsOf(got)
	if len(g) != len(want) {
		return false
	}
	for k, v := range want {
		if g[k] != v {
			return false
		}
	}
	return true
}

// point finds the data point of metric name with exactly the attributes
// want, and returns its count (histograms), value (sums, gauges) as float.
func point(t *testing.T, rm metricdata.ResourceMetrics, name, unit string, want map[string]string) float64 {
	t.Helper()
	m, ok := find(rm, name)
	if !ok {
		t.Fatalf("no metric %q", name)
	}
	if m.Unit != unit {
		t.Fatalf("%s: unit %q, want %q", name, m.Unit, unit)
	}
	var seen []string
	switch d := m.Data.(type) {
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			if sameAttrs(p.Attributes, want) {
				return float64(p.Count)
			}
			seen = append(seen, fmt.Sprint(attrsOf(p.Attributes)))
		}
	case metricdata.Sum[int64]:
		if !d.IsMonotonic {
			t.Fatalf("%s is not a counter", name)
		}
		for _, p := range d.DataPoints {
			if sameAttrs(p.Attributes, want) {
				return float64(p.Value)
			}
			seen = append(seen, fmt.Sprint(attrsOf(p.Attributes)))
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			if sameAttrs(p.Attributes, want) {
				return float64(p.Value)
			}
			seen = append(seen, fmt.Sprint(attrsOf(p.Attributes)))
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			if sameAttrs(p.Attributes, want) {
				return p.Value
			}
			seen = append(seen, fmt.Sprint(attrsOf(p.Attributes)))
		}
	default:
		t.Fatalf("%s: unexpected data %T", name, m.Data)
	}
	t.Fatalf("%s: no point with %v; points: %v", name, want, seen)
	return 0
}

func TestMetricsPerEventClass(t *testing.T) {
	e := newEnv(t)
	tok := e.iss.Token(authtest.Claims{"sid": "s-1"})

	e.request(tok, true)  // miss, live check active
	e.request(tok, false) // hit
	e.request("", false)  // no token
	now := time.Now()
	e.request(e.iss.Token(authtest.Claims{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}), false)
	e.checker.mu.Lock()
	e.checker.revoked["s-2"] = true
	e.checker.mu.Unlock()
	e.request(e.iss.Token(authtest.Claims{"sid": "s-2"}), true) // revoked
	e.checker.mu.Lock()
	e.checker.err = errors.New("backend down")
	e.checker.mu.Unlock()
	e.request(e.iss.Token(authtest.Claims{"sid": "s-3"}), true) // error, 503
	e.feed.push(core.Revocation{SessionID: "s-9", At: time.Now().Add(-2 * time.Second)})
	e.feed.push(core.Revocation{Behind: true})
	stray := &authtest.Key{ID: "stray", Alg: "RS256", Private: authtest.GenerateKey("RS256")}
	e.request(e.iss.Sign(stray, nil, e.iss.Defaults()), false) // unknown kid

	rm := e.collect()
	cases := []struct {
		name, metric, unit string
		attrs              map[string]string
		want               float64 // count or value; -1: any positive
	}{
		{"a verified token", "authgate.verify.duration", "s",
			map[string]string{"authgate.token.kind": "jwt", "authgate.token.source": "header", "authgate.token.cache": "miss"}, 3},
		{"accepted tokens verified in full", "authgate.authentications", "{request}",
			map[string]string{"authgate.token.kind": "jwt", "authgate.token.source": "header", "authgate.token.cache": "miss"}, 3},
		{"a cached token", "authgate.authentications", "{request}",
			map[string]string{"authgate.token.kind": "jwt", "authgate.token.source": "header", "authgate.token.cache": "hit"}, 1},
		{"no token", "authgate.refusals", "{request}",
			map[string]string{"authgate.reason": "no_token", "http.response.status_code": "401"}, 1},
		{"an expired token", "authgate.refusals", "{request}",
			map[string]string{"authgate.reason": "token_expired", "http.response.status_code": "401"}, 1},
		{"a revoked session", "authgate.refusals", "{request}",
			map[string]string{"authgate.reason": "session_revoked", "http.response.status_code": "401"}, 1},
		{"a session backend failure", "authgate.refusals", "{request}",
			map[string]string{"authgate.reason": "unavailable", "http.response.status_code": "503"}, 1},
		{"an unknown kid refusal", "authgate.refusals", "{request}",
			map[string]string{"authgate.reason": "invalid_token", "http.response.status_code": "401"}, 1},
		{"a live active check", "authgate.session.check.duration", "s",
			map[string]string{"authgate.session.outcome": "active", "authgate.route.sensitive": "true"}, 1},
		{"a live revoked check", "authgate.session.check.duration", "s",
			map[string]string{"authgate.session.outcome": "revoked", "authgate.route.sensitive": "true"}, 1},
		{"a failed check", "authgate.session.check.duration", "s",
			map[string]string{"authgate.session.outcome": "error", "authgate.route.sensitive": "true"}, 1},
		{"the start-up fetch and the unknown-kid refetch", "authgate.keyset.refreshes", "{refresh}",
			map[string]string{"authgate.issuer": e.iss.URL, "authgate.result": "ok"}, 2},
		{"the unknown kid", "authgate.keyset.unknown_kid", "{request}",
			map[string]string{"authgate.issuer": e.iss.URL}, 1},
		{"keys in service", "authgate.keyset.keys", "{key}",
			map[string]string{"authgate.issuer": e.iss.URL}, 1},
		{"revocations heard", "authgate.revocation.lag", "s", map[string]string{}, 1},
		{"the deny set", "authgate.denyset.size", "{session}", map[string]string{}, 1},
		{"feeds behind", "authgate.revocation.feeds_behind", "{feed}", map[string]string{}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := point(t, rm, c.metric, c.unit, c.attrs); got != c.want {
				t.Fatalf("%s%v = %v, want %v", c.metric, c.attrs, got, c.want)
			}
		})
	}
	t.Run("a cache hit is counted but not timed", func(t *testing.T) {
		m, _ := find(rm, "authgate.verify.duration")
		for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
			if attrsOf(p.Attributes)["authgate.token.cache"] == "hit" {
				t.Fatalf("a cache hit in verify.duration: %v", attrsOf(p.Attributes))
			}
		}
	})
	t.Run("the key set's age is a gauge in seconds", func(t *testing.T) {
		age := point(t, rm, "authgate.keyset.age", "s", map[string]string{"authgate.issuer": e.iss.URL})
		if age < 0 || age > 3600 {
			t.Fatalf("age %v", age)
		}
	})
	t.Run("the revocation lag is recorded in seconds", func(t *testing.T) {
		m, _ := find(rm, "authgate.revocation.lag")
		p := m.Data.(metricdata.Histogram[float64]).DataPoints[0]
		if p.Sum < 2 || p.Sum > 600 {
			t.Fatalf("lag sum %v, want about 2s", p.Sum)
		}
	})
}

func TestSpans(t *testing.T) {
	e := newEnv(t)
	tok := e.iss.Token(authtest.Claims{"sid": "s-1"})
	parent, err := e.request(tok, true)
	if err != nil {
		t.Fatal(err)
	}
	e.checker.mu.Lock()
	e.checker.err = errors.New(`Get "https://u:pw@sessions.internal/?key=k3y": refused`)
	e.checker.mu.Unlock()
	failed, _ := e.request(e.iss.Token(authtest.Claims{"sid": "s-2"}), true)
	refusedReq, _ := e.request("", false)

	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range e.spans.Ended() {
		byName[s.Name()] = append(byName[s.Name()], s)
	}

	t.Run("a session check is a child of the request span", func(t *testing.T) {
		checks := byName["authgate.session.check"]
		if len(checks) != 2 {
			t.Fatalf("%d session check spans", len(checks))
		}
		ok, bad := checks[0], checks[1]
		if ok.Parent().SpanID() != parent.SpanID() || ok.SpanContext().TraceID() != parent.TraceID() {
			t.Fatal("the session check span is not a child of the request span")
		}
		if got := attrsOf(attribute.NewSet(ok.Attributes()...)); got["authgate.session.outcome"] != "active" || got["authgate.issuer"] != e.iss.URL {
			t.Fatalf("%v", got)
		}
		if ok.Status().Code == codes.Error || !ok.EndTime().After(ok.StartTime()) && !ok.EndTime().Equal(ok.StartTime()) {
			t.Fatalf("status %v, %v..%v", ok.Status(), ok.StartTime(), ok.EndTime())
		}
		if bad.Parent().SpanID() != failed.SpanID() || bad.Status().Code != codes.Error {
			t.Fatalf("failed check: parent %v status %v", bad.Parent().SpanID(), bad.Status())
		}
		if strings.Contains(bad.Status().Description, "k3y") || strings.Contains(bad.Status().Description, "pw@") {
			t.Fatalf("OP-02 span status holds the URL: %q", bad.Status().Description)
		}
	})
	t.Run("a key-set fetch is a span of its own", func(t *testing.T) {
		fetches := byName["authgate.keyset.fetch"]
		if len(fetches) != 1 {
			t.Fatalf("%d key-set spans", len(fetches))
		}
		got := attrsOf(attribute.NewSet(fetches[0].Attributes()...))
		if got["authgate.issuer"] != e.iss.URL || got["authgate.keyset.keys"] != "1" || got["authgate.result"] != "ok" || fetches[0].SpanKind() != trace.SpanKindClient {
			t.Fatalf("%v", got)
		}
	})
	t.Run("a refusal is an event on the request span", func(t *testing.T) {
		for _, s := range byName["request"] {
			if s.SpanContext().SpanID() != refusedReq.SpanID() {
				continue
			}
			for _, ev := range s.Events() {
				if ev.Name == "authgate.refused" {
					got := attrsOf(attribute.NewSet(ev.Attributes...))
					if got["authgate.reason"] != "no_token" || got["http.response.status_code"] != "401" {
						t.Fatalf("%v", got)
					}
					return
				}
			}
		}
		t.Fatal("no authgate.refused event on the refused request's span")
	})
}

// OP-02: no attribute of any metric or span, and no log line, holds the
// token, a segment of it, the kid, the subject or the session id, unless
// WithIdentity asks for subject and session id on spans.
func TestNoTokenSubjectOrSessionIDInTelemetry(t *testing.T) {
	for _, identity := range []bool{false, true} {
		t.Run(fmt.Sprintf("WithIdentity=%v", identity), func(t *testing.T) {
			var opts []otelauth.Option
			if identity {
				opts = append(opts, otelauth.WithIdentity())
			}
			e := newEnv(t, opts...)
			tok := e.iss.Token(authtest.Claims{"sub": "subject-xyz", "sid": "sid-xyz"})
			e.request(tok, true)
			e.request(tok[:len(tok)-6]+"AAAAAA", true)
			e.feed.push(core.Revocation{SessionID: "sid-xyz", Subject: "subject-xyz", At: time.Now()})
			e.request(tok, true)
			stray := &authtest.Key{ID: "kid-secret-abc", Alg: "RS256", Private: authtest.GenerateKey("RS256")}
			e.request(e.iss.Sign(stray, nil, authtest.Claims{"sub": "subject-xyz", "sid": "sid-xyz"}), false)

			forbidden := append(strings.Split(tok, "."), "kid-secret-abc")
			identityValues := []string{"subject-xyz", "sid-xyz"}

			var texts []string
			rm := e.collect()
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					texts = append(texts, fmt.Sprintf("%+v", m.Data))
				}
			}
			metricText := strings.Join(texts, "\n")
			var spanText strings.Builder
			var sawIdentity bool
			for _, s := range e.spans.Ended() {
				for _, kv := range s.Attributes() {
					fmt.Fprintf(&spanText, "%s=%s\n", kv.Key, kv.Value.Emit())
					if kv.Key == otelauth.AttrSubject && kv.Value.AsString() == "subject-xyz" {
						sawIdentity = true
					}
				}
				for _, ev := range s.Events() {
					for _, kv := range ev.Attributes {
						fmt.Fprintf(&spanText, "%s=%s\n", kv.Key, kv.Value.Emit())
					}
				}
				fmt.Fprintln(&spanText, s.Status().Description)
			}
			logText := e.logs.String()
			for _, s := range forbidden {
				for what, txt := range map[string]string{"metrics": metricText, "spans": spanText.String(), "logs": logText} {
					if strings.Contains(txt, s) {
						t.Fatalf("%s hold %q", what, s)
					}
				}
			}
			for _, s := range identityValues {
				if strings.Contains(metricText, s) || strings.Contains(logText, s) {
					t.Fatalf("metrics or logs hold %q", s)
				}
				if !identity && strings.Contains(spanText.String(), s) {
					t.Fatalf("spans hold %q without WithIdentity", s)
				}
			}
			if identity != sawIdentity {
				t.Fatalf("WithIdentity=%v but subject on a span: %v", identity, sawIdentity)
			}
		})
	}
}

func TestNilProvidersRecordNothingAndWork(t *testing.T) {
	obs, err := otelauth.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	iss := authtest.New(t)
	cfg := iss.Config()
	cfg.Observer = obs
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Authenticate(context.Background(), bearer(iss.Token(nil))); err != nil {
		t.Fatal(err)
	}
}

// The Observer records an accepted token without allocating: a cache hit
// costs as many allocations with it attached (real SDK) as without.
func TestHotPathAllocatesNothingMore(t *testing.T) {
	iss := authtest.New(t)
	tok := iss.Token(nil)
	allocs := func(obs core.Observer) float64 {
		cfg := iss.Config()
		cfg.Observer = obs
		a, err := core.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		req := bearer(tok)
		a.Authenticate(context.Background(), req)
		return testing.AllocsPerRun(500, func() {
			if _, err := a.Authenticate(context.Background(), req); err != nil {
				t.Fatal(err)
			}
		})
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	obs, err := otelauth.New(mp, sdktrace.NewTracerProvider())
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	without, with := allocs(nil), allocs(obs)
	if with != without {
		t.Fatalf("%v allocations per cache hit with otelauth, %v without", with, without)
	}
}

func TestWatchReadsGaugesFromStatus(t *testing.T) {
	e := newEnv(t)
	tok := e.iss.Token(authtest.Claims{"sid": "s-1"})
	e.request(tok, false)
	e.feed.push(core.Revocation{SessionID: "s-8", At: time.Now()})
	e.feed.push(core.Revocation{SessionID: "s-9", At: time.Now()})

	before := e.collect()
	if _, ok := find(before, "authgate.tokencache.entries"); ok {
		m, _ := find(before, "authgate.tokencache.entries")
		if n := len(m.Data.(metricdata.Gauge[int64]).DataPoints); n != 0 {
			t.Fatalf("token cache gauge reported without Watch: %d points", n)
		}
	}
	e.obs.Watch(e.auth)
	rm := e.collect()
	st := e.auth.Status()
	cases := []struct {
		metric, unit string
		attrs        map[string]string
		want         float64
	}{
		{"authgate.tokencache.entries", "{token}", map[string]string{}, float64(st.TokenCacheEntries)},
		{"authgate.denyset.size", "{session}", map[string]string{}, 2},
		{"authgate.keyset.keys", "{key}", map[string]string{"authgate.issuer": e.iss.URL}, 1},
		{"authgate.revocation.feeds_behind", "{feed}", map[string]string{}, 0},
	}
	if st.TokenCacheEntries != 1 {
		t.Fatalf("status: %d cached tokens", st.TokenCacheEntries)
	}
	for _, c := range cases {
		if got := point(t, rm, c.metric, c.unit, c.attrs); got != c.want {
			t.Errorf("%s = %v, want %v", c.metric, got, c.want)
		}
	}
	point(t, rm, "authgate.keyset.age", "s", map[string]string{"authgate.issuer": e.iss.URL})
}
