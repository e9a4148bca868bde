package core

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"
)

// The fresh path's shortcuts (jws.go) decide exactly as the code they
// replaced: names read without a copy, one-pass lenient lists, typ compared
// without lower-casing, RS* verified with crypto/rsa directly.

func TestClaimNamesReadInPlace(t *testing.T) {
	a := &Authenticator{issuers: map[string]*issuer{}}
	a.cfg.Claims = ClaimNames{SessionID: "sid", Tenant: "tenant", Scope: "scope", Roles: "roles"}
	a.claimNames = newClaimReader(a.cfg.Claims)
	c, err := a.parseClaims([]byte(`{"\u0073ub":"u1","s\u0069d":"s1","exp":5,"scope":"a  b\tc d","roles":["r1","r2"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.sub != "u1" || !c.hasSub || c.sid != "s1" || !c.hasExp || !slices.Equal(c.scope, []string{"a", "d"}) || !slices.Equal(c.roles, []string{"r1", "r2"}) {
		t.Fatalf("escaped names not matched: %+v", c)
	}
	for _, bad := range []string{
		`{"sub":"a","\u0073ub":"b"}`, // a duplicate spelled with an escape
		`{"sub":"a"} x`,
		`{"Sub":"a","sub":1}`,
		`{"roles":[1,}`, // invalid JSON inside a lenient claim still fails
		`{"roles":{"a":1,"a":2}}`,
	} {
		if _, err := a.parseClaims([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestLenientStringsOnePass(t *testing.T) {
	for in, want := range map[string][]string{
		`"a"`:             {"a"},
		`["a","b"]`:       {"a", "b"},
		`[]`:              nil,
		`["a",1,"b"]`:     nil,
		`[["a"]]`:         nil,
		`{"x":["a"]}`:     nil,
		`1`:               nil,
		`null`:            nil,
		`["a",{"b":"c"}]`: nil,
	} {
		d := jsontext.NewDecoder(strings.NewReader(`{"k":` + in + `,"after":"z"}`))
		if _, err := d.ReadToken(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ReadToken(); err != nil {
			t.Fatal(err)
		}
		got, err := readLenientStrings(d)
		if err != nil || !slices.Equal(got, want) || (want == nil) != (got == nil) {
			t.Errorf("%s: %q, %v; want %q", in, got, err, want)
		}
		// The whole value was consumed: the next member follows.
		if tok, err := d.ReadToken(); err != nil || tok.String() != "after" {
			t.Errorf("%s: value not consumed: next %v, %v", in, tok, err)
		}
	}
}

// checkTypReference is checkTyp written plainly: lower-case, then compare;
// without the profile, parameters and surrounding whitespace are cut first.
func checkTypReference(typ string, requireAT bool) bool {
	t := strings.TrimPrefix(strings.ToLower(typ), "application/")
	if requireAT {
		return t == "at+jwt"
	}
	t = strings.ToLower(typ)
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	t = strings.TrimPrefix(strings.Trim(t, " \t"), "application/")
	return !((strings.HasSuffix(t, "+jwt") || strings.HasSuffix(t, "+sd-jwt")) && t != "at+jwt")
}

func TestCheckTypMatchesLowerCasing(t *testing.T) {
	for _, typ := range []string{"", "JWT", "jwt", "at+jwt", "AT+JWT", "At+Jwt", "application/at+jwt", "APPLICATION/AT+JWT",
		"application/JWT", "secevent+jwt", "application/logout+JWT", "dpop+jwt", "+jwt", "jwt+", "application/", "at+jw",
		"application/at+jwt ", "aT+jWT", "\u212a+jwt", "at+\u212awt", "ſecevent+jwt", "İ+jwt", "application/İat+jwt", "x+JWT\u0130",
		"appLication/secevent+jwt", "JOSE", "application/jose", "at\u00a0+jwt",
		"dpop+jwt ", "dpop+jwt\t", " dpop+jwt", "application/dpop+jwt; charset=utf-8", "secevent+jwt;x", "dc+sd-jwt",
		"vc+sd-jwt", "application/vc+SD-JWT", "at+jwt; x=y", " at+jwt ", "JWT; charset=utf-8", ";+jwt", "sd-jwt"} {
		for _, req := range []bool{false, true} {
			if got, want := checkTyp(typ, req) == nil, checkTypReference(typ, req); got != want {
				t.Errorf("typ %q requireAT %v: accepted %v, reference %v", typ, req, got, want)
			}
		}
	}
}

func TestRSAVerifyMatchesGolangJWT(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var nilKey *rsa.PublicKey
	for _, m := range []*jwt.SigningMethodRSA{jwt.SigningMethodRS256, jwt.SigningMethodRS384, jwt.SigningMethodRS512} {
		input := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"`+m.Alg()+`"}`)) + ".eyJzdWIiOiJ4In0"
		sig, err := m.Sign(input, k)
		if err != nil {
			t.Fatal(err)
		}
		flipped := slices.Clone(sig)
		flipped[10] ^= 1
		for _, c := range []struct {
			name  string
			input string
			sig   []byte
			key   any
		}{
			{"valid", input, sig, &k.PublicKey},
			{"other key", input, sig, &other.PublicKey},
			{"flipped bit", input, flipped, &k.PublicKey},
			{"other input", input + "x", sig, &k.PublicKey},
			{"short signature", input, sig[1:], &k.PublicKey},
			{"ECDSA key", input, sig, &ec.PublicKey},
			{"private key", input, sig, k},
			{"nil key", input, sig, nilKey},
		} {
			j := jws{h: header{alg: m.Alg()}, sig: c.sig, signingInput: c.input}
			got := verifySignature(&j, c.key) == nil
			want := c.name == "valid"
			if c.name != "nil key" { // golang-jwt panics on a nil *rsa.PublicKey
				want = m.Verify(c.input, c.sig, c.key) == nil
			}
			if got != want || got != (c.name == "valid") {
				t.Errorf("%s %s: verified %v, golang-jwt %v", m.Alg(), c.name, got, want)
			}
		}
	}
}
