// Package otelauth reports what an authgate Authenticator does as
// OpenTelemetry metrics and spans. It uses the OpenTelemetry API only: the
// application chooses and configures the SDK and exporters.
//
//	obs, err := otelauth.New(meterProvider, tracerProvider)
//	...
//	cfg.Observer = obs
//	auth, err := core.New(ctx, cfg)
//
// Metrics (all names start with "authgate."):
//
//	authgate.authentications          counter    {request}  accepted tokens {authgate.token.kind, authgate.token.source, authgate.token.cache}
//	authgate.verify.duration          histogram  s          time to verify and check an accepted token that the verified-token
//	                                                        cache did not hold {authgate.token.kind, authgate.token.source, authgate.token.cache}
//	authgate.refusals                 counter    {request}  refused requests {authgate.reason, http.response.status_code}
//	authgate.session.check.duration   histogram  s          session decisions {authgate.session.outcome, authgate.route.sensitive}
//	authgate.keyset.refreshes         counter    {refresh}  key-set fetches {authgate.issuer, authgate.result}
//	authgate.keyset.age               gauge      s          age of the keys in service {authgate.issuer}
//	authgate.keyset.keys              gauge      {key}      keys in service {authgate.issuer}
//	authgate.keyset.unknown_kid       counter    {request}  tokens naming a key id the issuer does not publish {authgate.issuer}
//	authgate.revocation.lag           histogram  s          delay between a revocation and this process hearing of it
//	authgate.denyset.size             gauge      {session}  revoked sessions remembered (as of the last revocation heard)
//	authgate.revocation.feeds_behind  gauge      {feed}     revocation feeds that may be missing revocations
//	authgate.tokencache.entries       gauge      {token}    tokens in the verified-token cache (with Watch only)
//
// The gauges come from events, or, once [Observer.Watch] is called, from
// the Authenticator's Status at each collection (more exact: the deny set
// shrinks as entries expire, static key sets are included).
//
// Spans: "authgate.session.check" for every session decision and
// "authgate.keyset.fetch" for every key-set fetch, children of the span in
// the context the event came with (the request's span for a session check;
// key-set fetches run in the background and usually start a trace of their
// own). They are recorded when the work has ended, with its start and end
// times, so spans of a session backend's own instrumentation are their
// siblings, not their children. A refusal and an unknown key id are added as
// events ("authgate.refused", "authgate.unknown_kid") to the request's span
// when it is recording.
//
// No attribute ever holds a token or a key id. Subject and session id are
// left out unless [WithIdentity] is given, and even then appear on spans
// only, never on metrics.
package otelauth

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/authgate/authgate/core"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/authgate/authgate/otelauth"

// Attribute keys.
const (
	AttrTokenKind      = attribute.Key("authgate.token.kind")       // "jwt", "opaque"
	AttrTokenSource    = attribute.Key("authgate.token.source")     // "header", "cookie", "custom-header", "query"
	AttrTokenCache     = attribute.Key("authgate.token.cache")      // "hit", "miss", "off"
	AttrReason         = attribute.Key("authgate.reason")           // core.ClassOf classes
	AttrStatusCode     = attribute.Key("http.response.status_code") // the refusal's HTTP status
	AttrSessionOutcome = attribute.Key("authgate.session.outcome")  // "active", "cached", "revoked", "error", "fail_open"
	AttrSensitive      = attribute.Key("authgate.route.sensitive")
	AttrIssuer         = attribute.Key("authgate.issuer")
	AttrResult         = attribute.Key("authgate.result") // "ok", "error"
	AttrKeys           = attribute.Key("authgate.keyset.keys")
	AttrSubject        = attribute.Key("enduser.id") // WithIdentity only
	AttrSessionID      = attribute.Key("session.id") // WithIdentity only
)

// Option configures New.
type Option func(*options)

type options struct {
	identity bool
}

// WithIdentity adds the subject (enduser.id) and session id (session.id) to
// session-check spans. Off by default: they identify people, and traces
// often travel further than logs. They are never metric attributes.
func WithIdentity() Option { return func(o *options) { o.identity = true } }

var _ core.CacheHitCounter = (*Observer)(nil)

