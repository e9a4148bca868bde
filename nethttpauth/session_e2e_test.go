package nethttpauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storetest"
	"github.com/authgate/authgate/nethttpauth"
)

// countingChecker counts backend calls and delegates to fn.
type countingChecker struct {
	calls atomic.Int64
	fn    atomic.Pointer[func(ctx context.Context, sid string) (core.SessionState, error)]
}

func (c *countingChecker) Check(ctx context.Context, sid string) (core.SessionState, error) {
	c.calls.Add(1)
	return (*c.fn.Load())(ctx, sid)
}

func (c *countingChecker) set(fn func(ctx context.Context, sid string) (core.SessionState, error)) {
	c.fn.Store(&fn)
}

// delegate answers from a store.
func delegate(s core.SessionChecker) func(ctx context.Context, sid string) (core.SessionState, error) {
	return s.Check
}

// app is a small API: GET /me (non-sensitive), POST /transfer (sensitive).
type app struct {
	srv      *httptest.Server
	iss      *authtest.Issuer
	handlers atomic.Int64
}

func newApp(t *testing.T, cfg func(iss *authtest.Issuer) core.Config) *app {
	t.Helper()
	a := &app{iss: authtest.New(t)}
	auth, err := core.New(context.Background(), cfg(a.iss))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.handlers.Add(1)
		io.WriteString(w, "ok")
	})
	mux := http.NewServeMux()
	mux.Handle("GET /me", h)
	mux.Handle("POST /transfer", nethttpauth.Sensitive(h))
	a.srv = httptest.NewServer(nethttpauth.New(auth)(mux))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) call(t *testing.T, ctx context.Context, method, path, tok string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, a.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	c := &http.Client{Timeout: 20 * time.Second} // a guard against a hang, not a timing assertion
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (a *app) status(t *testing.T, method, path, tok string) int {
	t.Helper()
	return a.call(t, context.Background(), method, path, tok).StatusCode
}

func quietStore() *core.MemoryStore {
	return core.NewMemoryStore(core.StoreOptions{Audit: &storetest.AuditRecorder{}})
}

func TestSessionRevokeThenNextSensitiveRequestIs401(t *testing.T) {
	store := quietStore()
	defer store.Close()
	checker := &countingChecker{}
	checker.set(delegate(store))
	a := newApp(t, func(iss *authtest.Issuer) core.Config {
		c := iss.Config()
		c.Sessions = checker // a plain checker: no revocation feed
		return c
	})
	ctx := context.Background()
	s, _, _ := store.Create(ctx, core.SessionParams{Subject: "user-1", Issuer: a.iss.URL})
	tok := a.iss.Token(authtest.Claims{"sid": s.ID})
	if got := a.status(t, "POST", "/transfer", tok); got != 200 {
		t.Fatalf("transfer before revoke: %d", got)
	}
	for range 5 {
		if got := a.status(t, "GET", "/me", tok); got != 200 {
			t.Fatalf("/me: %d", got)
		}
	}
	if n := checker.calls.Load(); n != 1 {
		t.Fatalf("SS-19: non-sensitive routes under PolicySensitiveOnly made backend calls: %d calls, want 1", n)
	}
	if err := store.Revoke(ctx, s.ID, core.WithReason("admin force logout")); err != nil {
		t.Fatal(err)
	}
	before := a.handlers.Load()
	resp := a.call(t, ctx, "POST", "/transfer", tok)
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("SS-01: next sensitive request after revoke: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if a.handlers.Load() != before {
		t.Fatal("handler called for a revoked session")
	}
	if n := checker.calls.Load(); n != 2 {
		t.Fatalf("%d backend calls, want 2", n)
	}
}

func TestSessionMemoryStoreRevocationIsRefusedOnEveryRoute(t *testing.T) {
	store := quietStore()
	defer store.Close()
	a := newApp(t, func(iss *authtest.Issuer) core.Config {
		c := iss.Config()
		c.Sessions = store // also the revocation feed, automatically
		return c
	})
	ctx := context.Background()
	s, _, _ := store.Create(ctx, core.SessionParams{Subject: "user-1"})
	tok := a.iss.Token(authtest.Claims{"sid": s.ID})
	if got := a.status(t, "GET", "/me", tok); got != 200 {
		t.Fatal(got)
	}
	store.Revoke(ctx, s.ID)
	if got := a.status(t, "GET", "/me", tok); got != 401 {
		t.Fatalf("SS-02: non-sensitive route after an in-process revoke: %d, want 401", got)
	}
}

func TestSessionRevokeSubjectEndsEverySession(t *testing.T) {
	store := quietStore()
	defer store.Close()
	a := newApp(t, func(iss *authtest.Issuer) core.Config {
		c := iss.Config()
		c.Sessions = store
		return c
	})
	ctx := context.Background()
	var toks []string
	for range 3 {
		s, _, _ := store.Create(ctx, core.SessionParams{Subject: "user-42"})
		toks = append(toks, a.iss.Token(authtest.Claims{"sub": "user-42", "sid": s.ID}))
	}
	other, _, _ := store.Create(ctx, core.SessionParams{Subject: "user-7"})
	otherTok := a.iss.Token(authtest.Claims{"sub": "user-7", "sid": other.ID})
	for _, tok := range toks {
		if got := a.status(t, "POST", "/transfer", tok); got != 200 {
			t.Fatal(got)
		}
	}
	n, err := store.RevokeSubject(ctx, "user-42", core.WithReason("password changed"))
	if err != nil || n != 3 {
		t.Fatalf("RevokeSubject = %d, %v", n, err)
	}
	for i, tok := range toks {
		for _, route := range [][2]string{{"POST", "/transfer"}, {"GET", "/me"}} {
			if got := a.status(t, route[0], route[1], tok); got != 401 {
				t.Fatalf("session %d on %s after RevokeSubject: %d", i, route[1], got)
			}
		}
	}
	if got := a.status(t, "POST", "/transfer", otherTok); got != 200 {
		t.Fatalf("another user's session: %d", got)
	}
}

func TestSessionBackendFailuresAre503WithinTheTimeout(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	cases := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }},
		{"hanging", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}},
		{"garbage", func(w http.ResponseWriter, r *http.Request) {
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Write([]byte("\x00\x01garbage"))
				conn.Close()
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			backend := httptest.NewServer(tc.h)
			defer backend.Close()
			checker, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: backend.URL + "/sessions/{sid}"})
			if err != nil {
				t.Fatal(err)
			}
			a := newApp(t, func(iss *authtest.Issuer) core.Config {
				c := iss.Config()
				c.Sessions = checker
				c.SessionCheck.Timeout = 300 * time.Millisecond
				return c
			})
			tok := a.iss.Token(nil)
			resp := a.call(t, context.Background(), "POST", "/transfer", tok)
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("SS-08/09: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
			}
			if a.handlers.Load() != 0 {
				t.Fatal("handler called although the session could not be checked")
			}
			if got := a.status(t, "GET", "/me", tok); got != 200 {
				t.Fatalf("SS-08: non-sensitive route affected: %d", got)
			}
		})
	}
}

