package core_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// TestPlaybook replays, natively, the attacks jwt_tool generates from one
// valid token (catalog "Reusable external vectors" 3: -X a, -X n, -X b,
// -X k, -X i, -X s and the -M pb kid injections) against RS256, ES256 and
// EdDSA issuers: only the original token is accepted.
func TestPlaybook(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			iss := startIssuer(t, alg)
			a := startAuth(t, iss.Config())
			k := iss.Signer()
			orig := iss.Token(nil)
			accept(t, a, orig) // the "persistence check"
			seg := strings.Split(orig, ".")
			hdr, _ := base64.RawURLEncoding.DecodeString(seg[0])
			spki, _ := x509.MarshalPKIXPublicKey(k.Private.Public())
			pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
			jwk, _ := json.Marshal(authtest.PublicJWK(k))
			evil := &authtest.Key{ID: k.ID, Alg: alg, Private: authtest.GenerateKey(alg)}
			evilJWK, _ := json.Marshal(authtest.PublicJWK(evil))
			payload, _ := base64.RawURLEncoding.DecodeString(seg[1])

			withHdr := func(h string) string { return enc64([]byte(h)) + "." + seg[1] }
			mac := func(h string, key []byte) string {
				in := withHdr(h)
				m := hmac.New(sha256.New, key)
				m.Write([]byte(in))
				return in + "." + enc64(m.Sum(nil))
			}
			attacks := map[string]string{
				"-X n null signature (CVE-2020-28042)":            seg[0] + "." + seg[1] + ".",
				"broken signature":                                seg[0] + "." + seg[1] + "." + strings.Repeat("A", len(seg[2])),
				"-X b HS256 with a blank secret":                  mac(`{"alg":"HS256","typ":"JWT"}`, nil),
				"-X k HS256 keyed with the public key PEM":        mac(fmt.Sprintf(`{"alg":"HS256","kid":%q}`, k.ID), pemKey),
				"-X k HS256 keyed with the public JWK":            mac(fmt.Sprintf(`{"alg":"HS256","kid":%q}`, k.ID), jwk),
				"-X i embedded jwk (CVE-2018-0114)":               authtest.SignRaw(evil, []byte(fmt.Sprintf(`{"alg":%q,"kid":%q,"jwk":%s}`, alg, k.ID, evilJWK)), payload),
				"-X s spoofed jku":                                authtest.SignRaw(evil, []byte(fmt.Sprintf(`{"alg":%q,"kid":%q,"jku":"http://127.0.0.1:1/jwks.json"}`, alg, k.ID)), payload),
				"-M pb kid blank":                                 mac(`{"alg":"HS256","kid":""}`, nil),
				"-M pb kid relative traversal to the null device": mac(`{"alg":"HS256","kid":"../../../../../../dev/null"}`, nil),
				"-M pb kid absolute null device":                  mac(`{"alg":"HS256","kid":"/dev/null"}`, nil),
				"-M pb kid non-existent path":                     mac(`{"alg":"HS256","kid":"/authgate/no/such/file"}`, nil),
				"-M pb kid pipe and sleep":                        mac(`{"alg":"HS256","kid":"|sleep 10"}`, nil),
				"-M pb kid SQL MACed with 1":                      mac(`{"alg":"HS256","kid":"x' UNION SELECT '1';--"}`, []byte("1")),
				"alg swapped under the original signature":        withHdr(strings.Replace(string(hdr), alg, "HS256", 1)) + "." + seg[2],
				"payload swapped under the original signature":    seg[0] + "." + enc64([]byte(strings.Replace(string(payload), "user-1", "admin!", 1))) + "." + seg[2],
			}
			for _, none := range []string{"none", "None", "NONE", "nOnE"} {
				attacks["-X a alg "+none] = enc64([]byte(`{"alg":"`+none+`","typ":"JWT"}`)) + "." + seg[1] + "."
			}
			for name, tok := range attacks {
				t.Run(name, func(t *testing.T) { refuse(t, a, tok, core.ErrInvalidToken) })
			}
		})
	}
}

// TestWycheproofOverTheFront sends every Wycheproof JWS and JWE as a bearer
// token through Authenticate (catalog: "a cheap no-panic smoke test"): each
// is refused with 400 or 401, none is accepted, nothing is echoed.
func TestWycheproofOverTheFront(t *testing.T) {
	iss := startIssuer(t, "ES256")
	a := startAuth(t, iss.Config())
	n := 0
	for file, field := range map[string]string{"json_web_signature_test.json": "jws", "json_web_encryption_test.json": "jwe", "json_web_key_test.json": "jws"} {
		b, err := os.ReadFile(filepath.Join("testdata", "wycheproof", file))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			TestGroups []struct {
				Tests []map[string]json.RawMessage `json:"tests"`
			} `json:"testGroups"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatal(err)
		}
		for _, g := range f.TestGroups {
			for _, tc := range g.Tests {
				var tok string
				if json.Unmarshal(tc[field], &tok) != nil {
					tok = string(tc[field])
				}
				n++
				_, err := a.Authenticate(context.Background(), vreq{method: "GET", h: map[string][]string{"Authorization": {"Bearer " + tok}}})
				if err == nil {
					t.Fatalf("%s tcId %s accepted", file, tc["tcId"])
				}
				resp := a.Render(err)
				if resp.Status != 400 && resp.Status != 401 {
					t.Fatalf("%s tcId %s: status %d", file, tc["tcId"], resp.Status)
				}
				checkNoEcho(t, resp, secretsOf(tok)...)
			}
		}
	}
	if n < 500 {
		t.Fatalf("only %d vectors", n)
	}
}

// TestLogsHoldNoTokenData pins OP-02 with HD-02 and EX-10: with debug
// logging on, refusals of a log-forging kid, a forged token and a query
// token (query tokens off) leave no token text, kid or claim in the logs.
func TestLogsHoldNoTokenData(t *testing.T) {
	iss := startIssuer(t, "ES256")
	var logs strings.Builder
	cfg := iss.Config()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := startAuth(t, cfg)
	kid := "a\r\nlevel=ERROR msg=forged-line"
	forgedKid := authtest.SignRaw(iss.Signer(), []byte(`{"alg":"ES256","kid":"a\r\nlevel=ERROR msg=forged-line"}`), []byte(claimsJSON(iss, `,"email":"alice@example.com"`)))
	good := iss.Token(nil)
	forged := good[:len(good)-6] + "AAAAAA"
	for _, r := range []vreq{
		bearerReq(forgedKid),
		bearerReq(forged),
		{method: "GET", query: "access_token=" + good, h: map[string][]string{}},
	} {
		if _, err := a.Admit(context.Background(), r, false); err == nil {
			t.Fatal("admitted")
		}
	}
	text := logs.String()
	if !strings.Contains(text, "refused") {
		t.Fatalf("no refusal was logged at debug level:\n%s", text)
	}
	for _, secret := range append(append(secretsOf(forgedKid), secretsOf(forged)...), append(secretsOf(good), kid, "forged-line", "alice@example.com")...) {
		if strings.Contains(text, secret) {
			t.Fatalf("OP-02: logs hold %q:\n%s", secret, text)
		}
	}
	if strings.Count(text, "\n") != strings.Count(text, "msg=") {
		t.Fatalf("OP-02: a log record spans several lines:\n%s", text)
	}
}
