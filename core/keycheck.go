package core

import (
	stdjson "encoding/json"
	"fmt"
	"slices"
	"time"
)

// KeyVerdict is authgate's judgement of one key of a JWK Set: whether an
// Authenticator would verify tokens with it, with which algorithms, and if
// not, why. [CheckKeySet] returns one per key.
type KeyVerdict struct {
	// Index is the key's position in the set's "keys" array.
	Index int
	// KID, Kty, Alg and Use are the key's "kid", "kty", "alg" and "use"
	// members as published ("" when absent or not a string).
	KID, Kty, Alg, Use string
	// Algorithms lists the algorithms of the allow-list that tokens naming
	// this key (by kid, or without a kid) can be verified with; empty when
	// the key is refused.
	Algorithms []string
	// Refused says why no token is verified with the key ("" when it is
	// usable): the text of the key policy rule it breaks (a symmetric key,
	// an RSA key under 2048 bits, a curve or alg that does not fit, a use or
	// key_ops other than signature verification, ...), or that tokens cannot
	// pick it (its kid is listed for a different key of the same type; or it
	// has no kid and another key without a kid fits the same algorithms).
	Refused string
	// Private is set when the JWK carries private key members. Only its
	// public half is ever used, but the issuer publishes a secret: that key
	// must be rotated.
	Private bool
}

// Usable reports whether tokens can be verified with the key.
func (v KeyVerdict) Usable() bool { return len(v.Algorithms) > 0 }

// CheckKeySet applies authgate's key policy to a JWK Set document, as an
// Authenticator does to every JWKS it fetches, and returns a verdict for
// each key, in order. algorithms is the allow-list (Config.Algorithms; nil
// means the default). It fails when algorithms is not an allow-list
// [New] accepts for public keys, or when the document is not a JWK Set
// authgate reads at all (not strict JSON, no "keys" array, more than 100
// keys): an Authenticator then keeps no key of it.
//
// It is what the operator tool's check-issuer prints; an Authenticator
// refuses a set in which no key is usable.
func CheckKeySet(jwks []byte, algorithms []string) ([]KeyVerdict, error) {
	ic := IssuerConfig{Issuer: "CheckKeySet", Algorithms: slices.Clone(algorithms)}
	if err := checkAlgorithms(&ic); err != nil {
		return nil, err
	}
	raws, err := splitJWKS(jwks)
	if err != nil {
		return nil, err
	}
	verdicts := make([]KeyVerdict, len(raws))
	var keys []*vkey
	byIndex := make([]*vkey, len(raws))
	for i, raw := range raws {
		v := &verdicts[i]
		v.Index = i
		var members map[string]any
		if stdjson.Unmarshal(raw, &members) == nil {
			str := func(name string) string { s, _ := members[name].(string); return s }
			v.KID, v.Kty, v.Alg, v.Use = str("kid"), str("kty"), str("alg"), str("use")
		}
		vk, _, err := parseJWKMarshal(raw, ic.Algorithms)
		if err != nil {
			v.Refused = err.Error()
			continue
		}
		v.Private = vk.private
		keys = append(keys, vk)
		byIndex[i] = vk
	}
	// Which algorithms a token can use this key with: the keyring's own
	// lookup, as for a token naming the key's kid (or no kid).
	kr := newKeyring(keys, time.Time{})
	for i, vk := range byIndex {
		if vk == nil {
			continue
		}
		v := &verdicts[i]
		for _, alg := range vk.algs {
			if found, _ := kr.find(vk.kid, alg); found != nil && (found == vk || samePublicKey(found.pub, vk.pub)) {
				v.Algorithms = append(v.Algorithms, alg)
			}
		}
		switch {
		case len(v.Algorithms) > 0:
		case vk.kid != "" && kr.ambiguous[vk.kid]:
			v.Refused = fmt.Sprintf("kid %q is listed for different keys of type %s: tokens naming it are refused", vk.kid, vk.kty)
		default:
			v.Refused = "no kid, and another key without a kid fits the same algorithms: a token cannot pick it"
		}
	}
	return verdicts, nil
}