// waitShared waits until n goroutines wait on a shared session check.
func waitShared(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	buf := make([]byte, 16<<20)
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
		time.Sleep(time.Millisecond)
	}
}

// TestSession100ConcurrentSensitiveRequestsMakeTwoBackendCalls: SS-07
// under the revocation rule. The first request starts a call; the 99 that
// arrive while it runs must not take its answer (read, perhaps, before a
// revocation the feed has not delivered), so they share the next one.
func TestSession100ConcurrentSensitiveRequestsMakeTwoBackendCalls(t *testing.T) {
	store := quietStore()
	defer store.Close()
	release := make(chan struct{})
	checker := &countingChecker{}
	checker.set(func(ctx context.Context, sid string) (core.SessionState, error) {
		<-release
		return store.Check(ctx, sid)
	})
	a := newApp(t, func(iss *authtest.Issuer) core.Config {
		c := iss.Config()
		c.Sessions = checker
		// The store's revocations reach authgate; a feed does not let a
		// request take an answer read before it arrived.
		c.Revocations = store
		c.SessionCheck.Timeout = 30 * time.Second // joining takes long on a loaded machine
		return c
	})
	s, _, _ := store.Create(context.Background(), core.SessionParams{Subject: "user-1"})
	tok := a.iss.Token(authtest.Claims{"sid": s.ID})
	const n = 100
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = a.status(t, "POST", "/transfer", tok) })
	}
	waitShared(t, n)
	close(release)
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if got := checker.calls.Load(); got != 2 {
		t.Fatalf("SS-07: %d backend calls for %d concurrent sensitive requests, want 2", got, n)
	}
}

func TestSessionFailOpenOnlyWhenConfiguredAndWithinBound(t *testing.T) {
	down := errors.New("backend down")
	for _, tc := range []struct {
		name     string
		maxStale time.Duration
		want     int
	}{
		{"fail closed by default", 0, 503},
		{"fail open within MaxStale", time.Hour, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failing atomic.Bool
			checker := &countingChecker{}
			checker.set(func(ctx context.Context, sid string) (core.SessionState, error) {
				if failing.Load() {
					return core.StateRevoked, down
				}
				return core.StateActive, nil
			})
			a := newApp(t, func(iss *authtest.Issuer) core.Config {
				c := iss.Config()
				c.Sessions = checker
				c.SessionCheck.MaxStale = tc.maxStale
				return c
			})
			tok := a.iss.Token(authtest.Claims{"sid": "confirmed"})
			if got := a.status(t, "POST", "/transfer", tok); got != 200 {
				t.Fatal(got)
			}
			failing.Store(true)
			if got := a.status(t, "POST", "/transfer", tok); got != tc.want {
				t.Fatalf("confirmed session during an outage: %d, want %d", got, tc.want)
			}
			never := a.iss.Token(authtest.Claims{"sid": "never-confirmed"})
			if got := a.status(t, "POST", "/transfer", never); got != 503 {
				t.Fatalf("SS-14: never-confirmed session during an outage: %d, want 503", got)
			}
		})
	}
}
