package core_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// Leak checks (issue 9, OP-07). TestMain fails the package when any
// goroutine is still running after all its tests: every test must Close
// what it starts. The tests below construct each background worker, Close
// it, and check that nothing started since the test began is left.
//
// Background goroutines of core: the issuer's refresh loop (one per issuer
// with a JWKS URL, started by New through goBackground, ended and waited
// for by Authenticator.Close; it also runs the refetches that unknown kids
// ask for), the MemoryStore sweeper (ended and waited for by
// MemoryStore.Close), and the shared calls of live session checks and
// introspections (singleflight, one goroutine per call, ended by the call's
// own timeout, and sooner by Authenticator.Close for session checks and by
// Introspector.Close for introspections; see introspect_close_test.go).

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// leakWait bounds how long a test waits for a Close that must return; it is
// a bound on waiting, not a timing assertion.
const leakWait = 20 * time.Second

// noLeaks fails t when goroutines other than those in ignore remain. The
// HTTP client's idle connections are closed first: their goroutines belong
// to http.DefaultTransport, not to authgate.
func noLeaks(t *testing.T, ignore goleak.Option) {
	t.Helper()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}

// closeWithin runs fn (a Close) and fails t if it has not returned within
// leakWait.
func closeWithin(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fn()
	}()
	select {
	case <-done:
	case <-time.After(leakWait):
		t.Fatalf("%s did not return within %v", what, leakWait)
	}
}

// closeDuring runs op in a goroutine, waits (bounded) until started fires
// (op's backend call is under way), closes with closeFn (bounded), and fails
// unless op then ends with an error within leakWait: nothing is admitted and
// nobody is left waiting.
func closeDuring(t *testing.T, what string, started <-chan struct{}, closeFn func() error, op func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- op() }()
	select {
	case <-started:
	case <-time.After(leakWait):
		t.Fatalf("%s: the backend call never started", what)
	}
	closeWithin(t, what, closeFn)
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("%s: admitted", what)
		}
	case <-time.After(leakWait):
		t.Fatalf("%s: the waiting request was not released", what)
	}
}

// The issuer's refresh loop ends on Close, after it has served periodic
// and unknown-kid refetches.
func TestLeakKeyRefreshEndsOnClose(t *testing.T) {
	iss := startIssuer(t, "ES256")
	ignore := goleak.IgnoreCurrent()
	cfg := iss.Config() // with discovery
	cfg.Logger, cfg.Now = quiet, clock
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	accept(t, a, iss.Token(nil))
	before := iss.Fetches()
	// An unknown kid makes the refresh loop refetch.
	a.Authenticate(context.Background(), bearerReq(authtest.SignRaw(iss.Signer(), []byte(`{"alg":"ES256","kid":"rotated-in"}`), []byte(claimsJSON(iss, "")))))
	if iss.Fetches() == before {
		t.Fatal("the unknown kid caused no refetch")
	}
	closeWithin(t, "Close", a.Close)
	noLeaks(t, ignore)
}

// Close ends the refresh loop while a JWKS fetch hangs (the endpoint
// accepted the request and never answers), and releases the request that
// waits for that refetch.
func TestLeakCloseWhileJWKSFetchHangs(t *testing.T) {
	iss := startIssuer(t, "ES256")
	ignore := goleak.IgnoreCurrent()
	a, err := core.New(context.Background(), func() core.Config {
		cfg := iss.Config()
		cfg.JWKSURL = iss.JWKSURL()
		cfg.Logger, cfg.Now = quiet, clock
		cfg.FetchTimeout = time.Minute // longer than leakWait: only Close can end the fetch
		return cfg
	}())
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	iss.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	closeDuring(t, "Close during a hanging JWKS fetch", entered, a.Close, func() error {
		_, err := a.Authenticate(context.Background(), bearerReq(authtest.SignRaw(iss.Signer(), []byte(`{"alg":"ES256","kid":"rotated-in"}`), []byte(claimsJSON(iss, "")))))
		return err
	})
	noLeaks(t, ignore)
}

