package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storetest"
)

// streamWait bounds how long a test waits for a stream to end; a bound on
// failure, not a timing assertion.
const streamWait = 10 * time.Second

// admit runs one request with tok through Admit and returns its context.
func (e *sessEnv) admit(tok string) context.Context {
	e.t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ctx, err := adapter.Admit(e.auth, context.Background(), sessReq{r}, false)
	if err != nil {
		e.t.Fatalf("admit: %v", err)
	}
	return ctx
}

// stream opens a stream for a request with tok, cancelled when the test ends.
func (e *sessEnv) stream(tok string) context.Context {
	e.t.Helper()
	ctx, cancel := core.StreamContext(e.admit(tok))
	e.t.Cleanup(cancel)
	return ctx
}

// ended waits for ctx to end and checks that its cause is kind.
func ended(t *testing.T, what string, ctx context.Context, kind error) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(streamWait):
		t.Fatalf("%s: the stream did not end", what)
	}
	cause := context.Cause(ctx)
	var ae *core.Error
	if !errors.Is(cause, kind) || !errors.As(cause, &ae) {
		t.Fatalf("%s: cause %v, want a *core.Error of %v", what, cause, kind)
	}
}

// open checks that ctx has not ended.
func open(t *testing.T, what string, ctx context.Context) {
	t.Helper()
	if ctx.Err() != nil {
		t.Fatalf("%s: the stream ended (%v), want it open", what, context.Cause(ctx))
	}
}

