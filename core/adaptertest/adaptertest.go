// Package adaptertest is the conformance suite every authgate adapter runs
// against its own real server. One table of requests, one set of expected
// answers: the same input gets the same status, the same headers, the same
// body, and the same handler call (or none) on net/http, gin, echo and fiber
// (SECURITY-CATALOG invariant I6).
//
// An adapter's test supplies a [Harness] whose Start builds the framework's
// server with these routes, each in the framework's own idiom:
//
//	GET  /healthz        public: not covered by any authgate middleware      RoutePublic
//	GET  /optional       Optional(auth)                                     RouteOptional
//	GET  /misconfigured  RequireScopes("orders:read") with no middleware    RouteMisconfigured
//	GET  /me             New(auth)                                          RouteMe
//	POST /me             New(auth)                                          RouteMePost
//	POST /transfer       New(auth) + Sensitive()                            RouteTransfer
//	GET  /account        New(auth) + Sensitive(), HEAD too                  RouteAccount
//	GET  /orders         New(auth) + RequireScopes("orders:read"), HEAD too RouteOrders
//	GET  /admin          New(auth) + RequireRoles("admin")                  RouteAdmin
//	GET  /dpop           New(auth) + RequireDPoP()                          RouteDPoP
//	GET  /step-up        New(auth) + RequireStepUp(StepUp) + Sensitive()    RouteStepUp
//	GET  /stream         New(auth), a stream ended by StreamContext (stream.go) RouteStream
//	POST /backchannel-logout  BackchannelLogout(env.Logout), no middleware,
//	                     only when env.Logout is set          RouteBackchannelLogout
//	POST /ssf/events     SSFPush(env.SSF), no middleware, only when env.SSF
//	                     is set                               RouteSSFPush
//	GET, HEAD (and any method) at each of env.Auth.ResourceMetadataPaths():
//	                     ResourceMetadata(env.Auth), no middleware (resourcemeta.go)
//
// Every handler calls [Env.Serve] with its route name, the request's context
// and what the adapter's Principal accessor returned, and answers 200 with
// [ContentType] and the bytes Serve returns. Run sends every request as raw
// bytes over its own TCP connection, so that header forms Go's client would
// normalise (repeated lines, tabs, odd spacing) reach the server as written.
package adaptertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// Route names, passed to [Env.Serve] by the handler of each route.
const (
	RoutePublic        = "public"        // GET /healthz
	RouteOptional      = "optional"      // GET /optional
	RouteMisconfigured = "misconfigured" // GET /misconfigured
	RouteMe            = "me"            // GET /me
	RouteMePost        = "me-post"       // POST /me
	RouteTransfer      = "transfer"      // POST /transfer
	RouteAccount       = "account"       // GET and HEAD /account
	RouteOrders        = "orders"        // GET and HEAD /orders
	RouteAdmin         = "admin"         // GET /admin
	RouteDPoP          = "dpop"          // GET /dpop
)

// Route requirements the harness must configure.
const (
	// Scope is what RouteOrders and RouteMisconfigured require.
	Scope = "orders:read"
	// Role is what RouteAdmin requires.
	Role = "admin"
)

// ContentType is the Content-Type every handler answers with.
const ContentType = "text/plain; charset=utf-8"

// Realm is the realm of the suite's authenticator.
const Realm = "conformance"

// Harness is one adapter under test.
type Harness struct {
	// Start serves the routes listed in the package documentation on a real
	// server listening on a loopback address, and returns that address
	// (host:port). It stops the server with t.Cleanup.
	Start func(t *testing.T, env *Env) string
	// StartTLS, when set, serves the same routes as Start over TLS with
	// cfg (it holds the server's certificate and asks for a client
	// certificate), for certificate-bound tokens (RFC 8705) and DPoP over
	// https. Without it those cases are skipped.
	StartTLS func(t *testing.T, env *Env, cfg *tls.Config) string
}

// Env is what a harness builds its server from.
type Env struct {
	// Auth is the authenticator for every route.
	Auth *core.Authenticator
	// Logout, when not nil, is the back-channel logout receiver to serve
	// at RouteBackchannelLogout with the adapter's BackchannelLogout.
	Logout *core.BackchannelLogout
	// SSF, when not nil, is the Shared Signals receiver to serve at
	// RouteSSFPush with the adapter's SSFPush.
	SSF *core.SSF

	mu   sync.Mutex
	hits []hit
}

