package core_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// counting wraps h and counts the requests it serves.
type counting struct {
	n atomic.Int64
	h http.Handler
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h.ServeHTTP(w, r)
}

func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *counting) {
	c := &counting{h: h}
	s := httptest.NewServer(c)
	t.Cleanup(s.Close)
	return s, c
}

// jwksAuth is an Authenticator on iss's JWKS URL (no discovery), so fault
// handlers see JWKS requests only.
func jwksAuth(t *testing.T, iss *authtest.Issuer, mutate func(*core.Config)) *core.Authenticator {
	t.Helper()
	cfg := iss.Config()
	cfg.JWKSURL = iss.JWKSURL()
	cfg.Logger = quiet
	cfg.FetchTimeout = 500 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	return startAuth(t, cfg)
}

func jwksOf(keys ...any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func accept(t *testing.T, a *core.Authenticator, tok string) *core.Principal {
	t.Helper()
	p, err := a.Authenticate(context.Background(), bearerReq(tok))
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	return p
}

func refuse(t *testing.T, a *core.Authenticator, tok string, want error) {
	t.Helper()
	_, err := a.Authenticate(context.Background(), bearerReq(tok))
	checkRefused(t, a, err, want, tok)
}

// TestJWKSFaultsKeepCachedKeys pins KS-01, KS-03, KS-04, KS-05 and KS-06:
// every faulty answer fails the refresh within the fetch bounds, and the
// cached keys keep serving.
func TestJWKSFaultsKeepCachedKeys(t *testing.T) {
	iss := startIssuer(t, "ES256")
	a := jwksAuth(t, iss, nil)
	tok := iss.Token(nil)
	accept(t, a, tok)

	second, secondHits := countingServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write(iss.JWKS()) })
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write([]byte(`{"keys":[`))
	zw.Write(make([]byte, 8<<20))
	zw.Close()
	good := iss.JWKS()
	faults := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"KS-01 500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) }},
		{"KS-01 404", http.NotFound},
		{"KS-01 connection closed mid-answer", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"keys\""))
				conn.Close()
			}
		}},
		{"KS-03 hanging until the fetch timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{"KS-03 trickling one byte at a time", func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			for i := 0; ; i++ {
				if _, err := w.Write(good[i%len(good) : i%len(good)+1]); err != nil {
					return
				}
				rc.Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}},
		{"KS-04 2 MiB body", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[],"pad":"`))
			w.Write(bytes.Repeat([]byte("a"), 2<<20))
			w.Write([]byte(`"}`))
		}},
		{"KS-04 endless stream", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[`))
			chunk := bytes.Repeat([]byte(" "), 64<<10)
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}},
		{"KS-05 gzip bomb (8 MiB decompressed)", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb.Bytes())
		}},
		{"KS-05 HTML with 200", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html><body>login</body></html>")) }},
		{"KS-05 invalid JSON", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[{`)) }},
		{"KS-05 keys is an object", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":{}}`)) }},
		{"KS-05 keys [null]", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[null]}`)) }},
		{"KS-05 empty object", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }},
		{"KS-05 JSON followed by trailing bytes", func(w http.ResponseWriter, r *http.Request) {
			w.Write(append(append([]byte{}, good...), " <script>"...))
		}},
		{"KS-05 only unusable keys", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"AKP","pub":"AA"}]}`))
		}},
		{"KS-06 302 to another server", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, second.URL+"/jwks.json", http.StatusFound)
		}},
		{"KS-06 307 to another server", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, second.URL+"/jwks.json", http.StatusTemporaryRedirect)
		}},
		{"KS-06 308 to cloud metadata", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data", http.StatusPermanentRedirect)
		}},
		{"KS-06 redirect loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.String(), http.StatusFound) }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			iss.SetHandler(f.h)
			defer iss.SetHandler(nil)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if err := a.RefreshKeys(context.Background()); err == nil {
				t.Fatal("the refresh succeeded")
			}
			runtime.ReadMemStats(&after)
			// KS-04: whatever the server sends, one refresh allocates a
			// bounded amount (MaxJWKSSize is 1 MiB here).
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 16<<20 {
				t.Fatalf("KS-04: one refresh allocated %d MiB", grown>>20)
			}
			accept(t, a, tok) // cached keys keep serving
		})
	}
	if n := secondHits.n.Load(); n != 0 {
		t.Fatalf("KS-06: the redirect target saw %d requests; want 0", n)
	}
}

