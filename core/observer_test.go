package core_test

import (
	"bytes"
	"context"
	"errors"
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
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []core.Event
}

func (r *recorder) Observe(_ context.Context, e core.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// take returns and forgets the events of kind k recorded so far.
func (r *recorder) take(k core.EventKind) []core.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var got, rest []core.Event
	for _, e := range r.events {
		if e.Kind == k {
			got = append(got, e)
		} else {
			rest = append(rest, e)
		}
	}
	r.events = rest
	return got
}

// wait returns the first event of kind k, waiting for a background
// goroutine to report it (no timing is asserted: the bound is generous).
func (r *recorder) wait(t *testing.T, k core.EventKind) core.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got := r.take(k); len(got) > 0 {
			return got[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %v event", k)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestObserverAuthenticatedAndRefused(t *testing.T) {
	rec := &recorder{}
	e := newSessEnv(t, func(c *core.Config) { c.Observer = rec })
	ctx := context.Background()
	tok := e.token("session-1")

	steps := []struct {
		name   string
		do     func() error
		kind   core.EventKind
		check  func(t *testing.T, ev core.Event)
		events int
	}{
		{"a first request verifies in full: authenticated, cache miss", func() error { _, err := e.do(ctx, tok, false); return err },
			core.EventAuthenticated, func(t *testing.T, ev core.Event) {
				if ev.Cache != core.CacheMiss || ev.TokenKind != core.KindJWT || ev.Source != core.SourceHeader || ev.Issuer != e.iss.URL {
					t.Fatalf("%+v", ev)
				}
				if ev.Subject != "user-1" || ev.SessionID != "session-1" || ev.Start.IsZero() || ev.Duration < 0 {
					t.Fatalf("%+v", ev)
				}
			}, 1},
		{"the same token again: authenticated, cache hit", func() error { _, err := e.do(ctx, tok, false); return err },
			core.EventAuthenticated, func(t *testing.T, ev core.Event) {
				if ev.Cache != core.CacheHit || !ev.Start.IsZero() || ev.Duration != 0 {
					t.Fatalf("%+v", ev)
				}
			}, 1},
		{"no token: refused no_token 401", func() error {
			_, err := adapter.Admit(e.auth, ctx, sessReq{httptest.NewRequest("GET", "/", nil)}, false)
			return err
		},
			core.EventRefused, func(t *testing.T, ev core.Event) {
				if ev.Class != core.ClassNoToken || ev.Status != 401 {
					t.Fatalf("%+v", ev)
				}
			}, 1},
		{"an expired token: refused token_expired 401", func() error {
			now := e.clock.Now()
			_, err := e.do(ctx, e.iss.Token(authtest.Claims{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}), false)
			return err
		}, core.EventRefused, func(t *testing.T, ev core.Event) {
			if ev.Class != core.ClassTokenExpired || ev.Status != 401 {
				t.Fatalf("%+v", ev)
			}
		}, 1},
		{"a forged token: refused invalid_token, never authenticated", func() error {
			_, err := e.do(ctx, tok[:len(tok)-6]+"AAAAAA", false)
			return err
		}, core.EventRefused, func(t *testing.T, ev core.Event) {
			if ev.Class != core.ClassInvalidToken || ev.Status != 401 {
				t.Fatalf("%+v", ev)
			}
		}, 1},
		{"a missing scope at Require: refused insufficient_scope 403", func() error {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			c, err := adapter.Admit(e.auth, ctx, sessReq{r}, false)
			if err != nil {
				return err
			}
			rec.take(core.EventAuthenticated)
			return core.Require(c, core.Requirements{Scopes: []string{"admin"}})
		}, core.EventRefused, func(t *testing.T, ev core.Event) {
			if ev.Class != core.ClassInsufficientScope || ev.Status != 403 {
				t.Fatalf("%+v", ev)
			}
		}, 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do()
			got := rec.take(s.kind)
			if len(got) != s.events {
				t.Fatalf("%d %v events, want %d", len(got), s.kind, s.events)
			}
			s.check(t, got[0])
			if s.kind == core.EventRefused {
				if a := rec.take(core.EventAuthenticated); len(a) != 0 && s.name != "a missing scope at Require: refused insufficient_scope 403" {
					t.Fatalf("refused request also reported authenticated: %+v", a)
				}
			}
		})
	}

	t.Run("EX-14 an anonymous request on an optional route is not a refusal", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		if _, err := adapter.Admit(e.auth, ctx, sessReq{r}, true); err != nil {
			t.Fatal(err)
		}
		if got := rec.take(core.EventRefused); len(got) != 0 {
			t.Fatalf("%+v", got)
		}
	})
}

