package bench

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/bench/load"
	"github.com/authgate/authgate/core/adaptertest"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/echoauth"
	"github.com/authgate/authgate/fiberauth"
	"github.com/authgate/authgate/ginauth"
	"github.com/authgate/authgate/nethttpauth"
	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/valyala/fasthttp"
)

// freshTokens is how many distinct tokens the "fresh" contenders cycle
// through; their authenticator's cache holds freshCacheEntries, so every
// request misses the cache and pays the full verification plus the cache
// insertion (and an eviction).
const (
	freshTokens       = 128
	freshCacheEntries = 64
)

// fixture is one issuer (RS256, 2048-bit key, JWKS over loopback HTTP), the
// token every contender serves, and authgate authenticators in three modes.
type fixture struct {
	iss   *authtest.Issuer
	tok   string   // the one token all contenders serve
	fresh []string // distinct tokens of the same shape, for authgate-fresh
	pub   *rsa.PublicKey

	cached  *core.Authenticator // default config: verified-token cache on
	fresh64 *core.Authenticator // a 64-entry cache, fed freshTokens tokens
	nocache *core.Authenticator // cache disabled
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	gin.SetMode(gin.ReleaseMode)
	f := &fixture{iss: authtest.New(tb)}
	k := f.iss.Signer()
	if k.Alg != "RS256" || k.Private.(*rsa.PrivateKey).N.BitLen() != 2048 {
		tb.Fatalf("issuer key is %s/%d bits, want RS256/2048", k.Alg, k.Private.(*rsa.PrivateKey).N.BitLen())
	}
	f.pub = k.Private.Public().(*rsa.PublicKey)
	mint := func(i int) string {
		now := time.Now()
		return f.iss.Token(authtest.Claims{
			"sub":   fmt.Sprintf("user-%d", i),
			"iat":   now.Unix(),
			"exp":   now.Add(12 * time.Hour).Unix(),
			"scope": "orders:read orders:write",
			"roles": []string{"user"},
		})
	}
	f.tok = mint(0)
	for i := range freshTokens {
		f.fresh = append(f.fresh, mint(i+1))
	}
	newAuth := func(o core.TokenCacheOptions) *core.Authenticator {
		cfg := f.iss.Config()
		cfg.Logger = quiet
		cfg.TokenCache = o
		a, err := core.New(context.Background(), cfg)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = a.Close() })
		return a
	}
	f.cached = newAuth(core.TokenCacheOptions{})
	f.fresh64 = newAuth(core.TokenCacheOptions{MaxEntries: freshCacheEntries})
	f.nocache = newAuth(core.TokenCacheOptions{Disabled: true})
	return f
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }

// ---- contenders on net/http ----

// auth0Middleware is github.com/auth0/go-jwt-middleware/v2 as its README
// sets it up (load.Auth0Middleware, which the load servers run too).
func auth0Middleware(tb testing.TB, f *fixture) func(http.Handler) http.Handler {
	mw, err := load.Auth0Middleware(f.iss.URL, f.iss.JWKSURL(), authtest.DefaultAudience)
	if err != nil {
		tb.Fatal(err)
	}
	return mw
}

type claimsKey struct{}

// golangJWTMiddleware is what one writes by hand over golang-jwt: Bearer
// header, jwt.Parser with the alg, iss, aud and exp checks, claims in the
// context.
func golangJWTMiddleware(f *fixture) func(http.Handler) http.Handler {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(f.iss.URL),
		jwt.WithAudience(authtest.DefaultAudience), jwt.WithExpirationRequired())
	key := func(*jwt.Token) (any, error) { return f.pub, nil }
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !found {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			t, err := parser.Parse(raw, key)
			if err != nil {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, t.Claims)))
		})
	}
}

// BenchmarkPeers serves GET /me through every contender. Sub-benchmark
// names are <framework>/<contender>; "-par" frameworks run the same
// contenders under b.RunParallel on every core.
//
// Contenders: noauth (the framework alone); authgate-cached (the token was
// verified before: the verified-token cache answers); authgate-fresh (every
// request carries a token the cache does not hold); authgate-nocache (cache
// disabled); the framework's well-known JWT middleware (auth0 on net/http,
// echo-jwt on echo, contrib-jwt on fiber; gin has none); golang-jwt-mw (a
// hand-written golang-jwt middleware, net/http).
func BenchmarkPeers(b *testing.B) {
	f := newFixture(b)
	for _, par := range []bool{false, true} {
		sfx := ""
		if par {
			sfx = "-par"
		}
		b.Run("verify"+sfx, func(b *testing.B) { benchVerify(b, f, par) })
		b.Run("nethttp"+sfx, func(b *testing.B) { benchNetHTTP(b, f, par) })
		b.Run("gin"+sfx, func(b *testing.B) { benchGin(b, f, par) })
		b.Run("echo"+sfx, func(b *testing.B) { benchEcho(b, f, par) })
		b.Run("fiber"+sfx, func(b *testing.B) { benchFiber(b, f, par) })
	}
}

