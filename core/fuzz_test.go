package core

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for every parser that sees attacker bytes (OP-05: no panic on
// any input). Their seed corpora under testdata/fuzz/<FuzzName>/ run as
// ordinary tests; regenerate them with
//
//	AUTHGATE_WRITE_SEEDS=1 go test -run TestWriteFuzzSeeds ./core
//
// Run a target with e.g. go test -fuzz FuzzVerifyJWT -fuzztime 1m ./core.

// fuzzKey is a fixed Ed25519 key, so that seeded tokens verify and the
// fuzzer reaches the claim checks.
var fuzzKey = ed25519.NewKeyFromSeed([]byte("authgate-fuzz-key-seed-32-bytes!"))

const fuzzIssuer = "https://fuzz.example.com"

var fuzzNow = time.Unix(1_800_000_000, 0)

func fuzzAuth(tb testing.TB) *Authenticator {
	tb.Helper()
	jwk := fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q}`,
		base64.RawURLEncoding.EncodeToString(fuzzKey.Public().(ed25519.PublicKey)))
	a, err := New(context.Background(), Config{
		Issuer: fuzzIssuer, Audience: []string{"api"}, PublicKeys: []string{jwk},
		HeaderName: "X-Token", CookieName: "__Host-at", QueryParam: "access_token",
		Now: func() time.Time { return fuzzNow },
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

func fuzzSign(header, payload []byte) string {
	in := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(fuzzKey, []byte(in)))
}

func fuzzClaims(extra string) string {
	return fmt.Sprintf(`{"iss":%q,"aud":"api","sub":"u","iat":%d,"exp":%d%s}`, fuzzIssuer, fuzzNow.Unix(), fuzzNow.Unix()+60, extra)
}

// checkOutcome asserts the invariants of any answer to tok.
func checkOutcome(t *testing.T, a *Authenticator, tok string, p *Principal, err error) {
	t.Helper()
	if err == nil {
		if p == nil || p.Subject == "" || p.Issuer != fuzzIssuer {
			t.Fatalf("accepted with principal %+v", p)
		}
		if !isJWTShape(tok) || len(tok) > a.cfg.MaxTokenSize {
			t.Fatalf("accepted a token that is no compact JWS within the gate: %q", tok)
		}
		return
	}
	e := asError(err)
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusServiceUnavailable, http.StatusForbidden:
	default:
		t.Fatalf("status %d for %q", e.Status, tok)
	}
	resp := a.render(err)
	if len(tok) >= 12 && strings.Contains(tok, ".") && strings.Contains(string(resp.Body)+resp.Header.Get("Www-Authenticate"), tok) {
		t.Fatalf("response echoes the token")
	}
}

// FuzzVerifyJWT feeds arbitrary strings to the JWT path (charset gate,
// base64, JOSE header, claims, key lookup, signature).
func FuzzVerifyJWT(f *testing.F) {
	f.Add(fuzzSign([]byte(`{"alg":"EdDSA","kid":"k1"}`), []byte(fuzzClaims(""))))
	f.Add("a.b.c")
	f.Add(strings.Repeat(".", 100))
	a := fuzzAuth(f)
	f.Fuzz(func(t *testing.T, tok string) {
		if !isJWTShape(tok) {
			if _, err := decodeJWS(tok); err == nil {
				t.Fatalf("decodeJWS accepted a token isJWTShape refused: %q", tok)
			}
		}
		p, err := a.Authenticate(context.Background(), fuzzReq{http.Header{"Authorization": {"Bearer " + tok}}})
		if err != nil && asError(err).Status == http.StatusBadRequest {
			return // not a bearer credential (whitespace in tok): FuzzExtract's ground
		}
		checkOutcome(t, a, tok, p, err)
	})
}

// FuzzSignedJWT signs arbitrary header and payload bytes with the trusted
// key, so every input reaches the JSON parsers and the claim checks.
func FuzzSignedJWT(f *testing.F) {
	f.Add([]byte(`{"alg":"EdDSA","kid":"k1"}`), []byte(fuzzClaims("")))
	f.Add([]byte(`{"alg":"EdDSA","kid":"k1","crit":["x"]}`), []byte(fuzzClaims(`,"sub":"dup"`)))
	a := fuzzAuth(f)
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		tok := fuzzSign(header, payload)
		if len(tok) > a.cfg.MaxTokenSize || !isJWTShape(tok) {
			return
		}
		p, err := a.Authenticate(context.Background(), fuzzReq{http.Header{"Authorization": {"Bearer " + tok}}})
		checkOutcome(t, a, tok, p, err)
		if err == nil {
			// Decode must agree with the verifier on the registered claims.
			var c struct {
				Sub string `json:"sub"`
				Iss string `json:"iss"`
			}
			if derr := p.Decode(&c); derr == nil && (c.Sub != p.Subject || c.Iss != p.Issuer) {
				t.Fatalf("Decode sees sub %q iss %q, the verifier %q %q", c.Sub, c.Iss, p.Subject, p.Issuer)
			}
		}
	})
}

type fuzzReq struct{ h http.Header }

func (r fuzzReq) Method() string              { return "GET" }
func (r fuzzReq) Host() string                { return "api.example.com" }
func (r fuzzReq) Header(name string) []string { return r.h[name] }
func (r fuzzReq) RawQuery() string            { return r.h.Get("X-Query") }

// FuzzExtract feeds arbitrary Authorization, Cookie, custom-header and
// query values to the extraction rules and the whole Authenticate path.
func FuzzExtract(f *testing.F) {
	tok := fuzzSign([]byte(`{"alg":"EdDSA","kid":"k1"}`), []byte(fuzzClaims("")))
	f.Add("Bearer "+tok, "", "", "")
	f.Add("", "__Host-at="+tok, "", "")
	f.Add("", "", tok, "access_token="+tok)
	a := fuzzAuth(f)
	f.Fuzz(func(t *testing.T, authz, cookie, custom, query string) {
		h := http.Header{}
		for _, v := range strings.Split(authz, "\n") {
			if v != "" {
				h.Add("Authorization", v)
			}
		}
		if cookie != "" {
			h.Add("Cookie", cookie)
		}
		if custom != "" {
			h.Add("X-Token", custom)
		}
		if query != "" {
			h.Set("X-Query", query)
		}
		r := fuzzReq{h}
		got, src, err := a.extract(r)
		if err == nil {
			if got == "" || len(got) > a.cfg.MaxTokenSize {
				t.Fatalf("extracted %d bytes", len(got))
			}
			if src == SourceHeader && strings.ContainsAny(got, " \t") {
				t.Fatalf("bearer token with whitespace: %q", got)
			}
		}
		p, err := a.Authenticate(context.Background(), r)
		checkOutcome(t, a, got, p, err)
	})
}

// FuzzParseJWKS feeds arbitrary documents to the JWK Set loader.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[null,{"kty":"oct","k":"AA"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, _, err := parseJWKS(body, supportedAlgs)
		if err != nil {
			if len(keys) != 0 {
				t.Fatal("keys returned with an error")
			}
			return
		}
		if len(keys) > maxJWKSKeys {
			t.Fatalf("%d keys", len(keys))
		}
		for _, k := range keys {
			if k.pub == nil || len(k.algs) == 0 {
				t.Fatalf("unusable key loaded: %+v", k)
			}
			for _, alg := range k.algs {
				if strings.HasPrefix(alg, "HS") {
					t.Fatalf("a key from a JWK Set verifies %s", alg)
				}
			}
		}
		newKeyring(keys, fuzzNow)
	})
}

// TestWriteFuzzSeeds regenerates the seed corpora from the Wycheproof
// vectors and the catalog's inputs (SECURITY-CATALOG "Fuzz seed corpora").
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("AUTHGATE_WRITE_SEEDS") == "" {
		t.Skip("set AUTHGATE_WRITE_SEEDS=1 to regenerate testdata/fuzz")
	}
	write := func(target string, i int, vals ...any) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, v := range vals {
			switch v := v.(type) {
			case string:
				fmt.Fprintf(&b, "string(%q)\n", v)
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%03d", i)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hdr := []byte(`{"alg":"EdDSA","kid":"k1"}`)
	// Hand-written JSON of FM-05 … FM-09, CL-05, HD-08 … HD-13.
	payloads := []string{
		fuzzClaims(""), `[1]`, `"x"`, `1`, `null`, `true`, ``, " ",
		fuzzClaims(`,"name":"ad` + "\xff" + `min"`), "\ufeff" + fuzzClaims(""), fuzzClaims(`,"n":"\ud800"`),
		fuzzClaims(`,"sub":"admin"`), fuzzClaims(`,"exp":1`), fuzzClaims(`,"SUB":"admin","Exp":1,"ROLES":["admin"]`),
		fuzzClaims(`,"deep":` + strings.Repeat("[", 200) + strings.Repeat("]", 200)),
		fuzzClaims(`,"nbf":1e19`), fuzzClaims(`,"nbf":-1e300`), fuzzClaims(`,"nbf":1e999`), fuzzClaims(`,"nbf":9223372036854775807`),
		fuzzClaims(`,"cnf":{"jkt":"x"}`), fuzzClaims(`,"events":{}`), fuzzClaims(`,"scope":"a b","scp":["c"],"roles":[1]`),
		strings.Replace(fuzzClaims(""), `"aud":"api"`, `"aud":[]`, 1),
	}
	headers := []string{
		string(hdr), `{"alg":"EdDSA","kid":"k1","alg":"none"}`, `{"alg":"none"}`, `{"alg":"EdDSA","kid":"k1","crit":["x"],"x":1}`,
		`{"alg":"EdDSA","kid":"k1","b64":false,"crit":["b64"]}`, `{"alg":"EdDSA","kid":"k1","cty":"JWT"}`,
		`{"alg":"EdDSA","kid":"k1","zip":"DEF"}`, `{"alg":"EdDSA","kid":"k1","typ":"dpop+jwt"}`, `{"alg":"EdDSA","kid":123}`,
		`{"alg":"EdDSA","kid":""}`, `{"alg":"EdDSA","jwk":{"kty":"OKP"}}`, `{"alg":"HS256","kid":"../../dev/null"}`,
	}
	n := 0
	for _, p := range payloads {
		write("FuzzSignedJWT", n, hdr, []byte(p))
		write("FuzzVerifyJWT", n, fuzzSign(hdr, []byte(p)))
		n++
	}
	for _, h := range headers {
		write("FuzzSignedJWT", n, []byte(h), []byte(fuzzClaims("")))
		write("FuzzVerifyJWT", n, fuzzSign([]byte(h), []byte(fuzzClaims(""))))
		n++
	}
	// Every compact JWS of the Wycheproof JOSE files.
	for _, name := range []string{"json_web_signature_test.json", "json_web_key_test.json"} {
		for _, g := range loadWycheproof(t, name).TestGroups {
			for _, tc := range g.Tests {
				var s string
				if json.Unmarshal(tc.JWS, &s) != nil {
					s = string(tc.JWS)
				}
				write("FuzzVerifyJWT", n, s)
				n++
			}
		}
	}
	// JWK Sets: Wycheproof key material and KS-05 garbage.
	m := 0
	for _, name := range []string{"json_web_signature_test.json", "json_web_key_test.json"} {
		for _, g := range loadWycheproof(t, name).TestGroups {
			for _, mat := range []json.RawMessage{g.Private, g.Public} {
				if len(mat) == 0 {
					continue
				}
				doc := []byte(mat)
				if !strings.Contains(string(mat), `"keys"`) {
					doc = []byte(`{"keys":[` + string(mat) + `]}`)
				}
				write("FuzzParseJWKS", m, doc)
				m++
			}
		}
	}
	for _, g := range []string{"<html></html>", `{"keys":{}}`, `{"keys":[null]}`, `{}`, `{"keys":[]} x`, `{"keys":[],"keys":[]}`,
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAAAAE"}]}`, `{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`} {
		write("FuzzParseJWKS", m, []byte(g))
		m++
	}
	// EX-04 … EX-09 header and cookie values.
	tok := fuzzSign(hdr, []byte(fuzzClaims("")))
	k := 0
	for _, v := range [][4]string{
		{"Bearer " + tok, "", "", ""}, {"bearer " + tok, "", "", ""}, {"Bearer  " + tok, "", "", ""}, {"Bearer\t" + tok, "", "", ""},
		{"Bearer" + tok, "", "", ""}, {" Bearer " + tok + " ", "", "", ""}, {"Bearer " + tok + " extra", "", "", ""},
		{"Bearer", "", "", ""}, {"Bearer ", "", "", ""}, {"Bearer " + tok + "\nBearer " + tok, "", "", ""},
		{"Bearer a, Bearer b", "", "", ""}, {"Bearer a;b", "", "", ""}, {"Basic dXNlcjpwYXNz", "__Host-at=" + tok, "", ""},
		{"Bearer " + tok, "__Host-at=other", "", ""}, {"", "__Host-at=" + tok + "; __Host-at=" + tok, "", ""},
		{"", `__Host-at="` + tok + `"`, "", ""}, {"", "__Host-at=", "", ""}, {"", "", tok, "access_token=" + tok},
		{"", "", "", "access_token=" + tok + "&access_token=x"}, {"DPoP " + tok, "", "", ""},
		{"Bearer " + tok[:20] + "%2E" + tok[20:], "", "", ""}, {"Bearer " + tok[:20] + "\x00" + tok[20:], "", "", ""},
	} {
		write("FuzzExtract", k, v[0], v[1], v[2], v[3])
		k++
	}
}
