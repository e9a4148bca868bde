package core_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storekit"
)

// sessReq is the core's view of a *http.Request in these tests.
type sessReq struct{ r *http.Request }

func (q sessReq) Method() string              { return q.r.Method }
func (q sessReq) Host() string                { return q.r.Host }
func (q sessReq) Header(name string) []string { return q.r.Header[name] }
func (q sessReq) RawQuery() string            { return q.r.URL.RawQuery }

// sessClock is a settable clock shared by the issuer and the authenticator.
type sessClock struct {
	mu sync.Mutex
	t  time.Time
}

func newSessClock() *sessClock { return &sessClock{t: time.Now().Truncate(time.Second)} }
func (c *sessClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *sessClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// stubChecker is a SessionChecker that counts its calls and can be made to
// revoke, fail, block or panic.
type stubChecker struct {
	calls atomic.Int64

	mu        sync.Mutex
	revoked   map[string]bool
	err       error
	block     chan struct{} // when set, Check waits for it to close
	ignoreCtx bool          // while blocked, ignore ctx (a checker that hangs for good)
	panics    bool
	started   chan struct{} // when set, receives one value per call
	honors    bool          // HonorsContext: the first caller runs the check itself
	stacks    []string      // with honors, the call stack of each call
}

func (f *stubChecker) HonorsContext() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.honors }

func (f *stubChecker) Check(ctx context.Context, sid string) (core.SessionState, error) {
	f.calls.Add(1)
	f.mu.Lock()
	block, ignore, err, pan, rev, started := f.block, f.ignoreCtx, f.err, f.panics, f.revoked[sid], f.started
	if f.honors {
		buf := make([]byte, 64<<10)
		f.stacks = append(f.stacks, string(buf[:runtime.Stack(buf, false)]))
	}
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if block != nil {
		if ignore {
			<-block
		} else {
			select {
			case <-block:
			case <-ctx.Done():
				return core.StateRevoked, ctx.Err()
			}
		}
	}
	if pan {
		panic("checker exploded")
	}
	if err != nil {
		return core.StateRevoked, err
	}
	if rev {
		return core.StateRevoked, nil
	}
	return core.StateActive, nil
}

func (f *stubChecker) set(fn func(f *stubChecker)) { f.mu.Lock(); fn(f); f.mu.Unlock() }

func (f *stubChecker) revoke(sid string) {
	f.set(func(f *stubChecker) {
		if f.revoked == nil {
			f.revoked = map[string]bool{}
		}
		f.revoked[sid] = true
	})
}

// feed is a RevocationFeed the test pushes to.
type stubFeed struct {
	mu  sync.Mutex
	fns map[int]func(core.Revocation)
	n   int
}

func (f *stubFeed) SubscribeRevocations(_ context.Context, fn func(core.Revocation)) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fns == nil {
		f.fns = map[int]func(core.Revocation){}
	}
	id := f.n
	f.n++
	f.fns[id] = fn
	return func() { f.mu.Lock(); delete(f.fns, id); f.mu.Unlock() }, nil
}

func (f *stubFeed) push(r core.Revocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fn := range f.fns {
		fn(r)
	}
}

func (f *stubFeed) subscribers() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.fns) }

type sessEnv struct {
	t       *testing.T
	iss     *authtest.Issuer
	auth    *core.Authenticator
	clock   *sessClock
	checker *stubChecker
}