// Observer is a core.Observer that records metrics and spans. Create it
// with New, put it in core.Config.Observer, and Close it after the
// Authenticator.
type Observer struct {
	identity bool
	tracer   trace.Tracer

	verify   metric.Float64Histogram
	refusals metric.Int64Counter
	session  metric.Float64Histogram
	refresh  metric.Int64Counter
	unknown  metric.Int64Counter
	lag      metric.Float64Histogram
	reg      metric.Registration

	// Precomputed attribute sets, as options: the hot path builds and
	// allocates none.
	acceptAttrs [3][5][3]metric.ObserveOption // kind, source, cache
	// accepted counts accepted tokens in memory (an atomic add per request,
	// far cheaper than a synchronous SDK measurement), striped so that
	// requests on different cores do not fight over one cache line; the
	// asynchronous counter authgate.authentications reports the sums at
	// collection.
	accepted     []acceptedStripe               // len a power of two
	stripeShift  uint                           // 64 - log2(len(accepted))
	verifyAttrs  [3][5][3][]metric.RecordOption // kind, source, cache
	sessionAttrs [6][2][]metric.RecordOption    // outcome, sensitive
	refusalAttrs sync.Map                       // refusalKey -> []metric.AddOption (bounded: fixed reasons x statuses)

	mu      sync.Mutex
	issuers map[string]*issuerState

	denySize    atomic.Int64
	feedsBehind atomic.Int64
	watched     atomic.Pointer[core.Authenticator]
}

// acceptedStripe is one stripe of the accepted-token counters, by kind,
// source and cache result. The padding keeps two stripes off a shared cache
// line whatever the alignment of the slice.
type acceptedStripe struct {
	n [3][5][3]atomic.Int64
	_ [cacheLine]byte
}

// cacheLine is the coherence unit of the CPUs Go runs on (64 bytes; 128 on
// some arm64, where two stripes may then share a line: slower, still exact).
const cacheLine = 64

// stripe picks the stripe of the calling goroutine from the address of its
// stack: stable while the goroutine runs (so a core keeps writing its own
// lines), different between goroutines (stacks are distinct allocations of
// at least 2 KiB). Only the choice of stripe depends on it, never a count.
func (o *Observer) stripe() *acceptedStripe {
	var local byte
	h := uint64(uintptr(unsafe.Pointer(&local)) >> 11) // drop the offset within a stack
	return &o.accepted[(h*0x9e3779b97f4a7c15)>>o.stripeShift]
}

// stripes returns how many stripes New allocates: a power of two, four per
// P (so that goroutines on different Ps rarely share one), from 8 to 256.
func stripes() (n int, shift uint) {
	n, shift = 8, 61
	for n < 4*runtime.GOMAXPROCS(0) && n < 256 {
		n, shift = n*2, shift-1
	}
	return n, shift
}

type issuerState struct {
	loaded time.Time // when the keys in service were fetched; zero: none
	keys   int
}

type refusalKey struct {
	reason string
	status int
}