// The MemoryStore sweeper ends on Close, whichever of the store and the
// authenticator subscribed to it is closed first; a closed authenticator
// hears no more revocations.
func TestLeakMemoryStoreSweeperEndsOnClose(t *testing.T) {
	for _, storeFirst := range []bool{false, true} {
		ignore := goleak.IgnoreCurrent()
		var heard atomic.Int64
		m := core.NewMemoryStore(core.StoreOptions{SweepInterval: time.Millisecond, Audit: core.AuditFunc(func(context.Context, core.AuditEvent) {})})
		a, err := core.New(context.Background(), core.Config{Opaque: m, Sessions: m, Logger: quiet,
			Observer: core.ObserverFunc(func(_ context.Context, e core.Event) {
				if e.Kind == core.EventRevocation {
					heard.Add(1)
				}
			})})
		if err != nil {
			t.Fatal(err)
		}
		s, tok, err := m.Create(context.Background(), core.SessionParams{Subject: "u1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(context.Background(), bearerReq(tok)); err != nil {
			t.Fatal(err)
		}
		if err := m.Revoke(context.Background(), s.ID); err != nil || heard.Load() != 1 {
			t.Fatalf("revocation heard %d times (%v)", heard.Load(), err)
		}
		if storeFirst {
			closeWithin(t, "MemoryStore.Close", m.Close)
			closeWithin(t, "Close", a.Close)
		} else {
			closeWithin(t, "Close", a.Close)
			s2, _, err := m.Create(context.Background(), core.SessionParams{Subject: "u2"})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Revoke(context.Background(), s2.ID); err != nil || heard.Load() != 1 {
				t.Fatalf("a closed authenticator still hears revocations (%d, %v)", heard.Load(), err)
			}
			closeWithin(t, "MemoryStore.Close", m.Close)
		}
		noLeaks(t, ignore)
	}
}

// hangingChecker blocks every check until its context ends.
type hangingChecker struct{ entered chan struct{} }

func (h hangingChecker) Check(ctx context.Context, sid string) (core.SessionState, error) {
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return core.StateRevoked, ctx.Err()
}

// A live session check in flight (the shared call's goroutine) and the
// request waiting for it both end, and leave nothing, when Close comes
// during the call.
func TestLeakSessionCheckInFlightEnds(t *testing.T) {
	iss := startIssuer(t, "ES256")
	ignore := goleak.IgnoreCurrent()
	chk := hangingChecker{entered: make(chan struct{}, 1)}
	a, err := core.New(context.Background(), func() core.Config {
		cfg := iss.Config()
		cfg.JWKSURL = iss.JWKSURL()
		cfg.Logger, cfg.Now = quiet, clock
		cfg.SessionPolicy, cfg.Sessions = core.PolicyAlways, chk
		cfg.SessionCheck.Timeout = 100 * time.Millisecond
		return cfg
	}())
	if err != nil {
		t.Fatal(err)
	}
	closeDuring(t, "Close during a session check", chk.entered, a.Close, func() error {
		_, err := adapter.Admit(a, context.Background(), bearerReq(iss.Token(nil)), false)
		return err
	})
	noLeaks(t, ignore)
}

// An introspection in flight ends with its own timeout when nobody closes
// the Introspector (Authenticator.Close does not own it); nothing is left.
func TestLeakIntrospectionInFlightEnds(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	stub := newIntrospectionStub(t, func(string) (int, string) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return 200, `{"active":false}`
	})
	ignore := goleak.IgnoreCurrent()
	in := newIntrospector(t, stub.URL, func(o *core.IntrospectionOptions) { o.Timeout = 100 * time.Millisecond })
	a, err := core.New(context.Background(), core.Config{Opaque: in, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	closeDuring(t, "Close during an introspection", entered, a.Close, func() error {
		_, err := a.Authenticate(context.Background(), bearerReq("opaque-0123456789abcdef"))
		return err
	})
	close(release) // the stub's handler; the client side ended on its timeout
	noLeaks(t, ignore)
}

// Close ends a live session check in flight at once, not at its timeout:
// the shared call runs on a context detached from the request, and Close
// cancels it (session_policy.go shared).
func TestLeakCloseEndsSessionCheckInFlight(t *testing.T) {
	iss := startIssuer(t, "ES256")
	ignore := goleak.IgnoreCurrent()
	chk := hangingChecker{entered: make(chan struct{}, 1)}
	a, err := core.New(context.Background(), func() core.Config {
		cfg := iss.Config()
		cfg.JWKSURL = iss.JWKSURL()
		cfg.Logger, cfg.Now = quiet, clock
		cfg.SessionPolicy, cfg.Sessions = core.PolicyAlways, chk
		cfg.SessionCheck.Timeout = 30 * time.Second // longer than goleak waits
		return cfg
	}())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go adapter.Admit(a, ctx, bearerReq(iss.Token(nil)), false)
	select {
	case <-chk.entered:
	case <-time.After(leakWait):
		t.Fatal("no session check started")
	}
	closeWithin(t, "Close during a session check", a.Close)
	cancel() // the waiting request goes; the shared call must have gone with Close
	noLeaks(t, ignore)
}

// A New that fails part-way closes what it had started: the refresh loop of
// an issuer already set up, and the revocation subscriptions already made.
func TestLeakFailedNewLeavesNothing(t *testing.T) {
	good := startIssuer(t, "ES256")
	bad, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	t.Run("second issuer's keys unreachable", func(t *testing.T) {
		ignore := goleak.IgnoreCurrent()
		_, err := core.New(context.Background(), core.Config{Logger: quiet, Now: clock, Issuers: []core.IssuerConfig{
			{Issuer: good.URL, Audience: []string{"a"}, JWKSURL: good.JWKSURL()},
			{Issuer: bad.URL, Audience: []string{"a"}, JWKSURL: bad.URL + "/jwks.json"},
		}})
		if err == nil {
			t.Fatal("New succeeded without the second issuer's keys")
		}
		noLeaks(t, ignore)
	})
	t.Run("session policy refused after the issuers started", func(t *testing.T) {
		ignore := goleak.IgnoreCurrent()
		_, err := core.New(context.Background(), core.Config{Logger: quiet, Now: clock,
			Issuer: good.URL, Audience: []string{"a"}, JWKSURL: good.JWKSURL(), SessionPolicy: core.PolicyAlways})
		if err == nil {
			t.Fatal("PolicyAlways without a checker was accepted")
		}
		noLeaks(t, ignore)
	})
	t.Run("second feed refuses the subscription", func(t *testing.T) {
		ignore := goleak.IgnoreCurrent()
		var heard atomic.Int64
		m := core.NewMemoryStore(core.StoreOptions{Audit: core.AuditFunc(func(context.Context, core.AuditEvent) {})})
		_, err := core.New(context.Background(), core.Config{Logger: quiet, Now: clock, Sessions: m, Opaque: refusingFeed{},
			Issuer: good.URL, Audience: []string{"a"}, JWKSURL: good.JWKSURL(),
			Observer: core.ObserverFunc(func(_ context.Context, e core.Event) {
				if e.Kind == core.EventRevocation {
					heard.Add(1)
				}
			})})
		if err == nil {
			t.Fatal("New succeeded with a feed that refused to subscribe")
		}
		s, _, err := m.Create(context.Background(), core.SessionParams{Subject: "u1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Revoke(context.Background(), s.ID); err != nil || heard.Load() != 0 {
			t.Fatalf("the failed authenticator is still subscribed (%d revocations heard, %v)", heard.Load(), err)
		}
		closeWithin(t, "MemoryStore.Close", m.Close)
		noLeaks(t, ignore)
	})
}

// refusingFeed is an OpaqueAuthenticator and a RevocationFeed whose
// subscriptions fail.
type refusingFeed struct{}

func (refusingFeed) AuthenticateOpaque(context.Context, string) (*core.Session, error) {
	return nil, core.ErrSessionRevoked
}

func (refusingFeed) SubscribeRevocations(context.Context, func(core.Revocation)) (func(), error) {
	return nil, errors.New("feed unavailable")
}