type hit struct {
	route  string
	ok     bool
	agrees bool            // the adapter's accessor and core.PrincipalFrom(ctx) gave the same answer
	seen   *core.Principal // a copy of *p as the handler saw it
}

// Serve records that the handler of route ran, with the principal p, ok the
// adapter's accessor returned and the request context ctx the handler got, and
// returns the body to answer with (status 200, [ContentType]). The body names
// the principal, so that the suite can compare what each adapter handed over.
func (e *Env) Serve(route string, ctx context.Context, p *core.Principal, ok bool) []byte {
	cp, cok := core.PrincipalFrom(ctx)
	h := hit{route: route, ok: ok, agrees: cp == p && cok == ok}
	if ok && p != nil {
		snap := *p
		h.seen = &snap
	}
	e.mu.Lock()
	e.hits = append(e.hits, h)
	e.mu.Unlock()
	return []byte(describe(route, p, ok))
}

func describe(route string, p *core.Principal, ok bool) string {
	if !ok || p == nil {
		return "route=" + route + " anonymous\n"
	}
	return fmt.Sprintf("route=%s sub=%s sid=%s source=%s checked=%t scopes=%s roles=%s\n",
		route, p.Subject, p.SessionID, p.Source, p.SessionChecked,
		strings.Join(p.Scopes, ","), strings.Join(p.Roles, ","))
}

func (e *Env) takeHits() []hit {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.hits
	e.hits = nil
	return h
}

// Session ids the suite's session checker knows.
const (
	SessionActive  = "sess-active"  // answered active
	SessionRevoked = "sess-revoked" // answered revoked
	SessionDown    = "sess-down"    // answered with an error: backend down
	SessionPanic   = "sess-panic"   // the checker panics (OP-05)
)

// Sessions is the suite's session checker: it answers by session id (see
// SessionActive, SessionRevoked, SessionDown, SessionPanic; any other id is
// revoked) and counts its calls. Adapters' own tests may use it too.
type Sessions struct {
	mu    sync.Mutex
	calls int
}

// Check implements core.SessionChecker.
func (s *Sessions) Check(ctx context.Context, sid string) (core.SessionState, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	switch sid {
	case SessionActive:
		return core.StateActive, nil
	case SessionDown:
		return core.StateRevoked, errors.New("adaptertest: session backend down")
	case SessionPanic:
		panic("adaptertest: session checker bug")
	}
	return core.StateRevoked, nil
}

// Calls returns the number of checks so far.
func (s *Sessions) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Config returns the suite's authenticator configuration for iss: realm
// [Realm], a 2 KiB token limit (so that every request stays below fiber's
// default 4 KiB header buffer), the custom header X-Access-Token as a third
// source, and sessions as the session checker (PolicySensitiveOnly).
func Config(iss *authtest.Issuer, sessions core.SessionChecker) core.Config {
	c := iss.Config()
	c.Realm = Realm
	c.MaxTokenSize = 2048
	c.HeaderName = "X-Access-Token"
	c.Sessions = sessions
	return c
}

