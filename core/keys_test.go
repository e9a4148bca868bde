package core

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// RefreshKeys refetches the key set of every remote issuer now, for tests
// in package core_test (this file is compiled into tests only).
func (a *Authenticator) RefreshKeys(ctx context.Context) error {
	for _, is := range a.issuers {
		if is.jwksURL == "" && is.unknownKID == nil {
			continue
		}
		if err := is.refresh(ctx, ""); err != nil {
			return err
		}
	}
	return nil
}

// KeyIDs lists the kids an issuer currently holds, for tests.
func (a *Authenticator) KeyIDs(iss string) []string {
	is := a.issuers[iss]
	if is == nil {
		return nil
	}
	var out []string
	if kr := is.keys.Load(); kr != nil {
		for _, k := range kr.all {
			out = append(out, k.kid)
		}
	}
	return out
}

func u64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(t *testing.T, bits int, e int, mutate func(m map[string]any)) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{"kty": "RSA", "kid": "r", "n": u64(k.N.Bytes()), "e": u64(big.NewInt(int64(e)).Bytes())}
	if mutate != nil {
		mutate(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func ecJWK(t *testing.T, c elliptic.Curve, mutate func(m map[string]any)) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	size := (c.Params().BitSize + 7) / 8
	pub, _ := k.PublicKey.Bytes()
	m := map[string]any{"kty": "EC", "kid": "e", "crv": c.Params().Name, "x": u64(pub[1 : 1+size]), "y": u64(pub[1+size:])}
	if mutate != nil {
		mutate(m)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestKeyPolicy pins KS-12 … KS-17 and AL-04/AL-13 at the JWK loader: what
// parseJWK refuses, and which algorithms an accepted key is bound to.
func TestKeyPolicy(t *testing.T) {
	all := slicesOf(supportedAlgs)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	p := elliptic.P256().Params().P
	cases := []struct {
		name  string
		jwk   string
		algs  []string // nil: refused
		allow []string
	}{
		{"positive control RSA without alg verifies PKCS#1 v1.5 only (RFC 8725 3.1)", rsaJWK(t, 2048, 65537, nil), []string{"RS256", "RS384", "RS512"}, nil},
		{"positive control RSA with alg PS256 verifies PS256 only", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["alg"] = "PS256" }), []string{"PS256"}, nil},
		{"positive control P-256 binds ES256 (RFC 7518 3.4)", ecJWK(t, elliptic.P256(), nil), []string{"ES256"}, nil},
		{"positive control P-521 binds ES512", ecJWK(t, elliptic.P521(), nil), []string{"ES512"}, nil},
		{"positive control Ed25519 binds EdDSA and Ed25519 (RFC 8037, RFC 9864)", `{"kty":"OKP","crv":"Ed25519","x":"` + u64(edPub) + `"}`, []string{"EdDSA", "Ed25519"}, nil},
		{"allow-list narrows the binding", rsaJWK(t, 2048, 65537, nil), []string{"RS256"}, []string{"RS256", "ES256"}},
		{"AL-13 RSA 1024 bits (RFC 7518 3.3)", rsaJWK(t, 1024, 65537, nil), nil, nil},
		{"AL-13 RSA 2047 bits", rsaJWK(t, 2047, 65537, nil), nil, nil},
		{"KS-15 RSA e = 1", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["e"] = "AQ" }), nil, nil},
		{"KS-15 RSA even e", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["e"] = u64([]byte{1, 0, 0}) }), nil, nil},
		{"KS-15 RSA e > 2^31-1 (jwkset truncates through Uint64)", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["e"] = u64([]byte{1, 0, 0, 0, 1}) }), nil, nil},
		{"KS-15 RSA e with a leading zero byte", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["e"] = u64([]byte{0, 1, 0, 1}) }), nil, nil},
		{"KS-15 RSA even modulus", rsaJWK(t, 2048, 65537, func(m map[string]any) {
			n, _ := base64.RawURLEncoding.DecodeString(m["n"].(string))
			n[len(n)-1] &^= 1
			m["n"] = u64(n)
		}), nil, nil},
		{"KS-15 EC point off the curve", ecJWK(t, elliptic.P256(), func(m map[string]any) {
			y, _ := base64.RawURLEncoding.DecodeString(m["y"].(string))
			y[len(y)-1] ^= 1
			m["y"] = u64(y)
		}), nil, nil},
		{"KS-15 EC point at infinity (0, 0)", ecJWK(t, elliptic.P256(), func(m map[string]any) { m["x"] = u64(make([]byte, 32)); m["y"] = u64(make([]byte, 32)) }), nil, nil},
		{"KS-15 EC coordinate >= p", ecJWK(t, elliptic.P256(), func(m map[string]any) { m["x"] = u64(p.Bytes()) }), nil, nil},
		{"KS-15 EC coordinate of the wrong length", ecJWK(t, elliptic.P256(), func(m map[string]any) { m["x"] = u64(make([]byte, 31)) }), nil, nil},
		{"KS-15 P-256 key declaring ES512 (Wycheproof jwk 19)", ecJWK(t, elliptic.P256(), func(m map[string]any) { m["alg"] = "ES512" }), nil, nil},
		{"KS-15 RSA key declaring ES256", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["alg"] = "ES256" }), nil, nil},
		{"KS-15 RSA key declaring HS256", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["alg"] = "HS256" }), nil, nil},
		{"KS-15 Ed25519 x of 31 bytes", `{"kty":"OKP","crv":"Ed25519","x":"` + u64(edPub[:31]) + `"}`, nil, nil},
		{"KS-15 Ed25519 declaring ES256", `{"kty":"OKP","crv":"Ed25519","alg":"ES256","x":"` + u64(edPub) + `"}`, nil, nil},
		{"KS-12 kty AKP (ML-DSA)", `{"kty":"AKP","alg":"ML-DSA-44","pub":"AAAA"}`, nil, nil},
		{"KS-12 Ed448", `{"kty":"OKP","crv":"Ed448","x":"` + u64(make([]byte, 57)) + `"}`, nil, nil},
		{"KS-12 secp256k1", `{"kty":"EC","crv":"secp256k1","x":"` + u64(make([]byte, 32)) + `","y":"` + u64(make([]byte, 32)) + `"}`, nil, nil},
		{"KS-12 X25519 enc key", `{"kty":"OKP","crv":"X25519","use":"enc","x":"` + u64(edPub) + `"}`, nil, nil},
		{"KS-12 unknown kty", `{"kty":"XYZ"}`, nil, nil},
		{"KS-12 kty missing", `{"n":"AQAB","e":"AQAB"}`, nil, nil},
		{"KS-12 null key", `null`, nil, nil},
		{"KS-12 key that is a string", `"key"`, nil, nil},
		{"KS-13 oct key (its k is public)", `{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"}`, nil, nil},
		{"KS-14 use enc (RFC 7517 4.2)", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["use"] = "enc" }), nil, nil},
		{"KS-14 key_ops encrypt (RFC 7517 4.3)", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["key_ops"] = []string{"encrypt"} }), nil, nil},
		{"KS-14 key_ops wrapKey", ecJWK(t, elliptic.P256(), func(m map[string]any) { m["key_ops"] = []string{"wrapKey"} }), nil, nil},
		{"KS-14 alg RSA-OAEP", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["alg"] = "RSA-OAEP" }), nil, nil},
		{"KS-14 key_ops verify is accepted", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["key_ops"] = []string{"verify"} }), []string{"RS256", "RS384", "RS512"}, nil},
		{"KS-17 private members are dropped, the public key kept", ecJWK(t, elliptic.P256(), func(m map[string]any) { m["d"] = u64(make([]byte, 32)) }), []string{"ES256"}, nil},
		{"duplicate member in a JWK", `{"kty":"EC","kty":"RSA"}`, nil, nil},
		{"invalid base64 in n", rsaJWK(t, 2048, 65537, func(m map[string]any) { m["n"] = "!!!" }), nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			allow := tc.allow
			if allow == nil {
				allow = all
			}
			vk, err := parseJWK([]byte(tc.jwk), allow)
			if tc.algs == nil {
				if err == nil {
					t.Fatalf("key accepted, bound to %v", vk.algs)
				}
				return
			}
			if err != nil {
				t.Fatalf("key refused: %v", err)
			}
			if strings.Join(vk.algs, ",") != strings.Join(tc.algs, ",") {
				t.Fatalf("bound to %v; want %v", vk.algs, tc.algs)
			}
			if strings.HasPrefix(tc.name, "KS-17") {
				if !vk.private {
					t.Fatal("private members not noticed")
				}
				if _, ok := vk.pub.(*ecdsa.PublicKey); !ok {
					t.Fatalf("key is %T, not a public key", vk.pub)
				}
			}
		})
	}
}

