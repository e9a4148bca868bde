package core

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

// TestProofKeyCacheIsBounded: the cache of parsed proof keys holds at most
// maxProofKeys entries and caches no key with private members, no key
// refused for the algorithm and no oversized jwk.
func TestProofKeyCacheIsBounded(t *testing.T) {
	var c proofKeys
	jwkOf := func(pub ed25519.PublicKey, extra string) []byte {
		return []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"` + extra + `}`)
	}
	for range maxProofKeys + 50 {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := c.get(jwkOf(pub, ""), "EdDSA"); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.m); n != maxProofKeys {
		t.Fatalf("%d cached keys, want the bound %d", n, maxProofKeys)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := c.get(jwkOf(pub, `,"d":"AAAA"`), "EdDSA"); err != errProofPrivate {
		t.Fatalf("jwk with d: %v, want errProofPrivate", err)
	}
	if _, err := c.get(jwkOf(pub, `,"d":"AAAA"`), "EdDSA"); err != errProofPrivate {
		t.Fatalf("jwk with d, twice: %v, want errProofPrivate (never cached)", err)
	}
	if _, err := c.get(jwkOf(pub, ""), "ES256"); err != errProofJWK {
		t.Fatalf("an Ed25519 jwk for ES256: %v, want errProofJWK", err)
	}
	big := jwkOf(pub, `,"kid":"`+strings.Repeat("k", maxCachedProofJWK)+`"`)
	before := len(c.m)
	if _, err := c.get(big, "EdDSA"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.m["EdDSA\x00"+string(big)]; ok || len(c.m) != before {
		t.Fatalf("an oversized jwk was cached")
	}
	// A proof signed by another key under a cached jwk is refused: see
	// TestDPoPProofRules ("4.3.6 signed by another key than its jwk" runs
	// after the same jwk was admitted, so its key is cached).
}
