package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// Tests of Config.TokenIntrospection (issue 16): a JWT verified locally is
// introspected (RFC 7662) on the routes that get a live check, for issuers
// that revoke tokens where no session id shows it.

// jwtIntrospection is an issuer, an introspection endpoint that knows the
// tokens it was told about, and an authenticator that uses both.
type jwtIntrospection struct {
	iss     *authtest.Issuer
	stub    *introspectionStub
	in      *core.Introspector
	auth    *core.Authenticator
	mu      sync.Mutex
	revoked map[string]bool // token -> revoked at the endpoint
	seen    atomic.Value    // the last token the endpoint was asked about
	sub     string          // the sub the endpoint answers; default the token's "user-1"
}

func newJWTIntrospection(t *testing.T, mut func(c *core.Config)) *jwtIntrospection {
	t.Helper()
	e := &jwtIntrospection{iss: authtest.New(t), revoked: map[string]bool{}, sub: "user-1"}
	e.stub = newIntrospectionStub(t, func(tok string) (int, string) {
		e.seen.Store(tok)
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.revoked[tok] {
			return 200, `{"active":false}`
		}
		return 200, fmt.Sprintf(`{"active":true,"sub":%q,"iss":%q,"token_type":"Bearer","exp":%d}`, e.sub, e.iss.URL, time.Now().Add(time.Hour).Unix())
	})
	e.in = newIntrospector(t, e.stub.URL, func(o *core.IntrospectionOptions) {
		o.Issuer, o.Audience = e.iss.URL, nil
	})
	t.Cleanup(func() { e.in.Close() })
	cfg := e.iss.Config()
	cfg.TokenIntrospection = e.in
	cfg.Logger = quiet
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

func (e *jwtIntrospection) revoke(tok string) {
	e.mu.Lock()
	e.revoked[tok] = true
	e.mu.Unlock()
}

// status runs one request (Admit, and Require for a sensitive route) and
// returns its status and the refusal.
func (e *jwtIntrospection) status(tok string, sensitive bool) (int, *core.Error) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ctx, err := adapter.Admit(e.auth, context.Background(), adapter.HTTPRequest(r), false)
	if err == nil && sensitive {
		err = core.Require(ctx, core.Requirements{Sensitive: true})
	}
	if err == nil {
		return 200, nil
	}
	var ae *core.Error
	errors.As(err, &ae)
	return adapter.Render(e.auth, err).Status, ae
}

func causeOf(ae *core.Error) string {
	if ae == nil {
		return ""
	}
	return core.Cause(ae)
}

func TestJWTIntrospectedOnSensitiveRoute(t *testing.T) {
	e := newJWTIntrospection(t, nil)
	tok := e.iss.Token(nil)
	for i := range 2 { // the second is a verified-token cache hit
		if st, _ := e.status(tok, true); st != 200 {
			t.Fatalf("sensitive request %d with an active token: %d, want 200", i, st)
		}
	}
	if got, _ := e.seen.Load().(string); got != tok {
		t.Fatalf("the endpoint was asked about %q, want the JWT itself", got)
	}
	if n := e.stub.calls.Load(); n != 2 {
		t.Fatalf("%d introspection calls for two sensitive requests, want 2 (active answers are never reused)", n)
	}
	if st, _ := e.status(tok, false); st != 200 {
		t.Fatalf("plain route: %d, want 200", st)
	}
	if n := e.stub.calls.Load(); n != 2 {
		t.Fatalf("a plain route made an introspection call (%d calls), want none under PolicySensitiveOnly", n)
	}

	e.revoke(tok) // RFC 7009 at the issuer: only introspection can tell
	st, ae := e.status(tok, true)
	if st != 401 || ae == nil || ae.Code != "invalid_token" {
		t.Fatalf("sensitive request after the revocation: %d %+v, want 401 invalid_token", st, ae)
	}
	if c := causeOf(ae); !strings.Contains(c, "introspection") {
		t.Errorf("cause %q does not name the introspection", c)
	}
	if st, _ := e.status(tok, false); st != 200 {
		t.Errorf("plain route after the revocation: %d, want 200 (the token is trusted until exp there)", st)
	}
	if st, _ := e.status(e.iss.Token(nil), true); st != 200 {
		t.Errorf("another token of the same session after the revocation: %d, want 200", st)
	}
}

