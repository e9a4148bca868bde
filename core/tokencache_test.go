package core_test

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/golang-jwt/jwt/v5"
)

// The verified-token cache (tokencache.go): a token whose signature verified
// is not verified again, but every other check still runs on every request.

// tcClock is a settable clock shared by a test issuer and authenticator.
type tcClock struct{ ns atomic.Int64 }

func newTCClock() *tcClock {
	c := &tcClock{}
	c.ns.Store(time.Unix(1_800_000_000, 0).UnixNano())
	return c
}
func (c *tcClock) Now() time.Time             { return time.Unix(0, c.ns.Load()) }
func (c *tcClock) Advance(d time.Duration)    { c.ns.Add(int64(d)) }
func (c *tcClock) Set(t time.Time)            { c.ns.Store(t.UnixNano()) }
func (c *tcClock) issuerOpt() authtest.Option { return authtest.WithClock(c.Now) }

// tcReq is a core.Request with the token in a header or a cookie.
type tcReq struct{ h http.Header }

func (q tcReq) Method() string              { return "GET" }
func (q tcReq) Host() string                { return "api.example.com" }
func (q tcReq) Header(name string) []string { return q.h[name] }
func (q tcReq) RawQuery() string            { return "" }

func tcBearer(tok string) tcReq {
	return tcReq{http.Header{"Authorization": {"Bearer " + tok}}}
}

func tcCookie(tok string) tcReq {
	return tcReq{http.Header{"Cookie": {"access_token=" + tok}}}
}

// tcFeed is a RevocationFeed the test pushes by hand.
type tcFeed struct {
	mu sync.Mutex
	fn func(core.Revocation)
}

func (f *tcFeed) SubscribeRevocations(_ context.Context, fn func(core.Revocation)) (func(), error) {
	f.mu.Lock()
	f.fn = fn
	f.mu.Unlock()
	return func() {}, nil
}

func (f *tcFeed) revoke(r core.Revocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fn(r)
}

type tcEnv struct {
	iss   *authtest.Issuer
	a     *core.Authenticator
	clock *tcClock
	feed  *tcFeed
}

// newTCEnv starts an issuer of alg (JWKS over HTTP) and an authenticator
// trusting it, on one settable clock, with a hand-driven revocation feed.
func newTCEnv(t *testing.T, alg string, mutate func(*core.Config)) *tcEnv {
	t.Helper()
	env := &tcEnv{clock: newTCClock(), feed: &tcFeed{}}
	env.iss = authtest.New(t, authtest.WithAlg(alg), env.clock.issuerOpt())
	cfg := env.iss.Config()
	cfg.JWKSURL = env.iss.JWKSURL()
	cfg.Now = env.clock.Now
	cfg.Revocations = env.feed
	cfg.Logger = quiet
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	env.a = a
	return env
}

func (env *tcEnv) auth(t *testing.T, r core.Request) (*core.Principal, error) {
	t.Helper()
	return env.a.Authenticate(context.Background(), r)
}

func (env *tcEnv) mustAccept(t *testing.T, tok string) *core.Principal {
	t.Helper()
	p, err := env.auth(t, tcBearer(tok))
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	return p
}

