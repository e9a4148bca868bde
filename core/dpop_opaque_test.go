package core_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// TestDPoPOpaqueTokenBoundByIntrospection: an opaque token is bound by the
// introspection answer's cnf.jkt (RFC 9449 section 6.2): it is admitted
// under the DPoP scheme with a proof of that key, and refused as Bearer
// (section 7.2) and with a proof of another key.
func TestDPoPOpaqueTokenBoundByIntrospection(t *testing.T) {
	key, other := authtest.NewDPoPKey("ES256"), authtest.NewDPoPKey("EdDSA")
	const bound, plain = "opaque-bound-token-0123456789abcdef", "opaque-plain-token-0123456789abcdef"
	exp := time.Now().Add(time.Hour).Unix()
	stub := newIntrospectionStub(t, func(tok string) (int, string) {
		cnf := ""
		if tok == bound {
			cnf = fmt.Sprintf(`,"cnf":{"jkt":%q}`, key.JKT)
		}
		return 200, fmt.Sprintf(`{"active":true,"sub":"u1","exp":%d,"iss":"https://as.example","aud":["orders-api"]%s}`, exp, cnf)
	})
	in := newIntrospector(t, stub.URL, nil)
	t.Cleanup(func() { in.Close() })
	a, err := core.New(context.Background(), core.Config{Opaque: in, DPoP: core.DPoPOptions{Mode: core.DPoPAllowed}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	ctx, err := adapter.Admit(a, context.Background(), dpopRequest("GET", "DPoP "+bound, key.Proof("GET", dpopURL, bound, nil)), false)
	if err != nil {
		t.Fatalf("bound opaque token with its proof: %v (%s)", err, core.Cause(err))
	}
	if p, _ := core.PrincipalFrom(ctx); p.Binding != core.BindingDPoP || p.Thumbprint != key.JKT {
		t.Fatalf("binding %v %q, want dpop %q", p.Binding, p.Thumbprint, key.JKT)
	}
	if _, err := adapter.Admit(a, context.Background(), dpopRequest("GET", "Bearer "+bound), false); !errors.Is(err, core.ErrInvalidToken) {
		t.Fatalf("bound opaque token as Bearer: %v, want invalid_token", err)
	}
	if _, err := adapter.Admit(a, context.Background(), dpopRequest("GET", "DPoP "+bound, other.Proof("GET", dpopURL, bound, nil)), false); !errors.Is(err, core.ErrInvalidDPoPProof) {
		t.Fatalf("bound opaque token, another key's proof: %v, want invalid_dpop_proof", err)
	}
	if _, err := adapter.Admit(a, context.Background(), dpopRequest("GET", "Bearer "+plain), false); err != nil {
		t.Fatalf("unbound opaque token as Bearer: %v", err)
	}
}
