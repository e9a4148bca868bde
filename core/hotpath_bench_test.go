//go:build unix

package core_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core/adaptertest"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storetest"
	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkHotPath measures the core's two hot paths with an RS256 token
// (2048-bit key), serially and under b.RunParallel on every core:
//
//   - rsa-verify: the floor, SHA-256 of the signing input and
//     rsa.VerifyPKCS1v15 with the public key (what no verifier avoids);
//
//   - golang-jwt-verify: golang-jwt's SigningMethodRS256.Verify of the same;
//
//   - fresh-nocache: Authenticate with the verified-token cache off;
//
//   - fresh: Authenticate of tokens the cache does not hold (128 distinct
//     tokens through a 64-entry cache: verification, insertion, eviction);
//
//   - cached: Authenticate of a token the cache holds;
//
//   - admit-cached: Admit of the same (what a middleware calls);
//
//   - admit-cached-denyset: the same with a revocation feed (a MemoryStore)
//     and 1000 other sessions in the deny set.
//
//     go test -run '^$' -bench HotPath -benchmem -cpu 1,2 -count 8 ./core
func BenchmarkHotPath(b *testing.B) {
	iss := authtest.New(b)
	now := time.Now()
	mint := func(i int) string {
		return iss.Token(authtest.Claims{
			"sub": fmt.Sprintf("user-%d", i), "iat": now.Unix(), "exp": now.Add(12 * time.Hour).Unix(),
			"scope": "orders:read orders:write", "roles": []string{"user"},
		})
	}
	tok := mint(0)
	var fresh []string
	for i := range 128 {
		fresh = append(fresh, mint(i+1))
	}
	newAuth := func(mut func(*core.Config)) *core.Authenticator {
		cfg := iss.Config()
		cfg.Logger = quiet
		if mut != nil {
			mut(&cfg)
		}
		a, err := core.New(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		return a
	}
	cached := newAuth(nil)
	nocache := newAuth(func(c *core.Config) { c.TokenCache.Disabled = true })
	small := newAuth(func(c *core.Config) { c.TokenCache.MaxEntries = 64 })
	store := core.NewMemoryStore(core.StoreOptions{Audit: &storetest.AuditRecorder{}})
	b.Cleanup(func() { store.Close() })
	withDeny := newAuth(func(c *core.Config) { c.Sessions = store })
	for i := range 1000 {
		s, _, err := store.Create(context.Background(), core.SessionParams{Subject: fmt.Sprintf("other-%d", i)})
		if err != nil {
			b.Fatal(err)
		}
		if err := store.Revoke(context.Background(), s.ID); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); withDeny.Status().Revocations.DenySetSize < 1000; {
		if time.Now().After(deadline) {
			b.Fatalf("deny set holds %d sessions, want 1000", withDeny.Status().Revocations.DenySetSize)
		}
		time.Sleep(time.Millisecond)
	}

	pub := iss.Signer().Private.Public().(*rsa.PublicKey)
	dot := strings.LastIndexByte(tok, '.')
	input := tok[:dot]
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	reqs := func(toks []string) []sessReq {
		out := make([]sessReq, len(toks))
		for i, t := range toks {
			r := httptest.NewRequest("GET", "/me", nil)
			r.Header.Set("Authorization", "Bearer "+t)
			out[i] = sessReq{r}
		}
		return out
	}
	authn := func(a *core.Authenticator, toks []string) func(int) error {
		rs := reqs(toks)
		return func(i int) error {
			_, err := a.Authenticate(context.Background(), rs[i%len(rs)])
			return err
		}
	}
	admit := func(a *core.Authenticator, toks []string) func(int) error {
		rs := reqs(toks)
		return func(i int) error {
			_, err := adapter.Admit(a, context.Background(), rs[i%len(rs)], false)
			return err
		}
	}
	cases := []struct {
		name string
		op   func(int) error
	}{
		{"rsa-verify", func(int) error {
			d := sha256.Sum256([]byte(input))
			return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
		}},
		{"golang-jwt-verify", func(int) error { return jwt.SigningMethodRS256.Verify(input, sig, pub) }},
		{"fresh-nocache", authn(nocache, []string{tok})},
		{"fresh", authn(small, fresh)},
		{"cached", authn(cached, []string{tok})},
		{"admit-cached", admit(cached, []string{tok})},
		{"admit-cached-denyset", admit(withDeny, []string{tok})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if err := c.op(0); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			defer adaptertest.ReportCPU(b)()
			var g atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(g.Add(1)) * 61
				for pb.Next() {
					if err := c.op(i); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}