// Run starts the harness's server and runs every case of the table against
// it, one request at a time.
func Run(t *testing.T, h Harness) {
	t.Helper()
	iss := authtest.New(t)
	sessions := &Sessions{}
	auth, err := core.New(context.Background(), Config(iss, sessions))
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	env := &Env{Auth: auth}
	tokens := mintTokens(iss)
	// One server per configuration: the suite's own, and each variant a case
	// names (started when first needed).
	type server struct {
		env *Env
		r   *runner
	}
	servers := map[string]server{"": {env, &runner{addr: h.Start(t, env), tokens: tokens}}}
	serverFor := func(variant string) server {
		if s, ok := servers[variant]; ok {
			return s
		}
		cfg := Config(iss, sessions)
		variants[variant](&cfg)
		a, err := core.New(context.Background(), cfg)
		if err != nil {
			t.Fatalf("core.New for variant %q: %v", variant, err)
		}
		t.Cleanup(func() { _ = a.Close() })
		e := &Env{Auth: a}
		s := server{e, &runner{addr: h.Start(t, e), tokens: tokens}}
		servers[variant] = s
		return s
	}

	markerWithoutMiddlewareIsLogged(t, servers[""].r)
	t.Run("backchannel-logout", func(t *testing.T) { runBackchannel(t, h, iss) })
	t.Run("key rotated in while the refetch is rate-limited", func(t *testing.T) { runRotation(t, h) })
	t.Run("dpop", func(t *testing.T) { runDPoP(t, h, iss) })
	t.Run("ssf", func(t *testing.T) { runSSF(t, h, iss) })
	t.Run("step-up (RFC 9470)", func(t *testing.T) { runStepUp(t, h, iss) })
	t.Run("streams end with the credential", func(t *testing.T) { runStream(t, h, iss) })
	t.Run("protected resource metadata (RFC 9728)", func(t *testing.T) { runResourceMetadata(t, h, iss) })

	cs := cases()
	if len(cs) < 30 {
		t.Fatalf("the conformance table has %d cases; it must hold at least 30", len(cs))
	}
	for _, c := range cs {
		if _, ok := variants[c.variant]; c.variant != "" && !ok {
			t.Fatalf("case %q names the unknown variant %q", c.name, c.variant)
		}
		srv := serverFor(c.variant)
		env, r := srv.env, srv.r
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("source: %s; configuration: %q", c.source, c.variant)
				}
			}()
			env.takeHits()
			before := sessions.Calls()
			resp, body, err := r.do(c)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			hits := env.takeHits()
			c.want.check(t, c, resp, body, hits, sessions.Calls()-before)
			if c.want.refusedRaw && resp.StatusCode == http.StatusBadRequest && resp.Header.Get("Www-Authenticate") == "" {
				// The server refused the bytes before any middleware ran;
				// what it answers is the framework's, not authgate's. fiber's
				// default error handler quotes the raw request (token
				// included) in that 400: see fiberauth's documentation.
				if r.echoes(resp, body) != "" {
					t.Logf("I5 (framework): the server's own 400 echoes the request's token")
				}
				return
			}
			if name := r.echoes(resp, body); name != "" {
				if c.want.redirectEcho && resp.StatusCode/100 == 3 {
					// The framework redirected before any middleware ran
					// and copied the query, token included (SECURITY.md,
					// "does not guarantee").
					t.Logf("framework redirect %d repeats the query token (documented)", resp.StatusCode)
					return
				}
				t.Errorf("I5: the response echoes a piece of the %s token", name)
			}
		})
	}
}

// Token names used in case headers as {name}.
func mintTokens(iss *authtest.Issuer) map[string]string {
	now := time.Now()
	base := authtest.Claims{"sid": SessionActive, "scope": "profile", "roles": []string{"user"}}
	with := func(over authtest.Claims) string {
		c := authtest.Claims{}
		for k, v := range base {
			c[k] = v
		}
		for k, v := range over {
			c[k] = v
		}
		return iss.Token(c)
	}
	good := with(nil)
	// A signature that does not verify: flip one character in the middle of
	// the signature segment.
	i := strings.LastIndexByte(good, '.') + 40
	flip := byte('A')
	if good[i] == 'A' {
		flip = 'B'
	}
	tampered := good[:i] + string(flip) + good[i+1:]
	// A token signed by a key the issuer never published, under the kid of
	// the real signer.
	signer := iss.Signer()
	rogue := &authtest.Key{ID: signer.ID, Alg: signer.Alg, Private: authtest.GenerateKey(signer.Alg)}
	forgedClaims := iss.Defaults()
	forgedClaims["sid"] = SessionActive
	forged := iss.Sign(rogue, nil, forgedClaims)

	return map[string]string{
		"big":       bigToken(with, core.DefaultMaxTokenSize),
		"good":      good,
		"other":     with(authtest.Claims{"sub": "user-2"}),
		"scoped":    with(authtest.Claims{"scope": "orders:read profile"}),
		"admin":     with(authtest.Claims{"roles": []string{"admin"}}),
		"revoked":   with(authtest.Claims{"sid": SessionRevoked}),
		"down":      with(authtest.Claims{"sid": SessionDown}),
		"panic":     with(authtest.Claims{"sid": SessionPanic}),
		"nosid":     with(authtest.Claims{"sid": nil}),
		"expired":   with(authtest.Claims{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}),
		"wrongaud":  with(authtest.Claims{"aud": "another-api"}),
		"wrongiss":  with(authtest.Claims{"iss": "https://evil.example/"}),
		"tampered":  tampered,
		"forged":    forged,
		"malformed": "abc.def",
		// RFC 8725 and advisories (issue 9 attack suite).
		"hsconfusion":   hsConfusion(iss, base),
		"jwkheader":     iss.Sign(rogue, map[string]any{"jwk": authtest.PublicJWK(rogue)}, forgedClaims),
		"crit":          iss.Sign(signer, map[string]any{"crit": []string{"x-must-understand"}, "x-must-understand": true}, claimsOf(iss, base)),
		"dpop":          iss.Sign(signer, map[string]any{"typ": "dpop+jwt"}, claimsOf(iss, base)),
		"badutf":        authtest.SignRaw(signer, headerOf(signer), withRawClaim(iss, base, `"name":"ad`+"\xff"+`min"`)),
		"dupsub":        authtest.SignRaw(signer, headerOf(signer), withRawClaim(iss, base, `"sub":"admin"`)),
		"dots":          strings.Repeat(".", 2000),
		"dotsover":      strings.Repeat(".", 2100),
		"expiredforged": flipSignature(with(authtest.Claims{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})),
		"jwezip":        b64url(`{"alg":"RSA-OAEP","enc":"A256GCM","zip":"DEF"}`) + ".ZW5jcnlwdGVkLWtleQ.aW5pdGlhbGl6YXRpb24tdmVjdG9y.Y2lwaGVydGV4dA.YXV0aGVudGljYXRpb24tdGFn",
		"pbes":          b64url(`{"alg":"PBES2-HS256+A128KW","enc":"A128GCM","p2c":2147483647,"p2s":"c2FsdHNhbHQ"}`) + ".ZW5jcnlwdGVkLWtleQ.aW5pdGlhbGl6YXRpb24tdmVjdG9y.Y2lwaGVydGV4dA.YXV0aGVudGljYXRpb24tdGFn",
		"jsonjws":       jsonSerialized(good),
		"audempty":      with(authtest.Claims{"aud": []string{}}),
		"algnone":       "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c2VyLTEifQ.",
		// Larger than the 2 KiB MaxTokenSize, JWT-shaped, well below 4 KiB.
		"oversize": strings.Repeat("a", 1000) + "." + strings.Repeat("b", 1000) + "." + strings.Repeat("c", 100),
	}
}

