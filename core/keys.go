package core

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/go-json-experiment/json/jsontext"
)

// A verification key, bound to the algorithms it may verify (RFC 8725
// section 3.1: each key is used with exactly one family of algorithms, and the
// alg must fit the key's type, curve and size).
type vkey struct {
	kid  string
	kty  string   // "RSA", "EC", "OKP"
	algs []string // the algorithms this key may verify, within the allow-list
	pub  any      // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey
	// private is set when the JWK carried private members (they are
	// dropped; a static config refuses them, a remote set is logged).
	private bool
}

// keyring is an immutable snapshot of an issuer's keys; a refresh swaps in a
// new one.
type keyring struct {
	byKID     map[string][]*vkey
	ambiguous map[string]bool // kids listed twice for one key type with different keys
	noKID     []*vkey         // keys published without a kid (and static PEM keys)
	all       []*vkey
	loaded    time.Time
}

func (k *keyring) count() int {
	if k == nil {
		return 0
	}
	return len(k.all)
}

// find returns the key for a token's kid and alg. A token without a kid, or
// naming no known kid, may use the one alg-compatible key published without a
// kid; two or more candidates are refused rather than tried in turn.
func (k *keyring) find(kid, alg string) (key *vkey, known bool) {
	if k == nil {
		return nil, false
	}
	if kid != "" {
		if k.ambiguous[kid] {
			return nil, true
		}
		if ks, ok := k.byKID[kid]; ok {
			for _, vk := range ks {
				if slices.Contains(vk.algs, alg) {
					return vk, true
				}
			}
			return nil, true
		}
	}
	var found *vkey
	for _, vk := range k.noKID {
		if slices.Contains(vk.algs, alg) {
			if found != nil {
				return nil, true // ambiguous: a kid is required
			}
			found = vk
		}
	}
	if kid == "" {
		return found, true
	}
	return found, found != nil
}

func newKeyring(keys []*vkey, loaded time.Time) *keyring {
	k := &keyring{byKID: map[string][]*vkey{}, ambiguous: map[string]bool{}, loaded: loaded}
	for _, vk := range keys {
		k.all = append(k.all, vk)
		if vk.kid == "" {
			k.noKID = append(k.noKID, vk)
			continue
		}
		for _, other := range k.byKID[vk.kid] {
			if other.kty == vk.kty && !samePublicKey(other.pub, vk.pub) {
				k.ambiguous[vk.kid] = true
			}
		}
		k.byKID[vk.kid] = append(k.byKID[vk.kid], vk)
	}
	return k
}

func samePublicKey(a, b any) bool {
	if e, ok := a.(interface{ Equal(x crypto.PublicKey) bool }); ok {
		return e.Equal(b)
	}
	return false
}

// algFamily returns the algorithms of the allow-list a key may verify.
// declared is the JWK "alg" ("" for PEM keys and JWKs without one).
func bindAlgs(pub any, declared string, allowed []string) ([]string, error) {
	var family []string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if err := checkRSA(k); err != nil {
			return nil, err
		}
		if declared != "" {
			if !slices.Contains([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, declared) {
				return nil, fmt.Errorf("RSA key declares alg %q", declared)
			}
			family = []string{declared}
		} else {
			// Undeclared RSA keys verify PKCS#1 v1.5 only: PSS needs the
			// issuer to say so (RFC 8725 section 3.1).
			family = []string{"RS256", "RS384", "RS512"}
		}
	case *ecdsa.PublicKey:
		var alg string
		switch k.Curve {
		case elliptic.P256():
			alg = "ES256"
		case elliptic.P384():
			alg = "ES384"
		case elliptic.P521():
			alg = "ES512"
		default:
			return nil, errors.New("unsupported EC curve")
		}
		if _, err := k.ECDH(); err != nil { // rejects points off the curve
			return nil, fmt.Errorf("invalid EC point: %w", err)
		}
		if declared != "" && declared != alg {
			return nil, fmt.Errorf("EC key on %s declares alg %q", k.Curve.Params().Name, declared)
		}
		family = []string{alg}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key of wrong length")
		}
		switch declared {
		case "":
			family = []string{"EdDSA", "Ed25519"}
		case "EdDSA", "Ed25519":
			family = []string{declared}
		default:
			return nil, fmt.Errorf("Ed25519 key declares alg %q", declared)
		}
	default:
		return nil, fmt.Errorf("unsupported key type %T", pub)
	}
	var out []string
	for _, a := range family {
		if slices.Contains(allowed, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("key fits no allowed algorithm")
	}
	return out, nil
}