func newSessEnv(t *testing.T, mut func(c *core.Config)) *sessEnv {
	t.Helper()
	e := &sessEnv{t: t, clock: newSessClock(), checker: &stubChecker{}}
	e.iss = authtest.New(t, authtest.WithClock(e.clock.Now))
	cfg := e.iss.Config()
	cfg.Now = e.clock.Now
	cfg.Sessions = e.checker
	if mut != nil {
		mut(&cfg)
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.auth = a
	return e
}

func (e *sessEnv) token(sid string) string {
	now := e.clock.Now()
	c := authtest.Claims{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if sid == "" {
		c["sid"] = nil
	} else {
		c["sid"] = sid
	}
	return e.iss.Token(c)
}

// do runs one request through Admit and, for a sensitive route, Require.
func (e *sessEnv) do(ctx context.Context, tok string, sensitive bool) (*core.Principal, error) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ctx, err := adapter.Admit(e.auth, ctx, sessReq{r}, false)
	if err != nil {
		return nil, err
	}
	if sensitive {
		if err := core.Require(ctx, core.Requirements{Sensitive: true}); err != nil {
			return nil, err
		}
	}
	p, _ := core.PrincipalFrom(ctx)
	return p, nil
}

func statusOf(err error) int {
	if err == nil {
		return 200
	}
	var e *core.Error
	if !errors.As(err, &e) {
		return -1
	}
	return e.Status
}

// waitShared waits until n goroutines wait on a shared session check, by
// reading goroutine stacks (no sleeps as synchronisation).
func waitShared(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	buf := make([]byte, 8<<20)
	for {
		k := runtime.Stack(buf, true)
		count := 0
		for _, g := range strings.Split(string(buf[:k]), "\n\n") {
			if strings.Contains(g, " [select") && strings.Contains(g, "core.(*sessionPolicy).shared(") {
				count++
			}
		}
		if count >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests joined the shared check", count, n)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func TestPolicyDecidesWhichRoutesAreChecked(t *testing.T) {
	cases := []struct {
		name      string
		policy    core.Policy
		sensitive bool
		calls     int64
	}{
		{"PolicySensitiveOnly: non-sensitive route makes no backend call (SS-19)", core.PolicySensitiveOnly, false, 0},
		{"PolicySensitiveOnly: sensitive route is checked live", core.PolicySensitiveOnly, true, 1},
		{"Always: non-sensitive route is checked live", core.PolicyAlways, false, 1},
		{"Always: sensitive route is checked once", core.PolicyAlways, true, 1},
		{"Never: not even sensitive routes are checked", core.PolicyNever, true, 0},
		{"Never: non-sensitive", core.PolicyNever, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSessEnv(t, func(c *core.Config) { c.SessionPolicy = tc.policy })
			p, err := e.do(context.Background(), e.token("s-1"), tc.sensitive)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.checker.calls.Load(); got != tc.calls {
				t.Fatalf("%d backend calls, want %d", got, tc.calls)
			}
			if p.SessionChecked != (tc.calls > 0) {
				t.Fatalf("SessionChecked = %v", p.SessionChecked)
			}
			e.checker.revoke("s-1")
			_, err = e.do(context.Background(), e.token("s-1"), tc.sensitive)
			if tc.calls > 0 && !errors.Is(err, core.ErrSessionRevoked) {
				t.Fatalf("SS-01: revoked session on a checked route: %v", err)
			}
			if tc.calls == 0 && err != nil {
				t.Fatalf("unchecked route refused: %v", err)
			}
		})
	}
}

func TestSessionIDIsRequiredAndValidatedOnCheckedRoutes(t *testing.T) {
	e := newSessEnv(t, nil)
	for _, sid := range []string{"", "a/b", "..", "../admin", "a?b", "a#b", "a%2Fb", "a\r\nb", "{sid}", "*", "a b", strings.Repeat("x", 300)} {
		_, err := e.do(context.Background(), e.token(sid), true)
		if statusOf(err) != 401 || !errors.Is(err, core.ErrInvalidToken) {
			t.Errorf("CL-16: sid %q on a sensitive route: %v, want 401 invalid_token", sid, err)
		}
		if sid == "" {
			if _, err := e.do(context.Background(), e.token(sid), false); err != nil {
				t.Errorf("a token without sid is fine on a non-sensitive route: %v", err)
			}
		}
	}
	nonString := e.iss.Token(authtest.Claims{"sid": 42})
	if _, err := e.do(context.Background(), nonString, true); statusOf(err) != 401 {
		t.Errorf("CL-16: non-string sid: %v", err)
	}
	if n := e.checker.calls.Load(); n != 0 {
		t.Fatalf("CL-16: %d backend calls for unusable sids, want 0", n)
	}
}

func TestNoCheckerButCheckNeededIs500(t *testing.T) {
	e := newSessEnv(t, func(c *core.Config) { c.Sessions = nil })
	if _, err := e.do(context.Background(), e.token("s-1"), false); err != nil {
		t.Fatalf("non-sensitive route without checker: %v", err)
	}
	_, err := e.do(context.Background(), e.token("s-1"), true)
	if statusOf(err) != 500 || !errors.Is(err, core.ErrMisconfigured) {
		t.Fatalf("sensitive route without checker: %v, want 500 ErrMisconfigured", err)
	}
	iss := authtest.New(t)
	cfg := iss.Config()
	cfg.SessionPolicy = core.PolicyAlways
	if _, err := core.New(context.Background(), cfg); !errors.Is(err, core.ErrConfig) {
		t.Fatalf("PolicyAlways without a checker must fail New: %v", err)
	}
}

func TestIssuerSessionsOverrideConfigSessions(t *testing.T) {
	other := &stubChecker{}
	var e *sessEnv
	e = newSessEnv(t, func(c *core.Config) {
		ic := core.IssuerConfig{Issuer: c.Issuer, Audience: c.Audience, Sessions: other}
		c.Issuer, c.Audience = "", nil
		c.Issuers = []core.IssuerConfig{ic}
	})
	if _, err := e.do(context.Background(), e.token("s-1"), true); err != nil {
		t.Fatal(err)
	}
	if other.calls.Load() != 1 || e.checker.calls.Load() != 0 {
		t.Fatalf("issuer checker %d calls, config checker %d; want 1 and 0", other.calls.Load(), e.checker.calls.Load())
	}
}

func TestCheckerFailuresAre503(t *testing.T) {
	cases := []struct {
		name string
		set  func(f *stubChecker)
	}{
		{"error (backend down, SS-08)", func(f *stubChecker) { f.err = errors.New("connection refused") }},
		{"hangs but honours ctx (SS-09)", func(f *stubChecker) { f.block = make(chan struct{}) }},
		{"hangs and ignores ctx (SS-09)", func(f *stubChecker) { f.block = make(chan struct{}); f.ignoreCtx = true }},
		{"panics (SS-07)", func(f *stubChecker) { f.panics = true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newSessEnv(t, func(c *core.Config) { c.SessionCheck.Timeout = 50 * time.Millisecond })
			e.checker.set(tc.set)
			defer e.checker.set(func(f *stubChecker) {
				if f.block != nil {
					close(f.block)
				}
			})
			_, err := e.do(context.Background(), e.token("s-1"), true)
			if statusOf(err) != 503 || !errors.Is(err, core.ErrUnavailable) {
				t.Fatalf("%v, want 503", err)
			}
			resp := adapter.Render(e.auth, err)
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if _, err := e.do(context.Background(), e.token("s-1"), false); err != nil {
				t.Fatalf("SS-08: non-sensitive route affected by the outage: %v", err)
			}
		})
	}
}

// TestConcurrentChecksShareOneBackendCall pins SS-07 under the revocation
// rule, with a revocation feed: requests arriving while a call runs do not
// take its answer (it may have been read before a revocation the feed has
// not delivered yet, issue 14 schedule 2); they share the next call, so a
// burst costs two calls. When the options allow a cached answer
// (SensitiveCacheTTL), the burst shares one call.
func TestConcurrentChecksShareOneBackendCall(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cacheTTL  time.Duration
		wantCalls int64
	}{
		{"fresh answers (default)", 0, 2},
		{"cached answers allowed", time.Minute, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSessEnv(t, func(c *core.Config) {
				c.SessionCheck.Timeout = 30 * time.Second // generous: joining takes long on a loaded machine
				c.SessionCheck.SensitiveCacheTTL = tc.cacheTTL
				c.Revocations = &stubFeed{}
			})
			release := make(chan struct{})
			e.checker.set(func(f *stubChecker) { f.block = release })
			tok := e.token("s-1")
			const n = 100
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { _, errs[i] = e.do(context.Background(), tok, true) })
			}
			waitShared(t, n)
			close(release)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			if got := e.checker.calls.Load(); got != tc.wantCalls {
				t.Fatalf("SS-07: %d backend calls for %d concurrent requests, want %d", got, n, tc.wantCalls)
			}
		})
	}
}