// claimsOf is the issuer's default claims with over laid on them.
func claimsOf(iss *authtest.Issuer, over authtest.Claims) authtest.Claims {
	c := iss.Defaults()
	for k, v := range over {
		c[k] = v
	}
	return c
}

// headerOf is k's default JOSE header as JSON.
func headerOf(k *authtest.Key) []byte {
	b, _ := json.Marshal(map[string]any{"alg": k.Alg, "kid": k.ID, "typ": "JWT"})
	return b
}

// withRawClaim is the JSON of claimsOf(iss, over) with member (raw JSON
// "name":value) appended, so that it may repeat a name or hold invalid UTF-8.
func withRawClaim(iss *authtest.Issuer, over authtest.Claims, member string) []byte {
	b, _ := json.Marshal(map[string]any(claimsOf(iss, over)))
	return append(append(b[:len(b)-1], ","+member...), '}')
}

// hsConfusion MACs a valid claim set with HS256, keyed by the PEM of the
// issuer's public key, under the issuer's kid (RFC 8725 section 2.1).
func hsConfusion(iss *authtest.Issuer, over authtest.Claims) string {
	k := iss.Signer()
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": k.ID, "typ": "JWT"})
	c, _ := json.Marshal(map[string]any(claimsOf(iss, over)))
	in := b64url(string(h)) + "." + b64url(string(c))
	m := hmac.New(sha256.New, []byte(authtest.PublicPEM(k)))
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// flipSignature changes one character in the middle of tok's signature.
func flipSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 40
	flip := byte('A')
	if tok[i] == 'A' {
		flip = 'B'
	}
	return tok[:i] + string(flip) + tok[i+1:]
}

