package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// dpopInstance is one API process whose DPoP replay cache is its own Store
// on the shared Redis (prefix: the deployment's, the same on every
// instance), with nonces from secret when it is set.
func dpopInstance(t *testing.T, addr, prefix string, iss *authtest.Issuer, secret []byte) *core.Authenticator {
	t.Helper()
	s := newStore(t, addr, Options{Prefix: prefix})
	cfg := iss.Config()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.DPoP = core.DPoPOptions{Mode: core.DPoPAllowed, Replay: s, NonceSecret: secret}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

const dpopURL = "https://api.example.com/orders"

// dpopStatus sends GET dpopURL with tok under the DPoP scheme and proof to
// a, and returns the status and the response headers a refusal would carry.
func dpopStatus(a *core.Authenticator, tok, proof string) (int, http.Header) {
	r := httptest.NewRequest("GET", dpopURL, nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", proof)
	if _, err := adapter.Admit(a, context.Background(), adapter.HTTPRequest(r), false); err != nil {
		resp := adapter.Render(a, err)
		return resp.Status, resp.Header
	}
	return http.StatusOK, nil
}

// TestDPoPProofReplayedOnAnotherInstanceIsRefused: two instances share one
// real Redis as their DPoP replay cache (RFC 9449 section 11.1): a proof
// accepted at A is refused as a replay at B, and at A again; a fresh proof
// is accepted at B. Without the shared cache B would accept the replay
// within the proof's window.
func TestDPoPProofReplayedOnAnotherInstanceIsRefused(t *testing.T) {
	addr := sharedAddr(t)
	prefix := testPrefix()
	iss := authtest.New(t)
	secret := []byte(strings.Repeat("n", 32))
	a := dpopInstance(t, addr, prefix, iss, secret)
	b := dpopInstance(t, addr, prefix, iss, secret)
	key := authtest.NewDPoPKey("ES256")
	tok := iss.BoundToken(key, nil)

	// The nonce A issues is accepted by B (stateless nonces, RFC 9449 section 9).
	st, h := dpopStatus(a, tok, key.Proof("GET", dpopURL, tok, nil))
	nonce := h.Get("DPoP-Nonce")
	if st != http.StatusUnauthorized || nonce == "" {
		t.Fatalf("proof without a nonce: %d, DPoP-Nonce %q; want 401 use_dpop_nonce with a nonce", st, nonce)
	}
	proof := key.Proof("GET", dpopURL, tok, authtest.Claims{"nonce": nonce})
	if st, _ := dpopStatus(a, tok, proof); st != http.StatusOK {
		t.Fatalf("instance A, first use: %d, want 200", st)
	}
	for name, inst := range map[string]*core.Authenticator{"B": b, "A": a} {
		st, h := dpopStatus(inst, tok, proof)
		if st != http.StatusUnauthorized || !strings.Contains(strings.Join(h["Www-Authenticate"], " "), `error="invalid_dpop_proof"`) {
			t.Fatalf("instance %s, the replayed proof: %d %q, want 401 invalid_dpop_proof", name, st, h["Www-Authenticate"])
		}
	}
	if st, _ := dpopStatus(b, tok, key.Proof("GET", dpopURL, tok, authtest.Claims{"nonce": nonce})); st != http.StatusOK {
		t.Fatalf("instance B, a fresh proof: %d, want 200", st)
	}
	// A different prefix is another deployment: its cache is its own.
	c := dpopInstance(t, addr, testPrefix(), iss, secret)
	if st, _ := dpopStatus(c, tok, proof); st != http.StatusOK {
		t.Fatalf("a deployment with its own prefix: %d, want 200", st)
	}
}

// TestDPoPReplayCacheRedisDownIs503: with Redis stopped, a valid proof is
// answered 503 with Retry-After (fail closed: it cannot be known unused),
// never admitted; with Redis back, proofs are accepted again.
func TestDPoPReplayCacheRedisDownIs503(t *testing.T) {
	srv := startRedis(t)
	iss := authtest.New(t)
	a := dpopInstance(t, srv.Addr(), testPrefix(), iss, nil)
	key := authtest.NewDPoPKey("EdDSA")
	tok := iss.BoundToken(key, nil)
	if st, _ := dpopStatus(a, tok, key.Proof("GET", dpopURL, tok, nil)); st != http.StatusOK {
		t.Fatalf("Redis up: %d", st)
	}
	srv.Stop()
	st, h := dpopStatus(a, tok, key.Proof("GET", dpopURL, tok, nil))
	if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Fatalf("Redis down: %d (Retry-After %q), want 503 with Retry-After", st, h.Get("Retry-After"))
	}
	r := httptest.NewRequest("GET", dpopURL, nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", key.Proof("GET", dpopURL, tok, nil))
	if _, err := adapter.Admit(a, context.Background(), adapter.HTTPRequest(r), false); !errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("Redis down: %v, want ErrUnavailable", err)
	}
	srv.Start()
	// The client's pool redials on its own schedule: recovery is awaited.
	waitUntil(t, 10*time.Second, "proofs accepted again once Redis is back", func() bool {
		st, _ := dpopStatus(a, tok, key.Proof("GET", dpopURL, tok, nil))
		return st == http.StatusOK
	})
}