// checkRSA refuses RSA keys that RFC 7518 section 3.3 forbids or that are
// malformed: fewer than 2048 bits, an even modulus, e even, e < 3 or
// e > 2^31-1. It holds whatever GODEBUG=rsa1024min says.
func checkRSA(k *rsa.PublicKey) error {
	if k.N == nil || k.N.BitLen() < 2048 {
		return errors.New("RSA key shorter than 2048 bits")
	}
	if k.N.Bit(0) == 0 {
		return errors.New("RSA modulus is even")
	}
	if k.E < 3 || k.E > 1<<31-1 || k.E%2 == 0 {
		return errors.New("RSA exponent out of range")
	}
	if rocaFingerprint(k.N) {
		return errors.New("RSA modulus has the ROCA fingerprint (CVE-2017-15361): its private key can be recovered")
	}
	return nil
}

// rocaPrimes are the small primes every ROCA modulus is built over (the
// first 38; every key size's primorial includes them).
var rocaPrimes = [...]int64{3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167}

// rocaFingerprint reports whether n looks like a modulus made by the
// Infineon library of CVE-2017-15361 (ROCA): its primes are of the form
// k*M + (65537^a mod M), so n mod every small prime r dividing M lies in the
// subgroup generated by 65537 mod r. A random modulus fails this for some r
// with overwhelming probability.
func rocaFingerprint(n *big.Int) bool {
	var rem, pr big.Int
	for _, p := range rocaPrimes {
		r := rem.Mod(n, pr.SetInt64(p)).Int64()
		g := 65537 % p
		in := false
		for x := int64(1); ; {
			if x == r {
				in = true
				break
			}
			if x = x * g % p; x == 1 {
				break
			}
		}
		if !in {
			return false
		}
	}
	return true
}

// maxJWKSKeys bounds the keys taken from one JWKS.
const maxJWKSKeys = 100

// parseJWKS turns a JWKS document into verification keys. Keys that cannot
// be used are skipped and reported in skipped (RFC 7517 section 5: unknown or
// unusable keys are ignored); the set itself fails only when it is not a JWKS.
func parseJWKS(body []byte, allowed []string) (keys []*vkey, skipped []string, err error) {
	keys, _, skipped, err = parseJWKSMarshal(body, allowed)
	return keys, skipped, err
}

// parseJWKSMarshal is parseJWKS that also returns each usable key as jwkset
// reads it, private members removed (see screenJWKS).
func parseJWKSMarshal(body []byte, allowed []string) (keys []*vkey, ms []jwkset.JWKMarshal, skipped []string, err error) {
	raws, err := splitJWKS(body)
	if err != nil {
		return nil, nil, nil, err
	}
	for i, raw := range raws {
		vk, m, err := parseJWKMarshal(raw, allowed)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		keys = append(keys, vk)
		ms = append(ms, m)
	}
	return keys, ms, skipped, nil
}

// splitJWKS reads a JWK Set document strictly (duplicate members and
// trailing data refused) and returns its keys, unparsed; more than
// maxJWKSKeys keys fail it.
func splitJWKS(body []byte) ([]jsontext.Value, error) {
	var doc struct {
		Keys []jsontext.Value `json:"keys"`
	}
	if err := strictUnmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys" array`)
	}
	if len(doc.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("JWK Set has %d keys, more than %d", len(doc.Keys), maxJWKSKeys)
	}
	return doc.Keys, nil
}

// parseJWK parses one public JWK (through jwkset) and applies authgate's key
// policy on top: signature keys only, no symmetric keys, private members
// ignored, sizes and curves checked, alg bound.
func parseJWK(raw []byte, allowed []string) (*vkey, error) {
	vk, _, err := parseJWKMarshal(raw, allowed)
	return vk, err
}