// benchVerify times the pieces without any framework.
func benchVerify(b *testing.B, f *fixture, par bool) {
	dot := strings.LastIndexByte(f.tok, '.')
	input := []byte(f.tok[:dot])
	sig, err := base64.RawURLEncoding.DecodeString(f.tok[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	key := func(*jwt.Token) (any, error) { return f.pub, nil }
	strict := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(f.iss.URL),
		jwt.WithAudience(authtest.DefaultAudience), jwt.WithExpirationRequired())
	cases := []struct {
		name string
		op   func(i int) error
	}{
		{"rsa-verify", func(int) error {
			d := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(f.pub, crypto.SHA256, d[:], sig)
		}},
		{"golang-jwt-parse", func(int) error { _, err := jwt.Parse(f.tok, key); return err }},
		{"golang-jwt-parse-strict", func(int) error { _, err := strict.Parse(f.tok, key); return err }},
		{"authgate-core-nocache", authenticate(f.nocache, []string{f.tok})},
		{"authgate-core-fresh", authenticate(f.fresh64, f.fresh)},
		{"authgate-core-cached", authenticate(f.cached, []string{f.tok})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { loop(b, par, c.op) })
	}
}

// authenticate returns an op that calls core's Authenticate on toks in turn.
func authenticate(a *core.Authenticator, toks []string) func(i int) error {
	reqs := make([]stdRequest, len(toks))
	for i, t := range toks {
		r := httptest.NewRequest("GET", "/me", nil)
		r.Header.Set("Authorization", "Bearer "+t)
		reqs[i] = stdRequest{r}
	}
	ctx := context.Background()
	return func(i int) error {
		_, err := a.Authenticate(ctx, reqs[i%len(reqs)])
		return err
	}
}

// loop runs op b.N times, serially or under RunParallel; i is a per-goroutine
// counter that starts at a different offset in each goroutine.
func loop(b *testing.B, par bool, op func(i int) error) {
	if err := op(0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer adaptertest.ReportCPU(b)()
	if !par {
		i := 0
		for b.Loop() {
			if err := op(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
		return
	}
	var g atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(g.Add(1)) * 61
		for pb.Next() {
			if err := op(i); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func benchNetHTTP(b *testing.B, f *fixture, par bool) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /me", ok)
	run := func(name string, h http.Handler, toks []string) {
		b.Run(name, func(b *testing.B) { serveHTTP(b, h, toks, par) })
	}
	run("noauth", mux, []string{f.tok})
	run("authgate-cached", nethttpauth.New(f.cached)(mux), []string{f.tok})
	run("authgate-fresh", nethttpauth.New(f.fresh64)(mux), f.fresh)
	run("authgate-nocache", nethttpauth.New(f.nocache)(mux), []string{f.tok})
	run("auth0", auth0Middleware(b, f)(mux), []string{f.tok})
	run("golang-jwt-mw", golangJWTMiddleware(f)(mux), []string{f.tok})
}

func benchGin(b *testing.B, f *fixture, par bool) {
	handler := func(c *gin.Context) { c.String(http.StatusOK, "ok") }
	app := func(mw ...gin.HandlerFunc) http.Handler {
		e := gin.New()
		e.GET("/me", append(mw, handler)...)
		return e
	}
	run := func(name string, h http.Handler, toks []string) {
		b.Run(name, func(b *testing.B) { serveHTTP(b, h, toks, par) })
	}
	run("noauth", app(), []string{f.tok})
	run("authgate-cached", app(ginauth.New(f.cached)), []string{f.tok})
	run("authgate-fresh", app(ginauth.New(f.fresh64)), f.fresh)
	run("authgate-nocache", app(ginauth.New(f.nocache)), []string{f.tok})
}

func benchEcho(b *testing.B, f *fixture, par bool) {
	handler := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	app := func(mw ...echo.MiddlewareFunc) http.Handler {
		e := echo.New()
		e.GET("/me", handler, mw...)
		return e
	}
	// echo-jwt as its README sets up a JWKS: a KeyFunc from MicahParks/keyfunc.
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	echoJWT, err := load.EchoJWT(ctx, f.iss.JWKSURL())
	if err != nil {
		b.Fatal(err)
	}
	run := func(name string, h http.Handler, toks []string) {
		b.Run(name, func(b *testing.B) { serveHTTP(b, h, toks, par) })
	}
	run("noauth", app(), []string{f.tok})
	run("authgate-cached", app(echoauth.New(f.cached)), []string{f.tok})
	run("authgate-fresh", app(echoauth.New(f.fresh64)), f.fresh)
	run("authgate-nocache", app(echoauth.New(f.nocache)), []string{f.tok})
	run("echo-jwt", app(echoJWT), []string{f.tok})
}

func benchFiber(b *testing.B, f *fixture, par bool) {
	handler := func(c *fiber.Ctx) error { return c.SendString("ok") }
	app := func(mw ...fiber.Handler) fasthttp.RequestHandler {
		a := fiber.New(fiber.Config{DisableStartupMessage: true})
		for _, m := range mw {
			a.Use(m)
		}
		a.Get("/me", handler)
		return a.Handler()
	}
	run := func(name string, h fasthttp.RequestHandler, toks []string) {
		b.Run(name, func(b *testing.B) { serveFiber(b, h, toks, par) })
	}
	run("noauth", app(), []string{f.tok})
	run("authgate-cached", app(fiberauth.New(f.cached)), []string{f.tok})
	run("authgate-fresh", app(fiberauth.New(f.fresh64)), f.fresh)
	run("authgate-nocache", app(fiberauth.New(f.nocache)), []string{f.tok})
	run("contrib-jwt", app(load.FiberContribJWT(f.iss.JWKSURL())), []string{f.tok})
}

// serveHTTP serves GET /me with each of toks in turn through h.
func serveHTTP(b *testing.B, h http.Handler, toks []string, par bool) {
	reqs := make([]*http.Request, len(toks))
	for i, t := range toks {
		reqs[i] = httptest.NewRequest("GET", "/me", nil)
		reqs[i].Header.Set("Authorization", "Bearer "+t)
	}
	newOp := func() func(i int) error {
		// Each goroutine serves its own copies: net/http's ServeMux writes
		// the matched pattern into the *http.Request.
		own := make([]*http.Request, len(reqs))
		for i, r := range reqs {
			own[i] = r.Clone(context.Background())
		}
		w := &discard{h: http.Header{}}
		return func(i int) error {
			clear(w.h)
			w.status = 0
			h.ServeHTTP(w, own[i%len(own)])
			if w.status != http.StatusOK {
				return fmt.Errorf("status %d", w.status)
			}
			return nil
		}
	}
	loopEach(b, par, newOp)
}

// serveFiber serves GET /me with each of toks in turn through a fiber app.
func serveFiber(b *testing.B, h fasthttp.RequestHandler, toks []string, par bool) {
	hdrs := make([][]byte, len(toks))
	for i, t := range toks {
		hdrs[i] = []byte("Bearer " + t)
	}
	newOp := func() func(i int) error {
		var fctx fasthttp.RequestCtx
		fctx.Request.Header.SetMethod("GET")
		fctx.Request.SetRequestURI("/me")
		fctx.Request.Header.SetBytesV("Authorization", hdrs[0])
		return func(i int) error {
			if len(hdrs) > 1 {
				fctx.Request.Header.SetBytesV("Authorization", hdrs[i%len(hdrs)])
			}
			// What fasthttp's server does between two requests of a
			// connection: without it, each request's user context would be
			// the child of the previous one (a chain kept alive forever).
			fctx.ResetUserValues()
			fctx.Response.Reset()
			h(&fctx)
			if s := fctx.Response.StatusCode(); s != http.StatusOK {
				return fmt.Errorf("status %d", s)
			}
			return nil
		}
	}
	loopEach(b, par, newOp)
}

// loopEach is loop with per-goroutine state: newOp is called once per
// goroutine.
func loopEach(b *testing.B, par bool, newOp func() func(i int) error) {
	if err := newOp()(0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer adaptertest.ReportCPU(b)()
	if !par {
		op := newOp()
		i := 0
		for b.Loop() {
			if err := op(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
		return
	}
	var g atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		op := newOp()
		i := int(g.Add(1)) * 61
		for pb.Next() {
			if err := op(i); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	h      http.Header
	status int
}

func (d *discard) Header() http.Header { return d.h }
func (d *discard) WriteHeader(s int) {
	if d.status == 0 {
		d.status = s
	}
}
func (d *discard) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}

// stdRequest is the plainest core.Request over a *http.Request.
type stdRequest struct{ r *http.Request }

func (q stdRequest) Method() string              { return q.r.Method }
func (q stdRequest) Host() string                { return q.r.Host }
func (q stdRequest) Header(name string) []string { return q.r.Header[name] }
func (q stdRequest) RawQuery() string            { return q.r.URL.RawQuery }
func (q stdRequest) StdRequest() *http.Request   { return q.r }