func TestObserverSessionCheckOutcomes(t *testing.T) {
	cases := []struct {
		name    string
		mut     func(c *core.Config)
		prepare func(e *sessEnv, tok string)
		want    core.SessionOutcome
		status  int
	}{
		{"a live active answer", nil, nil, core.OutcomeActive, 200},
		{"a live revoked answer", nil, func(e *sessEnv, _ string) { e.checker.revoke("s-1") }, core.OutcomeRevoked, 401},
		{"a failing backend", nil, func(e *sessEnv, _ string) {
			e.checker.set(func(f *stubChecker) { f.err = errors.New("redis: connection refused") })
		}, core.OutcomeError, 503},
		{"a reused answer", func(c *core.Config) { c.SessionCheck.SensitiveCacheTTL = time.Minute }, func(e *sessEnv, tok string) {
			if _, err := e.do(context.Background(), tok, true); err != nil {
				e.t.Fatal(err)
			}
		}, core.OutcomeCached, 200},
		{"SS-14 fail-open within MaxStale", func(c *core.Config) { c.SessionCheck.MaxStale = time.Minute }, func(e *sessEnv, tok string) {
			if _, err := e.do(context.Background(), tok, true); err != nil {
				e.t.Fatal(err)
			}
			e.checker.set(func(f *stubChecker) { f.err = errors.New("down") })
		}, core.OutcomeFailOpen, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			e := newSessEnv(t, func(cfg *core.Config) {
				cfg.Observer = rec
				if c.mut != nil {
					c.mut(cfg)
				}
			})
			tok := e.token("s-1")
			if c.prepare != nil {
				c.prepare(e, tok)
			}
			rec.take(core.EventSessionCheck)
			_, err := e.do(context.Background(), tok, true)
			if statusOf(err) != c.status {
				t.Fatalf("status %d (%v), want %d", statusOf(err), err, c.status)
			}
			got := rec.take(core.EventSessionCheck)
			if len(got) != 1 {
				t.Fatalf("%d session check events: %+v", len(got), got)
			}
			ev := got[0]
			if ev.Outcome != c.want || !ev.Sensitive || ev.Issuer != e.iss.URL || ev.SessionID != "s-1" || ev.Start.IsZero() {
				t.Fatalf("got %+v, want outcome %v", ev, c.want)
			}
			if (ev.Err != nil) != (c.want == core.OutcomeError) {
				t.Fatalf("Err %v for outcome %v", ev.Err, ev.Outcome)
			}
		})
	}
}

