package core_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// The hot path hands each request a principal of its own, in the context
// Admit returns, without sharing memory a handler may modify with the
// verified-token cache or another request.

// mangle modifies everything of p a careless handler could.
func mangle(p *core.Principal) {
	p.Subject, p.SessionID, p.Issuer = "mallory", "other-session", "https://evil.example/"
	p.SessionChecked = true
	for _, s := range [][]string{p.Audience, p.Scopes, p.Roles} {
		for i := range s {
			s[i] = "admin"
		}
	}
	p.Scopes = append(p.Scopes, "root")
	p.Roles = append(p.Roles, "root")
}

func TestHitsShareNoMutableMemory(t *testing.T) {
	many := make([]string, 12) // more grants than fit inline in the principal's memory
	for i := range many {
		many[i] = fmt.Sprintf("s%d", i)
	}
	for _, c := range []struct {
		name   string
		claims authtest.Claims
	}{
		{"few grants", authtest.Claims{"scope": "orders:read orders:write", "roles": []string{"user"}}},
		{"many grants", authtest.Claims{"scope": strings.Join(many, " "), "roles": many}},
		{"no grants", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := newTCEnv(t, "RS256", nil)
			tok := env.iss.Token(c.claims)
			admit := func() *core.Principal {
				t.Helper()
				ctx, err := adapter.Admit(env.a, context.Background(), tcBearer(tok), false)
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				p, ok := core.PrincipalFrom(ctx)
				if !ok {
					t.Fatal("no principal in the context Admit returned")
				}
				return p
			}
			first := admit() // verified, then cached
			want := *first
			want.Audience = slices.Clone(first.Audience)
			want.Scopes = slices.Clone(first.Scopes)
			want.Roles = slices.Clone(first.Roles)
			mangle(first)
			for i, get := range []func() *core.Principal{
				admit,
				func() *core.Principal { return env.mustAccept(t, tok) },
			} {
				p := get()
				if p == first {
					t.Fatalf("%d: a cache hit returned another request's principal", i)
				}
				if p.Subject != want.Subject || p.SessionID != want.SessionID || p.Issuer != want.Issuer || p.SessionChecked ||
					!slices.Equal(p.Audience, want.Audience) || !slices.Equal(p.Scopes, want.Scopes) || !slices.Equal(p.Roles, want.Roles) {
					t.Fatalf("%d: a cache hit saw another request's changes: %+v, want %+v", i, p, want)
				}
				mangle(p)
			}
			if n := env.verifications(); n != 1 {
				t.Fatalf("%d verifications, want 1 (the others were to be cache hits)", n)
			}
		})
	}
}

type parentKey struct{}

func TestAdmitContextIsAChildOfTheRequestContext(t *testing.T) {
	env := newTCEnv(t, "RS256", nil)
	tok := env.iss.Token(authtest.Claims{"sub": "user-subject", "sid": "session-xyz"})
	env.mustAccept(t, tok) // cached from now on
	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), parentKey{}, "v"))
	ctx, err := adapter.Admit(env.a, parent, tcBearer(tok), false)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Value(parentKey{}) != "v" {
		t.Fatal("the parent's values are lost")
	}
	if p, ok := core.PrincipalFrom(ctx); !ok || p.Subject != "user-subject" || p.Source != core.SourceHeader {
		t.Fatalf("principal %+v, %v", p, ok)
	}
	if s := fmt.Sprint(ctx); strings.Contains(s, "user-subject") || strings.Contains(s, "session-xyz") {
		t.Fatalf("the context prints the principal: %s", s)
	}
	child, stop := context.WithCancel(ctx)
	defer stop()
	cause := errors.New("client went away")
	cancel(cause)
	<-ctx.Done()
	<-child.Done()
	if ctx.Err() != context.Canceled || context.Cause(ctx) != cause || context.Cause(child) != cause {
		t.Fatalf("cancellation not inherited: %v, %v, %v", ctx.Err(), context.Cause(ctx), context.Cause(child))
	}
	if err := core.Require(ctx, core.Requirements{Scopes: []string{"nope"}}); !errors.Is(err, core.ErrInsufficientScope) {
		t.Fatalf("Require on Admit's context: %v", err)
	}
}

// TestCacheHitAllocations pins the cost of a verified-token cache hit: one
// allocation (the request's principal, inside the context for Admit), also
// with revocations in the deny set.
func TestCacheHitAllocations(t *testing.T) {
	env := newTCEnv(t, "RS256", nil)
	tok := env.iss.Token(authtest.Claims{"scope": "a b c", "roles": []string{"user"}})
	for i := range 100 {
		env.feed.revoke(core.Revocation{SessionID: fmt.Sprintf("other-%d", i), At: env.clock.Now()})
		env.feed.revoke(core.Revocation{SessionID: fmt.Sprintf("else-%d", i), Issuer: env.iss.URL, At: env.clock.Now()})
	}
	r := tcBearer(tok)
	env.mustAccept(t, tok)
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { env.a.Authenticate(ctx, r) }); n != 1 {
		t.Errorf("Authenticate, cache hit: %v allocations, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { adapter.Admit(env.a, ctx, r, false) }); n != 1 {
		t.Errorf("Admit, cache hit: %v allocations, want 1", n)
	}
}