// waitStreams waits until a watches n streams.
func waitStreams(t *testing.T, a *core.Authenticator, n int) {
	t.Helper()
	for deadline := time.Now().Add(streamWait); a.OpenStreams() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams watched, want %d", a.OpenStreams(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStreamEndsOnRevocation: a revocation of a stream's session ends it,
// and every other stream of that session, with ErrSessionRevoked; streams
// of other sessions, and a revocation of another issuer's session of the
// same id, leave it open; an issuer-less revocation reaches every issuer.
func TestStreamEndsOnRevocation(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
	a1, a2 := e.stream(e.token("sess-1")), e.stream(e.token("sess-1"))
	b := e.stream(e.token("sess-2"))
	c := e.stream(e.token("sess-3"))
	waitStreams(t, e.auth, 4)

	fd.push(core.Revocation{SessionID: "sess-1", Issuer: e.iss.URL})
	ended(t, "revoked session, first stream", a1, core.ErrSessionRevoked)
	ended(t, "revoked session, second stream", a2, core.ErrSessionRevoked)
	open(t, "another session", b)

	fd.push(core.Revocation{SessionID: "sess-3", Issuer: "https://other.example/"})
	open(t, "same session id at another issuer", c)
	fd.push(core.Revocation{SessionID: "sess-3"})
	ended(t, "issuer-less revocation", c, core.ErrSessionRevoked)
	open(t, "another session", b)
	waitStreams(t, e.auth, 1)
}

// TestStreamEndsOnReceiverRevocation: a back-channel logout (a receiver,
// not a feed) ends the session's streams.
func TestStreamEndsOnReceiverRevocation(t *testing.T) {
	e := newBCLEnv(t, core.BackchannelLogoutOptions{})
	s := e.stream(e.token("sess-bc"))
	other := e.stream(e.token("sess-other"))
	checkBCLResponse(t, "logout", e.post(form(e.sign(nil, e.claims("sess-bc")))), http.StatusOK)
	ended(t, "back-channel logout", s, core.ErrSessionRevoked)
	open(t, "another session", other)
}

// TestStreamOpenedAfterRevocation: a revocation recorded between the
// request's admission and StreamContext ends the stream at once.
func TestStreamOpenedAfterRevocation(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
	ctx := e.admit(e.token("sess-1"))
	fd.push(core.Revocation{SessionID: "sess-1", Issuer: e.iss.URL})
	s, cancel := core.StreamContext(ctx)
	defer cancel()
	ended(t, "opened after the revocation", s, core.ErrSessionRevoked)
}

// TestStreamCutoff: a subject cutoff ends the streams of tokens it covers
// (iat <= T, or no iat), judged as requests are, and no other.
func TestStreamCutoff(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
	now := e.clock.Now()
	early := e.stream(e.cutToken("alice", "", now.Add(-10*time.Minute)))
	earlySID := e.stream(e.cutToken("alice", "sess-a", now.Add(-10*time.Minute)))
	noIat := e.stream(e.cutToken("alice", "", time.Time{}))
	late := e.stream(e.cutToken("alice", "", now))
	bob := e.stream(e.cutToken("bob", "", now.Add(-10*time.Minute)))

	fd.push(core.Revocation{Cutoff: true, Subject: "alice", Issuer: "https://other.example/", At: now.Add(-time.Minute)})
	open(t, "a cutoff of another issuer", early)

	fd.push(core.Revocation{Cutoff: true, Subject: "alice", Issuer: e.iss.URL, At: now.Add(-time.Minute)})
	ended(t, "issued before the cutoff", early, core.ErrSessionRevoked)
	ended(t, "issued before the cutoff, with a session", earlySID, core.ErrSessionRevoked)
	ended(t, "no iat", noIat, core.ErrSessionRevoked)
	open(t, "issued after the cutoff", late)
	open(t, "another subject", bob)

	fd.push(core.Revocation{Cutoff: true, Subject: "bob", At: now.Add(-time.Minute)})
	ended(t, "issuer-less cutoff", bob, core.ErrSessionRevoked)
	open(t, "issued after the cutoff", late)
}

// TestStreamOverflowLosesNothing: a revocation lost to a full deny set
// still ends its stream (streams are told directly); a cutoff lost to a full
// cutoff set ends the streams it may cover with ErrUnavailable, as
// requests get 503.
func TestStreamOverflowLosesNothing(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd; c.SessionCheck.DenySetSize = 1 })
	now := e.clock.Now()
	s := e.stream(e.token("sess-1"))
	alice := e.stream(e.cutToken("alice", "", now.Add(-10*time.Minute)))
	aliceLate := e.stream(e.cutToken("alice", "", now.Add(time.Second)))
	fd.push(core.Revocation{SessionID: "filler", Issuer: e.iss.URL})
	fd.push(core.Revocation{SessionID: "sess-1", Issuer: e.iss.URL}) // lost: the set is full
	if !e.auth.Status().Revocations.DenySetOverflow {
		t.Fatal("the deny set did not overflow; the test does not test what it says")
	}
	ended(t, "revocation lost to a full deny set", s, core.ErrSessionRevoked)

	fd.push(core.Revocation{Cutoff: true, Subject: "bob", At: now})
	fd.push(core.Revocation{Cutoff: true, Subject: "alice", At: now.Add(-time.Minute)}) // lost
	ended(t, "cutoff lost to a full cutoff set", alice, core.ErrUnavailable)
	open(t, "issued after the lost cutoff", aliceLate)
}

// TestStreamExpires: a stream ends at its token's exp, not before, with
// ErrTokenExpired; a token past its exp when the stream opens ends it at
// once.
func TestStreamExpires(t *testing.T) {
	e := newSessEnv(t, nil)
	now := e.clock.Now()
	tok := e.iss.Token(authtest.Claims{"sid": "sess-1", "iat": now.Unix(), "exp": now.Add(time.Second).Unix()})
	start := time.Now()
	s := e.stream(tok)
	ended(t, "at exp", s, core.ErrTokenExpired)
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("ended %v after opening, before the token's exp (1s)", d)
	}

	ctx := e.admit(e.iss.Token(authtest.Claims{"sid": "sess-2", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}))
	e.clock.Advance(time.Minute)
	late, cancel := core.StreamContext(ctx)
	defer cancel()
	if late.Err() == nil {
		t.Fatal("a stream opened past its token's exp is open")
	}
	ended(t, "opened past exp", late, core.ErrTokenExpired)
	waitStreams(t, e.auth, 0)
}