func slicesOf(s []string) []string { return append([]string(nil), s...) }

// TestJWKSDocument pins KS-04, KS-05 and KS-16 at parseJWKS.
func TestJWKSDocument(t *testing.T) {
	good := ecJWK(t, elliptic.P256(), nil)
	many := make([]string, maxJWKSKeys+1)
	for i := range many {
		many[i] = good
	}
	for name, doc := range map[string]string{
		"KS-05 HTML":                   "<html>hi</html>",
		"KS-05 invalid JSON":           `{"keys":[`,
		"KS-05 keys is an object":      `{"keys":{}}`,
		"KS-05 no keys member":         `{}`,
		"KS-05 trailing bytes":         `{"keys":[]} x`,
		"KS-05 two documents":          `{"keys":[]}{"keys":[]}`,
		"KS-05 keys null":              `{"keys":null}`,
		"KS-05 duplicate keys member":  `{"keys":[],"keys":[]}`,
		"KS-05 empty body":             ``,
		"KS-04 more keys than the cap": `{"keys":[` + strings.Join(many, ",") + `]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if keys, _, err := parseJWKS([]byte(doc), supportedAlgs); err == nil {
				t.Fatalf("accepted with %d keys", len(keys))
			}
		})
	}
	t.Run("KS-05 keys [null] skips the entry", func(t *testing.T) {
		keys, skipped, err := parseJWKS([]byte(`{"keys":[null,`+good+`]}`), supportedAlgs)
		if err != nil || len(keys) != 1 || len(skipped) != 1 {
			t.Fatalf("keys %d skipped %v err %v", len(keys), skipped, err)
		}
	})
	t.Run("KS-16 same kid, same kty, different keys is ambiguous (Wycheproof jwk 4)", func(t *testing.T) {
		a, b := ecJWK(t, elliptic.P256(), nil), ecJWK(t, elliptic.P256(), nil)
		keys, _, err := parseJWKS([]byte(`{"keys":[`+a+`,`+b+`]}`), supportedAlgs)
		if err != nil {
			t.Fatal(err)
		}
		kr := newKeyring(keys, time.Now())
		if vk, known := kr.find("e", "ES256"); vk != nil || !known {
			t.Fatalf("ambiguous kid resolved to a key: %v %v", vk, known)
		}
	})
	t.Run("KS-16 the same key listed twice is not ambiguous", func(t *testing.T) {
		keys, _, _ := parseJWKS([]byte(`{"keys":[`+good+`,`+good+`]}`), supportedAlgs)
		if vk, _ := newKeyring(keys, time.Now()).find("e", "ES256"); vk == nil {
			t.Fatal("a key listed twice was refused")
		}
	})
	t.Run("KS-16 same kid across kty is chosen by algorithm", func(t *testing.T) {
		r := rsaJWK(t, 2048, 65537, func(m map[string]any) { m["kid"] = "e" })
		keys, _, _ := parseJWKS([]byte(`{"keys":[`+good+`,`+r+`]}`), supportedAlgs)
		kr := newKeyring(keys, time.Now())
		ec, _ := kr.find("e", "ES256")
		rs, _ := kr.find("e", "RS256")
		if ec == nil || rs == nil || ec.kty != "EC" || rs.kty != "RSA" {
			t.Fatalf("ES256 -> %v, RS256 -> %v", ec, rs)
		}
		if vk, _ := kr.find("e", "ES384"); vk != nil {
			t.Fatal("ES384 found a key")
		}
	})
	t.Run("AL-05 kid-less token with two kid-less keys is refused", func(t *testing.T) {
		a := ecJWK(t, elliptic.P256(), func(m map[string]any) { delete(m, "kid") })
		b := ecJWK(t, elliptic.P256(), func(m map[string]any) { delete(m, "kid") })
		keys, _, _ := parseJWKS([]byte(`{"keys":[`+a+`,`+b+`]}`), supportedAlgs)
		if vk, _ := newKeyring(keys, time.Now()).find("", "ES256"); vk != nil {
			t.Fatal("kid-less token was matched against one of several keys")
		}
	})
}

// TestRefreshIntervalClamp pins KS-20: the refresh interval stays in [10s, 24h].
func TestRefreshIntervalClamp(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		0: defaultRefresh, time.Nanosecond: minRefresh, time.Second: minRefresh,
		time.Hour: time.Hour, 1000 * time.Hour: maxRefresh,
	} {
		c := Config{Issuer: "https://id.example.com", Audience: []string{"a"}, JWKSURL: "https://id.example.com/jwks", RefreshInterval: in}
		if _, err := c.normalize(); err != nil {
			t.Fatal(err)
		}
		if c.RefreshInterval != want {
			t.Errorf("RefreshInterval %v -> %v; want %v", in, c.RefreshInterval, want)
		}
	}
}

// TestNumericDateRange pins CL-05 at the range check itself.
func TestNumericDateRange(t *testing.T) {
	for _, lit := range []string{"1e19", "1e300", "-1e300", "9223372036854775807", "1e999", "-1", "9007199254740992", `"1"`, "null"} {
		a := &Authenticator{cfg: Config{Claims: ClaimNames{SessionID: "sid", Scope: "scope", Roles: "roles", Tenant: "tenant"}}}
		if _, err := a.parseClaims([]byte(`{"exp":` + lit + `}`)); err == nil {
			t.Errorf("exp %s accepted", lit)
		}
	}
	for _, lit := range []string{"0", "1893456000.5", "9007199254740991"} {
		a := &Authenticator{cfg: Config{Claims: ClaimNames{SessionID: "sid", Scope: "scope", Roles: "roles", Tenant: "tenant"}}}
		if _, err := a.parseClaims([]byte(`{"exp":` + lit + `}`)); err != nil {
			t.Errorf("exp %s refused: %v", lit, err)
		}
	}
}

// TestWeakRSAWithGODEBUG pins AL-13: authgate's own 2048-bit floor holds
// even when GODEBUG=rsa1024min=0 lets Go itself use a 512-bit key.
func TestWeakRSAWithGODEBUG(t *testing.T) {
	t.Setenv("GODEBUG", "rsa1024min=0")
	k, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Skipf("this Go refuses 512-bit keys even with rsa1024min=0: %v", err)
	}
	jwk := fmt.Sprintf(`{"kty":"RSA","n":%q,"e":"AQAB"}`, u64(k.N.Bytes()))
	if _, err := parseJWK([]byte(jwk), supportedAlgs); err == nil {
		t.Fatal("512-bit RSA key accepted under GODEBUG=rsa1024min=0")
	}
	if err := checkRSA(&k.PublicKey); err == nil || !strings.Contains(err.Error(), "2048") {
		t.Fatalf("checkRSA: %v", err)
	}
}