func (env *tcEnv) mustRefuse(t *testing.T, tok string, want error) {
	t.Helper()
	p, err := env.auth(t, tcBearer(tok))
	if err == nil {
		t.Fatalf("accepted (subject %q), want %v", p.Subject, want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("refused with %v, want %v", err, want)
	}
}

func (env *tcEnv) stats() (entries int, bytes int64, misses uint64) {
	return env.a.TokenCacheStats()
}

// verifications is how many tokens were verified in full so far (cache
// lookups that found nothing usable).
func (env *tcEnv) verifications() uint64 {
	_, _, m := env.stats()
	return m
}

func TestTokenCacheServesRepeatedTokenWithoutVerifying(t *testing.T) {
	env := newTCEnv(t, "RS256", nil)
	tok := env.iss.Token(nil)
	p1 := env.mustAccept(t, tok)
	if n := env.verifications(); n != 1 {
		t.Fatalf("first request: %d verifications, want 1", n)
	}
	for range 5 {
		p := env.mustAccept(t, tok)
		if p.Subject != p1.Subject || p.SessionID != p1.SessionID || p.TokenID != p1.TokenID || !p.ExpiresAt.Equal(p1.ExpiresAt) {
			t.Fatalf("cached principal differs: %+v vs %+v", p, p1)
		}
		if string(p.Claims()) != string(p1.Claims()) {
			t.Fatal("cached principal lost its raw claims")
		}
	}
	if n := env.verifications(); n != 1 {
		t.Fatalf("%d verifications for one token sent 6 times, want 1", n)
	}
	if entries, _, _ := env.stats(); entries != 1 {
		t.Fatalf("%d entries, want 1", entries)
	}
}

func TestTokenCacheHitGetsItsOwnPrincipal(t *testing.T) {
	env := newTCEnv(t, "RS256", nil)
	tok := env.iss.Token(nil)
	p1 := env.mustAccept(t, tok)
	// What a handler or Require does to its own request's principal.
	p1.SessionChecked = true
	p2, err := env.auth(t, tcCookie(tok))
	if err != nil {
		t.Fatal(err)
	}
	if p2 == p1 {
		t.Fatal("a cache hit returned the previous request's principal")
	}
	if p2.SessionChecked {
		t.Fatal("a cache hit inherited SessionChecked from another request")
	}
	if p2.Source != core.SourceCookie || p1.Source != core.SourceHeader {
		t.Fatalf("sources %v, %v: want header then cookie", p1.Source, p2.Source)
	}
	if env.verifications() != 1 {
		t.Fatal("second request was verified again")
	}
}

// tcChecker is a SessionChecker over a set of revoked session ids.
type tcChecker struct {
	mu      sync.Mutex
	revoked map[string]bool
}

func (c *tcChecker) Check(_ context.Context, sid string) (core.SessionState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.revoked[sid] {
		return core.StateRevoked, nil
	}
	return core.StateActive, nil
}

func TestTokenCacheHitNeverInheritsALiveCheck(t *testing.T) {
	// With the deny set overflowed, every request is checked live. The
	// first request's live check must not be remembered with the token.
	checker := &tcChecker{revoked: map[string]bool{}}
	env := newTCEnv(t, "ES256", func(c *core.Config) {
		c.Sessions = checker
		c.SessionCheck.DenySetSize = 1
	})
	env.feed.revoke(core.Revocation{SessionID: "r1", Issuer: env.iss.URL, At: env.clock.Now()})
	env.feed.revoke(core.Revocation{SessionID: "r2", Issuer: env.iss.URL, At: env.clock.Now()}) // overflow
	tok := env.iss.Token(authtest.Claims{"sid": "s-live"})
	env.mustAccept(t, tok)
	checker.mu.Lock()
	checker.revoked["s-live"] = true // revoked at the checker, no feed message
	checker.mu.Unlock()
	env.mustRefuse(t, tok, core.ErrSessionRevoked)
}

func TestTokenCacheReappliesTimeChecksOnEveryHit(t *testing.T) {
	t.Run("expired after caching is refused as expired", func(t *testing.T) {
		env := newTCEnv(t, "ES256", nil)
		tok := env.iss.Token(nil) // exp: now + 5m; leeway 30s
		env.mustAccept(t, tok)
		env.clock.Advance(5*time.Minute + 29*time.Second)
		env.mustAccept(t, tok)
		env.clock.Advance(2 * time.Second)
		env.mustRefuse(t, tok, core.ErrTokenExpired)
		env.mustRefuse(t, tok, core.ErrTokenExpired)
		if entries, _, _ := env.stats(); entries != 0 {
			t.Fatalf("expired token still cached (%d entries)", entries)
		}
	})
	t.Run("nbf is judged on the clock of each request", func(t *testing.T) {
		env := newTCEnv(t, "ES256", nil)
		now := env.clock.Now()
		tok := env.iss.Token(authtest.Claims{"nbf": now.Add(20 * time.Second).Unix(), "iat": now.Add(-time.Minute).Unix()})
		env.mustAccept(t, tok) // within the 30s leeway
		env.clock.Set(now.Add(-20 * time.Second))
		env.mustRefuse(t, tok, core.ErrInvalidToken)
	})
}

func TestTokenCacheDenySetAppliesToHits(t *testing.T) {
	env := newTCEnv(t, "ES256", nil)
	tok := env.iss.Token(authtest.Claims{"sid": "s-77"})
	env.mustAccept(t, tok)
	env.mustAccept(t, tok)
	env.feed.revoke(core.Revocation{SessionID: "s-77", Issuer: env.iss.URL, At: env.clock.Now()})
	env.mustRefuse(t, tok, core.ErrSessionRevoked)
	if env.verifications() != 1 {
		t.Fatal("the revoked token was verified again instead of being refused from the cache")
	}
}

func TestTokenCacheNeverHoldsRefusedTokens(t *testing.T) {
	env := newTCEnv(t, "ES256", nil)
	other := authtest.New(t, authtest.WithAlg("ES256"), env.clock.issuerOpt())
	env.feed.revoke(core.Revocation{SessionID: "gone", Issuer: env.iss.URL, At: env.clock.Now()})
	good := env.iss.Token(nil)
	bad := good[:len(good)-10] + strings.Repeat("A", 8) + good[len(good)-2:]
	cases := []struct {
		name string
		tok  string
		want error
	}{
		{"bad signature", bad, core.ErrInvalidToken},
		{"expired", env.iss.Token(authtest.Claims{"exp": env.clock.Now().Add(-time.Hour).Unix(), "iat": env.clock.Now().Add(-2 * time.Hour).Unix()}), core.ErrTokenExpired},
		{"wrong audience", env.iss.Token(authtest.Claims{"aud": "another-api"}), core.ErrInvalidToken},
		{"signed by an untrusted key", other.Sign(other.Signer(), map[string]any{"kid": env.iss.Signer().ID}, env.iss.Defaults()), core.ErrInvalidToken},
		{"revoked session (deny set)", env.iss.Token(authtest.Claims{"sid": "gone"}), core.ErrSessionRevoked},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 {
				env.mustRefuse(t, tc.tok, tc.want)
			}
			if entries, _, _ := env.stats(); entries != 0 {
				t.Fatalf("refused token cached (%d entries)", entries)
			}
		})
	}
}