// TestStreamEndsOnClose: closing the Authenticator ends every stream with
// ErrUnavailable.
func TestStreamEndsOnClose(t *testing.T) {
	e := newSessEnv(t, nil)
	s := e.stream(e.token("sess-1"))
	n := e.stream(e.token(""))
	if err := e.auth.Close(); err != nil {
		t.Fatal(err)
	}
	ended(t, "with a session", s, core.ErrUnavailable)
	ended(t, "without a session", n, core.ErrUnavailable)
}

// TestStreamWithoutPrincipal: without a watched principal the context is
// already cancelled, with a cause that says so.
func TestStreamWithoutPrincipal(t *testing.T) {
	e := newSessEnv(t, nil)
	for _, c := range []struct {
		name string
		ctx  context.Context
		kind error
	}{
		{"no middleware", context.Background(), core.ErrMisconfigured},
		{"WithPrincipal", core.WithPrincipal(context.Background(), &core.Principal{Subject: "u", ExpiresAt: time.Now().Add(time.Hour)}), core.ErrMisconfigured},
		{"anonymous", func() context.Context {
			ctx, err := adapter.Admit(e.auth, context.Background(), sessReq{httptest.NewRequest("GET", "/", nil)}, true)
			if err != nil {
				t.Fatal(err)
			}
			return ctx
		}(), core.ErrNoToken},
	} {
		s, cancel := core.StreamContext(c.ctx)
		if s.Err() == nil {
			t.Errorf("%s: the stream is open", c.name)
		}
		ended(t, c.name, s, c.kind)
		cancel()
	}
	if s, cancel := core.StreamContextFor(context.Background(), nil); s.Err() == nil {
		t.Error("StreamContextFor(nil principal): the stream is open")
	} else {
		cancel()
	}
	waitStreams(t, e.auth, 0)
}

// TestStreamBehindNoChecker: when a feed falls behind and no checker can
// answer, every stream ends with ErrUnavailable; one opened while it is
// behind too.
func TestStreamBehindNoChecker(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd; c.Sessions = nil })
	s := e.stream(e.token("sess-1"))
	n := e.stream(e.token(""))
	pending := e.admit(e.token("sess-2"))
	fd.push(core.Revocation{Behind: true})
	ended(t, "with a session", s, core.ErrUnavailable)
	ended(t, "without a session", n, core.ErrUnavailable)
	late, cancel := core.StreamContext(pending)
	defer cancel()
	ended(t, "opened while behind", late, core.ErrUnavailable)
	waitStreams(t, e.auth, 0)
}

// TestStreamBehindChecked: when a feed falls behind, each stream with a
// session gets one live check: a revoked session's stream ends revoked, a
// failing check ends it unavailable, an active one stays open; a stream
// without a session ends unavailable. Once caught up, nothing more happens.
func TestStreamBehindChecked(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
	ok := e.stream(e.token("sess-ok"))
	bad := e.stream(e.token("sess-bad"))
	none := e.stream(e.token(""))
	e.checker.revoke("sess-bad") // missed by the feed
	before := e.checker.calls.Load()
	fd.push(core.Revocation{Behind: true})
	ended(t, "revoked at the checker", bad, core.ErrSessionRevoked)
	ended(t, "without a session", none, core.ErrUnavailable)
	for deadline := time.Now().Add(streamWait); e.checker.calls.Load()-before < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("%d live checks, want 2", e.checker.calls.Load()-before)
		}
		time.Sleep(time.Millisecond)
	}
	waitStreams(t, e.auth, 1)
	open(t, "active at the checker", ok)

	// Opened while behind: its own check, which fails.
	pending := e.admit(e.token("sess-down"))
	e.checker.set(func(f *stubChecker) { f.err = errors.New("backend down") })
	down, cancel := core.StreamContext(pending)
	defer cancel()
	ended(t, "opened while behind, check fails", down, core.ErrUnavailable)
	open(t, "active at the checker", ok)
	e.checker.set(func(f *stubChecker) { f.err = nil })

	fd.push(core.Revocation{Behind: false})
	calls := e.checker.calls.Load()
	later := e.stream(e.token("sess-later"))
	open(t, "opened after catching up", later)
	if got := e.checker.calls.Load(); got != calls {
		t.Errorf("opening a stream after catching up made %d live checks, want 0", got-calls)
	}
}

