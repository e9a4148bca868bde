package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"
)

// DPoPKey is a client's DPoP key (RFC 9449), to mint DPoP-bound tokens
// (Issuer.BoundToken) and the proofs that go with them, including broken
// ones.
type DPoPKey struct {
	// Alg is the proof algorithm: ES256 or EdDSA.
	Alg string
	// JWK is the public key as the proof's header carries it.
	JWK map[string]any
	// JKT is the key's RFC 7638 thumbprint, the token's cnf.jkt.
	JKT     string
	Private crypto.Signer
}

// NewDPoPKey makes a DPoP key for alg, "ES256" or "EdDSA".
func NewDPoPKey(alg string) *DPoPKey {
	k := &DPoPKey{Alg: alg}
	var canon string
	switch alg {
	case "ES256":
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		b, err := priv.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			panic(err)
		}
		x, y := b64(b[1:33]), b64(b[33:])
		k.Private, k.JWK = priv, map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y}
		canon = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, x, y)
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		x := b64(pub)
		k.Private, k.JWK = priv, map[string]any{"kty": "OKP", "crv": "Ed25519", "x": x}
		canon = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"%s"}`, x)
	default:
		panic("authtest: DPoP keys are ES256 or EdDSA")
	}
	d := sha256.Sum256([]byte(canon))
	k.JKT = b64(d[:])
	return k
}

// BoundToken is Token with cnf.jkt naming k: a DPoP-bound access token.
func (i *Issuer) BoundToken(k *DPoPKey, overrides Claims) string {
	c := Claims{"cnf": map[string]any{"jkt": k.JKT}}
	for name, v := range overrides {
		c[name] = v
	}
	return i.Token(c)
}

// ProofClaims are the claims of a valid proof for a request with method to
// uri carrying accessToken: a fresh jti, htm, htu, iat now, ath.
func ProofClaims(method, uri, accessToken string) Claims {
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	ath := sha256.Sum256([]byte(accessToken))
	return Claims{"jti": b64(jti[:]), "htm": method, "htu": uri, "iat": time.Now().Unix(), "ath": b64(ath[:])}
}

// Proof is a valid DPoP proof for the request, with override applied to
// its claims (nil values remove a claim).
func (k *DPoPKey) Proof(method, uri, accessToken string, override Claims) string {
	c := ProofClaims(method, uri, accessToken)
	for name, v := range override {
		if v == nil {
			delete(c, name)
		} else {
			c[name] = v
		}
	}
	return k.SignProof(nil, c)
}

// SignProof signs claims as a proof whose header is {"typ": "dpop+jwt",
// "alg": k.Alg, "jwk": k.JWK} with header applied (nil values remove).
func (k *DPoPKey) SignProof(header map[string]any, claims Claims) string {
	h := map[string]any{"typ": "dpop+jwt", "alg": k.Alg, "jwk": k.JWK}
	for name, v := range header {
		if v == nil {
			delete(h, name)
		} else {
			h[name] = v
		}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		panic(err)
	}
	cb, err := json.Marshal(map[string]any(claims))
	if err != nil {
		panic(err)
	}
	alg := k.Alg
	if a, ok := h["alg"].(string); ok && (a == "ES256" || a == "EdDSA") {
		alg = a
	}
	input := b64(hb) + "." + b64(cb)
	return input + "." + b64(SignBytes(k.Private, alg, []byte(input)))
}
