package core_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// BenchmarkDPoP measures, side by side in one run, what DPoP adds to a
// request whose access token the verified-token cache holds (RFC 9449):
//
//   - es256-verify: the floor, one bare ES256 verification of a proof with
//     crypto/ecdsa (SHA-256 of the signing input, ecdsa.Verify);
//
//   - bearer: Admit of the same request with an unbound token as Bearer,
//     DPoP allowed (cache hit);
//
//   - dpop: Admit of a DPoP request, token bound to the proof's ES256 key
//     (cache hit), a fresh proof per request (each jti is accepted once):
//     every check of section 4.3, the thumbprint and the replay record.
//
//   - paired: the three interleaved in each iteration (a busy machine slows
//     them alike), reporting verify-, dpop- and bearer-ns/op and the ratio
//     overhead/verify = (dpop - bearer) / es256-verify.
//
// The target: dpop - bearer at most 1.15 times es256-verify.
//
//	go test -run '^$' -bench 'DPoP$' -benchmem -count 6 ./core
func BenchmarkDPoP(b *testing.B) {
	iss := authtest.New(b)
	key := authtest.NewDPoPKey("ES256")
	const url = "https://api.example.com/orders"
	bound := iss.BoundToken(key, authtest.Claims{"scope": "orders:read", "roles": []string{"user"}})
	plain := iss.Token(authtest.Claims{"scope": "orders:read", "roles": []string{"user"}})
	newAuth := func(b *testing.B) *core.Authenticator {
		cfg := iss.Config()
		cfg.Logger = quiet
		cfg.DPoP.Mode = core.DPoPAllowed
		a, err := core.New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		return a
	}
	request := func(authz, proof string) adapter.StdRequest {
		r := httptest.NewRequest("GET", url, nil)
		r.Header.Set("Authorization", authz)
		if proof != "" {
			r.Header.Set("DPoP", proof)
		}
		return adapter.HTTPRequest(r)
	}

	b.Run("es256-verify", func(b *testing.B) {
		proof := key.Proof("GET", url, bound, nil)
		i := strings.LastIndexByte(proof, '.')
		input, sig := proof[:i], mustB64(b, proof[i+1:])
		pub := key.Private.Public().(*ecdsa.PublicKey)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			d := sha256.Sum256([]byte(input))
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			if !ecdsa.Verify(pub, d[:], r, s) {
				b.Fatal("does not verify")
			}
		}
	})
	b.Run("bearer", func(b *testing.B) {
		a := newAuth(b)
		req := request("Bearer "+plain, "")
		if _, err := adapter.Admit(a, context.Background(), req, false); err != nil { // into the cache
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := adapter.Admit(a, context.Background(), req, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("dpop", func(b *testing.B) {
		a := newAuth(b)
		reqs := make([]adapter.StdRequest, b.N+1)
		for i := range reqs {
			reqs[i] = request("DPoP "+bound, key.Proof("GET", url, bound, nil))
		}
		if _, err := adapter.Admit(a, context.Background(), reqs[b.N], false); err != nil { // the token into the cache
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			ctx, err := adapter.Admit(a, context.Background(), reqs[i], false)
			if err != nil {
				b.Fatal(err, core.Cause(err))
			}
			if p, _ := core.PrincipalFrom(ctx); p.Binding != core.BindingDPoP {
				b.Fatal("not DPoP-bound")
			}
		}
	})
	// paired interleaves the three in every iteration, so that a machine
	// whose load changes during the run slows them alike, and reports the
	// ratio the target is about: (dpop - bearer) / es256-verify.
	b.Run("paired", func(b *testing.B) {
		a := newAuth(b)
		proof := key.Proof("GET", url, bound, nil)
		i := strings.LastIndexByte(proof, '.')
		input, sig := proof[:i], mustB64(b, proof[i+1:])
		pub := key.Private.Public().(*ecdsa.PublicKey)
		bearer := request("Bearer "+plain, "")
		reqs := make([]adapter.StdRequest, b.N+1)
		for i := range reqs {
			reqs[i] = request("DPoP "+bound, key.Proof("GET", url, bound, nil))
		}
		for _, r := range []adapter.StdRequest{bearer, reqs[b.N]} {
			if _, err := adapter.Admit(a, context.Background(), r, false); err != nil {
				b.Fatal(err)
			}
		}
		const bearers = 16 // a bearer Admit is too short to time alone
		var tv, td, tb time.Duration
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			d := sha256.Sum256([]byte(input))
			if !ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
				b.Fatal("does not verify")
			}
			t1 := time.Now()
			if _, err := adapter.Admit(a, context.Background(), reqs[i], false); err != nil {
				b.Fatal(err)
			}
			t2 := time.Now()
			for range bearers {
				if _, err := adapter.Admit(a, context.Background(), bearer, false); err != nil {
					b.Fatal(err)
				}
			}
			t3 := time.Now()
			tv, td, tb = tv+t1.Sub(t0), td+t2.Sub(t1), tb+t3.Sub(t2)
		}
		n := float64(b.N)
		verify, dpop, bear := float64(tv)/n, float64(td)/n, float64(tb)/n/bearers
		b.ReportMetric(verify, "verify-ns/op")
		b.ReportMetric(dpop, "dpop-ns/op")
		b.ReportMetric(bear, "bearer-ns/op")
		b.ReportMetric((dpop-bear)/verify, "overhead/verify")
	})
}

func mustB64(b *testing.B, s string) []byte {
	d, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		b.Fatal(err)
	}
	return d
}