func TestJWTIntrospectionDownIs503(t *testing.T) {
	var mode atomic.Int32 // 0 active, 1 status 500, 2 garbage, 3 slower than the timeout
	e := newJWTIntrospection(t, func(c *core.Config) {})
	e.stub.body.Store(func(tok string) (int, string) {
		switch mode.Load() {
		case 1:
			return 500, `{}`
		case 2:
			return 200, `<html>`
		case 3:
			time.Sleep(800 * time.Millisecond) // the introspector's timeout is 500ms
		}
		return 200, fmt.Sprintf(`{"active":true,"sub":"user-1","iss":%q}`, e.iss.URL)
	})
	tok := e.iss.Token(nil)
	for _, m := range []int32{1, 2, 3} {
		mode.Store(m)
		st, ae := e.status(tok, true)
		if st != 503 {
			t.Fatalf("mode %d: %d, want 503", m, st)
		}
		if h := adapter.Render(e.auth, ae).Header.Get("Retry-After"); h == "" {
			t.Errorf("mode %d: 503 without Retry-After", m)
		}
		if st, _ := e.status(tok, false); st != 200 {
			t.Errorf("mode %d: plain route %d, want 200 (no live check there)", m, st)
		}
	}
	mode.Store(0)
	if st, _ := e.status(tok, true); st != 200 {
		t.Errorf("endpoint back: %d, want 200", st)
	}
	e.stub.Close() // connection refused
	if st, _ := e.status(tok, true); st != 503 {
		t.Errorf("endpoint gone: %d, want 503", st)
	}
}

// The revocation rule for JWT introspection: a request that arrives after
// the endpoint acknowledged a revocation never takes the "active" of a call
// that began before it.
func TestJWTIntrospectionNeverReusedAcrossRevocation(t *testing.T) {
	b := newSlowFirstAnswer()
	iss := authtest.New(t)
	stub := newIntrospectionStub(t, func(string) (int, string) {
		if b.read() {
			return 200, fmt.Sprintf(`{"active":true,"sub":"user-1","iss":%q}`, iss.URL)
		}
		return 200, `{"active":false}`
	})
	in := newIntrospector(t, stub.URL, func(o *core.IntrospectionOptions) {
		o.Issuer, o.Audience = iss.URL, nil
		o.Timeout = 20 * time.Second // generous: the later requests wait for the first call
	})
	defer in.Close()
	cfg := iss.Config()
	cfg.TokenIntrospection, cfg.Logger = in, quiet
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tok := iss.Token(nil)
	first, later := b.afterRevocation(t, 8, func() int { return statusOfAdmit(a, tok, true) })
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
}

func TestJWTIntrospectionWithSessionCheck(t *testing.T) {
	checker := &stubChecker{}
	e := newJWTIntrospection(t, func(c *core.Config) { c.Sessions = checker })
	tok := e.iss.Token(nil) // sid "session-1"
	if st, _ := e.status(tok, true); st != 200 {
		t.Fatalf("both alive: %d, want 200", st)
	}
	if checker.calls.Load() != 1 || e.stub.calls.Load() != 1 {
		t.Fatalf("checker %d calls, introspection %d, want one each", checker.calls.Load(), e.stub.calls.Load())
	}

	checker.revoke("session-1")
	if st, _ := e.status(tok, true); st != 401 {
		t.Errorf("session revoked, token active: %d, want 401", st)
	}

	tok2 := e.iss.Token(authtest.Claims{"sid": "session-2"})
	e.revoke(tok2)
	if st, _ := e.status(tok2, true); st != 401 {
		t.Errorf("session alive, token revoked: %d, want 401", st)
	}

	// A token without a session id (client_credentials) is introspected
	// only; without introspection it would be refused for want of a sid.
	noSID := e.iss.Token(authtest.Claims{"sid": nil})
	before := checker.calls.Load()
	if st, _ := e.status(noSID, true); st != 200 {
		t.Errorf("token without sid, introspection active: %d, want 200", st)
	}
	if checker.calls.Load() != before {
		t.Errorf("the session checker was called for a token without sid")
	}
	e.revoke(noSID)
	if st, _ := e.status(noSID, true); st != 401 {
		t.Errorf("token without sid, revoked: %d, want 401", st)
	}
}

