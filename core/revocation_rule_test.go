package core_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storekit"
)

// Regression tests for the schedules of issue 14 ("Revocation that cannot
// be outrun") that concern core alone. The rule: a request is admitted only
// on an answer read after it arrived, unless the configuration explicitly
// allows a cached answer.

// slowFirstAnswer is a backend whose state is read at the start of each
// call and whose first answer is held back until release is closed: the
// schedule in which a revocation is acknowledged while a call that read
// "active" is still in flight.
type slowFirstAnswer struct {
	revoked  atomic.Bool
	calls    atomic.Int32
	answered chan struct{} // one value per call, once it has read the state
	release  chan struct{}
}

func newSlowFirstAnswer() *slowFirstAnswer {
	return &slowFirstAnswer{answered: make(chan struct{}, 256), release: make(chan struct{})}
}

// read records a call and returns whether the credential is active.
func (b *slowFirstAnswer) read() bool {
	n := b.calls.Add(1)
	active := !b.revoked.Load()
	b.answered <- struct{}{}
	if n == 1 {
		<-b.release
	}
	return active
}

// afterRevocation runs `first` so that its backend call has read "active",
// then revokes at the backend, then starts n requests, lets the first call
// answer, and returns the statuses of the first and of the later requests.
func (b *slowFirstAnswer) afterRevocation(t *testing.T, n int, do func() int) (int, []int) {
	t.Helper()
	var wg sync.WaitGroup
	var first int
	wg.Go(func() { first = do() })
	<-b.answered          // the first call has read "active"
	b.revoked.Store(true) // the backend acknowledges the revocation
	later := make([]int, n)
	for i := range n {
		wg.Go(func() { later[i] = do() })
	}
	time.Sleep(100 * time.Millisecond) // lets them reach the shared call
	close(b.release)
	wg.Wait()
	return first, later
}

func statusOfAdmit(a *core.Authenticator, tok string, sensitive bool) int {
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ctx, err := adapter.Admit(a, context.Background(), adapter.HTTPRequest(r), false)
	if err == nil && sensitive {
		err = core.Require(ctx, core.Requirements{Sensitive: true})
	}
	if err != nil {
		return adapter.Render(a, err).Status
	}
	return http.StatusOK
}

// Schedule 1: a request that starts after the authorization server
// acknowledged a revocation never takes the "active" of an introspection
// that began before it, on plain and sensitive routes.
func TestIntrospectionAfterRevocationGetsItsOwnAnswer(t *testing.T) {
	for _, sensitive := range []bool{false, true} {
		t.Run(fmt.Sprintf("sensitive=%v", sensitive), func(t *testing.T) {
			b := newSlowFirstAnswer()
			stub := newIntrospectionStub(t, func(string) (int, string) {
				if b.read() {
					return 200, `{"active":true,"sub":"u1","sid":"s-1","iss":"https://as.example","aud":"orders-api"}`
				}
				return 200, `{"active":false}`
			})
			in := newIntrospector(t, stub.URL, func(o *core.IntrospectionOptions) {
				o.Timeout = 20 * time.Second // generous: the later requests wait for the first call
			})
			defer in.Close()
			a, err := core.New(context.Background(), core.Config{Opaque: in, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			tok, _ := storekit.NewOpaqueToken()
			first, later := b.afterRevocation(t, 8, func() int { return statusOfAdmit(a, tok, sensitive) })
			if first != 200 {
				t.Errorf("request that started before the revocation: %d, want 200", first)
			}
			for i, st := range later {
				if st != 401 {
					t.Errorf("request %d started after the revocation: %d, want 401", i, st)
				}
			}
			if n := b.calls.Load(); n != 2 {
				t.Errorf("%d introspection calls, want 2 (the first, and one shared by all that arrived during it)", n)
			}
		})
	}
}

// Schedule 2: a revocation feed subscribed for one backend (a MemoryStore
// as Opaque) does not switch freshness off for another that has none (an
// HTTP session endpoint as Sessions).
func TestFeedForOneBackendKeepsFreshAnswersForAnother(t *testing.T) {
	b := newSlowFirstAnswer()
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !b.read() {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer ep.Close()
	chk, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: ep.URL + "/sessions/{sid}"})
	if err != nil {
		t.Fatal(err)
	}
	store := core.NewMemoryStore(core.StoreOptions{Audit: core.NewSlogAudit(quiet)})
	defer store.Close()
	iss := authtest.New(t)
	cfg := iss.Config()
	cfg.Sessions = chk
	cfg.Opaque = store // a RevocationFeed, subscribed automatically
	cfg.SessionCheck.Timeout = 20 * time.Second
	cfg.Logger = quiet
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if f := a.Status().Revocations.Feeds; f != 1 {
		t.Fatalf("%d feeds subscribed, want 1 (the store)", f)
	}
	tok := iss.Token(authtest.Claims{"sid": "s-1"})
	first, later := b.afterRevocation(t, 8, func() int { return statusOfAdmit(a, tok, true) })
	if first != 200 {
		t.Errorf("request that started before the revocation: %d, want 200", first)
	}
	for i, st := range later {
		if st != 401 {
			t.Errorf("sensitive request %d started after the endpoint revoked: %d, want 401", i, st)
		}
	}
}

// blockingChecker holds every call of a session in block until released,
// and answers active; it counts calls per session.
type blockingChecker struct {
	mu      sync.Mutex
	block   map[string]chan struct{}
	started chan string
	revoked map[string]bool
	failing atomic.Bool
}

func (c *blockingChecker) Check(ctx context.Context, sid string) (core.SessionState, error) {
	c.mu.Lock()
	ch := c.block[sid]
	rev := c.revoked[sid]
	c.mu.Unlock()
	if c.started != nil {
		c.started <- sid
	}
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return core.StateRevoked, ctx.Err()
		}
	}
	if c.failing.Load() {
		return core.StateRevoked, fmt.Errorf("backend down")
	}
	if rev {
		return core.StateRevoked, nil
	}
	return core.StateActive, nil
}