func TestCancelledLeaderFailsNobodyElse(t *testing.T) {
	// With or without a feed, the requests that arrived after the leader's
	// call began do not take its answer: they share one more call.
	t.Run("with a revocation feed", func(t *testing.T) { testCancelledLeader(t, true) })
	t.Run("without a feed", func(t *testing.T) { testCancelledLeader(t, false) })
}

func testCancelledLeader(t *testing.T, withFeed bool) {
	e := newSessEnv(t, func(c *core.Config) {
		c.SessionCheck.Timeout = 30 * time.Second // generous: joining takes long on a loaded machine
		if withFeed {
			c.Revocations = &stubFeed{}
		}
	})
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	e.checker.set(func(f *stubChecker) { f.block = release; f.started = started })
	tok := e.token("s-1")
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() { _, err := e.do(leaderCtx, tok, true); leaderErr <- err }()
	<-started // the leader's call is running
	e.checker.set(func(f *stubChecker) { f.started = nil })
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = e.do(context.Background(), tok, true) })
	}
	waitShared(t, n+1)
	cancel()
	if err := <-leaderErr; statusOf(err) != 503 {
		t.Fatalf("cancelled leader: %v", err)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("SS-07: request %d failed because the leader was cancelled: %v", i, err)
		}
	}
	if got := e.checker.calls.Load(); got != 2 {
		t.Fatalf("%d backend calls, want 2 (the leader's, and one for all that arrived during it)", got)
	}
}