func TestTokenCacheFollowsTheKeySet(t *testing.T) {
	t.Run("KS-10 token of a key removed from the JWKS is refused after the refresh", func(t *testing.T) {
		env := newTCEnv(t, "ES256", nil)
		old := env.iss.Token(nil)
		env.mustAccept(t, old)
		oldKid := env.iss.Signer().ID
		env.iss.Rotate("ES256")
		env.iss.RemoveKey(oldKid)
		if err := env.a.RefreshKeys(context.Background()); err != nil {
			t.Fatal(err)
		}
		env.mustRefuse(t, old, core.ErrInvalidToken)
		if entries, _, _ := env.stats(); entries != 0 {
			t.Fatalf("entry of a removed key still held (%d entries)", entries)
		}
		env.mustAccept(t, env.iss.Token(nil))
	})
	t.Run("KS-11 same kid with new key material ends the old key's entries", func(t *testing.T) {
		env := newTCEnv(t, "ES256", nil)
		old := env.iss.Token(nil)
		env.mustAccept(t, old)
		k := env.iss.Signer()
		repl := &authtest.Key{ID: k.ID, Alg: "ES256", Private: authtest.GenerateKey("ES256")}
		env.iss.SetJWKS(jwksOf(authtest.PublicJWK(repl)))
		if err := env.a.RefreshKeys(context.Background()); err != nil {
			t.Fatal(err)
		}
		env.mustRefuse(t, old, core.ErrInvalidToken)
		env.mustAccept(t, env.iss.Sign(repl, nil, env.iss.Defaults()))
	})
	t.Run("a refresh that leaves the key unchanged keeps its entries", func(t *testing.T) {
		env := newTCEnv(t, "RS256", nil)
		tok := env.iss.Token(nil)
		env.mustAccept(t, tok)
		env.iss.AddKey("ES256") // the set changes, this key does not
		for range 3 {
			if err := env.a.RefreshKeys(context.Background()); err != nil {
				t.Fatal(err)
			}
			env.mustAccept(t, tok)
		}
		if n := env.verifications(); n != 1 {
			t.Fatalf("%d verifications across unchanged refreshes, want 1", n)
		}
	})
}

