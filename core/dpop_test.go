package core_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

const dpopURL = "http://api.example/orders"

// dpopRequest builds a request to dpopURL with the given Authorization and
// DPoP header lines.
func dpopRequest(method, authz string, proofs ...string) adapter.StdRequest {
	r := httptest.NewRequest(method, dpopURL+"?page=2", nil)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return adapter.HTTPRequest(r)
}

func newDPoPAuth(t *testing.T, iss *authtest.Issuer, o core.DPoPOptions) *core.Authenticator {
	t.Helper()
	cfg := iss.Config()
	cfg.DPoP = o
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// TestDPoPProofRules breaks each rule of RFC 9449 section 4.3 once, on a
// token bound to the client's key, and checks the valid proof is admitted.
func TestDPoPProofRules(t *testing.T) {
	iss := authtest.New(t)
	key := authtest.NewDPoPKey("ES256")
	other := authtest.NewDPoPKey("ES256")
	a := newDPoPAuth(t, iss, core.DPoPOptions{Mode: core.DPoPAllowed})
	tok := iss.BoundToken(key, nil)
	authz := "DPoP " + tok
	proof := func(o authtest.Claims) string { return key.Proof("GET", dpopURL, tok, o) }

	ctx, err := adapter.Admit(a, context.Background(), dpopRequest("GET", authz, proof(nil)), false)
	if err != nil {
		t.Fatalf("valid DPoP request refused: %v (%s)", err, core.Cause(err))
	}
	p, _ := core.PrincipalFrom(ctx)
	if p.Binding != core.BindingDPoP || p.Thumbprint != key.JKT {
		t.Fatalf("principal binding %v %q, want dpop %q", p.Binding, p.Thumbprint, key.JKT)
	}

	replayed := proof(nil)
	if _, err := adapter.Admit(a, context.Background(), dpopRequest("GET", authz, replayed), false); err != nil {
		t.Fatalf("first use refused: %v", err)
	}
	bigJTI := strings.Repeat("j", 300)
	cases := []struct {
		name   string
		req    core.Request
		status int
		kind   error
	}{
		{"11.1 a proof replayed", dpopRequest("GET", authz, replayed), 401, core.ErrInvalidDPoPProof},
		{"4.3.1 two DPoP headers", dpopRequest("GET", authz, proof(nil), proof(nil)), 400, core.ErrInvalidRequest},
		{"4.3 no proof with a bound token", dpopRequest("GET", authz), 401, core.ErrInvalidDPoPProof},
		{"4.3.2 not a JWT", dpopRequest("GET", authz, "not-a-jwt"), 401, core.ErrInvalidDPoPProof},
		{"4.3.3 no jti", dpopRequest("GET", authz, proof(authtest.Claims{"jti": nil})), 401, core.ErrInvalidDPoPProof},
		{"4.3.3 jti too long", dpopRequest("GET", authz, proof(authtest.Claims{"jti": bigJTI})), 401, core.ErrInvalidDPoPProof},
		{"4.3.3 no htm", dpopRequest("GET", authz, proof(authtest.Claims{"htm": nil})), 401, core.ErrInvalidDPoPProof},
		{"4.3.3 no iat", dpopRequest("GET", authz, proof(authtest.Claims{"iat": nil})), 401, core.ErrInvalidDPoPProof},
		{"4.3.4 typ is not dpop+jwt", dpopRequest("GET", authz, key.SignProof(map[string]any{"typ": "JWT"}, authtest.ProofClaims("GET", dpopURL, tok))), 401, core.ErrInvalidDPoPProof},
		{"4.3.5 alg none", dpopRequest("GET", authz, noneProof(key, tok)), 401, core.ErrInvalidDPoPProof},
		{"4.3.6 signed by another key than its jwk", dpopRequest("GET", authz, other.SignProof(map[string]any{"jwk": key.JWK}, authtest.ProofClaims("GET", dpopURL, tok))), 401, core.ErrInvalidDPoPProof},
		{"4.3.7 jwk with private members", dpopRequest("GET", authz, key.SignProof(map[string]any{"jwk": withD(key.JWK)}, authtest.ProofClaims("GET", dpopURL, tok))), 401, core.ErrInvalidDPoPProof},
		{"4.3.8 htm another method", dpopRequest("GET", authz, proof(authtest.Claims{"htm": "POST"})), 401, core.ErrInvalidDPoPProof},
		{"4.3.9 htu another path", dpopRequest("GET", authz, proof(authtest.Claims{"htu": "http://api.example/admin"})), 401, core.ErrInvalidDPoPProof},
		{"4.3.9 htu another host", dpopRequest("GET", authz, proof(authtest.Claims{"htu": "http://evil.example/orders"})), 401, core.ErrInvalidDPoPProof},
		{"4.3.9 htu another scheme", dpopRequest("GET", authz, proof(authtest.Claims{"htu": "https://api.example/orders"})), 401, core.ErrInvalidDPoPProof},
		{"4.3.11 iat too old", dpopRequest("GET", authz, proof(authtest.Claims{"iat": time.Now().Add(-5 * time.Minute).Unix()})), 401, core.ErrInvalidDPoPProof},
		{"4.3.11 iat in the future", dpopRequest("GET", authz, proof(authtest.Claims{"iat": time.Now().Add(5 * time.Minute).Unix()})), 401, core.ErrInvalidDPoPProof},
		{"4.3.12 no ath", dpopRequest("GET", authz, proof(authtest.Claims{"ath": nil})), 401, core.ErrInvalidDPoPProof},
		{"4.3.12 ath of another token", dpopRequest("GET", authz, proof(authtest.Claims{"ath": "AAAA"})), 401, core.ErrInvalidDPoPProof},
		{"4.3.12 proof by a key the token is not bound to", dpopRequest("GET", authz, other.Proof("GET", dpopURL, tok, nil)), 401, core.ErrInvalidDPoPProof},
		{"7.2 bound token presented as bearer", dpopRequest("GET", "Bearer "+tok, proof(nil)), 401, core.ErrInvalidToken},
		{"7.1 DPoP scheme with an unbound token", dpopRequest("GET", "DPoP "+iss.Token(nil), key.Proof("GET", dpopURL, iss.Token(nil), nil)), 401, core.ErrInvalidToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := adapter.Admit(a, context.Background(), c.req, false)
			if err == nil {
				t.Fatal("admitted")
			}
			resp := adapter.Render(a, err)
			if resp.Status != c.status || !errors.Is(err, c.kind) {
				t.Fatalf("status %d (%v, cause %q), want %d %v", resp.Status, err, core.Cause(err), c.status, c.kind)
			}
			ch := strings.Join(resp.Header["Www-Authenticate"], " | ")
			if !strings.Contains(ch, "DPoP ") || !strings.Contains(ch, `algs="ES256 EdDSA PS256 RS256"`) {
				t.Fatalf("challenge %q lacks the DPoP challenge", ch)
			}
		})
	}
	// htu is compared without query and fragment, after normalisation.
	if _, err := adapter.Admit(a, context.Background(), dpopRequest("GET", authz, proof(authtest.Claims{"htu": "HTTP://API.example:80/%6Frders?x=1#f"})), false); err != nil {
		t.Fatalf("normalised htu refused: %v (%s)", err, core.Cause(err))
	}
	// Plain bearer tokens still pass in allowed mode.
	if _, err := adapter.Admit(a, context.Background(), dpopRequest("GET", "Bearer "+iss.Token(nil)), false); err != nil {
		t.Fatalf("bearer token refused in allowed mode: %v", err)
	}
}