// A checker that honours its context (ContextHonorer: redisstore with
// ContextTimeoutEnabled, the HTTP checker) is called on the first
// request's own goroutine; requests arriving meanwhile still share one
// more call that began after they arrived (the revocation rule), a
// cancelled first request fails nobody else, and a panic is a 503.
func TestLeaderRunsAContextHonouringCheckItself(t *testing.T) {
	e := newSessEnv(t, func(c *core.Config) { c.SessionCheck.Timeout = 30 * time.Second })
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	e.checker.set(func(f *stubChecker) { f.honors = true; f.block = release; f.started = started })
	tok := e.token("s-1")
	leaderCtx, cancel := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() { _, err := e.do(leaderCtx, tok, true); leaderErr <- err }()
	<-started
	e.checker.set(func(f *stubChecker) { f.started = nil })
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = e.do(context.Background(), tok, true) })
	}
	waitShared(t, n) // the followers wait; the leader is inside the checker
	cancel()         // the leader's client goes away: its call goes on for the others
	select {
	case err := <-leaderErr:
		t.Fatalf("the leader left its own call before it ended: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	if err := <-leaderErr; err != nil {
		t.Fatalf("the leader's call ended active, yet: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got := e.checker.calls.Load(); got != 2 {
		t.Fatalf("%d backend calls, want 2 (the leader's, and one begun after the others arrived)", got)
	}
	e.checker.mu.Lock()
	stacks := append([]string(nil), e.checker.stacks...)
	e.checker.mu.Unlock()
	if len(stacks) != 2 {
		t.Fatalf("%d stacks recorded", len(stacks))
	}
	if strings.Contains(stacks[0], ").run(") || !strings.Contains(stacks[0], "core.Require(") {
		t.Fatalf("the first call did not run on the request's goroutine:\n%s", stacks[0])
	}
	if !strings.Contains(stacks[1], ").run(") {
		t.Fatalf("the followers' call did not run on a goroutine of its own:\n%s", stacks[1])
	}

	e.checker.set(func(f *stubChecker) { f.block = nil; f.panics = true })
	if _, err := e.do(context.Background(), tok, true); statusOf(err) != 503 {
		t.Fatalf("a panicking check on the request's goroutine: %v, want 503", err)
	}
	e.checker.set(func(f *stubChecker) { f.panics = false })
	e.checker.revoke("s-1")
	if _, err := e.do(context.Background(), tok, true); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("revoked at the backend: %v", err)
	}
}

func TestPanickingCheckerFailsEveryWaiterAndProcessSurvives(t *testing.T) {
	e := newSessEnv(t, func(c *core.Config) { c.SessionCheck.Timeout = 30 * time.Second }) // generous: joining takes long on a loaded machine
	release := make(chan struct{})
	e.checker.set(func(f *stubChecker) { f.block = release; f.panics = true })
	tok := e.token("s-1")
	const n = 30
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = e.do(context.Background(), tok, true) })
	}
	waitShared(t, n)
	close(release)
	wg.Wait()
	for i, err := range errs {
		if statusOf(err) != 503 {
			t.Fatalf("SS-07: waiter %d of a panicking check: %v, want 503", i, err)
		}
	}
	e.checker.set(func(f *stubChecker) { f.panics = false; f.block = nil })
	if _, err := e.do(context.Background(), tok, true); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
}

func TestRevokeDuringSharedCheck(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd; c.SessionCheck.Timeout = 30 * time.Second })
	release := make(chan struct{})
	e.checker.set(func(f *stubChecker) { f.block = release })
	tok := e.token("s-1")
	const n = 50
	before := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, before[i] = e.do(context.Background(), tok, true) })
	}
	waitShared(t, n)
	fd.push(core.Revocation{SessionID: "s-1", Issuer: e.iss.URL, At: e.clock.Now()})
	// Requests that start after the revocation: refused whatever the
	// in-flight call answers (SS-04).
	after := make([]error, n)
	var wg2 sync.WaitGroup
	for i := range n {
		wg2.Go(func() { _, after[i] = e.do(context.Background(), tok, i%2 == 0) })
	}
	wg2.Wait()
	close(release) // the pre-revocation call answers "active"
	wg.Wait()
	for i := range n {
		if !errors.Is(after[i], core.ErrSessionRevoked) {
			t.Fatalf("SS-04: request started after the revoke: %v", after[i])
		}
		if !errors.Is(before[i], core.ErrSessionRevoked) {
			t.Fatalf("SS-04: shared answer from before the revoke let a request through: %v", before[i])
		}
	}
}

func TestCacheTTL(t *testing.T) {
	e := newSessEnv(t, func(c *core.Config) {
		c.SessionPolicy = core.PolicyAlways
		c.SessionCheck.CacheTTL = time.Minute
	})
	tok := e.token("s-1")
	for range 3 {
		if _, err := e.do(context.Background(), tok, false); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.checker.calls.Load(); n != 1 {
		t.Fatalf("non-sensitive requests within CacheTTL: %d calls, want 1", n)
	}
	if _, err := e.do(context.Background(), tok, true); err != nil {
		t.Fatal(err)
	}
	if n := e.checker.calls.Load(); n != 2 {
		t.Fatalf("SS-06: a sensitive route must not use CacheTTL: %d calls, want 2", n)
	}
	// Revoked at the backend (no feed): accepted on non-sensitive routes for
	// at most CacheTTL (SS-06), never on sensitive ones.
	e.checker.revoke("s-1")
	e.clock.Advance(59 * time.Second)
	if _, err := e.do(context.Background(), tok, false); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	if _, err := e.do(context.Background(), tok, true); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("sensitive route used the cache: %v", err)
	}
	// The negative answer now wins over the cached positive (SS-05).
	if _, err := e.do(context.Background(), tok, false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("SS-05: positive cache outlived a negative answer: %v", err)
	}
}

