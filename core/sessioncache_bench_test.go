package core_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storetest"
)

// benchSetup returns an authenticator trusting a test issuer, a store, and a
// token whose sid names a live session of the store.
func benchSetup(b *testing.B, mut func(c *core.Config, store *core.MemoryStore)) (*core.Authenticator, *core.MemoryStore, string) {
	b.Helper()
	iss := authtest.New(b)
	store := core.NewMemoryStore(core.StoreOptions{Audit: &storetest.AuditRecorder{}})
	b.Cleanup(func() { store.Close() })
	cfg := iss.Config()
	if mut != nil {
		mut(&cfg, store)
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	s, _, err := store.Create(context.Background(), core.SessionParams{Subject: "user-1"})
	if err != nil {
		b.Fatal(err)
	}
	return a, store, iss.Token(authtest.Claims{"sid": s.ID, "exp": time.Now().Add(time.Hour).Unix()})
}

func benchRequest(b *testing.B, a *core.Authenticator, tok string, sensitive bool) {
	r := httptest.NewRequest("POST", "/transfer", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	q := sessReq{r}
	ctx := context.Background()
	req := core.Requirements{Sensitive: sensitive}
	b.ReportAllocs()
	for b.Loop() {
		c, err := adapter.Admit(a, ctx, q, false)
		if err != nil {
			b.Fatal(err)
		}
		if sensitive {
			if err := core.Require(c, req); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSessionJWTOnly is the plain JWT path: Authenticate only.
func BenchmarkSessionJWTOnly(b *testing.B) {
	a, _, tok := benchSetup(b, nil)
	r := httptest.NewRequest("GET", "/me", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	q := sessReq{r}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionJWTOnlyUncached is the plain JWT path with the
// verified-token cache off: a full RS256 signature check per request.
func BenchmarkSessionJWTOnlyUncached(b *testing.B) {
	a, _, tok := benchSetup(b, func(c *core.Config, _ *core.MemoryStore) { c.TokenCache.Disabled = true })
	r := httptest.NewRequest("GET", "/me", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	q := sessReq{r}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSessionSensitiveMemoryStoreUncached is a sensitive route with a
// memory-store lookup and a full signature check per request.
func BenchmarkSessionSensitiveMemoryStoreUncached(b *testing.B) {
	a, _, tok := benchSetup(b, func(c *core.Config, s *core.MemoryStore) {
		c.Sessions = s
		c.TokenCache.Disabled = true
	})
	benchRequest(b, a, tok, true)
}

// BenchmarkSessionNonSensitive is a non-sensitive route under PolicySensitiveOnly
// with the memory store as checker and feed: JWT + deny-set lookup.
func BenchmarkSessionNonSensitive(b *testing.B) {
	a, _, tok := benchSetup(b, func(c *core.Config, s *core.MemoryStore) { c.Sessions = s })
	benchRequest(b, a, tok, false)
}

// BenchmarkSessionSensitiveCached is a sensitive route whose session was
// confirmed within SensitiveCacheTTL: no backend call.
func BenchmarkSessionSensitiveCached(b *testing.B) {
	a, _, tok := benchSetup(b, func(c *core.Config, s *core.MemoryStore) {
		c.Sessions = s
		c.SessionCheck.SensitiveCacheTTL = time.Hour
	})
	benchRequest(b, a, tok, true)
}

// BenchmarkSessionSensitiveMemoryStore is a sensitive route with a live
// lookup in the memory store on every request (the default: no cache).
func BenchmarkSessionSensitiveMemoryStore(b *testing.B) {
	a, _, tok := benchSetup(b, func(c *core.Config, s *core.MemoryStore) { c.Sessions = s })
	benchRequest(b, a, tok, true)
}

// BenchmarkSessionSensitiveMemoryStoreParallel is the same under
// concurrent load (singleflight shares concurrent lookups of one sid).
func BenchmarkSessionSensitiveMemoryStoreParallel(b *testing.B) {
	a, _, tok := benchSetup(b, func(c *core.Config, s *core.MemoryStore) { c.Sessions = s })
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := httptest.NewRequest("POST", "/transfer", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		q := sessReq{r}
		for pb.Next() {
			c, err := adapter.Admit(a, context.Background(), q, false)
			if err == nil {
				err = core.Require(c, core.Requirements{Sensitive: true})
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSessionOpaqueMemoryStore authenticates an opaque session token
// (SHA-256 + one map lookup) on a sensitive route.
func BenchmarkSessionOpaqueMemoryStore(b *testing.B) {
	store := core.NewMemoryStore(core.StoreOptions{Audit: &storetest.AuditRecorder{}})
	b.Cleanup(func() { store.Close() })
	a, err := core.New(context.Background(), core.Config{Opaque: store, Sessions: store})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	_, tok, _ := store.Create(context.Background(), core.SessionParams{Subject: "user-1"})
	benchRequest(b, a, tok, true)
}

// remoteChecker hides the store's in-process marker, so checks take the
// path of a network checker (singleflight, detached context, timeout).
type remoteChecker struct{ s core.SessionChecker }

func (r remoteChecker) Check(ctx context.Context, sid string) (core.SessionState, error) {
	return r.s.Check(ctx, sid)
}

// BenchmarkSessionSensitiveSharedCall is a sensitive route whose checker
// is treated as remote: the cost of the shared-call machinery around a
// backend that answers at once.
func BenchmarkSessionSensitiveSharedCall(b *testing.B) {
	a, _, tok := benchSetup(b, func(c *core.Config, s *core.MemoryStore) { c.Sessions = remoteChecker{s} })
	benchRequest(b, a, tok, true)
}

// honoringChecker is remoteChecker that promises to end its calls at their
// context's deadline (core.ContextHonorer): its live checks run on the
// request's goroutine.
type honoringChecker struct{ remoteChecker }

func (honoringChecker) HonorsContext() bool { return true }

// BenchmarkSessionSensitiveSharedCallInline is
// BenchmarkSessionSensitiveSharedCall with a checker that honours its
// context: the machinery of a live check run on the request's goroutine.
func BenchmarkSessionSensitiveSharedCallInline(b *testing.B) {
	a, _, tok := benchSetup(b, func(c *core.Config, s *core.MemoryStore) { c.Sessions = honoringChecker{remoteChecker{s}} })
	benchRequest(b, a, tok, true)
}

// BenchmarkSessionSensitiveHTTP is a sensitive route whose sessions are
// checked at an HTTP endpoint (HTTPSessionChecker on loopback), beside the
// endpoint's own cost: one GET through the same transport, and the
// checker's Check alone, in one run. The live check's target is at most
// 1.15× the GET (http.Client.Do).
//
//	go test ./core -run '^$' -bench SessionSensitiveHTTP -benchmem
func BenchmarkSessionSensitiveHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	checker, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: srv.URL + "/sessions/{sid}"})
	if err != nil {
		b.Fatal(err)
	}
	if !checker.HonorsContext() {
		b.Fatal("the default transport should honour contexts")
	}
	a, _, tok := benchSetup(b, func(c *core.Config, _ *core.MemoryStore) { c.Sessions = checker })
	ctx := context.Background()
	get := func(b *testing.B, do func(*http.Request) (*http.Response, error)) {
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/sessions/s1", nil)
			resp, err := do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	// The endpoint's own cost: a Go client's GET (http.Client.Do), and the
	// transport's round trip alone (the floor).
	b.Run("http-GET", func(b *testing.B) { get(b, http.DefaultClient.Do) })
	b.Run("http-RoundTrip", func(b *testing.B) { get(b, http.DefaultTransport.RoundTrip) })
	b.Run("checker-Check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if st, err := checker.Check(ctx, "s1"); err != nil || st != core.StateActive {
				b.Fatal(st, err)
			}
		}
	})
	b.Run("sensitive-uncached", func(b *testing.B) { benchRequest(b, a, tok, true) })
}

// BenchmarkSessionSensitiveHTTPPaired alternates, op by op, a Go client's
// GET of the session endpoint and a sensitive request checked there,
// timing each, so that drift between sub-benchmarks cannot move the ratio:
// x-backend is (sensitive request) ÷ (GET), summed over the run.
//
//	go test ./core -run '^$' -bench SessionSensitiveHTTPPaired -count 8
func BenchmarkSessionSensitiveHTTPPaired(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(srv.Close)
	checker, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: srv.URL + "/sessions/{sid}"})
	if err != nil {
		b.Fatal(err)
	}
	a, _, tok := benchSetup(b, func(c *core.Config, _ *core.MemoryStore) { c.Sessions = checker })
	ctx := context.Background()
	r := httptest.NewRequest("POST", "/transfer", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	q := sessReq{r}
	var get, route time.Duration
	for b.Loop() {
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/sessions/s1", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t1 := time.Now()
		c, err := adapter.Admit(a, ctx, q, false)
		if err == nil {
			err = core.Require(c, core.Requirements{Sensitive: true})
		}
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		get += t1.Sub(t0)
		route += t2.Sub(t1)
	}
	b.ReportMetric(float64(get.Nanoseconds())/float64(b.N), "get-ns/op")
	b.ReportMetric(float64(route.Nanoseconds())/float64(b.N), "route-ns/op")
	b.ReportMetric(float64(route)/float64(get), "x-backend")
}