// TestStreamRegistryEmpties: however streams end (CancelFunc, parent,
// revocation, exp), their watches are removed; open streams hold no
// goroutine each.
func TestStreamRegistryEmpties(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
	const n = 1000
	tokens := make([]context.Context, 8)
	for i := range tokens {
		tokens[i] = e.admit(e.token(fmt.Sprintf("sess-%d", i)))
	}
	g0 := runtime.NumGoroutine()
	parent, cancelParent := context.WithCancel(context.Background())
	var cancels []context.CancelFunc
	var ctxs []context.Context
	for i := range n {
		ctx := tokens[i%len(tokens)]
		if i%2 == 1 {
			p, _ := core.PrincipalFrom(ctx)
			ctx = core.WithPrincipal(parent, p)
		}
		s, cancel := core.StreamContext(ctx)
		cancels = append(cancels, cancel)
		ctxs = append(ctxs, s)
	}
	if got := e.auth.OpenStreams(); got != n {
		t.Fatalf("%d streams watched, want %d", got, n)
	}
	if g := runtime.NumGoroutine(); g > g0+10 {
		t.Errorf("%d goroutines with %d streams open, %d before: a goroutine per stream", g, n, g0)
	}
	fd.push(core.Revocation{SessionID: "sess-0"}) // ends n/8 streams
	for i := 0; i < n; i += 2 {
		cancels[i]()
	}
	cancelParent()
	waitStreams(t, e.auth, 0)
	for i, s := range ctxs {
		if s.Err() == nil {
			t.Fatalf("stream %d is open", i)
		}
	}
	for _, c := range cancels {
		c() // again: harmless
	}
	if got := e.auth.OpenStreams(); got != 0 {
		t.Fatalf("%d streams watched after cancelling twice", got)
	}
}

// TestStreamRevocationRace: streams opened while their session is being
// revoked all end, whichever comes first (run with -race).
func TestStreamRevocationRace(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
	const n = 64
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = e.admit(e.token(fmt.Sprintf("race-%d", i)))
	}
	streams := make([]context.Context, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			s, cancel := core.StreamContext(ctxs[i])
			t.Cleanup(cancel)
			streams[i] = s
		}()
		go func() {
			defer wg.Done()
			fd.push(core.Revocation{SessionID: fmt.Sprintf("race-%d", i), Issuer: e.iss.URL})
		}()
	}
	wg.Wait()
	for i, s := range streams {
		ended(t, fmt.Sprintf("stream %d", i), s, core.ErrSessionRevoked)
	}
}

// TestStreamOpaque: an opaque token's stream ends when its session is
// revoked in the store.
func TestStreamOpaque(t *testing.T) {
	m := core.NewMemoryStore(core.StoreOptions{Audit: &storetest.AuditRecorder{}})
	t.Cleanup(func() { m.Close() })
	a, err := core.New(context.Background(), core.Config{Opaque: m, Sessions: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	stream := func(sid *string) context.Context {
		s, tok, err := m.Create(context.Background(), core.SessionParams{Subject: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		*sid = s.ID
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		ctx, err := adapter.Admit(a, context.Background(), sessReq{r}, false)
		if err != nil {
			t.Fatal(err)
		}
		sc, cancel := core.StreamContext(ctx)
		t.Cleanup(cancel)
		return sc
	}
	var sid, other string
	s, o := stream(&sid), stream(&other)
	if err := m.Revoke(context.Background(), sid, core.WithReason("test")); err != nil {
		t.Fatal(err)
	}
	ended(t, "opaque, revoked", s, core.ErrSessionRevoked)
	open(t, "opaque, another session", o)
}
