package core_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storekit"
	"github.com/authgate/authgate/core/storetest"
)

type opaqueEnv struct {
	auth  *core.Authenticator
	store *core.MemoryStore
	clock *sessClock
}

// newOpaqueEnv: an authenticator for opaque tokens only, backed by a
// MemoryStore that is also its checker and (automatically) its feed.
func newOpaqueEnv(t *testing.T, mut func(c *core.Config)) *opaqueEnv {
	t.Helper()
	clk := newSessClock()
	store := core.NewMemoryStore(core.StoreOptions{IdleTimeout: 30 * time.Minute, Now: clk.Now, Audit: &storetest.AuditRecorder{}})
	t.Cleanup(func() { store.Close() })
	cfg := core.Config{Opaque: store, Sessions: store, Now: clk.Now}
	if mut != nil {
		mut(&cfg)
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &opaqueEnv{auth: a, store: store, clock: clk}
}

func (e *opaqueEnv) authenticate(tok string) (*core.Principal, error) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return e.auth.Authenticate(context.Background(), sessReq{r})
}

func TestOpaqueTokenBecomesPrincipal(t *testing.T) {
	e := newOpaqueEnv(t, nil)
	s, tok, err := e.store.Create(context.Background(), core.SessionParams{Subject: "user-42", Scopes: []string{"orders:read"}, Roles: []string{"admin"}, Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.authenticate(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "user-42" || p.SessionID != s.ID || p.Kind != core.KindOpaque || !p.SessionChecked ||
		!slices.Equal(p.Scopes, []string{"orders:read"}) || !p.HasRole("admin") || p.Tenant != "acme" || !p.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("principal = %+v", p)
	}
	var c struct {
		Sub    string `json:"sub"`
		Sid    string `json:"sid"`
		Tenant string `json:"tenant"`
	}
	if err := p.Decode(&c); err != nil || c.Sub != "user-42" || c.Sid != s.ID || c.Tenant != "acme" {
		t.Fatalf("Decode = %+v, %v", c, err)
	}
}

func TestOpaqueRefusalsAreIdentical(t *testing.T) {
	e := newOpaqueEnv(t, nil)
	ctx := context.Background()
	_, revokedTok, _ := e.store.Create(ctx, core.SessionParams{Subject: "a"})
	sRev, _ := e.store.List(ctx, "a")
	if err := e.store.Revoke(ctx, sRev[0].ID); err != nil {
		t.Fatal(err)
	}
	_, expiredTok, _ := e.store.Create(ctx, core.SessionParams{Subject: "b"})
	e.clock.Advance(31 * time.Minute)
	unknownTok, _ := storekit.NewOpaqueToken()
	var bodies [][]byte
	for name, tok := range map[string]string{"unknown": unknownTok, "revoked": revokedTok, "expired": expiredTok} {
		_, err := e.authenticate(tok)
		if !errors.Is(err, core.ErrSessionRevoked) && !errors.Is(err, core.ErrInvalidToken) {
			t.Fatalf("%s token: %v", name, err)
		}
		resp := adapter.Render(e.auth, err)
		if resp.Status != 401 {
			t.Fatalf("%s token: status %d", name, resp.Status)
		}
		bodies = append(bodies, append(resp.Body, resp.Header.Get("Www-Authenticate")...))
	}
	if !bytes.Equal(bodies[0], bodies[1]) || !bytes.Equal(bodies[1], bodies[2]) {
		t.Fatalf("SS-13: unknown, revoked and expired tokens answered differently:\n%s\n%s\n%s", bodies[0], bodies[1], bodies[2])
	}
}

type failingOpaque struct{ err error }

func (f failingOpaque) AuthenticateOpaque(context.Context, string) (*core.Session, error) {
	return nil, f.err
}

func TestOpaqueBackendErrorIs503(t *testing.T) {
	e := newOpaqueEnv(t, func(c *core.Config) { c.Opaque = failingOpaque{errors.New("redis down")} })
	tok, _ := storekit.NewOpaqueToken()
	_, err := e.authenticate(tok)
	if statusOf(err) != 503 || !errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("%v, want 503", err)
	}
}

func TestOpaqueSensitiveRouteNeedsNoSecondLookup(t *testing.T) {
	checker := &stubChecker{}
	e := newOpaqueEnv(t, func(c *core.Config) { c.Sessions = checker; c.SessionPolicy = core.PolicyAlways })
	_, tok, _ := e.store.Create(context.Background(), core.SessionParams{Subject: "a"})
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ctx, err := adapter.Admit(e.auth, context.Background(), sessReq{r}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Require(ctx, core.Requirements{Sensitive: true}); err != nil {
		t.Fatal(err)
	}
	if n := checker.calls.Load(); n != 0 {
		t.Fatalf("an opaque token looked up live in this request was checked again (%d calls)", n)
	}
}

func TestMemoryStoreFeedsTheDenySetAutomatically(t *testing.T) {
	clk := newSessClock()
	iss := authtest.New(t, authtest.WithClock(clk.Now))
	store := core.NewMemoryStore(core.StoreOptions{Now: clk.Now, Audit: &storetest.AuditRecorder{}})
	defer store.Close()
	ctx := context.Background()
	old, _, _ := store.Create(ctx, core.SessionParams{Subject: "user-1"})
	if err := store.Revoke(ctx, old.ID); err != nil { // before the authenticator exists
		t.Fatal(err)
	}
	cfg := iss.Config()
	cfg.Sessions, cfg.Now = store, clk.Now
	a, err := core.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	e := &sessEnv{t: t, iss: iss, auth: a, clock: clk}
	if _, err := e.do(ctx, e.token(old.ID), false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("a revocation from before New was not replayed: %v", err)
	}
	s, _, _ := store.Create(ctx, core.SessionParams{Subject: "user-1"})
	tok := e.token(s.ID)
	if _, err := e.do(ctx, tok, true); err != nil {
		t.Fatal(err)
	}
	if err := store.Revoke(ctx, s.ID, core.WithReason("logout")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.do(ctx, tok, false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("SS-02: memory store revocation not refused at once on a non-sensitive route: %v", err)
	}
}