// jsonSerialized is tok as a flattened JSON serialization with no
// "protected" member (the shape of CVE-2024-21664).
func jsonSerialized(tok string) string {
	s := strings.Split(tok, ".")
	return `{"payload":"` + s[1] + `","signature":"` + s[2] + `"}`
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

type runner struct {
	addr   string
	tokens map[string]string
}

// placeholder finds a {name} left after expansion.
var placeholder = regexp.MustCompile(`\{[a-z]+\}`)

// expand replaces {token} names, {origin} and {host} in s.
func (r *runner) expand(s string) string {
	for name, tok := range r.tokens {
		s = strings.ReplaceAll(s, "{"+name+"}", tok)
	}
	s = strings.ReplaceAll(s, "{origin}", "http://"+r.addr)
	return strings.ReplaceAll(s, "{host}", r.addr)
}

// do sends c as raw bytes on a new connection and reads the answer.
func (r *runner) do(c tcase) (*http.Response, []byte, error) {
	conn, err := net.Dial("tcp", r.addr)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	// Not an assertion: only so that a server that never answers fails the
	// case instead of hanging the suite.
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	var b bytes.Buffer
	path := r.expand(c.path)
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", c.method, path, r.addr)
	for _, line := range c.header {
		line = r.expand(line)
		if m := placeholder.FindString(path + line); m != "" {
			return nil, nil, fmt.Errorf("the case names %s, which is no token of mintTokens", m)
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
	reqBody := r.expand(c.body)
	if m := placeholder.FindString(reqBody); m != "" {
		return nil, nil, fmt.Errorf("the case's body names %s, which is no token of mintTokens", m)
	}
	if reqBody != "" || c.method == http.MethodPost {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(reqBody))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(reqBody)
	if _, err := conn.Write(b.Bytes()); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: c.method})
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, body, err
}

// echoes returns the name of a token a piece of which the response carries
// (I5), or "".
func (r *runner) echoes(resp *http.Response, body []byte) string {
	var all bytes.Buffer
	all.Write(body)
	for k, v := range resp.Header {
		fmt.Fprintf(&all, "\n%s: %s", k, strings.Join(v, ", "))
	}
	for name, tok := range r.tokens {
		for _, seg := range strings.Split(tok, ".") {
			if len(seg) >= 8 && bytes.Contains(all.Bytes(), []byte(seg)) {
				return name
			}
		}
	}
	return ""
}

// ignoredHeaders are set by the servers themselves and differ between them.
var ignoredHeaders = []string{"Date", "Content-Length", "Connection", "Keep-Alive"}

func (w want) check(t *testing.T, c tcase, resp *http.Response, body []byte, hits []hit, calls int) {
	t.Helper()
	if w.notServed {
		// EX-16: the framework may answer 401, 404, 400 or redirect; a
		// protected handler must never be reached without credentials.
		t.Logf("answered %d", resp.StatusCode)
		if !slices.Contains([]int{301, 302, 307, 308, 400, 401, 404}, resp.StatusCode) {
			t.Errorf("status %d, want 401, 404, 400 or a redirect", resp.StatusCode)
		}
		for _, h := range hits {
			t.Errorf("handler of %q ran (principal ok=%t)", h.route, h.ok)
		}
		return
	}
	if w.refusedRaw {
		t.Logf("answered %d", resp.StatusCode)
		if resp.StatusCode != 400 && resp.StatusCode != 401 {
			t.Errorf("status %d, want 400 (from the server) or 401", resp.StatusCode)
		}
		for _, h := range hits {
			t.Errorf("I1: handler of %q ran", h.route)
		}
		return
	}
	if resp.StatusCode != w.status {
		t.Errorf("status %d, want %d", resp.StatusCode, w.status)
	}
	wantHeader := map[string]string{"Content-Type": w.contentType}
	if w.challenge != "" {
		wantHeader["Www-Authenticate"] = w.challenge
	}
	if w.cacheControl != "" {
		wantHeader["Cache-Control"] = w.cacheControl
	}
	if w.retryAfter != "" {
		wantHeader["Retry-After"] = w.retryAfter
	}
	got := map[string]string{}
	for k, v := range resp.Header {
		if slices.Contains(ignoredHeaders, k) {
			continue
		}
		if len(v) != 1 && !(k == "Www-Authenticate" && strings.Contains(w.challenge, "\n")) {
			t.Errorf("header %s has %d field lines %q, want 1", k, len(v), v)
		}
		got[k] = strings.Join(v, "\n")
	}
	if w.nonce { // RFC 9449 section 8: a fresh nonce, whose value the case cannot know
		if got["Dpop-Nonce"] == "" {
			t.Errorf("no DPoP-Nonce header")
		}
		wantHeader["Dpop-Nonce"] = got["Dpop-Nonce"]
	}
	for k, v := range wantHeader {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := wantHeader[k]; !ok {
			t.Errorf("unexpected header %s: %q", k, v)
		}
	}
	wantBody := w.body
	if c.method == http.MethodHead {
		wantBody = ""
	}
	if string(body) != wantBody {
		t.Errorf("body %q, want %q", body, wantBody)
	}
	switch {
	case w.route == "" && len(hits) > 0:
		t.Errorf("I1: the handler of %q ran on a refusal", hits[0].route)
	case w.route != "" && len(hits) != 1:
		t.Errorf("handler of %q ran %d times, want once", w.route, len(hits))
	case w.route != "":
		h := hits[0]
		if h.route != w.route {
			t.Errorf("handler of %q ran, want %q", h.route, w.route)
		}
		if !h.agrees {
			t.Errorf("the adapter's Principal accessor and core.PrincipalFrom(ctx) disagree")
		}
		if h.ok != (w.who != nil) {
			t.Errorf("handler saw a principal: %t, want %t", h.ok, w.who != nil)
		} else if w.who != nil {
			w.who.check(t, h.seen)
		}
	}
	switch w.checks {
	case checksNone:
		if calls != 0 {
			t.Errorf("the session checker was called %d times, want none", calls)
		}
	case checksSome:
		if calls == 0 {
			t.Errorf("the session checker was not called")
		}
	}
}

// who is the principal a handler must see.
type who struct {
	sub, sid string
	source   core.Source
	checked  bool
	scopes   []string
	roles    []string
	binding  core.Binding // how the token was bound; BindingNone for bearer tokens
	thumb    string       // Principal.Thumbprint
}

func (w *who) check(t *testing.T, p *core.Principal) {
	t.Helper()
	if p.Subject != w.sub || p.SessionID != w.sid || p.Source != w.source || p.SessionChecked != w.checked ||
		!slices.Equal(p.Scopes, w.scopes) || !slices.Equal(p.Roles, w.roles) || p.Binding != w.binding || p.Thumbprint != w.thumb {
		t.Errorf("principal sub=%q sid=%q source=%v checked=%t scopes=%q roles=%q binding=%v %q, want sub=%q sid=%q source=%v checked=%t scopes=%q roles=%q binding=%v %q",
			p.Subject, p.SessionID, p.Source, p.SessionChecked, p.Scopes, p.Roles, p.Binding, p.Thumbprint,
			w.sub, w.sid, w.source, w.checked, w.scopes, w.roles, w.binding, w.thumb)
	}
	if p.Kind != core.KindJWT {
		t.Errorf("principal kind %v, want jwt", p.Kind)
	}
}

// markerWithoutMiddlewareIsLogged: a per-route marker on a route no authgate
// middleware covers answers 500 to every request, and logs one Error naming
// the route and the marker (the first request of the server to that route:
// Run calls it before the table). The log goes to slog.Default, which it
// replaces while it runs.
func markerWithoutMiddlewareIsLogged(t *testing.T, r *runner) {
	t.Run("a route marker without the middleware logs one error naming the route", func(t *testing.T) {
		var mu sync.Mutex
		var records []slog.Record
		prev := slog.Default()
		slog.SetDefault(slog.New(recordHandler{func(rec slog.Record) {
			mu.Lock()
			records = append(records, rec)
			mu.Unlock()
		}}))
		defer slog.SetDefault(prev)
		c := tcase{name: "misconfigured", method: "GET", path: "/misconfigured", header: []string{"Authorization: Bearer {scoped}"}}
		for range 3 {
			resp, _, err := r.do(c)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			if resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", resp.StatusCode)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		var errs []string
		for _, rec := range records {
			if rec.Level != slog.LevelError {
				continue
			}
			attrs := map[string]string{}
			rec.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			errs = append(errs, rec.Message)
			if attrs["route"] != "GET /misconfigured" || attrs["marker"] != "RequireScopes("+Scope+")" {
				t.Errorf("error log names route %q and marker %q, want %q and %q", attrs["route"], attrs["marker"], "GET /misconfigured", "RequireScopes("+Scope+")")
			}
		}
		if len(errs) != 1 {
			t.Fatalf("%d error logs for three requests, want exactly one: %q", len(errs), errs)
		}
	})
}

// recordHandler is a slog.Handler that hands every record to f.
type recordHandler struct{ f func(slog.Record) }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.f(r.Clone())
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// bigToken mints, with mint, a valid token of at least limit-16 and at most
// limit bytes, by padding a claim the suite ignores.
func bigToken(mint func(authtest.Claims) string, limit int) string {
	base := len(mint(authtest.Claims{"pad": ""}))
	n := (limit - base) * 3 / 4 // base64url: 4 characters per 3 bytes
	for ; n > 0; n-- {
		if tok := mint(authtest.Claims{"pad": strings.Repeat("p", n)}); len(tok) <= limit {
			if len(tok) < limit-16 {
				panic(fmt.Sprintf("adaptertest: big token of %d bytes, want about %d", len(tok), limit))
			}
			return tok
		}
	}
	panic("adaptertest: cannot mint a big token")
}