func TestObserverKeySetAndUnknownKID(t *testing.T) {
	rec := &recorder{}
	iss := authtest.New(t)
	a := newAuth(t, iss, func(c *core.Config) { c.Observer = rec })

	t.Run("the start-up fetch is reported with its key count", func(t *testing.T) {
		ev := rec.wait(t, core.EventKeySetRefresh)
		if ev.Err != nil || ev.Keys != 1 || ev.Issuer != iss.URL || ev.Age != 0 || ev.Start.IsZero() {
			t.Fatalf("%+v", ev)
		}
	})
	t.Run("an unknown kid is reported, without the kid", func(t *testing.T) {
		stray := authtest.GenerateKey("RS256")
		tok := iss.Sign(&authtest.Key{ID: "stray-kid-123", Alg: "RS256", Private: stray}, nil, iss.Defaults())
		if _, err := a.Authenticate(context.Background(), bearer(tok)); !errors.Is(err, core.ErrInvalidToken) {
			t.Fatalf("got %v", err)
		}
		ev := rec.wait(t, core.EventUnknownKID)
		if ev.Issuer != iss.URL {
			t.Fatalf("%+v", ev)
		}
		if refresh := rec.wait(t, core.EventKeySetRefresh); refresh.Err != nil || refresh.Keys != 1 {
			t.Fatalf("the refetch it caused: %+v", refresh)
		}
	})
	t.Run("a failed fetch is reported with its error and no keys", func(t *testing.T) {
		down := authtest.New(t)
		down.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }))
		rec := &recorder{}
		newAuth(t, down, func(c *core.Config) {
			c.Observer, c.AllowStartWithoutKeys = rec, true
			c.Logger = slog.New(slog.DiscardHandler)
		})
		ev := rec.wait(t, core.EventKeySetRefresh)
		if ev.Err == nil || ev.Keys != 0 || !strings.Contains(ev.Err.Error(), "503") || ev.Issuer != down.URL {
			t.Fatalf("%+v", ev)
		}
	})
}

func TestObserverRevocationsAndFeedBehind(t *testing.T) {
	rec := &recorder{}
	feed := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Observer = rec; c.Revocations = feed })
	now := e.clock.Now()

	feed.push(core.Revocation{SessionID: "s-9", Subject: "user-9", At: now.Add(-4 * time.Second)})
	ev := rec.wait(t, core.EventRevocation)
	if ev.Lag != 4*time.Second || ev.DenySetSize != 1 || ev.SessionID != "s-9" {
		t.Fatalf("%+v", ev)
	}
	feed.push(core.Revocation{SessionID: "s-10", At: now.Add(time.Hour)})
	if ev := rec.wait(t, core.EventRevocation); ev.Lag != 0 || ev.DenySetSize != 2 {
		t.Fatalf("a revocation dated in the future has no lag: %+v", ev)
	}

	feed.push(core.Revocation{Behind: true})
	if ev := rec.wait(t, core.EventFeedBehind); !ev.Behind || ev.FeedsBehind != 1 {
		t.Fatalf("%+v", ev)
	}
	feed.push(core.Revocation{Behind: true}) // no change: no event
	feed.push(core.Revocation{Behind: false})
	if got := rec.take(core.EventFeedBehind); len(got) != 1 || got[0].Behind || got[0].FeedsBehind != 0 {
		t.Fatalf("%+v", got)
	}
}

// OP-05: a panicking observer changes no answer, and is logged once.
func TestPanickingObserverBreaksNoRequest(t *testing.T) {
	var logs bytes.Buffer
	var calls int
	iss := authtest.New(t)
	a := newAuth(t, iss, func(c *core.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.Observer = core.ObserverFunc(func(context.Context, core.Event) { calls++; panic("observer exploded") })
	})
	tok := iss.Token(nil)
	for range 3 {
		if _, err := adapter.Admit(a, context.Background(), bearer(tok), false); err != nil {
			t.Fatalf("admitted request failed: %v", err)
		}
		if _, err := adapter.Admit(a, context.Background(), bearer(""), false); !errors.Is(err, core.ErrNoToken) {
			t.Fatalf("refusal changed: %v", err)
		}
	}
	if calls < 6 {
		t.Fatalf("observer called %d times", calls)
	}
	if n := strings.Count(logs.String(), "Observer panicked"); n != 1 {
		t.Fatalf("%d panic logs (want 1, rate-limited):\n%s", n, logs.String())
	}
}