func TestJWTIntrospectionAnswerForAnotherSubject(t *testing.T) {
	e := newJWTIntrospection(t, nil)
	e.sub = "user-2"
	if st, ae := e.status(e.iss.Token(nil), true); st != 401 || !strings.Contains(causeOf(ae), "another subject") {
		t.Fatalf("answer about another subject: %d (%s), want 401", st, causeOf(ae))
	}
}

func TestJWTIntrospectionPolicyAlways(t *testing.T) {
	// Always needs a live check; introspection alone is one.
	e := newJWTIntrospection(t, func(c *core.Config) { c.SessionPolicy = core.PolicyAlways })
	tok := e.iss.Token(authtest.Claims{"sid": nil})
	if st, _ := e.status(tok, false); st != 200 {
		t.Fatalf("active: %d, want 200", st)
	}
	if st, _ := e.status(tok, true); st != 200 {
		t.Fatalf("active, sensitive: %d, want 200", st)
	}
	if n := e.stub.calls.Load(); n != 2 {
		t.Errorf("%d calls for two requests under Always, want 2 (the sensitive one is not checked twice)", n)
	}
	e.revoke(tok)
	if st, _ := e.status(tok, false); st != 401 {
		t.Errorf("revoked, plain route under Always: %d, want 401", st)
	}
}

func TestJWTIntrospectionConfig(t *testing.T) {
	in, err := core.NewIntrospector(core.IntrospectionOptions{Endpoint: "http://127.0.0.1:1/introspect", ClientAuth: core.ClientAuthNone})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	iss := authtest.New(t)
	// Without a top-level Issuer there is no issuer whose tokens it may see.
	_, err = core.New(context.Background(), core.Config{Issuers: []core.IssuerConfig{iss.IssuerConfig()}, TokenIntrospection: in})
	if !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), "TokenIntrospection") {
		t.Fatalf("TokenIntrospection without Issuer: %v, want a config error naming it", err)
	}
	cfg := iss.Config()
	cfg.TokenIntrospection, cfg.SessionPolicy = in, core.PolicyNever
	if _, err = core.New(context.Background(), cfg); !errors.Is(err, core.ErrConfig) || !strings.Contains(err.Error(), "Never") {
		t.Fatalf("TokenIntrospection with PolicyNever: %v, want a config error", err)
	}
}

// Each issuer's tokens go to its own endpoint, never another's.
func TestJWTIntrospectionPerIssuer(t *testing.T) {
	e := newJWTIntrospection(t, nil)
	other := authtest.New(t)
	cfg := e.iss.Config()
	cfg.TokenIntrospection, cfg.Logger = e.in, quiet
	cfg.Issuers = []core.IssuerConfig{other.IssuerConfig()}
	cfg.Sessions = &stubChecker{}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	e.auth = a
	if st, _ := e.status(other.Token(nil), true); st != 200 {
		t.Fatalf("other issuer's token, sid checked: %d, want 200", st)
	}
	if n := e.stub.calls.Load(); n != 0 {
		t.Fatalf("another issuer's token was sent to this issuer's endpoint (%d calls)", n)
	}
	if st, _ := e.status(e.iss.Token(nil), true); st != 200 || e.stub.calls.Load() != 1 {
		t.Fatalf("own token: %d with %d calls, want 200 with 1", st, e.stub.calls.Load())
	}
}

func TestPrincipalPrintsNoToken(t *testing.T) {
	e := newJWTIntrospection(t, nil)
	tok := e.iss.Token(nil)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ctx, err := adapter.Admit(e.auth, context.Background(), adapter.HTTPRequest(r), false)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := core.PrincipalFrom(ctx)
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	if s := fmt.Sprintf("%+v %#v", *p, *p); strings.Contains(s, sig) {
		t.Fatalf("printing a Principal prints its token")
	}
}