func TestCacheTTLExpires(t *testing.T) {
	e := newSessEnv(t, func(c *core.Config) {
		c.SessionPolicy = core.PolicyAlways
		c.SessionCheck.CacheTTL = time.Minute
	})
	tok := e.token("s-1")
	if _, err := e.do(context.Background(), tok, false); err != nil {
		t.Fatal(err)
	}
	e.checker.revoke("s-1")
	e.clock.Advance(time.Minute)
	if _, err := e.do(context.Background(), tok, false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("SS-06: revoked session accepted after CacheTTL: %v", err)
	}
}

func TestSensitiveCacheTTL(t *testing.T) {
	e := newSessEnv(t, func(c *core.Config) { c.SessionCheck.SensitiveCacheTTL = 10 * time.Second })
	tok := e.token("s-1")
	for range 3 {
		if _, err := e.do(context.Background(), tok, true); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.checker.calls.Load(); n != 1 {
		t.Fatalf("%d calls within SensitiveCacheTTL, want 1", n)
	}
	e.clock.Advance(10 * time.Second)
	if _, err := e.do(context.Background(), tok, true); err != nil {
		t.Fatal(err)
	}
	if n := e.checker.calls.Load(); n != 2 {
		t.Fatalf("%d calls after SensitiveCacheTTL, want 2", n)
	}
}

func TestFailOpen(t *testing.T) {
	down := errors.New("backend down")
	t.Run("fail closed by default", func(t *testing.T) {
		e := newSessEnv(t, nil)
		tok := e.token("s-1")
		if _, err := e.do(context.Background(), tok, true); err != nil {
			t.Fatal(err)
		}
		e.checker.set(func(f *stubChecker) { f.err = down })
		if _, err := e.do(context.Background(), tok, true); statusOf(err) != 503 {
			t.Fatalf("%v, want 503", err)
		}
	})
	t.Run("MaxStale accepts only recently confirmed sessions (SS-14)", func(t *testing.T) {
		fd := &stubFeed{}
		e := newSessEnv(t, func(c *core.Config) { c.SessionCheck.MaxStale = 5 * time.Minute; c.Revocations = fd })
		tok := e.token("s-1")
		if _, err := e.do(context.Background(), tok, true); err != nil {
			t.Fatal(err)
		}
		e.checker.set(func(f *stubChecker) { f.err = down })
		e.clock.Advance(4 * time.Minute)
		p, err := e.do(context.Background(), tok, true)
		if err != nil {
			t.Fatalf("confirmed 4m ago, MaxStale 5m: %v", err)
		}
		if p.SessionChecked {
			t.Fatal("a fail-open acceptance must not claim a live check")
		}
		if n := e.checker.calls.Load(); n != 2 {
			t.Fatalf("fail-open must still try the backend: %d calls", n)
		}
		if _, err := e.do(context.Background(), e.token("never-seen"), true); statusOf(err) != 503 {
			t.Fatalf("SS-14: never-confirmed session during an outage: %v, want 503", err)
		}
		e.clock.Advance(time.Minute + time.Second)
		if _, err := e.do(context.Background(), tok, true); statusOf(err) != 503 {
			t.Fatalf("SS-14: past MaxStale: %v, want 503", err)
		}
	})
	t.Run("MaxStale never accepts a revoked session (SS-14)", func(t *testing.T) {
		fd := &stubFeed{}
		e := newSessEnv(t, func(c *core.Config) { c.SessionCheck.MaxStale = 5 * time.Minute; c.Revocations = fd })
		tok, tok2 := e.token("s-1"), e.token("s-2")
		for _, tk := range []string{tok, tok2} {
			if _, err := e.do(context.Background(), tk, true); err != nil {
				t.Fatal(err)
			}
		}
		fd.push(core.Revocation{SessionID: "s-1", At: e.clock.Now()})
		e.checker.revoke("s-2")
		if _, err := e.do(context.Background(), tok2, true); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatal(err)
		}
		e.checker.set(func(f *stubChecker) { f.err = down })
		for _, tk := range []string{tok, tok2} {
			if _, err := e.do(context.Background(), tk, true); !errors.Is(err, core.ErrSessionRevoked) {
				t.Fatalf("SS-14: revoked session during an outage: %v, want 401", err)
			}
		}
	})
}