func noneProof(k *authtest.DPoPKey, tok string) string {
	p := k.SignProof(map[string]any{"alg": "none"}, authtest.ProofClaims("GET", dpopURL, tok))
	return p[:strings.LastIndexByte(p, '.')+1] + "AAAA"
}

func withD(jwk map[string]any) map[string]any {
	m := map[string]any{}
	for k, v := range jwk {
		m[k] = v
	}
	m["d"] = "AAAA"
	return m
}

// TestDPoPModes: off refuses bound tokens and ignores the scheme; required
// refuses bearer tokens with a DPoP-only challenge; a route can require
// DPoP where the issuer allows bearer.
func TestDPoPModes(t *testing.T) {
	iss := authtest.New(t)
	key := authtest.NewDPoPKey("EdDSA")
	tok := iss.BoundToken(key, nil)
	proof := key.Proof("GET", dpopURL, tok, nil)

	off, err := core.New(context.Background(), iss.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if _, err := adapter.Admit(off, context.Background(), dpopRequest("GET", "Bearer "+tok), false); !errors.Is(err, core.ErrInvalidToken) {
		t.Errorf("DPoP off: bound token as bearer = %v, want invalid_token", err)
	}
	if _, err := adapter.Admit(off, context.Background(), dpopRequest("GET", "DPoP "+tok, proof), false); !errors.Is(err, core.ErrNoToken) {
		t.Errorf("DPoP off: the DPoP scheme = %v, want no credential", err)
	}

	req := newDPoPAuth(t, iss, core.DPoPOptions{Mode: core.DPoPRequired})
	_, err = adapter.Admit(req, context.Background(), dpopRequest("GET", "Bearer "+iss.Token(nil)), false)
	if !errors.Is(err, core.ErrInvalidToken) {
		t.Fatalf("required: bearer token = %v, want invalid_token", err)
	}
	if ch := adapter.Render(req, err).Header["Www-Authenticate"]; len(ch) != 1 || !strings.HasPrefix(ch[0], "DPoP ") || !strings.Contains(ch[0], `error="invalid_token"`) {
		t.Fatalf("required: challenge %q, want one DPoP challenge with the error", ch)
	}
	if _, err := adapter.Admit(req, context.Background(), dpopRequest("GET", "DPoP "+tok, proof), false); err != nil {
		t.Fatalf("required: valid DPoP request refused: %v (%s)", err, core.Cause(err))
	}
	_, err = adapter.Admit(req, context.Background(), dpopRequest("GET", ""), false)
	if ch := adapter.Render(req, err).Header["Www-Authenticate"]; len(ch) != 1 || ch[0] != `DPoP realm="api", algs="ES256 EdDSA PS256 RS256"` {
		t.Fatalf("required, no credentials: challenge %q", ch)
	}

	allowed := newDPoPAuth(t, iss, core.DPoPOptions{Mode: core.DPoPAllowed, Algorithms: []string{"EdDSA"}})
	ctx, err := adapter.Admit(allowed, context.Background(), dpopRequest("GET", "Bearer "+iss.Token(nil)), false)
	if err != nil {
		t.Fatal(err)
	}
	err = core.Require(ctx, core.Requirements{DPoP: true})
	if !errors.Is(err, core.ErrInvalidToken) {
		t.Fatalf("route requiring DPoP, bearer token: %v", err)
	}
	ch := adapter.Render(allowed, err).Header["Www-Authenticate"]
	if len(ch) != 2 || !strings.HasPrefix(ch[0], `Bearer realm="api"`) || strings.Contains(ch[0], "error=") || !strings.Contains(ch[1], `error="invalid_token"`) || !strings.Contains(ch[1], `algs="EdDSA"`) {
		t.Fatalf("route requiring DPoP: challenges %q", ch)
	}
	ctx, err = adapter.Admit(allowed, context.Background(), dpopRequest("GET", "DPoP "+tok, key.Proof("GET", dpopURL, tok, nil)), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Require(ctx, core.Requirements{DPoP: true}); err != nil {
		t.Fatalf("route requiring DPoP, DPoP request: %v", err)
	}
}

// TestDPoPNonce: with a nonce secret, a proof without the current nonce gets
// use_dpop_nonce and a DPoP-Nonce header, and one with it passes, on another
// instance with the same secret too.
func TestDPoPNonce(t *testing.T) {
	iss := authtest.New(t)
	key := authtest.NewDPoPKey("ES256")
	tok := iss.BoundToken(key, nil)
	secret := []byte(strings.Repeat("k", 32))
	a := newDPoPAuth(t, iss, core.DPoPOptions{Mode: core.DPoPAllowed, NonceSecret: secret})
	b := newDPoPAuth(t, iss, core.DPoPOptions{Mode: core.DPoPAllowed, NonceSecret: secret})
	_, err := adapter.Admit(a, context.Background(), dpopRequest("GET", "DPoP "+tok, key.Proof("GET", dpopURL, tok, nil)), false)
	if !errors.Is(err, core.ErrUseDPoPNonce) {
		t.Fatalf("proof without nonce: %v, want use_dpop_nonce", err)
	}
	resp := adapter.Render(a, err)
	nonce := resp.Header.Get("DPoP-Nonce")
	if resp.Status != 401 || nonce == "" || !strings.Contains(strings.Join(resp.Header["Www-Authenticate"], " "), `error="use_dpop_nonce"`) {
		t.Fatalf("use_dpop_nonce answer: %d %v", resp.Status, resp.Header)
	}
	for _, inst := range []*core.Authenticator{a, b} {
		ctx, err := adapter.Admit(inst, context.Background(), dpopRequest("GET", "DPoP "+tok, key.Proof("GET", dpopURL, tok, authtest.Claims{"nonce": nonce})), false)
		if err != nil {
			t.Fatalf("proof with the nonce refused: %v (%s)", err, core.Cause(err))
		}
		h := http.Header{}
		adapter.SetHeaders(ctx, h.Set)
		if h.Get("DPoP-Nonce") != nonce {
			t.Fatalf("admitted request's DPoP-Nonce %q, want %q", h.Get("DPoP-Nonce"), nonce)
		}
	}
	forged := nonce[:len(nonce)-2] + "AA"
	if _, err := adapter.Admit(a, context.Background(), dpopRequest("GET", "DPoP "+tok, key.Proof("GET", dpopURL, tok, authtest.Claims{"nonce": forged})), false); !errors.Is(err, core.ErrUseDPoPNonce) {
		t.Fatalf("forged nonce: %v", err)
	}
	other := newDPoPAuth(t, iss, core.DPoPOptions{Mode: core.DPoPAllowed, NonceSecret: []byte(strings.Repeat("z", 32))})
	if _, err := adapter.Admit(other, context.Background(), dpopRequest("GET", "DPoP "+tok, key.Proof("GET", dpopURL, tok, authtest.Claims{"nonce": nonce})), false); !errors.Is(err, core.ErrUseDPoPNonce) {
		t.Fatalf("nonce of another secret: %v", err)
	}
}

// TestDPoPReplayCacheDownFailsClosed: a replay cache that cannot answer
// refuses with 503, never admits.
func TestDPoPReplayCacheDownFailsClosed(t *testing.T) {
	iss := authtest.New(t)
	key := authtest.NewDPoPKey("ES256")
	tok := iss.BoundToken(key, nil)
	a := newDPoPAuth(t, iss, core.DPoPOptions{Mode: core.DPoPAllowed, Replay: downReplay{}})
	_, err := adapter.Admit(a, context.Background(), dpopRequest("GET", "DPoP "+tok, key.Proof("GET", dpopURL, tok, nil)), false)
	if !errors.Is(err, core.ErrUnavailable) || adapter.Render(a, err).Status != 503 {
		t.Fatalf("replay cache down: %v, want 503", err)
	}
}

type downReplay struct{}

func (downReplay) FirstUse(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("down")
}
func (downReplay) Forget(context.Context, string) error { return nil }