// parseJWKMarshal is parseJWK that also returns the key as jwkset reads it,
// with its private members removed: what screenJWKS hands on to jwkset's
// HTTP storage.
func parseJWKMarshal(raw []byte, allowed []string) (*vkey, jwkset.JWKMarshal, error) {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, jwkset.JWKMarshal{}, errors.New("null key")
	}
	var m jwkset.JWKMarshal
	if err := strictUnmarshal(raw, &m); err != nil {
		return nil, m, fmt.Errorf("malformed JWK: %w", err)
	}
	if err := checkJWKMeta(m); err != nil {
		return nil, m, err
	}
	private := m.D != "" || m.P != "" || m.Q != "" || m.DP != "" || m.DQ != "" || m.QI != "" || m.K != "" || len(m.OTH) > 0
	// Private members are dropped: only the public half is ever used.
	m.D, m.P, m.Q, m.DP, m.DQ, m.QI, m.K, m.OTH = "", "", "", "", "", "", "", nil
	jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, m, fmt.Errorf("invalid JWK: %w", err)
	}
	vk, err := vkeyFromJWK(jwk, allowed)
	if err != nil {
		return nil, m, err
	}
	vk.private = private
	return vk, m, nil
}

// checkJWKMeta is the part of the key policy read from a JWK's members:
// asymmetric signature keys only (RFC 7517 sections 4.2 and 4.3; RFC 8725
// section 3.1), and an RSA exponent jwkset can read without truncating it.
func checkJWKMeta(m jwkset.JWKMarshal) error {
	switch m.KTY {
	case jwkset.KtyRSA, jwkset.KtyEC, jwkset.KtyOKP:
	case jwkset.KtyOct:
		return errors.New(`symmetric "oct" key in a public key set`)
	default:
		return fmt.Errorf("unsupported kty %q", string(m.KTY))
	}
	if m.USE != "" && m.USE != jwkset.UseSig {
		return fmt.Errorf("key use %q is not signature verification", string(m.USE))
	}
	if len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
		return errors.New(`key_ops does not include "verify"`)
	}
	if m.KTY == jwkset.KtyRSA {
		// jwkset reads e through a uint64; refuse what would be truncated.
		e, err := base64.RawURLEncoding.Strict().DecodeString(m.E)
		if err != nil || len(e) == 0 || len(e) > 4 || e[0] == 0 {
			return errors.New("RSA exponent malformed or out of range")
		}
	}
	return nil
}

// vkeyFromJWK applies authgate's key policy to a key held by a jwkset
// storage (authgate's own HTTP storage, or one the application hands over
// through Config.Keyfunc or Config.KeyStorage): the checks on its members,
// then type, size, curve and point checks and the alg binding on the key
// itself. A private key is used by its public half only.
func vkeyFromJWK(jwk jwkset.JWK, allowed []string) (*vkey, error) {
	m := jwk.Marshal()
	if err := checkJWKMeta(m); err != nil {
		return nil, err
	}
	pub := jwk.Key()
	private := false
	if p, ok := pub.(interface{ Public() crypto.PublicKey }); ok {
		pub, private = p.Public(), true
	}
	algs, err := bindAlgs(pub, string(m.ALG), allowed)
	if err != nil {
		return nil, err
	}
	return &vkey{kid: m.KID, kty: string(m.KTY), algs: algs, pub: pub, private: private}, nil
}