func TestMaxInFlightBoundsBackendCalls(t *testing.T) {
	e := newSessEnv(t, func(c *core.Config) { c.SessionCheck.MaxInFlight = 2; c.SessionCheck.Timeout = 30 * time.Second })
	release := make(chan struct{})
	e.checker.set(func(f *stubChecker) { f.block = release })
	var wg sync.WaitGroup
	for i := range 2 {
		tok := e.token("busy-" + string(rune('a'+i)))
		wg.Go(func() { e.do(context.Background(), tok, true) })
	}
	waitShared(t, 2)
	for e.checker.calls.Load() < 2 {
		runtime.Gosched()
	}
	if _, err := e.do(context.Background(), e.token("third"), true); statusOf(err) != 503 {
		t.Fatalf("SS-09: check beyond MaxInFlight: %v, want 503 at once", err)
	}
	close(release)
	wg.Wait()
	if n := e.checker.calls.Load(); n != 2 {
		t.Fatalf("%d backend calls, want 2", n)
	}
}

func TestDenySet(t *testing.T) {
	t.Run("a fed revocation is refused on every route with no lookup (SS-02)", func(t *testing.T) {
		fd := &stubFeed{}
		e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
		tok := e.token("s-1")
		fd.push(core.Revocation{SessionID: "s-1", Issuer: e.iss.URL, At: e.clock.Now()})
		for _, sensitive := range []bool{false, true} {
			if _, err := e.do(context.Background(), tok, sensitive); !errors.Is(err, core.ErrSessionRevoked) || statusOf(err) != 401 {
				t.Fatalf("sensitive=%v: %v", sensitive, err)
			}
		}
		if n := e.checker.calls.Load(); n != 0 {
			t.Fatalf("deny set hit cost %d backend calls", n)
		}
		if _, err := e.do(context.Background(), e.token("s-2"), false); err != nil {
			t.Fatalf("another session refused: %v", err)
		}
	})
	t.Run("keyed by (issuer, sid) (CL-15)", func(t *testing.T) {
		fd := &stubFeed{}
		clk := newSessClock()
		iss1 := authtest.New(t, authtest.WithClock(clk.Now))
		iss2 := authtest.New(t, authtest.WithClock(clk.Now))
		a, err := core.New(context.Background(), core.Config{
			Issuers:     []core.IssuerConfig{iss1.IssuerConfig(), iss2.IssuerConfig()},
			Revocations: fd, Sessions: &stubChecker{}, Now: clk.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		e := &sessEnv{t: t, auth: a, clock: clk}
		t1, t2 := iss1.Token(authtest.Claims{"sid": "same"}), iss2.Token(authtest.Claims{"sid": "same"})
		fd.push(core.Revocation{SessionID: "same", Issuer: iss1.URL, At: clk.Now()})
		if _, err := e.do(context.Background(), t1, false); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatalf("revoked issuer's token: %v", err)
		}
		if _, err := e.do(context.Background(), t2, true); err != nil {
			t.Fatalf("CL-15: the other issuer's session with the same sid was refused: %v", err)
		}
		fd.push(core.Revocation{SessionID: "same", At: clk.Now()}) // empty issuer: every issuer
		if _, err := e.do(context.Background(), t2, false); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatalf("issuer-less revocation must apply to every issuer: %v", err)
		}
	})
	t.Run("retention is MaxTokenLifetime + 3 Leeway, not the token's exp (SS-15)", func(t *testing.T) {
		fd := &stubFeed{}
		e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd; c.MaxTokenLifetime = time.Hour; c.Leeway = 30 * time.Second })
		logoutTok := e.iss.Token(authtest.Claims{"sid": "s-1", "exp": e.clock.Now().Add(5 * time.Minute).Unix()})
		fd.push(core.Revocation{SessionID: "s-1", Issuer: e.iss.URL, At: e.clock.Now()})
		if _, err := e.do(context.Background(), logoutTok, false); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatal(err)
		}
		e.clock.Advance(59 * time.Minute) // long after the logout token's exp
		if _, err := e.do(context.Background(), e.token("s-1"), false); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatalf("SS-15: a newer token with the revoked sid was accepted: %v", err)
		}
		e.clock.Advance(2*time.Minute + 29*time.Second) // 1 s before lifetime + 3 leeway
		if _, err := e.do(context.Background(), e.token("s-1"), false); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatalf("entry dropped before its retention: %v", err)
		}
		e.clock.Advance(2 * time.Second) // past it: no token minted before the revocation can be accepted
		if _, err := e.do(context.Background(), e.token("s-1"), false); err != nil {
			t.Fatalf("entry kept past its retention: %v", err)
		}
	})
	t.Run("a token from an issuer clock running ahead stays refused until it can no longer be accepted (issue 14 schedule 6)", func(t *testing.T) {
		fd := &stubFeed{}
		e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd; c.MaxTokenLifetime = time.Hour; c.Leeway = 30 * time.Second })
		t0 := e.clock.Now()
		// The issuer's clock is 20 s ahead: its 1 h token says iat t0+20s.
		ahead := e.iss.Token(authtest.Claims{"sid": "s-1", "iat": t0.Add(20 * time.Second).Unix(), "exp": t0.Add(time.Hour + 20*time.Second).Unix()})
		if _, err := e.do(context.Background(), ahead, false); err != nil {
			t.Fatalf("the token is acceptable before the revocation: %v", err)
		}
		fd.push(core.Revocation{SessionID: "s-1", Issuer: e.iss.URL, At: t0})
		// It is accepted (exp + leeway) until t0+1h0m50s: refused at every
		// second of the old gap (1h0m31s..1h0m49s) and just before the end.
		e.clock.Advance(time.Hour + 29*time.Second)
		for e.clock.Now().Before(t0.Add(time.Hour + 50*time.Second)) {
			if _, err := e.do(context.Background(), ahead, false); !errors.Is(err, core.ErrSessionRevoked) {
				t.Fatalf("at t0+%v the revoked session's token got: %v, want revoked", e.clock.Now().Sub(t0), err)
			}
			e.clock.Advance(time.Second)
		}
	})
	t.Run("a token that names a session must carry iat", func(t *testing.T) {
		e := newSessEnv(t, nil)
		noIat := e.iss.Token(authtest.Claims{"sid": "s-1", "iat": nil})
		if _, err := e.do(context.Background(), noIat, false); statusOf(err) != 401 {
			t.Fatalf("sid without iat: %v, want 401", err)
		}
		if _, err := e.do(context.Background(), e.iss.Token(authtest.Claims{"iat": nil, "sid": nil}), false); err != nil {
			t.Fatalf("a token naming no session needs no iat: %v", err)
		}
	})
	t.Run("full deny set falls back to live checks on every route (SS-15)", func(t *testing.T) {
		fd := &stubFeed{}
		e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd; c.SessionCheck.DenySetSize = 2 })
		for _, sid := range []string{"r-1", "r-2", "r-3"} {
			e.checker.revoke(sid)
			fd.push(core.Revocation{SessionID: sid, Issuer: e.iss.URL, At: e.clock.Now()})
		}
		for _, sid := range []string{"r-1", "r-2", "r-3"} {
			if _, err := e.do(context.Background(), e.token(sid), false); !errors.Is(err, core.ErrSessionRevoked) {
				t.Fatalf("SS-15: %s accepted after the deny set filled: %v", sid, err)
			}
		}
		before := e.checker.calls.Load()
		if _, err := e.do(context.Background(), e.token("alive"), false); err != nil {
			t.Fatal(err)
		}
		if e.checker.calls.Load() != before+1 {
			t.Fatal("after an overflow, non-sensitive routes must be checked live")
		}
		e.clock.Advance(24*time.Hour + 2*time.Minute) // past 24h + 3 leeway: the lost revocation can no longer matter
		before = e.checker.calls.Load()
		if _, err := e.do(context.Background(), e.token("alive"), false); err != nil {
			t.Fatal(err)
		}
		if e.checker.calls.Load() != before {
			t.Fatal("live checks on non-sensitive routes continued past the overflow's retention")
		}
	})
	t.Run("a feed that is behind forces live checks until it catches up", func(t *testing.T) {
		fd := &stubFeed{}
		e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
		tok := e.token("s-1")
		fd.push(core.Revocation{Behind: true})
		fd.push(core.Revocation{Behind: true}) // repeated: still one feed behind
		e.checker.revoke("s-1")                // revoked while the feed was down
		if _, err := e.do(context.Background(), tok, false); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatalf("non-sensitive route while the feed is behind: %v", err)
		}
		fd.push(core.Revocation{Behind: false})
		before := e.checker.calls.Load()
		if _, err := e.do(context.Background(), e.token("s-2"), false); err != nil {
			t.Fatal(err)
		}
		if e.checker.calls.Load() != before {
			t.Fatal("live checks continued after the feed caught up")
		}
	})
	t.Run("behind without a checker is 503, not an open door", func(t *testing.T) {
		fd := &stubFeed{}
		e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd; c.Sessions = nil })
		fd.push(core.Revocation{Behind: true})
		if _, err := e.do(context.Background(), e.token("s-1"), false); statusOf(err) != 503 {
			t.Fatalf("%v, want 503", err)
		}
		// A token without a session id may be covered by a subject cutoff
		// the feed has not delivered yet, and no live check can tell.
		if _, err := e.do(context.Background(), e.token(""), false); statusOf(err) != 503 {
			t.Fatalf("a token without a session id while the feed is behind: %v, want 503", err)
		}
	})
	t.Run("subscriptions end with Close", func(t *testing.T) {
		fd := &stubFeed{}
		e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
		if fd.subscribers() != 1 {
			t.Fatalf("%d subscribers, want 1", fd.subscribers())
		}
		e.auth.Close()
		if fd.subscribers() != 0 {
			t.Fatal("Close did not stop the revocation subscription")
		}
	})
}

