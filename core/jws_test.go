package core_test

import (
	"context"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkAuthenticate measures one request's whole authentication
// (extraction, size and charset gates, strict JWS parse, key lookup,
// signature, claims, Principal) next to a plain golang-jwt parse and verify
// of the same token (jwt.Parse with the public key into MapClaims, with the
// issuer, audience and expiry checks a caller would ask for), in the same
// run. "authgate" verifies every time (verified-token cache off);
// "authgate-cached" is the default configuration, where a token seen before
// is recognised by its bytes.
//
//	go test -run '^$' -bench BenchmarkAuthenticate -benchmem -count 6 ./core > bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /impl bench.txt
func BenchmarkAuthenticate(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		iss := authtest.New(b, authtest.WithAlg(alg))
		tok := iss.Token(authtest.Claims{"scope": "orders:read orders:write", "roles": []string{"admin"}})
		r := bearerReq(tok)
		pub := iss.Signer().Private.Public()

		cfg := iss.Config()
		cfg.Logger = quiet
		cfg.TokenCache = core.TokenCacheOptions{Disabled: true}
		a, err := core.New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		cached, err := core.New(context.Background(), core.Config{Issuer: iss.URL, Audience: cfg.Audience, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cached.Close() })
		ctx := context.Background()

		b.Run("alg="+alg+"/impl=authgate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("alg="+alg+"/impl=authgate-cached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cached.Authenticate(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("alg="+alg+"/impl=golang-jwt", func(b *testing.B) {
			b.ReportAllocs()
			p := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(iss.URL),
				jwt.WithAudience(authtest.DefaultAudience), jwt.WithExpirationRequired())
			keyfunc := func(*jwt.Token) (any, error) { return pub, nil }
			for b.Loop() {
				if _, err := p.Parse(tok, keyfunc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeAllocations pins FM-02/FM-10: refusing a malformed token costs no
// allocation that grows with its length.
func TestDecodeAllocations(t *testing.T) {
	iss := startIssuer(t, "ES256")
	a := startAuth(t, iss.Config())
	ctx := context.Background()
	small := bearerReq("...")
	large := bearerReq(string(make([]byte, 0)) + repeat(".", 8000))
	flood := bearerReq(repeat("a.", 4000))
	base := testing.AllocsPerRun(50, func() { a.Authenticate(ctx, small) })
	for name, r := range map[string]vreq{"8000 dots": large, "4000 segments": flood} {
		if n := testing.AllocsPerRun(50, func() { a.Authenticate(ctx, r) }); n > base {
			t.Errorf("FM-02 %s: %v allocations, more than the %v of a 3-byte token", name, n, base)
		}
	}
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}