// parseStaticKeys reads Config.PublicKeys: PEM blocks or JWK / JWK Set JSON.
// Unlike a remote set, a static key that cannot be used is a config error.
func parseStaticKeys(srcs []string, allowed []string) ([]*vkey, error) {
	var out []*vkey
	for i, s := range srcs {
		t := strings.TrimSpace(s)
		switch {
		case strings.HasPrefix(t, "-----BEGIN"):
			rest := []byte(t)
			for {
				var b *pem.Block
				b, rest = pem.Decode(rest)
				if b == nil {
					break
				}
				pub, err := parsePEMBlock(b)
				if err != nil {
					return nil, fmt.Errorf("PublicKeys[%d]: %v", i, err)
				}
				algs, err := bindAlgs(pub, "", allowed)
				if err != nil {
					return nil, fmt.Errorf("PublicKeys[%d]: %v", i, err)
				}
				out = append(out, &vkey{kty: ktyOf(pub), algs: algs, pub: pub})
			}
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, fmt.Errorf("PublicKeys[%d]: trailing data after the PEM blocks", i)
			}
		case strings.HasPrefix(t, "{"):
			if strings.Contains(t, `"keys"`) {
				keys, skipped, err := parseJWKS([]byte(t), allowed)
				if err != nil {
					return nil, fmt.Errorf("PublicKeys[%d]: %v", i, err)
				}
				if len(skipped) > 0 {
					return nil, fmt.Errorf("PublicKeys[%d]: %s", i, strings.Join(skipped, "; "))
				}
				for _, vk := range keys {
					if vk.private {
						return nil, fmt.Errorf("PublicKeys[%d]: a JWK holds private key members; give the public key only", i)
					}
				}
				out = append(out, keys...)
			} else {
				vk, err := parseJWK([]byte(t), allowed)
				if err != nil {
					return nil, fmt.Errorf("PublicKeys[%d]: %v", i, err)
				}
				if vk.private {
					return nil, fmt.Errorf("PublicKeys[%d]: the JWK holds private key members; give the public key only", i)
				}
				out = append(out, vk)
			}
		default:
			return nil, fmt.Errorf("PublicKeys[%d] is neither PEM nor JWK JSON", i)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("PublicKeys holds no key")
	}
	// A token is matched to a key without a kid only when exactly one such
	// key fits its alg (keyring.find), so two kid-less keys that verify the
	// same algorithm could never be used: say so now.
	for i, a := range out {
		for _, b := range out[:i] {
			if a.kid == "" && b.kid == "" && slices.ContainsFunc(a.algs, func(alg string) bool { return slices.Contains(b.algs, alg) }) {
				return nil, errors.New("PublicKeys holds two keys without a kid for the same algorithm; give them kids (as JWKs) so tokens can name them")
			}
		}
	}
	return out, nil
}

func ktyOf(pub any) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "EC"
	}
	return "OKP"
}

func parsePEMBlock(b *pem.Block) (any, error) {
	switch b.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(b.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(b.Bytes)
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a public key or certificate", b.Type)
}

// weakSecrets are secrets seen in tutorials and default configs. A secret is
// also refused when it looks like key material meant for something else.
var weakSecrets = []string{
	"secret", "your-256-bit-secret", "your-384-bit-secret", "your-512-bit-secret",
	"changeme", "change-me", "changeit", "password", "jwt-secret", "jwtsecret",
	"supersecret", "super-secret-key", "secretkey", "mysecret", "my-secret",
	"default", "test", "example", "0123456789abcdef0123456789abcdef",
	"abcdefghijklmnopqrstuvwxyz012345", "thisisasecretkeythisisasecretkey",
}

func checkHMACSecret(s []byte) error {
	if len(s) < minHMACSecret {
		return fmt.Errorf("HMACSecret has %d bytes; at least %d are needed (RFC 7518 section 3.2): generate one with `openssl rand -base64 48`", len(s), minHMACSecret)
	}
	t := strings.TrimSpace(string(s))
	if strings.HasPrefix(t, "-----BEGIN") || strings.HasPrefix(t, "{") {
		return errors.New("HMACSecret looks like a PEM or JWK key; public keys belong in PublicKeys, never in an HMAC secret")
	}
	lower := strings.ToLower(t)
	for _, w := range weakSecrets {
		if strings.Contains(lower, w) && len(lower) < len(w)+16 {
			return errors.New("HMACSecret is a well-known weak secret; generate one with `openssl rand -base64 48`")
		}
	}
	distinct := map[byte]bool{}
	for _, c := range s {
		distinct[c] = true
	}
	if len(distinct) < 8 {
		return errors.New("HMACSecret has too little variety to be random; generate one with `openssl rand -base64 48`")
	}
	return nil
}