// sliceFeed is a feed of a non-comparable type.
type sliceFeed struct {
	_ []int
	f *stubFeed
}

func (s sliceFeed) SubscribeRevocations(ctx context.Context, fn func(core.Revocation)) (func(), error) {
	return s.f.SubscribeRevocations(ctx, fn)
}
func (s sliceFeed) Check(context.Context, string) (core.SessionState, error) {
	return core.StateActive, nil
}

func TestFeedsAreFoundOnSessionsAndDeduplicated(t *testing.T) {
	fd := &stubFeed{}
	sf := sliceFeed{f: fd}
	e := newSessEnv(t, func(c *core.Config) { c.Sessions = sf })
	if fd.subscribers() != 1 {
		t.Fatalf("%d subscriptions to a Sessions value that is a feed, want 1", fd.subscribers())
	}
	fd.push(core.Revocation{SessionID: "s-1", At: e.clock.Now()})
	if _, err := e.do(context.Background(), e.token("s-1"), false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatal(err)
	}
	store := core.NewMemoryStore(core.StoreOptions{Audit: core.AuditFunc(func(context.Context, core.AuditEvent) {})})
	defer store.Close()
	e2 := newSessEnv(t, func(c *core.Config) { c.Sessions, c.Opaque = store, store })
	s, _, _ := store.Create(context.Background(), core.SessionParams{Subject: "u"})
	store.Revoke(context.Background(), s.ID)
	if _, err := e2.do(context.Background(), e2.token(s.ID), false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatal(err)
	}
}