// New creates an Observer on the given providers. A nil provider records
// nothing of its kind (no global provider is used).
func New(mp metric.MeterProvider, tp trace.TracerProvider, opts ...Option) (*Observer, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	m := mp.Meter(ScopeName)
	ob := &Observer{identity: o.identity, tracer: tp.Tracer(ScopeName), issuers: map[string]*issuerState{}}
	n, shift := stripes()
	ob.accepted, ob.stripeShift = make([]acceptedStripe, n), shift

	var errs [12]error
	accepted, e11 := m.Int64ObservableCounter("authgate.authentications", metric.WithUnit("{request}"),
		metric.WithDescription("Accepted tokens, by kind, source and verified-token cache result."))
	ob.verify, errs[0] = m.Float64Histogram("authgate.verify.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to verify and check an accepted token the verified-token cache did not hold."),
		metric.WithExplicitBucketBoundaries(0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1))
	ob.refusals, errs[1] = m.Int64Counter("authgate.refusals", metric.WithUnit("{request}"),
		metric.WithDescription("Requests refused, by reason class and HTTP status."))
	ob.session, errs[2] = m.Float64Histogram("authgate.session.check.duration", metric.WithUnit("s"),
		metric.WithDescription("Session decisions (live check, cached answer, revoked, error, fail-open) and their time."),
		metric.WithExplicitBucketBoundaries(0.00001, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3))
	ob.refresh, errs[3] = m.Int64Counter("authgate.keyset.refreshes", metric.WithUnit("{refresh}"),
		metric.WithDescription("Key-set (JWKS) fetches, by issuer and result."))
	ob.unknown, errs[4] = m.Int64Counter("authgate.keyset.unknown_kid", metric.WithUnit("{request}"),
		metric.WithDescription("Tokens naming a key id the issuer's key set does not hold."))
	ob.lag, errs[5] = m.Float64Histogram("authgate.revocation.lag", metric.WithUnit("s"),
		metric.WithDescription("Delay between a session's revocation and this process hearing of it."),
		metric.WithExplicitBucketBoundaries(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300))
	age, e6 := m.Float64ObservableGauge("authgate.keyset.age", metric.WithUnit("s"),
		metric.WithDescription("Age of the keys in service, by issuer."))
	keys, e7 := m.Int64ObservableGauge("authgate.keyset.keys", metric.WithUnit("{key}"),
		metric.WithDescription("Keys in service, by issuer."))
	deny, e8 := m.Int64ObservableGauge("authgate.denyset.size", metric.WithUnit("{session}"),
		metric.WithDescription("Revoked sessions remembered, as of the last revocation heard."))
	behind, e9 := m.Int64ObservableGauge("authgate.revocation.feeds_behind", metric.WithUnit("{feed}"),
		metric.WithDescription("Revocation feeds that may be missing revocations (requests are checked live meanwhile)."))
	errs[6], errs[7], errs[8], errs[9] = e6, e7, e8, e9
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	cacheEntries, e10 := m.Int64ObservableGauge("authgate.tokencache.entries", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens in the verified-token cache (reported once Watch is called)."))
	if err := errors.Join(e10, e11); err != nil {
		return nil, err
	}
	ob.reg, errs[10] = m.RegisterCallback(func(_ context.Context, obs metric.Observer) error {
		var sum [3][5][3]int64
		for i := range ob.accepted {
			st := &ob.accepted[i].n
			for k := range st {
				for s := range st[k] {
					for c := range st[k][s] {
						sum[k][s][c] += st[k][s][c].Load()
					}
				}
			}
		}
		for k := range sum {
			for s := range sum[k] {
				for c := range sum[k][s] {
					if n := sum[k][s][c]; n > 0 {
						obs.ObserveInt64(accepted, n, ob.acceptAttrs[k][s][c])
					}
				}
			}
		}
		if a := ob.watched.Load(); a != nil {
			// Read the authenticator's own state: exact, and ages by its clock.
			st := a.Status()
			for _, is := range st.Issuers {
				attrs := metric.WithAttributes(AttrIssuer.String(is.Issuer))
				if !is.LoadedAt.IsZero() {
					obs.ObserveFloat64(age, is.AgeSeconds, attrs)
				}
				obs.ObserveInt64(keys, int64(len(is.KeyIDs)), attrs)
			}
			obs.ObserveInt64(deny, int64(st.Revocations.DenySetSize))
			obs.ObserveInt64(behind, int64(st.Revocations.Behind))
			obs.ObserveInt64(cacheEntries, int64(st.TokenCacheEntries))
			return nil
		}
		now := time.Now()
		ob.mu.Lock()
		for iss, st := range ob.issuers {
			attrs := metric.WithAttributes(AttrIssuer.String(iss))
			if !st.loaded.IsZero() {
				obs.ObserveFloat64(age, max(0, now.Sub(st.loaded)).Seconds(), attrs)
			}
			obs.ObserveInt64(keys, int64(st.keys), attrs)
		}
		ob.mu.Unlock()
		obs.ObserveInt64(deny, ob.denySize.Load())
		obs.ObserveInt64(behind, ob.feedsBehind.Load())
		return nil
	}, age, keys, deny, behind, cacheEntries, accepted)
	if errs[10] != nil {
		return nil, errs[10]
	}

	for k := range ob.verifyAttrs {
		for s := range ob.verifyAttrs[k] {
			for c := range ob.verifyAttrs[k][s] {
				set := metric.WithAttributeSet(attribute.NewSet(
					AttrTokenKind.String(core.Kind(k).String()),
					AttrTokenSource.String(core.Source(s).String()),
					AttrTokenCache.String(core.CacheResult(c).String())))
				ob.acceptAttrs[k][s][c] = set
				ob.verifyAttrs[k][s][c] = []metric.RecordOption{set}
			}
		}
	}
	for out := range ob.sessionAttrs {
		for sens := range ob.sessionAttrs[out] {
			ob.sessionAttrs[out][sens] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(
				AttrSessionOutcome.String(core.SessionOutcome(out).String()),
				AttrSensitive.Bool(sens == 1)))}
		}
	}
	return ob, nil
}

// Close unregisters the gauges' callback. Call it after closing the
// Authenticator.
func (o *Observer) Close() error { return o.reg.Unregister() }

// Watch makes the gauges read a's [core.Authenticator.Status] at each
// collection: exact deny-set size, key-set ages by a's clock, static key
// sets too, and authgate.tokencache.entries. Without it the gauges are kept
// from events. Call it once a is built (the Observer goes into a's Config
// first); one Observer watches one Authenticator.
func (o *Observer) Watch(a *core.Authenticator) { o.watched.Store(a) }