// Schedule 5: with MaxStale set, saturating MaxInFlight (with checks of
// one's own sessions) must not turn a sensitive route's live check into a
// cached answer: 503, while the backend would say revoked. A real outage
// still fails open within MaxStale (positive control).
func TestMaxInFlightOverflowIsNeverFailOpen(t *testing.T) {
	iss := authtest.New(t)
	chk := &blockingChecker{block: map[string]chan struct{}{}, revoked: map[string]bool{}, started: make(chan string, 16)}
	cfg := iss.Config()
	cfg.Sessions = chk
	cfg.Logger = quiet
	cfg.SessionCheck.MaxStale = time.Hour
	cfg.SessionCheck.MaxInFlight = 2
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	stolen := iss.Token(authtest.Claims{"sid": "victim"})
	if st := statusOfAdmit(a, stolen, true); st != 200 {
		t.Fatalf("victim's session confirmed: %d", st)
	}
	<-chk.started
	// The victim logs out at the backend; the attacker fills MaxInFlight
	// with checks of sessions of their own that the backend is slow on.
	chk.mu.Lock()
	chk.revoked["victim"] = true
	hold := make(chan struct{})
	chk.block["own-1"], chk.block["own-2"] = hold, hold
	chk.mu.Unlock()
	var wg sync.WaitGroup
	for _, sid := range []string{"own-1", "own-2"} {
		tok := iss.Token(authtest.Claims{"sid": sid})
		wg.Go(func() { statusOfAdmit(a, tok, true) })
		<-chk.started
	}
	if st := statusOfAdmit(a, stolen, true); st != 503 {
		t.Errorf("stolen token on a sensitive route while MaxInFlight is full: %d, want 503", st)
	}
	close(hold)
	wg.Wait()
	for len(chk.started) > 0 {
		<-chk.started
	}
	// Positive control: a real outage (the backend fails) still fails open
	// for a session confirmed within MaxStale.
	alive := iss.Token(authtest.Claims{"sid": "alive"})
	if st := statusOfAdmit(a, alive, true); st != 200 {
		t.Fatalf("alive session: %d", st)
	}
	<-chk.started
	chk.failing.Store(true)
	if st := statusOfAdmit(a, alive, true); st != 200 {
		t.Errorf("outage within MaxStale: %d, want 200 (fail-open)", st)
	}
}

// Schedule 7: one scope parser. A scope string whose separator is not SP
// grants the same through introspection as through a JWT: nothing for the
// malformed scope-token.
func TestScopeParsedAlikeByJWTAndIntrospection(t *testing.T) {
	const scope = "files:read:report\u00a0admin orders:read"
	stub := newIntrospectionStub(t, func(string) (int, string) {
		return 200, `{"active":true,"sub":"u1","scope":"` + scope + `"}`
	})
	in := newIntrospector(t, stub.URL, nil)
	defer in.Close()
	iss := authtest.New(t)
	cfg := iss.Config()
	cfg.Opaque = in
	cfg.Logger = quiet
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	grants := func(tok string) []string {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		ctx, err := adapter.Admit(a, context.Background(), adapter.HTTPRequest(r), false)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := core.PrincipalFrom(ctx)
		return p.Scopes
	}
	opaque, _ := storekit.NewOpaqueToken()
	viaIntrospection := grants(opaque)
	viaJWT := grants(iss.Token(authtest.Claims{"scope": scope}))
	if !slices.Equal(viaIntrospection, viaJWT) {
		t.Fatalf("introspection grants %q, a JWT %q", viaIntrospection, viaJWT)
	}
	if slices.Contains(viaIntrospection, "admin") || !slices.Contains(viaIntrospection, "orders:read") {
		t.Fatalf("grants %q: want orders:read only", viaIntrospection)
	}
}

// Schedule 8: closing a MemoryStore tells its subscribers they are behind,
// so the authenticator stops trusting its deny set alone: every request
// naming a session is then checked live.
func TestMemoryStoreCloseReportsBehind(t *testing.T) {
	iss := authtest.New(t)
	store := core.NewMemoryStore(core.StoreOptions{Audit: core.NewSlogAudit(quiet)})
	chk := &blockingChecker{block: map[string]chan struct{}{}, revoked: map[string]bool{}}
	cfg := iss.Config()
	cfg.Sessions = chk
	cfg.Revocations = store
	cfg.Logger = quiet
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if b := a.Status().Revocations.Behind; b != 0 {
		t.Fatalf("behind %d before Close", b)
	}
	store.Close()
	if b := a.Status().Revocations.Behind; b != 1 {
		t.Fatalf("behind %d after the store closed, want 1", b)
	}
	// A session revoked where the closed feed can no longer tell us: the
	// plain route now checks it live and refuses it.
	chk.mu.Lock()
	chk.revoked["s-9"] = true
	chk.mu.Unlock()
	if st := statusOfAdmit(a, iss.Token(authtest.Claims{"sid": "s-9"}), false); st != 401 {
		t.Fatalf("plain route after the feed closed, session revoked at the checker: %d, want 401", st)
	}
}