func TestOpaqueFloodCostsNoBackendCalls(t *testing.T) {
	checker := &stubChecker{}
	e := newOpaqueEnv(t, func(c *core.Config) { c.Sessions = checker })
	for range 10000 {
		tok, _ := storekit.NewOpaqueToken()
		if _, err := e.authenticate(tok); statusOf(err) != 401 {
			t.Fatalf("random token: %v", err)
		}
	}
	if n := checker.calls.Load(); n != 0 {
		t.Fatalf("SS-12: %d checker calls for random opaque tokens", n)
	}
}

func TestCacheIsKeyedByIssuerAndSessionID(t *testing.T) {
	clk := newSessClock()
	iss1 := authtest.New(t, authtest.WithClock(clk.Now))
	iss2 := authtest.New(t, authtest.WithClock(clk.Now))
	c1, c2 := &stubChecker{}, &stubChecker{}
	c2.revoke("same")
	ic1, ic2 := iss1.IssuerConfig(), iss2.IssuerConfig()
	ic1.Sessions, ic2.Sessions = c1, c2
	a, err := core.New(context.Background(), core.Config{
		Issuers: []core.IssuerConfig{ic1, ic2}, Now: clk.Now,
		SessionPolicy: core.PolicyAlways,
		SessionCheck:  core.SessionCheckOptions{CacheTTL: time.Hour, SensitiveCacheTTL: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	e := &sessEnv{t: t, auth: a, clock: clk}
	if _, err := e.do(context.Background(), iss1.Token(authtest.Claims{"sid": "same"}), true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.do(context.Background(), iss2.Token(authtest.Claims{"sid": "same"}), false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("CL-15: issuer 1's cached answer served issuer 2's session: %v", err)
	}
	if c1.calls.Load() != 1 || c2.calls.Load() != 1 {
		t.Fatalf("calls %d/%d, want 1/1", c1.calls.Load(), c2.calls.Load())
	}
}

func TestNoGoroutineLeftAfterATimedOutCheck(t *testing.T) {
	e := newSessEnv(t, func(c *core.Config) { c.SessionCheck.Timeout = 50 * time.Millisecond })
	started := make(chan struct{}, 1)
	e.checker.set(func(f *stubChecker) { f.block = make(chan struct{}); f.started = started }) // hangs, honours ctx
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := e.do(ctx, e.token("s-1"), true); done <- err }()
	<-started
	cancel() // the client disconnects
	if err := <-done; statusOf(err) != 503 {
		t.Fatalf("%v, want 503", err)
	}
	// The shared call ends at its own timeout; nothing of it may remain.
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 8<<20)
	for {
		n := runtime.Stack(buf, true)
		if !strings.Contains(string(buf[:n]), "core.(*sessionPolicy).shared") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("SS-09: a session check goroutine outlived its timeout:\n%s", buf[:n])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
