package core_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// TestCheckKeySetIsTheAuthenticatorsVerdict serves a key set mixing usable
// and refused keys, asks CheckKeySet about it, and signs a token with each
// key whose private half the test holds: an Authenticator on that set
// accepts exactly the tokens of the keys CheckKeySet calls usable.
func TestCheckKeySetIsTheAuthenticatorsVerdict(t *testing.T) {
	iss := authtest.New(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	keys := []*authtest.Key{
		iss.Signer(), // RS256, 2048 bits
		{ID: "small", Alg: "RS256", Private: small},
		{ID: "ec-private", Alg: "ES256", Private: authtest.GenerateKey("ES256")},
		{ID: "dup", Alg: "RS256", Private: authtest.GenerateKey("RS256")},
		{ID: "dup", Alg: "RS256", Private: authtest.GenerateKey("RS256")},
		{ID: "es384", Alg: "ES384", Private: authtest.GenerateKey("ES384")},
		{ID: "enc", Alg: "RS256", Private: authtest.GenerateKey("RS256")},
	}
	var set []map[string]any
	for _, k := range keys {
		m := authtest.PublicJWK(k)
		switch k.ID {
		case "ec-private":
			m["d"] = base64.RawURLEncoding.EncodeToString(big.NewInt(12345).Bytes())
		case "enc":
			m["use"] = "enc"
		}
		set = append(set, m)
	}
	set = append(set, map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"})
	body, err := json.Marshal(map[string]any{"keys": set})
	if err != nil {
		t.Fatal(err)
	}

	verdicts, err := core.CheckKeySet(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(verdicts) != len(set) {
		t.Fatalf("%d verdicts for %d keys", len(verdicts), len(set))
	}
	want := []struct {
		usable  bool
		refused string // a part of the reason
		private bool
	}{
		{usable: true},
		{refused: "shorter than 2048 bits"},
		{usable: true, private: true},
		{refused: `kid "dup" is listed for different keys`},
		{refused: `kid "dup" is listed for different keys`},
		{refused: "fits no allowed algorithm"},
		{refused: `use "enc"`},
		{refused: `symmetric "oct" key`},
	}
	for i, w := range want {
		v := verdicts[i]
		if v.Index != i || v.Usable() != w.usable || !strings.Contains(v.Refused, w.refused) || (w.usable && v.Refused != "") || v.Private != w.private {
			t.Errorf("key %d (kid %q): verdict %+v, want usable=%v refused~%q private=%v", i, v.KID, v, w.usable, w.refused, w.private)
		}
	}
	if v := verdicts[0]; v.KID != keys[0].ID || v.Kty != "RSA" || v.Alg != "RS256" || v.Use != "sig" || len(v.Algorithms) != 1 || v.Algorithms[0] != "RS256" {
		t.Errorf("usable key's verdict %+v: want kid, kty RSA, alg and use as published, algorithms [RS256]", v)
	}

	// The Authenticator's own verdict, token by token.
	iss.SetJWKS(body)
	a := newAuth(t, iss, func(c *core.Config) { c.Logger = quiet; c.TokenCache.Disabled = true })
	for i, k := range keys {
		tok := iss.Sign(k, nil, iss.Defaults())
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, err := a.Authenticate(context.Background(), request{r})
		if accepted := err == nil; accepted != verdicts[i].Usable() {
			t.Errorf("key %d (kid %q): Authenticate err=%v (cause %q), but CheckKeySet says usable=%v", i, k.ID, err, core.Cause(err), verdicts[i].Usable())
		}
	}
}

// TestCheckKeySetKeysWithoutKid: two keys without a kid for one algorithm
// cannot be told apart by a token, so neither is usable; with one the
// other fits no shared algorithm, both are.
func TestCheckKeySetKeysWithoutKid(t *testing.T) {
	jwk := func(alg string) map[string]any {
		m := authtest.PublicJWK(&authtest.Key{Alg: alg, Private: authtest.GenerateKey(alg)})
		delete(m, "kid")
		return m
	}
	body, _ := json.Marshal(map[string]any{"keys": []any{jwk("RS256"), jwk("RS256"), jwk("ES256")}})
	v, err := core.CheckKeySet(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v[0].Usable() || v[1].Usable() || !strings.Contains(v[0].Refused, "no kid") || !v[2].Usable() {
		t.Errorf("verdicts %+v: want the two kid-less RSA keys refused, the EC key usable", v)
	}
}

// TestCheckKeySetErrors: a document authgate does not read as a key set at
// all, and an allow-list New refuses, fail the call rather than produce
// verdicts.
func TestCheckKeySetErrors(t *testing.T) {
	for _, c := range []struct{ name, body string }{
		{"not JSON", "<html>"},
		{"no keys array", `{"kes":[]}`},
		{"duplicate member", `{"keys":[],"keys":[]}`},
		{"trailing data", `{"keys":[]} x`},
		{"too many keys", `{"keys":[` + strings.Repeat(`{},`, 100) + `{}]}`},
	} {
		if v, err := core.CheckKeySet([]byte(c.body), nil); err == nil {
			t.Errorf("%s: no error, verdicts %+v", c.name, v)
		}
	}
	_, err := core.CheckKeySet([]byte(`{"keys":[]}`), []string{"HS256"})
	if !errors.Is(err, core.ErrConfig) {
		t.Errorf("HS256 allow-list for a public key set: err %v, want ErrConfig", err)
	}
	_, err = core.CheckKeySet([]byte(`{"keys":[]}`), []string{"none"})
	if !errors.Is(err, core.ErrConfig) {
		t.Errorf(`"none" in the allow-list: err %v, want ErrConfig`, err)
	}
	if v, err := core.CheckKeySet([]byte(`{"keys":[null, 7, "x"]}`), nil); err != nil || len(v) != 3 || v[0].Usable() || v[1].Usable() || v[2].Usable() {
		t.Errorf("garbage keys: %+v %v, want three refused verdicts", v, err)
	}
}