// malleate returns the other valid spelling of an ES256 token: s replaced by
// n - s (AL-08).
func malleate(t *testing.T, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("not an ES256 signature: %v", err)
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(n, s)
	out := append([]byte{}, sig[:32]...)
	out = append(out, s.FillBytes(make([]byte, 32))...)
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(out)
}

func TestTokenCacheKeysOnExactBytes(t *testing.T) {
	t.Run("AL-08 a malleated spelling is a separate, separately verified entry", func(t *testing.T) {
		env := newTCEnv(t, "ES256", nil)
		tok := env.iss.Token(authtest.Claims{"sid": "s-al08"})
		alt := malleate(t, tok)
		if alt == tok {
			t.Fatal("malleation changed nothing")
		}
		env.mustAccept(t, tok)
		env.mustAccept(t, alt)
		if n := env.verifications(); n != 2 {
			t.Fatalf("%d verifications for two spellings, want 2", n)
		}
		if entries, _, _ := env.stats(); entries != 2 {
			t.Fatalf("%d entries for two spellings, want 2", entries)
		}
		// SS-16: revocation keys on the session, so both spellings fall.
		env.feed.revoke(core.Revocation{SessionID: "s-al08", Issuer: env.iss.URL, At: env.clock.Now()})
		env.mustRefuse(t, tok, core.ErrSessionRevoked)
		env.mustRefuse(t, alt, core.ErrSessionRevoked)
	})
	t.Run("FM-04 a non-canonical spelling of a cached token is refused", func(t *testing.T) {
		env := newTCEnv(t, "ES256", nil)
		tok := env.iss.Token(nil)
		env.mustAccept(t, tok)
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, tok[len(tok)-1])
		for low := range 16 { // same top 2 bits, other spare bits
			v := last&^0xF | low
			if v == last {
				continue
			}
			env.mustRefuse(t, tok[:len(tok)-1]+alphabet[v:v+1], core.ErrInvalidToken)
		}
		env.mustAccept(t, tok)
		if entries, _, _ := env.stats(); entries != 1 {
			t.Fatalf("%d entries, want only the canonical token", entries)
		}
	})
	t.Run("the cache never aliases the caller's buffer", func(t *testing.T) {
		// Adapters on fasthttp hand the core strings over reused buffers.
		env := newTCEnv(t, "ES256", nil)
		tok := env.iss.Token(nil)
		buf := []byte("Bearer " + tok)
		hdr := unsafe.String(&buf[0], len(buf))
		if _, err := env.auth(t, tcReq{http.Header{"Authorization": {hdr}}}); err != nil {
			t.Fatal(err)
		}
		for i := len("Bearer "); i < len(buf); i++ {
			buf[i] = 'A'
		}
		env.mustAccept(t, tok)
		if n := env.verifications(); n != 1 {
			t.Fatalf("%d verifications: the entry's key was overwritten with the buffer", n)
		}
	})
}