// TestStartup pins KS-02, KS-06 and KS-08: New fails loudly when keys cannot
// be had, unless explicitly allowed to start, and then answers 503.
func TestStartup(t *testing.T) {
	second, secondHits := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":"x","jwks_uri":"http://127.0.0.1:1/jwks"}`))
	})
	t.Run("KS-02 JWKS unreachable at start: New fails", func(t *testing.T) {
		iss := startIssuer(t, "ES256")
		iss.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }))
		cfg := iss.Config()
		cfg.Logger = quiet
		if a, err := core.New(context.Background(), cfg); err == nil {
			a.Close()
			t.Fatal("New succeeded without keys")
		} else if !strings.Contains(err.Error(), "AllowStartWithoutKeys") {
			t.Fatalf("error does not say how to start anyway: %v", err)
		}
	})
	t.Run("KS-02 allowed to start without keys: 503, then keys arrive", func(t *testing.T) {
		iss := startIssuer(t, "ES256")
		iss.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }))
		a := jwksAuth(t, iss, func(c *core.Config) { c.AllowStartWithoutKeys = true; c.Issuer = iss.URL })
		tok := iss.Token(nil)
		_, err := a.Authenticate(context.Background(), bearerReq(tok))
		checkRefused(t, a, err, core.ErrUnavailable, tok)
		if resp := adapter.Render(a, err); resp.Header.Get("Retry-After") == "" || strings.Contains(resp.Header.Get("Www-Authenticate"), "invalid_token") {
			t.Fatalf("KS-02: 503 without Retry-After or blaming the token: %v", resp.Header)
		}
		iss.SetHandler(nil)
		if err := a.RefreshKeys(context.Background()); err != nil {
			t.Fatal(err)
		}
		accept(t, a, tok)
	})
	t.Run("KS-02 discovery unreachable but allowed to start", func(t *testing.T) {
		iss := startIssuer(t, "ES256")
		iss.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }))
		cfg := iss.Config()
		cfg.Logger, cfg.AllowStartWithoutKeys = quiet, true
		a := startAuth(t, cfg)
		iss.SetHandler(nil)
		if err := a.RefreshKeys(context.Background()); err != nil {
			t.Fatal(err)
		}
		accept(t, a, iss.Token(nil))
	})
	discovery := func(doc string) func(iss *authtest.Issuer) http.Handler {
		return func(iss *authtest.Issuer) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/jwks.json" {
					w.Write(iss.JWKS())
					return
				}
				fmt.Fprintf(w, doc, iss.URL)
			})
		}
	}
	for _, tc := range []struct {
		name   string
		h      func(iss *authtest.Issuer) http.Handler
		config bool // the error wraps ErrConfig
	}{
		{"KS-08 discovery names the issuer with a trailing slash (OIDC Discovery 4.3)", discovery(`{"issuer":"%s/","jwks_uri":"http://127.0.0.1:1/jwks.json"}`), true},
		{"KS-08 discovery names another host", discovery(`{"issuer":"https://evil.example","jwks_uri":"%s/jwks.json"}`), true},
		{"KS-08 discovery without jwks_uri", discovery(`{"issuer":"%s"}`), true},
		{"KS-08 discovery with an http jwks_uri off loopback", discovery(`{"issuer":"%s","jwks_uri":"http://id.example.com/jwks.json"}`), true},
		{"KS-08 discovery garbage", discovery(`<html>%s</html>`), false},
		{"KS-08 discovery with duplicate members", discovery(`{"issuer":"%s","issuer":"x"}`), false},
		{"KS-08 huge discovery document", func(iss *authtest.Issuer) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q,"pad":"%s"}`, iss.URL, iss.JWKSURL(), strings.Repeat("a", 2<<20))
			})
		}, false},
		{"KS-06 discovery redirects to another server", func(iss *authtest.Issuer) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, second.URL, http.StatusFound) })
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := startIssuer(t, "ES256")
			var jwksHits atomic.Int64
			h := tc.h(iss)
			iss.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/jwks.json" {
					jwksHits.Add(1)
				}
				h.ServeHTTP(w, r)
			}))
			cfg := iss.Config()
			cfg.Logger = quiet
			cfg.AllowStartWithoutKeys = tc.config // a wrong document fails even when allowed
			a, err := core.New(context.Background(), cfg)
			if err == nil {
				a.Close()
				t.Fatal("New succeeded")
			}
			if tc.config && !errors.Is(err, core.ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			if jwksHits.Load() != 0 {
				t.Fatalf("a JWKS was fetched from a rejected discovery document")
			}
		})
	}
	if n := secondHits.n.Load(); n != 0 {
		t.Fatalf("KS-06: the redirect target saw %d requests; want 0", n)
	}
}

// TestKnownKidNeverWaits pins KS-03 / HD-04: while a refetch hangs, requests
// with a known kid are answered, and a request with an unknown kid waits at
// most briefly (not for the fetch): both return while the fetch still hangs.
func TestKnownKidNeverWaits(t *testing.T) {
	iss := startIssuer(t, "ES256")
	a := jwksAuth(t, iss, func(c *core.Config) { c.FetchTimeout = time.Minute })
	tok := iss.Token(nil)
	accept(t, a, tok)

	entered := make(chan struct{}, 16)
	release := make(chan struct{})
	var finished atomic.Bool
	iss.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		finished.Store(true)
	}))
	defer close(release)
	rogue := iss.Rotate("ES256") // published nowhere while the handler hangs
	unknown := iss.Token(nil)
	_ = rogue
	_, err := a.Authenticate(context.Background(), bearerReq(unknown))
	checkRefused(t, a, err, core.ErrInvalidToken, unknown)
	<-entered // the refetch it asked for is now hanging
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Authenticate(context.Background(), bearerReq(tok)); err != nil {
				t.Errorf("known kid refused during a hanging refetch: %v", err)
			}
		}()
	}
	wg.Wait()
	if finished.Load() {
		t.Fatal("requests returned only after the hanging fetch ended")
	}
}

// TestUnknownKidFlood pins HD-04: a flood of random kids costs the issuer a
// bounded number of fetches, every flood request is refused, and known-kid
// traffic is served throughout.
func TestUnknownKidFlood(t *testing.T) {
	iss := startIssuer(t, "ES256")
	a := jwksAuth(t, iss, nil) // UnknownKeyRefresh default 5s
	tok := iss.Token(nil)
	accept(t, a, tok)
	before := iss.Fetches()
	start := time.Now()
	var wg sync.WaitGroup
	var refused, served atomic.Int64
	work := make(chan int)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if i%10 == 0 {
					if _, err := a.Authenticate(context.Background(), bearerReq(tok)); err == nil {
						served.Add(1)
					}
					continue
				}
				kid := fmt.Sprintf("random-%d", i)
				forged := authtest.SignRaw(iss.Signer(), []byte(fmt.Sprintf(`{"alg":"ES256","kid":%q}`, kid)), []byte(claimsJSON(iss, "")))
				if _, err := a.Authenticate(context.Background(), bearerReq(forged)); errors.Is(err, core.ErrInvalidToken) {
					refused.Add(1)
				}
			}
		}()
	}
	for i := range 1000 {
		work <- i
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	fetches := iss.Fetches() - before
	bound := 1 + int64(elapsed/(5*time.Second)) + 1
	if fetches > bound {
		t.Fatalf("HD-04: %d JWKS fetches in %v for 900 unknown kids; want <= %d", fetches, elapsed, bound)
	}
	if refused.Load() != 900 || served.Load() != 100 {
		t.Fatalf("refused %d of 900 forged, served %d of 100 known", refused.Load(), served.Load())
	}
	t.Logf("HD-04: 900 unknown kids -> %d JWKS fetches in %v", fetches, elapsed)
}

// TestRotation pins KS-09, KS-10 and KS-11.
func TestRotation(t *testing.T) {
	t.Run("KS-09 a rotated-in key is picked up at its first token", func(t *testing.T) {
		iss := startIssuer(t, "ES256")
		a := jwksAuth(t, iss, nil)
		old := iss.Token(nil)
		accept(t, a, old)
		iss.Rotate("EdDSA")
		fresh := iss.Token(nil)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := old
				if i%2 == 0 {
					tok = fresh
				}
				if _, err := a.Authenticate(context.Background(), bearerReq(tok)); err != nil {
					t.Errorf("request %d refused during rotation: %v", i, err)
				}
			}()
		}
		wg.Wait()
		if n := iss.Fetches(); n > 3 {
			t.Fatalf("%d fetches for one rotation", n)
		}
	})
	t.Run("KS-10 a removed key is refused after the next refresh (jwkset #40)", func(t *testing.T) {
		iss := startIssuer(t, "ES256")
		a := jwksAuth(t, iss, nil)
		old := iss.Token(nil)
		accept(t, a, old)
		oldKid := iss.Signer().ID
		iss.Rotate("ES256")
		iss.RemoveKey(oldKid)
		if err := a.RefreshKeys(context.Background()); err != nil {
			t.Fatal(err)
		}
		refuse(t, a, old, core.ErrInvalidToken)
		accept(t, a, iss.Token(nil))
	})
	t.Run("KS-11 the same kid with new key material", func(t *testing.T) {
		iss := startIssuer(t, "ES256")
		a := jwksAuth(t, iss, func(c *core.Config) { c.UnknownKeyRefresh = time.Second })
		oldKey := iss.Signer()
		old := iss.Token(nil)
		accept(t, a, old)
		newKey := &authtest.Key{ID: oldKey.ID, Alg: "ES256", Private: authtest.GenerateKey("ES256")}
		iss.SetJWKS(jwksOf(authtest.PublicJWK(newKey)))
		fresh := iss.Sign(newKey, nil, iss.Defaults())
		before := iss.Fetches()
		// The first new-key token fails against the cached key and asks for
		// a (rate-limited) refetch; nobody waits for it.
		refuse(t, a, fresh, core.ErrInvalidToken)
		for i := 0; iss.Fetches() == before; i++ {
			if i > 500 {
				t.Fatal("no refetch after a signature failure on a known kid")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := a.RefreshKeys(context.Background()); err != nil {
			t.Fatal(err)
		}
		accept(t, a, fresh)
		refuse(t, a, old, core.ErrInvalidToken)
	})
}

// TestUnusableKeys pins KS-12 … KS-17 and AL-13 through a served JWKS.
func TestUnusableKeys(t *testing.T) {
	iss := startIssuer(t, "ES256")
	good := iss.Signer()
	weakPriv, _ := rsa.GenerateKey(rand.Reader, 1024)
	weak := &authtest.Key{ID: "weak", Alg: "RS256", Private: weakPriv}
	enc := &authtest.Key{ID: "enc", Alg: "RS256", Private: authtest.GenerateKey("RS256")}
	encJWK := authtest.PublicJWK(enc)
	encJWK["use"] = "enc"
	opsKey := &authtest.Key{ID: "ops", Alg: "RS256", Private: authtest.GenerateKey("RS256")}
	opsJWK := authtest.PublicJWK(opsKey)
	opsJWK["key_ops"] = []string{"encrypt", "wrapKey"}
	delete(opsJWK, "use")
	oaepKey := &authtest.Key{ID: "oaep", Alg: "RS256", Private: authtest.GenerateKey("RS256")}
	oaepJWK := authtest.PublicJWK(oaepKey)
	oaepJWK["alg"] = "RSA-OAEP"
	delete(oaepJWK, "use")
	dupA := &authtest.Key{ID: "dup", Alg: "ES256", Private: authtest.GenerateKey("ES256")}
	dupB := &authtest.Key{ID: "dup", Alg: "ES256", Private: authtest.GenerateKey("ES256")}
	octSecret := []byte("published-oct-key-published-oct-key!")
	withPrivate := authtest.PublicJWK(good)
	withPrivate["d"] = "c2VjcmV0LWQtdmFsdWUtdGhhdC1tdXN0LW5vdC1sZWFr"
	// good's private scalar is not this d; the loader must ignore d anyway.
	offCurve := &authtest.Key{ID: "offcurve", Alg: "ES256", Private: authtest.GenerateKey("ES256")}
	offJWK := authtest.PublicJWK(offCurve)
	y, _ := base64.RawURLEncoding.DecodeString(offJWK["y"].(string))
	y[len(y)-1] ^= 1
	offJWK["y"] = enc64(y)
	iss.SetJWKS(jwksOf(
		withPrivate,
		map[string]any{"kty": "AKP", "kid": "mldsa", "alg": "ML-DSA-44", "pub": "AAAA"},
		map[string]any{"kty": "OKP", "kid": "ed448", "crv": "Ed448", "x": enc64(make([]byte, 57))},
		map[string]any{"kty": "EC", "kid": "k1", "crv": "secp256k1", "x": enc64(make([]byte, 32)), "y": enc64(make([]byte, 32))},
		map[string]any{"kty": "OKP", "kid": "x25519", "crv": "X25519", "use": "enc", "x": enc64(make([]byte, 32))},
		map[string]any{"kty": "RSA", "kid": "x5c", "x5c": []string{"bm90IGEgY2VydA"}, "n": "AQAB", "e": "AQAB"},
		map[string]any{"kty": "oct", "kid": "hs", "k": enc64(octSecret)},
		authtest.PublicJWK(weak), encJWK, opsJWK, oaepJWK, offJWK,
		authtest.PublicJWK(dupA), authtest.PublicJWK(dupB),
	))
	var logs bytes.Buffer
	a := jwksAuth(t, iss, func(c *core.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c.Algorithms = []string{"ES256", "RS256"}
	})
	accept(t, a, iss.Token(nil)) // KS-12: the good key serves beside the others
	if ids := a.KeyIDs(iss.URL); strings.Join(ids, ",") != good.ID+",dup,dup" {
		t.Fatalf("loaded kids %v", ids)
	}
	mac := func(hdr string) string {
		input := enc64([]byte(hdr)) + "." + enc64([]byte(claimsJSON(iss, "")))
		m := hmac.New(sha256.New, octSecret)
		m.Write([]byte(input))
		return input + "." + enc64(m.Sum(nil))
	}
	for name, tok := range map[string]string{
		"KS-13 HS256 MACed with a published oct key, naming it":        mac(`{"alg":"HS256","kid":"hs"}`),
		"KS-13 HS256 MACed with a published oct key, kid-less":         mac(`{"alg":"HS256"}`),
		"KS-13 RS256 naming the oct key":                               authtest.SignRaw(enc, []byte(`{"alg":"RS256","kid":"hs"}`), []byte(claimsJSON(iss, ""))),
		"AL-13 token signed by a 1024-bit key in the JWKS":             iss.Sign(weak, nil, iss.Defaults()),
		"KS-14 token signed by a use=enc key (Wycheproof 353)":         iss.Sign(enc, nil, iss.Defaults()),
		"KS-14 token signed by a key_ops=encrypt key (Wycheproof 355)": iss.Sign(opsKey, nil, iss.Defaults()),
		"KS-14 token signed by an RSA-OAEP key":                        iss.Sign(oaepKey, nil, iss.Defaults()),
		"KS-16 token naming an ambiguous kid, signed by one of them":   iss.Sign(dupA, nil, iss.Defaults()),
		"KS-15 token naming an off-curve EC key":                       iss.Sign(offCurve, nil, iss.Defaults()),
	} {
		t.Run(name, func(t *testing.T) { refuse(t, a, tok, core.ErrInvalidToken) })
	}
	text := logs.String()
	if !strings.Contains(text, "private") {
		t.Fatalf("KS-17: no log about published private members:\n%s", text)
	}
	if strings.Contains(text, withPrivate["d"].(string)) {
		t.Fatal("KS-17: the private member was logged")
	}
	if !strings.Contains(text, "skipped") {
		t.Fatalf("KS-12: skipped keys were not logged:\n%s", text)
	}
}

// TestCloseLeavesNothing pins KS-19 / OP-07: Close ends every background
// goroutine, and repeated New/Close keeps the goroutine count flat.
func TestCloseLeavesNothing(t *testing.T) {
	iss := startIssuer(t, "ES256")
	tok := iss.Token(nil)
	settle := func(limit int) int {
		n := runtime.NumGoroutine()
		for i := 0; i < 200 && n > limit; i++ {
			time.Sleep(10 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		return n
	}
	// Warm up the HTTP client's connection goroutines first.
	warm := jwksAuth(t, iss, nil)
	accept(t, warm, tok)
	warm.Close()
	base := settle(0)
	for range 20 {
		cfg := iss.Config()
		cfg.Logger, cfg.Now = quiet, clock
		a, err := core.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		accept(t, a, tok)
		// An unknown kid asks the refresh goroutine for a refetch.
		a.Authenticate(context.Background(), bearerReq(authtest.SignRaw(iss.Signer(), []byte(`{"alg":"ES256","kid":"nope"}`), []byte(claimsJSON(iss, "")))))
		a.Close()
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if n := settle(base + 2); n > base+2 {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines grew from %d to %d after 20 New/Close cycles:\n%s", base, n, buf[:runtime.Stack(buf, true)])
	}
}