// Observe records one event. It implements core.Observer.
func (o *Observer) Observe(ctx context.Context, e core.Event) {
	switch e.Kind {
	case core.EventAuthenticated:
		k, s, c := idx(int(e.TokenKind), 3), idx(int(e.Source), 5), idx(int(e.Cache), 3)
		o.stripe().n[k][s][c].Add(1)
		if !e.Start.IsZero() { // a cache hit is not timed
			o.verify.Record(ctx, e.Duration.Seconds(), o.verifyAttrs[k][s][c]...)
		}
	case core.EventRefused:
		o.refusals.Add(ctx, 1, o.refusalAttr(e.Class, e.Status)...)
		if sp := trace.SpanFromContext(ctx); sp.IsRecording() {
			sp.AddEvent("authgate.refused", trace.WithAttributes(AttrReason.String(e.Class), AttrStatusCode.Int(e.Status)))
		}
	case core.EventSessionCheck:
		sens := 0
		if e.Sensitive {
			sens = 1
		}
		o.session.Record(ctx, e.Duration.Seconds(), o.sessionAttrs[idx(int(e.Outcome), 6)][sens]...)
		o.sessionSpan(ctx, e)
	case core.EventKeySetRefresh:
		o.keySetRefresh(ctx, e)
	case core.EventUnknownKID:
		o.unknown.Add(ctx, 1, metric.WithAttributes(AttrIssuer.String(e.Issuer)))
		if sp := trace.SpanFromContext(ctx); sp.IsRecording() {
			sp.AddEvent("authgate.unknown_kid", trace.WithAttributes(AttrIssuer.String(e.Issuer)))
		}
	case core.EventRevocation:
		o.lag.Record(ctx, e.Lag.Seconds())
		o.denySize.Store(int64(e.DenySetSize))
	case core.EventFeedBehind:
		o.feedsBehind.Store(int64(e.FeedsBehind))
	}
}

// CountCacheHit counts a token the verified-token cache served, in
// authgate.authentications (authgate.token.cache "hit"). It implements
// core.CacheHitCounter: core calls it instead of Observe for its most
// frequent event, without building an Event.
func (o *Observer) CountCacheHit(kind core.Kind, source core.Source) {
	o.stripe().n[idx(int(kind), 3)][idx(int(source), 5)][core.CacheHit].Add(1)
}

// idx clamps an enum value to [0, n): out of range is 0 ("unknown").
func idx(v, n int) int {
	if v < 0 || v >= n {
		return 0
	}
	return v
}

func (o *Observer) refusalAttr(reason string, status int) []metric.AddOption {
	k := refusalKey{reason, status}
	if v, ok := o.refusalAttrs.Load(k); ok {
		return v.([]metric.AddOption)
	}
	opt := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(AttrReason.String(reason), AttrStatusCode.Int(status)))}
	v, _ := o.refusalAttrs.LoadOrStore(k, opt)
	return v.([]metric.AddOption)
}

func (o *Observer) sessionSpan(ctx context.Context, e core.Event) {
	attrs := []attribute.KeyValue{
		AttrSessionOutcome.String(e.Outcome.String()),
		AttrSensitive.Bool(e.Sensitive),
		AttrIssuer.String(e.Issuer),
	}
	if o.identity {
		attrs = append(attrs, AttrSubject.String(e.Subject), AttrSessionID.String(e.SessionID))
	}
	_, sp := o.tracer.Start(ctx, "authgate.session.check", trace.WithTimestamp(e.Start),
		trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	if e.Outcome == core.OutcomeError {
		msg := "session backend failed"
		if e.Err != nil {
			msg = e.Err.Error() // URLs removed by core
		}
		sp.SetStatus(codes.Error, msg)
	}
	sp.End(trace.WithTimestamp(e.Start.Add(e.Duration)))
}

func (o *Observer) keySetRefresh(ctx context.Context, e core.Event) {
	result := "ok"
	if e.Err != nil {
		result = "error"
	}
	o.refresh.Add(ctx, 1, metric.WithAttributes(AttrIssuer.String(e.Issuer), AttrResult.String(result)))
	end := e.Start.Add(e.Duration)
	o.mu.Lock()
	st := o.issuers[e.Issuer]
	if st == nil {
		st = &issuerState{}
		o.issuers[e.Issuer] = st
	}
	st.keys = e.Keys
	switch {
	case e.Keys == 0:
		st.loaded = time.Time{}
	case e.Err == nil:
		st.loaded = end
	default:
		st.loaded = end.Add(-e.Age)
	}
	o.mu.Unlock()

	_, sp := o.tracer.Start(ctx, "authgate.keyset.fetch", trace.WithTimestamp(e.Start),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(AttrIssuer.String(e.Issuer), AttrKeys.Int(e.Keys), AttrResult.String(result)))
	if e.Err != nil {
		sp.SetStatus(codes.Error, e.Err.Error()) // URLs removed by core
	}
	sp.End(trace.WithTimestamp(end))
}