func TestTokenCacheIsBounded(t *testing.T) {
	t.Run("entry count", func(t *testing.T) {
		env := newTCEnv(t, "ES256", func(c *core.Config) { c.TokenCache.MaxEntries = 64 })
		for i := range 300 {
			env.mustAccept(t, env.iss.Token(authtest.Claims{"sub": fmt.Sprint("u", i)}))
		}
		if entries, _, _ := env.stats(); entries > 64 || entries == 0 {
			t.Fatalf("%d entries with MaxEntries 64", entries)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		const max = 64 << 10
		env := newTCEnv(t, "ES256", func(c *core.Config) { c.TokenCache.MaxBytes = max })
		big := strings.Repeat("x", 2000)
		for i := range 200 {
			env.mustAccept(t, env.iss.Token(authtest.Claims{"sub": fmt.Sprint("u", i), "pad": big}))
		}
		entries, bytes, _ := env.stats()
		if bytes > max || entries == 0 {
			t.Fatalf("%d entries holding %d bytes with MaxBytes %d", entries, bytes, max)
		}
	})
	t.Run("a flood of new tokens does not evict a token in use", func(t *testing.T) {
		env := newTCEnv(t, "ES256", func(c *core.Config) { c.TokenCache.MaxEntries = 64 })
		hot := env.iss.Token(authtest.Claims{"sub": "hot"})
		env.mustAccept(t, hot)
		for i := range 500 {
			env.mustAccept(t, env.iss.Token(authtest.Claims{"sub": fmt.Sprint("flood", i)}))
			before := env.verifications()
			env.mustAccept(t, hot)
			if env.verifications() != before {
				t.Fatalf("hot token evicted after %d flood tokens", i+1)
			}
		}
	})
}

func TestTokenCacheConfig(t *testing.T) {
	t.Run("disabled: every request verifies", func(t *testing.T) {
		env := newTCEnv(t, "ES256", func(c *core.Config) { c.TokenCache.Disabled = true })
		tok := env.iss.Token(nil)
		env.mustAccept(t, tok)
		env.mustAccept(t, tok)
		if entries, _, _ := env.stats(); entries != 0 {
			t.Fatal("disabled cache holds entries")
		}
	})
	for _, o := range []core.TokenCacheOptions{{MaxEntries: -1}, {MaxBytes: 1024}, {MaxBytes: -5}} {
		t.Run(fmt.Sprintf("refused %+v", o), func(t *testing.T) {
			iss := authtest.New(t, authtest.WithAlg("ES256"))
			cfg := iss.Config()
			cfg.TokenCache = o
			cfg.Logger = quiet
			a, err := core.New(context.Background(), cfg)
			if err == nil {
				a.Close()
				t.Fatal("accepted")
			}
			if !errors.Is(err, core.ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
		})
	}
}

// TestTokenCacheConcurrent runs hits, misses, evictions and key refreshes at
// once; run it under -race.
func TestTokenCacheConcurrent(t *testing.T) {
	env := newTCEnv(t, "ES256", func(c *core.Config) { c.TokenCache.MaxEntries = 64 })
	toks := make([]string, 100)
	for i := range toks {
		toks[i] = env.iss.Token(authtest.Claims{"sub": fmt.Sprint("u", i)})
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := env.a.RefreshKeys(context.Background()); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var workers sync.WaitGroup
	for g := range 8 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range 300 {
				tok := toks[(g*31+i*7)%len(toks)]
				p, err := env.a.Authenticate(context.Background(), tcBearer(tok))
				if err != nil {
					t.Errorf("refused: %v", err)
					return
				}
				p.SessionChecked = true // handlers' own writes must not race
			}
		}()
	}
	workers.Wait()
	close(stop)
	wg.Wait()
	if entries, _, _ := env.stats(); entries > 64 {
		t.Fatalf("%d entries with MaxEntries 64", entries)
	}
}

func TestTokenCacheOtherTokenKinds(t *testing.T) {
	t.Run("HMAC issuer tokens are cached under the issuer's secret", func(t *testing.T) {
		clock := newTCClock()
		secret := []byte("0123456789abcdef0123456789abcdef-not-a-known-weak-secret")
		a, err := core.New(context.Background(), core.Config{
			Issuer: "https://hs.example.com", Audience: []string{"api"}, HMACSecret: secret,
			Now: clock.Now, Logger: quiet,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		now := clock.Now()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "https://hs.example.com", "aud": "api", "sub": "u1",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		}).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := a.Authenticate(context.Background(), tcBearer(tok)); err != nil {
				t.Fatal(err)
			}
		}
		if entries, _, misses := a.TokenCacheStats(); entries != 1 || misses != 1 {
			t.Fatalf("%d entries, %d verifications; want 1 and 1", entries, misses)
		}
		clock.Advance(2 * time.Minute)
		if _, err := a.Authenticate(context.Background(), tcBearer(tok)); !errors.Is(err, core.ErrTokenExpired) {
			t.Fatalf("expired HMAC token from the cache: %v", err)
		}
	})
	t.Run("opaque tokens are never cached", func(t *testing.T) {
		store := core.NewMemoryStore(core.StoreOptions{})
		t.Cleanup(func() { store.Close() })
		a, err := core.New(context.Background(), core.Config{Opaque: store, Sessions: store, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		s, tok, err := store.Create(context.Background(), core.SessionParams{Subject: "u1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(context.Background(), tcBearer(tok)); err != nil {
			t.Fatal(err)
		}
		if entries, _, _ := a.TokenCacheStats(); entries != 0 {
			t.Fatalf("opaque token cached (%d entries)", entries)
		}
		if err := store.Revoke(context.Background(), s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(context.Background(), tcBearer(tok)); err == nil {
			t.Fatal("revoked opaque token accepted")
		}
	})
}