// OP-02: refusals are logged at debug with their class; no token, token
// segment, subject or session id appears in any log line or event text.
func TestLogsAndEventsHoldNoTokenOrIdentity(t *testing.T) {
	var logs bytes.Buffer
	rec := &recorder{}
	e := newSessEnv(t, func(c *core.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Observer = rec
	})
	ctx := context.Background()
	tok := e.token("sid-secret-77")
	bad := tok[:len(tok)-6] + "AAAAAA"
	e.do(ctx, tok, true)
	e.do(ctx, bad, false)
	now := e.clock.Now()
	expired := e.iss.Token(authtest.Claims{"sid": "sid-secret-77", "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})
	e.do(ctx, expired, false)
	e.checker.set(func(f *stubChecker) { f.err = errors.New("backend down") })
	e.do(ctx, tok, true)

	out := logs.String()
	if !strings.Contains(out, `"reason":"invalid_token"`) || !strings.Contains(out, `"reason":"token_expired"`) || !strings.Contains(out, `"level":"DEBUG"`) {
		t.Fatalf("refusals not logged at debug with their class:\n%s", out)
	}
	if !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, "backend down") {
		t.Fatalf("backend failure not logged at warn:\n%s", out)
	}
	secrets := []string{"user-1", "sid-secret-77"}
	for _, t0 := range []string{tok, bad, expired} {
		secrets = append(secrets, strings.Split(t0, ".")...)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Fatalf("log holds %q:\n%s", s, out)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, ev := range rec.events {
		txt := ev.Class
		if ev.Err != nil {
			txt += ev.Err.Error()
		}
		for _, s := range secrets {
			if strings.Contains(txt, s) {
				t.Fatalf("event text holds %q: %+v", s, ev)
			}
		}
	}
}

func TestReasonOf(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{core.ErrNoToken, "no_token"},
		{core.ErrInvalidRequest, "invalid_request"},
		{core.ErrInvalidToken, "invalid_token"},
		{core.ErrTokenExpired, "token_expired"},
		{core.ErrSessionRevoked, "session_revoked"},
		{core.ErrInsufficientScope, "insufficient_scope"},
		{core.ErrForbidden, "forbidden"},
		{core.ErrCrossOrigin, "cross_origin"},
		{core.ErrUnavailable, "unavailable"},
		{core.ErrMisconfigured, "misconfigured"},
		{errors.New("some other error"), "invalid_token"},
	}
	for _, c := range cases {
		if got := core.ClassOf(c.err); got != c.want {
			t.Errorf("ClassOf(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// The seam itself allocates nothing: a request costs as many allocations
// with a (no-op) observer attached as without one.
func TestObserverSeamAddsNoAllocation(t *testing.T) {
	iss := authtest.New(t)
	bare := newAuth(t, iss)
	observed := newAuth(t, iss, func(c *core.Config) {
		c.Observer = core.ObserverFunc(func(context.Context, core.Event) {})
	})
	tok := iss.Token(nil)
	req := bearer(tok)
	ctx := context.Background()
	for _, a := range []*core.Authenticator{bare, observed} {
		if _, err := adapter.Admit(a, ctx, req, false); err != nil { // fills the token cache
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		f    func(a *core.Authenticator)
	}{
		{"cache hit", func(a *core.Authenticator) { a.Authenticate(ctx, req) }},
		{"refusal", func(a *core.Authenticator) { adapter.Admit(a, ctx, bearer(""), false) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			without := testing.AllocsPerRun(200, func() { c.f(bare) })
			with := testing.AllocsPerRun(200, func() { c.f(observed) })
			if with != without {
				t.Fatalf("%v allocations with an observer, %v without", with, without)
			}
		})
	}
}

func BenchmarkObserverSeam(b *testing.B) {
	iss := authtest.New(b)
	for _, c := range []struct {
		name string
		obs  core.Observer
	}{
		{"none", nil},
		{"noop", core.ObserverFunc(func(context.Context, core.Event) {})},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg := iss.Config()
			cfg.Observer = c.obs
			a, err := core.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			req := bearer(iss.Token(nil))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
