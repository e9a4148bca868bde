package core_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"hash"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
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
				resp := adapter.Render(a, err)
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
		if _, err := adapter.Admit(a, context.Background(), r, false); err == nil {
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

// ---- The attack table (issue 9) ----
//
// One row per attack, each naming its source: a section of RFC 8725 (2.x the
// threat, 3.x the rule), RFC 7515 (5.2 validation, 4.1.11 crit), RFC 7519
// (7.2), RFC 6750 (2, 3), or a published advisory against a Go JOSE/JWT
// library whose mechanism could apply to how authgate parses and verifies
// tokens. Every advisory cited here was looked up in its public advisory or
// vulnerability-database report before it was written down.
//
// A row either builds a token that TestAttackSuite sends through
// Authenticate (tok, want), or points (by) at the test that already pins the
// attack: "TestName", "TestName/subtest name", or "conformance/case name"
// for a row of core/adaptertest/cases.go, which every adapter runs over real
// HTTP. TestAttackTable checks that every pointer names a test that exists,
// that every source listed in requiredSources has a row, and logs the count
// of rows per source (go test -run TestAttackTable -v).

type attack struct {
	source string // the rule or advisory
	id     string // the security catalog row
	what   string
	tok    func(t *testing.T, iss *authtest.Issuer) string
	want   error  // nil: accepted (positive control)
	by     string // the test that pins it, when tok is nil
}

// requiredSources must each have at least one row.
var requiredSources = []string{
	"RFC 8725 §2.1", "RFC 8725 §2.2", "RFC 8725 §2.3", "RFC 8725 §2.4",
	"RFC 8725 §2.5", "RFC 8725 §2.6", "RFC 8725 §2.7", "RFC 8725 §2.8",
	"RFC 8725 §3.1", "RFC 8725 §3.2", "RFC 8725 §3.3", "RFC 8725 §3.4",
	"RFC 8725 §3.5", "RFC 8725 §3.6", "RFC 8725 §3.7", "RFC 8725 §3.8",
	"RFC 8725 §3.9", "RFC 8725 §3.10", "RFC 8725 §3.11", "RFC 8725 §3.12",
	"RFC 7515 §5.2", "RFC 7515 §4.1.11", "RFC 7519 §7.2",
	"RFC 6750 §2.1", "RFC 6750 §2.2", "RFC 6750 §2.3", "RFC 6750 §3", "RFC 6750 §3.1",
	"CVE-2025-30204", "CVE-2024-51744", "CVE-2025-27144", "CVE-2025-22868",
	"CVE-2024-28180", "CVE-2024-28122", "CVE-2023-49290", "CVE-2024-21664",
	"CVE-2016-9122", "CVE-2016-9121", "CVE-2020-26160", "CVE-2025-22149",
}

// signedAs signs exactly the text header "." payload as sent (segments that
// a strict decoder must refuse, under a signature that is valid for them).
func signedAs(k *authtest.Key, hdrSeg, paySeg string) string {
	in := hdrSeg + "." + paySeg
	return in + "." + enc64(authtest.SignBytes(k.Private, k.Alg, []byte(in)))
}

// macWith MACs hand-written JSON with key under HS256, HS384 or HS512.
func macWith(alg, hdr, payload string, key []byte) string {
	h := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}[alg]
	in := enc64([]byte(hdr)) + "." + enc64([]byte(payload))
	m := hmac.New(h, key)
	m.Write([]byte(in))
	return in + "." + enc64(m.Sum(nil))
}

func deflated(s string) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func utf32be(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.Write([]byte{byte(r >> 24), byte(r >> 16), byte(r >> 8), byte(r)})
	}
	return b.String()
}

func utf16le(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.Write([]byte{byte(r), byte(r >> 8)})
	}
	return b.String()
}

func attacks() []attack {
	// tokens over the issuer's signer (RS256) and hand-written JSON
	sig := func(hdrExtra, claimsExtra string) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			return raw(iss.Signer(), headerJSON(iss.Signer(), hdrExtra), claimsJSON(iss, claimsExtra))
		}
	}
	rawTok := func(hdr func(k *authtest.Key) string, payload func(iss *authtest.Issuer) string) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			return raw(iss.Signer(), hdr(iss.Signer()), payload(iss))
		}
	}
	plainHdr := func(k *authtest.Key) string { return headerJSON(k, "") }
	claimsOver := func(over map[string]string) func(iss *authtest.Issuer) string {
		return func(iss *authtest.Issuer) string { return claimSet(iss, over) }
	}
	withTyp := func(typ string) func(*testing.T, *authtest.Issuer) string {
		return rawTok(func(k *authtest.Key) string {
			return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":%s}`, k.Alg, k.ID, typ)
		}, func(iss *authtest.Issuer) string { return claimsJSON(iss, "") })
	}
	pemOf := func(k *authtest.Key) []byte {
		spki, _ := x509.MarshalPKIXPublicKey(k.Private.Public())
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	}
	confused := func(alg string, key func(k *authtest.Key) []byte) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			k := iss.Signer()
			return macWith(alg, fmt.Sprintf(`{"alg":%q,"kid":%q}`, alg, k.ID), claimsJSON(iss, ""), key(k))
		}
	}
	// the claims segment and signature of a valid token, under another header
	reheader := func(hdr func(k *authtest.Key) string) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(good(t, iss))
			return enc64([]byte(hdr(iss.Signer()))) + "." + s[1] + "." + s[2]
		}
	}
	jwe := func(hdr string) func(*testing.T, *authtest.Issuer) string {
		return constTok(enc64([]byte(hdr)) + ".ZW5jcnlwdGVkLWtleQ.aW5pdGlhbGl6YXRpb24tdmVjdG9y.Y2lwaGVydGV4dA.YXV0aGVudGljYXRpb24tdGFn")
	}
	jsonJWS := func(f func(s []string) string) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string { return f(segments(good(t, iss))) }
	}
	offCurve := `{"kty":"EC","crv":"P-256","x":"` + enc64(bytes.Repeat([]byte{1}, 32)) + `","y":"` + enc64(bytes.Repeat([]byte{2}, 32)) + `"}`

	return []attack{
		// RFC 8725 §2.1 Weak signatures and insufficient signature validation.
		{source: "RFC 8725 §2.1", id: "AL-01", what: "alg none carrying the token's own valid RS256 signature", tok: reheader(func(k *authtest.Key) string {
			return fmt.Sprintf(`{"alg":"none","kid":%q,"typ":"JWT"}`, k.ID)
		}), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.1", id: "AL-01", what: "alg none in four casings and escapes", by: "TestAlgorithms/AL-01 alg \\\\u006eone escape"},
		{source: "RFC 8725 §2.1", id: "AL-02", what: "HS384 keyed with the RSA public key PEM", tok: confused("HS384", pemOf), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.1", id: "AL-02", what: "HS512 keyed with the RSA public key PEM", tok: confused("HS512", pemOf), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.1", id: "AL-02", what: "HS256 keyed with the JWK's base64url modulus text", tok: confused("HS256", func(k *authtest.Key) []byte {
			return []byte(authtest.PublicJWK(k)["n"].(string))
		}), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.1", id: "AL-02", what: "RS256 to HS256 confusion in seven key serialisations", by: "TestAlgorithms/AL-02 HS256 keyed with the PKCS#1 PEM (CVE-2023-48223)"},
		{source: "RFC 8725 §2.1", id: "AL-14", what: "the valid signature of another token transplanted onto this one", tok: func(t *testing.T, iss *authtest.Issuer) string {
			a, b := segments(good(t, iss)), segments(raw(iss.Signer(), defHdr(iss), claimsJSON(iss, `,"roles":["admin"]`)))
			return b[0] + "." + b[1] + "." + a[2]
		}, want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.1", id: "AL-14", what: "a two-byte RS256 signature", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return replaceSig(good(t, iss), []byte{0, 1})
		}, want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.1", id: "AL-01", what: "jwt_tool's alg none, blank-secret and public-key-HMAC tokens", by: "TestPlaybook"},

		// RFC 8725 §2.2 Weak symmetric keys.
		{source: "RFC 8725 §2.2", id: "AL-12", what: "New refuses an HMAC secret shorter than the hash", by: "TestConfigRefused/AL-12 secret shorter than 32 bytes (RFC 7518 3.2)"},
		{source: "RFC 8725 §2.2", id: "AL-12", what: "New refuses a listed weak secret", by: "TestConfigRefused/AL-12 listed weak secret padded to length"},
		{source: "RFC 8725 §2.2", id: "AL-12", what: "tokens MACed with an empty or a listed weak secret are refused", by: "TestHMAC/AL-12 empty secret (jwt_tool -X b, CVE-2019-20933)"},

		// RFC 8725 §2.3 Incorrect composition of encryption and signature.
		{source: "RFC 8725 §2.3", id: "FM-05", what: "a signed JWS whose payload is another compact JWT (no cty)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(iss.Signer(), defHdr(iss), good(t, iss))
		}, want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.3", id: "FM-05", what: "a signed JWS whose payload is a JSON string holding another JWT", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(iss.Signer(), defHdr(iss), `"`+good(t, iss)+`"`)
		}, want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.3", id: "FM-01", what: "a compact JWE (alg dir) is never decrypted", tok: jwe(`{"alg":"dir","enc":"A256GCM"}`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.3", id: "HD-12", what: "cty JWT (nested JWT) is refused", by: "TestHeader/HD-12 cty JWT (nested, RFC 7519 5.2)"},

		// RFC 8725 §2.4 Plaintext leakage through analysis of ciphertext length (compression).
		{source: "RFC 8725 §2.4", id: "HD-13", what: "a signed JWS with zip DEF and deflated claims is refused, nothing inflated", tok: func(t *testing.T, iss *authtest.Issuer) string {
			k := iss.Signer()
			return signedAs(k, enc64([]byte(headerJSON(k, `,"zip":"DEF"`))), enc64(deflated(claimsJSON(iss, ""))))
		}, want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.4", id: "HD-13", what: "zip on a token with plain claims", by: "TestHeader/HD-13 zip DEF (CVE-2024-28180)"},

		// RFC 8725 §2.5 Insecure use of elliptic curve encryption.
		{source: "RFC 8725 §2.5", id: "HD-13", what: "ECDH-ES header with an off-curve epk on a three-part token", tok: sig(`,"epk":`+offCurve, ""), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.5", id: "KS-15", what: "an off-curve EC key in the JWKS is dropped at load", by: "TestKeyPolicy/KS-15 EC point off the curve"},
		{source: "RFC 8725 §2.5", id: "KS-15", what: "a token naming an off-curve EC key is refused", by: "TestUnusableKeys/KS-15 token naming an off-curve EC key"},

		// RFC 8725 §2.6 Multiplicity of JSON encodings.
		{source: "RFC 8725 §2.6", id: "FM-06", what: "claims in UTF-32BE", tok: rawTok(plainHdr, func(iss *authtest.Issuer) string { return utf32be(claimsJSON(iss, "")) }), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.6", id: "FM-06", what: "header in UTF-16LE", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(iss.Signer(), utf16le(defHdr(iss)), claimsJSON(iss, ""))
		}, want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.6", id: "FM-06", what: "header with a UTF-8 byte order mark", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(iss.Signer(), "\ufeff"+defHdr(iss), claimsJSON(iss, ""))
		}, want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.6", id: "FM-06", what: "claims in UTF-16", by: "TestFormat/FM-06 UTF-16 claims (RFC 8725 3.7)"},

		// RFC 8725 §2.7 Substitution attacks.
		{source: "RFC 8725 §2.7", id: "CL-10", what: "aud naming a longer audience that starts with ours", tok: rawTok(plainHdr, claimsOver(map[string]string{"aud": `["test-api-staging"]`})), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.7", id: "CL-10", what: "aud naming a prefix of ours", tok: rawTok(plainHdr, claimsOver(map[string]string{"aud": `"test-ap"`})), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.7", id: "CL-10", what: "aud with a trailing NUL", tok: rawTok(plainHdr, claimsOver(map[string]string{"aud": `"test-api\u0000"`})), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.7", id: "CL-10", what: "a token for another API of the same issuer", by: "TestClaims/CL-10 aud of another API"},
		{source: "RFC 8725 §2.7", id: "CL-12", what: "a token of issuer B signed with issuer A's key", by: "TestIssuerBinding/CL-12 iss = B signed with A's key under the shared kid (RFC 8725 3.8)"},

		// RFC 8725 §2.8 Cross-JWT confusion.
		{source: "RFC 8725 §2.8", id: "HD-11", what: "an OIDC ID token (aud = client_id)", by: "TestHeader/HD-11 OIDC ID token (aud = client_id) refused by aud (RFC 8725 3.12)"},
		{source: "RFC 8725 §2.8", id: "HD-11", what: "a back-channel logout token (events)", by: "TestHeader/HD-11 back-channel logout token (events) refused"},
		{source: "RFC 8725 §2.8", id: "HD-11", what: "a DPoP proof", by: "TestHeader/HD-11 DPoP proof shape (jwk header, htm, htu) refused by typ"},
		{source: "RFC 8725 §2.8", id: "HD-10", what: "typ token-introspection+jwt (RFC 9701)", tok: withTyp(`"token-introspection+jwt"`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.8", id: "HD-10", what: "typ oauth-authz-req+jwt (RFC 9101)", tok: withTyp(`"oauth-authz-req+jwt"`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.8", id: "HD-10", what: "typ kb+jwt (SD-JWT key binding)", tok: withTyp(`"kb+jwt"`), want: core.ErrInvalidToken},

		// RFC 8725 §3.1 Perform algorithm verification.
		{source: "RFC 8725 §3.1", id: "AL-04", what: "alg rs256 in lower case (algorithm names are case-sensitive)", tok: reheader(func(k *authtest.Key) string {
			return fmt.Sprintf(`{"alg":"rs256","kid":%q}`, k.ID)
		}), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.1", id: "AL-04", what: "PS256 on a key published for RS256", by: "TestAlgorithms/AL-04 PS256 on a key published for RS256 (RFC 8725 3.1)"},
		{source: "RFC 8725 §3.1", id: "AL-04", what: "ES256 naming a P-384 key", by: "TestAlgorithms/AL-04 ES256 naming the P-384 key (RFC 7518 3.4)"},
		{source: "RFC 8725 §3.1", id: "AL-05", what: "no kid against a multi-key set", by: "TestAlgorithms/AL-05 no kid against a multi-key JWKS"},
		{source: "RFC 8725 §3.1", id: "AL-02", what: "HS256 with the public key while HMAC is on for another issuer", by: "TestHMAC/AL-02 RSA issuer's token MACed with its public key while HMAC is on for another issuer"},
		{source: "RFC 8725 §3.1", id: "OP-06", what: "HS256 mixed with RS256 for one issuer is refused by New", by: "TestConfigRefused/OP-06 HS256 mixed with RS256 for one issuer (RFC 8725 3.1)"},

		// RFC 8725 §3.2 Use appropriate algorithms.
		{source: "RFC 8725 §3.2", id: "AL-03", what: "alg RS1 (SHA-1)", tok: reheader(func(k *authtest.Key) string { return fmt.Sprintf(`{"alg":"RS1","kid":%q}`, k.ID) }), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.2", id: "AL-03", what: "a valid signature with an algorithm outside the allow-list", by: "TestAlgorithms/AL-03 RS512 outside the allow-list (RFC 8725 3.2)"},
		{source: "RFC 8725 §3.2", id: "OP-06", what: "none in the allow-list is refused by New", by: "TestConfigRefused/OP-06 none in the allow-list (RFC 8725 3.1)"},

		// RFC 8725 §3.3 Validate all cryptographic operations.
		{source: "RFC 8725 §3.3", id: "AL-14", what: "tampered payload under the original signature", by: "TestAlgorithms/AL-14 tampered payload under the original signature (RFC 7515 5.2 step 8)"},
		{source: "RFC 8725 §3.3", id: "HD-12", what: "nested JWT by cty", by: "TestHeader/HD-12 cty JWT (nested, RFC 7519 5.2)"},
		{source: "RFC 8725 §3.3", id: "FM-01", what: "JWE is never decrypted", by: "TestWycheproofJWE"},

		// RFC 8725 §3.4 Validate cryptographic inputs.
		{source: "RFC 8725 §3.4", id: "AL-07", what: "psychic ECDSA signature r = s = 0 (CVE-2022-21449)", by: "TestAlgorithms/AL-07 psychic signature r = s = 0 (CVE-2022-21449)"},
		{source: "RFC 8725 §3.4", id: "AL-06", what: "ECDSA signature in DER instead of R||S", by: "TestAlgorithms/AL-06 ES256 signature in ASN.1 DER (RFC 7518 3.4)"},
		{source: "RFC 8725 §3.4", id: "KS-15", what: "EC point at infinity, coordinate >= p", by: "TestKeyPolicy/KS-15 EC point at infinity (0, 0)"},
		{source: "RFC 8725 §3.4", id: "AL-09", what: "Wycheproof signature primitives (ES256, EdDSA, RS256, PS256)", by: "TestWycheproofPrimitives"},

		// RFC 8725 §3.5 Ensure cryptographic keys have sufficient entropy.
		{source: "RFC 8725 §3.5", id: "AL-12", what: "low-variety HMAC secret refused by New", by: "TestConfigRefused/AL-12 low-variety secret"},
		{source: "RFC 8725 §3.5", id: "AL-13", what: "RSA under 2048 bits refused even with GODEBUG=rsa1024min=0", by: "TestWeakRSAWithGODEBUG"},

		// RFC 8725 §3.6 Avoid compression of encryption inputs.
		{source: "RFC 8725 §3.6", id: "HD-13", what: "zip in a JWS header refuses the token", by: "TestAttackSuite/RFC 8725 §2.4 a signed JWS with zip DEF and deflated claims is refused, nothing inflated"},
		{source: "RFC 8725 §3.6", id: "HD-13", what: "a compact JWE with zip DEF", tok: jwe(`{"alg":"RSA-OAEP","enc":"A256GCM","zip":"DEF"}`), want: core.ErrInvalidToken},

		// RFC 8725 §3.7 Use UTF-8.
		{source: "RFC 8725 §3.7", id: "FM-06", what: "overlong UTF-8 (0xC0 0xAF) in sub", tok: rawTok(plainHdr, func(iss *authtest.Issuer) string {
			return strings.Replace(claimsJSON(iss, ""), `"user-1"`, "\"user\xc0\xaf1\"", 1)
		}), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.7", id: "FM-06", what: "CESU-8 surrogate bytes (0xED 0xA0 0x80) in a claim", tok: sig("", ",\"name\":\"\xed\xa0\x80\""), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.7", id: "FM-06", what: "invalid UTF-8 in sub", by: "TestFormat/FM-06 invalid UTF-8 in sub (RFC 8725 3.7)"},
		{source: "RFC 8725 §3.7", id: "FM-06", what: "lone surrogate escape", by: "TestFormat/FM-06 lone surrogate escape (RFC 8259 8.2)"},

		// RFC 8725 §3.8 Validate issuer and subject.
		{source: "RFC 8725 §3.8", id: "CL-11", what: "iss with a trailing NUL", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(iss.Signer(), defHdr(iss), claimSet(iss, map[string]string{"iss": strings.TrimSuffix(fmt.Sprintf("%q", iss.URL), `"`) + `\u0000"`}))
		}, want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.8", id: "CL-11", what: "iss with a trailing slash", by: "TestClaims/CL-11 iss with a trailing slash (RFC 7519 4.1.1)"},
		{source: "RFC 8725 §3.8", id: "CL-14", what: "sub missing", by: "TestClaims/CL-14 sub missing (RFC 7519 4.1.2)"},
		{source: "RFC 8725 §3.8", id: "CL-12", what: "keys looked up only among the keys of the issuer named by iss", by: "TestIssuerBinding/CL-12 iss = A signed with B's key"},
		{source: "RFC 8725 §3.8", id: "KS-07", what: "a jwks_uri over plain http off loopback is refused by New", by: "TestConfigRefused/KS-07 JWKSURL over plain http to a public host (RFC 8725 3.8)"},

		// RFC 8725 §3.9 Use and validate audience.
		{source: "RFC 8725 §3.9", id: "CL-10", what: "aud missing", by: "TestClaims/CL-10 aud missing (RFC 9068 4)"},
		{source: "RFC 8725 §3.9", id: "CL-10", what: "aud of another case", by: "TestClaims/CL-10 aud of another case"},
		{source: "RFC 8725 §3.9", id: "CL-10", what: "aud [1]", by: "TestClaims/CL-10 aud [1] (golang-jwt 1a11d37)"},
		{source: "RFC 8725 §3.9", id: "OP-06", what: "an issuer without audience is refused by New", by: "TestConfigRefused/OP-06 issuer without Audience (auth0/go-jwt-middleware #183)"},

		// RFC 8725 §3.10 Do not trust received claims.
		{source: "RFC 8725 §3.10", id: "HD-01", what: "kid naming a path next to the JWKS", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(iss.Signer(), `{"alg":"RS256","kid":"../jwks.json"}`, claimsJSON(iss, ""))
		}, want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.10", id: "HD-06", what: "jku at a loopback listener: no request made", by: "TestHeader/HD-06 jku at a loopback listener (RFC 8725 3.10)"},
		{source: "RFC 8725 §3.10", id: "HD-05", what: "embedded jwk with the real kid", by: "TestHeader/HD-05 embedded jwk with the real kid (CVE-2018-0114)"},
		{source: "RFC 8725 §3.10", id: "HD-02", what: "SQL, LDAP, shell and log-forging kids", by: "TestHeader/HD-02 CR/LF log-forging kid (CWE-117)"},
		{source: "RFC 8725 §3.10", id: "CL-13", what: "iss naming an unconfigured issuer: no discovery", by: "TestIssuerBinding/CL-13 iss names an unconfigured issuer: no discovery driven by token content (RFC 8725 3.10)"},
		{source: "RFC 8725 §3.10", id: "CL-16", what: "sid with path and injection characters never reaches the session endpoint", by: "TestHTTPSessionCheckerSessionIDInjection"},
		{source: "RFC 8725 §3.10", id: "CL-16", what: "sid validated before any lookup on a checked route", by: "TestSessionIDIsRequiredAndValidatedOnCheckedRoutes"},

		// RFC 8725 §3.11 Use explicit typing.
		{source: "RFC 8725 §3.11", id: "HD-10", what: "typ dpop+jwt with the profile off", by: "TestHeader/HD-10 typ dpop+jwt refused with the profile off (RFC 8725bis 3.11)"},
		{source: "RFC 8725 §3.11", id: "HD-10", what: "the RFC 9068 profile refuses typ JWT", by: "TestHeader/HD-10 RFC 9068 profile enforced"},
		{source: "RFC 8725 §3.11", id: "HD-10", what: "typ DPOP+JWT in upper case", tok: withTyp(`"DPOP+JWT"`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.11", id: "HD-10", what: "typ application/secevent+jwt", tok: withTyp(`"application/secevent+jwt"`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.11", id: "HD-10", what: "typ dpop+jwt with a tab after it", tok: withTyp(`"dpop+jwt\t"`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.12", id: "HD-10", what: "typ vc+sd-jwt", tok: withTyp(`"vc+sd-jwt"`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.11", id: "HD-10", what: "positive control: typ at+jwt with a media-type parameter", tok: withTyp(`"application/at+jwt; charset=utf-8"`)},
		{source: "RFC 8725 §3.11", id: "HD-10", what: "typ dpop+jwt with a trailing space", tok: withTyp(`"dpop+jwt "`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.11", id: "HD-10", what: "typ with media-type parameters (RFC 7515 4.1.9)", tok: withTyp(`"application/secevent+jwt; x=y"`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.11", id: "HD-10", what: "typ dc+sd-jwt (an SD-JWT from the same issuer)", tok: withTyp(`"dc+sd-jwt"`), want: core.ErrInvalidToken},

		// RFC 8725 §3.12 Use mutually exclusive validation rules for different kinds of JWTs.
		{source: "RFC 8725 §3.12", id: "CL-18", what: "a DPoP-bound token (cnf.jkt) presented as Bearer", by: "TestClaims/CL-18 cnf.jkt (DPoP-bound) presented as Bearer (RFC 9449 7.2)"},
		{source: "RFC 8725 §3.12", id: "HD-11", what: "a security event token (events) without typ", tok: sig("", `,"events":{"urn:ietf:params:event:x":{}}`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.12", id: "CL-19", what: "the RFC 9068 profile requires jti, client_id, iat", by: "TestHeader/HD-10 RFC 9068 profile enforced/CL-19 jti missing (RFC 9068 2.2)"},

		// RFC 7515 §5.2 Message signature or MAC validation.
		{source: "RFC 7515 §5.2", id: "FM-04", what: "step 2: a header segment with = padding, signed as sent", tok: func(t *testing.T, iss *authtest.Issuer) string {
			k := iss.Signer()
			h := base64.URLEncoding.EncodeToString([]byte(headerJSON(k, `,"p":"x"`)))
			if !strings.HasSuffix(h, "=") {
				t.Fatal("header needs padding")
			}
			return signedAs(k, h, enc64([]byte(claimsJSON(iss, ""))))
		}, want: core.ErrInvalidToken},
		{source: "RFC 7515 §5.2", id: "FM-04", what: "step 6: a payload segment with non-zero spare bits, signed as sent", tok: func(t *testing.T, iss *authtest.Issuer) string {
			k := iss.Signer()
			for pad := ""; ; pad += "x" {
				p := enc64([]byte(claimsJSON(iss, `,"p":"`+pad+`"`)))
				if len(p)%4 == 2 || len(p)%4 == 3 {
					const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
					last := strings.IndexByte(alphabet, p[len(p)-1])
					return signedAs(k, enc64([]byte(headerJSON(k, ""))), p[:len(p)-1]+string(alphabet[last|1]))
				}
			}
		}, want: core.ErrInvalidToken},
		{source: "RFC 7515 §5.2", id: "FM-05", what: "step 3: the header is not a JSON object", by: "TestFormat/FM-05 header is an array (RFC 7515 5.2 step 3)"},
		{source: "RFC 7515 §5.2", id: "AL-14", what: "step 8: a tampered header under the original signature", by: "TestAlgorithms/AL-14 tampered header under the original signature (Wycheproof 8)"},
		{source: "RFC 7515 §5.2", id: "AL-03", what: "the application decides the acceptable algorithms", by: "TestAlgorithms/AL-03 HS256 when HMAC is not configured"},
		{source: "RFC 7515 §5.2", id: "AL-09", what: "every invalid Wycheproof JWS refused", by: "TestWycheproofJWS"},

		// RFC 7515 §4.1.11 crit.
		{source: "RFC 7515 §4.1.11", id: "HD-08", what: "crit null", tok: sig(`,"crit":null`, ""), want: core.ErrInvalidToken},
		{source: "RFC 7515 §4.1.11", id: "HD-08", what: "crit listing a number", tok: sig(`,"crit":[1]`, ""), want: core.ErrInvalidToken},
		{source: "RFC 7515 §4.1.11", id: "HD-08", what: "crit listing kid, a registered parameter", tok: sig(`,"crit":["kid"]`, ""), want: core.ErrInvalidToken},
		{source: "RFC 7515 §4.1.11", id: "HD-08", what: "crit listing exp replicated in the header (RFC 7519 5.3)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return sig(fmt.Sprintf(`,"crit":["exp"],"exp":%d`, fixedNow.Add(time.Minute).Unix()), "")(t, iss)
		}, want: core.ErrInvalidToken},
		{source: "RFC 7515 §4.1.11", id: "HD-14", what: "positive control: a claim named crit in the payload is only a claim", tok: sig("", `,"crit":["x"]`)},
		{source: "RFC 7515 §4.1.11", id: "HD-08", what: "crit with an unknown extension", by: "TestHeader/HD-08 crit with an unknown extension (RFC 7515 4.1.11)"},
		{source: "RFC 7515 §4.1.11", id: "HD-09", what: "b64 false with crit b64 (RFC 7797)", by: "TestHeader/HD-09 b64 false with crit b64 (RFC 7797)"},

		// Member names are compared after JSON unescaping (RFC 8259 7; RFC 7515 4,
		// RFC 7519 4): an escaped spelling must not slip past a name check.
		{source: "RFC 7515 §4.1.11", id: "HD-08", what: "crit spelled with a JSON escape", tok: sig(`,"cr\u0069t":["x"],"x":1`, ""), want: core.ErrInvalidToken},
		{source: "RFC 8725 §2.4", id: "HD-13", what: "zip spelled with a JSON escape", tok: sig(`,"\u007aip":"DEF"`, ""), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.11", id: "HD-10", what: "typ dpop+jwt with the name spelled with a JSON escape", tok: rawTok(func(k *authtest.Key) string {
			return fmt.Sprintf(`{"alg":%q,"kid":%q,"t\u0079p":"dpop+jwt"}`, k.Alg, k.ID)
		}, func(iss *authtest.Issuer) string { return claimsJSON(iss, "") }), want: core.ErrInvalidToken},
		{source: "RFC 7515 §5.2", id: "FM-07", what: "alg repeated under an escaped name", tok: sig(`,"\u0061lg":"none"`, ""), want: core.ErrInvalidToken},
		{source: "RFC 7519 §7.2", id: "FM-07", what: "sub repeated under an escaped name", tok: sig("", `,"s\u0075b":"admin"`), want: core.ErrInvalidToken},
		{source: "RFC 7519 §7.2", id: "CL-07", what: "nbf in the future under an escaped name", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return sig("", fmt.Sprintf(`,"n\u0062f":%d`, fixedNow.Add(time.Hour).Unix()))(t, iss)
		}, want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.12", id: "CL-18", what: "cnf under an escaped name", tok: sig("", `,"\u0063nf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}`), want: core.ErrInvalidToken},
		{source: "RFC 8725 §3.12", id: "HD-11", what: "events under an escaped name", tok: sig("", `,"\u0065vents":{"urn:x":{}}`), want: core.ErrInvalidToken},
		{source: "RFC 7515 §5.2", id: "HD-14", what: "positive control: kid spelled with a JSON escape is the kid", tok: rawTok(func(k *authtest.Key) string {
			return fmt.Sprintf(`{"alg":%q,"k\u0069d":%q}`, k.Alg, k.ID)
		}, func(iss *authtest.Issuer) string { return claimsJSON(iss, "") })},

		// RFC 7519 §7.2 Validating a JWT.
		{source: "RFC 7519 §7.2", id: "FM-04", what: "step 2: a line break inside the header segment, signed as sent", tok: func(t *testing.T, iss *authtest.Issuer) string {
			k := iss.Signer()
			h := enc64([]byte(headerJSON(k, "")))
			return signedAs(k, h[:8]+"\n"+h[8:], enc64([]byte(claimsJSON(iss, ""))))
		}, want: core.ErrInvalidToken},
		{source: "RFC 7519 §7.2", id: "FM-01", what: "step 1: no period", by: "TestFormat/FM-01 one segment (RFC 7519 7.2)"},
		{source: "RFC 7519 §7.2", id: "FM-01", what: "step 5: five parts (JWE) are not a JWS", by: "TestFormat/FM-01 five-part JWE (RFC 8725 3.3)"},
		{source: "RFC 7519 §7.2", id: "HD-12", what: "step 8: cty JWT", by: "TestHeader/HD-12 cty JWT (nested, RFC 7519 5.2)"},
		{source: "RFC 7519 §7.2", id: "FM-05", what: "step 10: the claims are not a JSON object", by: "TestFormat/FM-05 payload is an array (RFC 7519 7.2 step 10)"},
		{source: "RFC 7519 §7.2", id: "FM-07", what: "step 10: duplicate claim names", by: "TestFormat/FM-07 duplicate sub in the claims (RFC 7519 4)"},

		// RFC 6750 §2 Authenticated requests; §3 the WWW-Authenticate response.
		{source: "RFC 6750 §2.1", id: "EX-04", what: "strict Bearer whitespace, on all four adapters", by: "conformance/EX-04 a tab after Bearer is refused"},
		{source: "RFC 6750 §2.1", id: "EX-06", what: "two Authorization lines", by: "conformance/EX-06 two different tokens in two Authorization lines are refused"},
		{source: "RFC 6750 §2.1", id: "EX-08", what: "b64token padding after a JWT is refused by the charset gate", by: "conformance/EX-08 base64 padding after the token is refused by the charset gate"},
		{source: "RFC 6750 §2.1", id: "EX-03", what: "scheme in any case", by: "conformance/EX-03 scheme bEaReR in mixed case is admitted"},
		{source: "RFC 6750 §2.2", id: "EX-12", what: "a form-encoded body token is not a credential", by: "conformance/EX-12 an access_token in a form body is no credential"},
		{source: "RFC 6750 §2.2", id: "EX-12", what: "a header token beside a form body still decides", by: "conformance/EX-12 a header token with a form body is admitted"},
		{source: "RFC 6750 §2.3", id: "EX-10", what: "a query token is ignored unless enabled", by: "conformance/EX-10 a token in the query string is ignored"},
		{source: "RFC 6750 §2.3", id: "EX-11", what: "an enabled query token is answered with Cache-Control: no-store", by: "conformance/EX-11 a query token, when enabled, is admitted with Cache-Control: no-store"},
		{source: "RFC 6750 §2.3", id: "EX-11", what: "a header token is not forced to no-store when query tokens are on", by: "conformance/EX-11 a header token with query tokens enabled gets no Cache-Control"},
		{source: "RFC 6750 §2", id: "EX-11", what: "the same token in the query and the header (one method per request)", by: "conformance/EX-11 query and header with the same token are refused (RFC 6750 §2: one method)"},
		{source: "RFC 6750 §2.3", id: "EX-11", what: "adapter.SetHeaders (Cache-Control) follows the request's source, also on a token cache hit", by: "TestCacheControl"},
		{source: "RFC 6750 §2.3", id: "EX-11", what: "query and header tokens together", by: "conformance/EX-11 query and header with different tokens are refused"},
		{source: "RFC 6750 §2.3", id: "EX-11", what: "query parameter repeated or empty", by: "TestQuerySource"},
		{source: "RFC 6750 §2", id: "EX-17", what: "the same token in the custom header and Authorization", by: "conformance/EX-17 the custom header and Authorization with the same token are refused"},
		{source: "DESIGN.md (Optional)", id: "EX-14", what: "a revoked session on an Optional route is refused, not anonymous", by: "TestOptionalRouteRefusesARevokedSession"},
		{source: "RFC 6750 §2.3", id: "EX-16", what: "a non-canonical path with a query token never reaches the handler (a framework redirect may repeat the query)", by: "conformance/EX-16 //me with a query token never reaches the handler"},
		{source: "RFC 6750 §3", id: "OP-03", what: "every 401 carries a Bearer challenge with the realm", by: "conformance/EX-01 no credentials on a protected route get 401 without error code"},
		{source: "RFC 6750 §3", id: "OP-03", what: "challenge quoting", by: "TestChallengeQuoting"},
		{source: "RFC 6750 §3", id: "OP-03", what: "HEAD without credentials gets the challenge and no body", by: "conformance/RFC 6750 §3 HEAD without credentials gets the challenge and no body"},
		{source: "RFC 6750 §3.1", id: "EX-05", what: "invalid_request 400 for an empty credential", by: "conformance/EX-05 Bearer with no credential is refused"},
		{source: "RFC 6750 §3.1", id: "OP-01", what: "invalid_token 401 with a fixed description for a forged token", by: "conformance/a token signed by an unpublished key under a known kid is invalid"},
		{source: "RFC 6750 §3.1", id: "CL-17", what: "insufficient_scope 403 naming the scope", by: "conformance/a token without the required scope gets 403 naming the scope"},
		{source: "RFC 6750 §3.1", id: "OP-01", what: "no response echoes the token, a kid or library text", by: "TestRenderedRefusals"},

		// Advisories against Go JOSE/JWT libraries.
		{source: "CVE-2025-30204", id: "FM-02", what: "golang-jwt: 8000 dots (inside the default size gate)", tok: constTok(strings.Repeat(".", 8000)), want: core.ErrInvalidToken},
		{source: "CVE-2025-30204", id: "FM-02", what: "golang-jwt: refusing a dot flood allocates nothing that grows with it", by: "TestDotFloodAllocations"},
		{source: "CVE-2025-30204", id: "FM-02", what: "dot flood in the Authorization header on all four adapters", by: "conformance/CVE-2025-30204 a dot flood inside MaxTokenSize is an invalid token"},
		{source: "CVE-2025-27144", id: "FM-02", what: "go-jose: a JWE-shaped token followed by 5000 dots", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return jwe(`{"alg":"dir","enc":"A256GCM"}`)(t, iss) + strings.Repeat(".", 5000)
		}, want: core.ErrInvalidToken},
		{source: "CVE-2025-27144", id: "FM-02", what: "go-jose: a valid token followed by 1000 dots", by: "TestFormat/FM-02 valid token followed by 1000 dots (CVE-2025-30204)"},
		{source: "CVE-2025-22868", id: "FM-02", what: "x/oauth2/jws: dots between valid segments", tok: func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(good(t, iss))
			return s[0] + strings.Repeat(".", 2000) + s[1] + "." + s[2]
		}, want: core.ErrInvalidToken},
		{source: "CVE-2024-51744", id: "OP-04", what: "golang-jwt: an expired token with a bad signature is invalid, never expired", by: "TestOP04ExpiredForged"},
		{source: "CVE-2024-51744", id: "OP-04", what: "an expired token with a bad signature and a wrong audience is invalid", tok: func(t *testing.T, iss *authtest.Issuer) string {
			tok := raw(iss.Signer(), defHdr(iss), claimSet(iss, map[string]string{"aud": `"billing-api"`, "iat": fmt.Sprint(fixedNow.Add(-time.Hour).Unix()), "exp": fmt.Sprint(fixedNow.Add(-10 * time.Minute).Unix())}))
			b := sigOf(t, tok)
			b[0] ^= 1
			return replaceSig(tok, b)
		}, want: core.ErrInvalidToken},
		{source: "CVE-2024-51744", id: "OP-04", what: "over HTTP on all four adapters", by: "conformance/CVE-2024-51744 an expired token with a bad signature is invalid, not expired"},
		{source: "CVE-2024-28180", id: "HD-13", what: "go-jose: a compact JWE with zip DEF is refused, nothing inflated", tok: jwe(`{"alg":"ECDH-ES","enc":"A128GCM","zip":"DEF"}`), want: core.ErrInvalidToken},
		{source: "CVE-2024-28180", id: "HD-13", what: "zip DEF on a signed token", by: "TestHeader/HD-13 zip DEF (CVE-2024-28180)"},
		{source: "CVE-2024-28122", id: "HD-13", what: "jwx: a signed token with deflated claims", by: "TestAttackSuite/RFC 8725 §2.4 a signed JWS with zip DEF and deflated claims is refused, nothing inflated"},
		{source: "CVE-2024-28122", id: "HD-13", what: "over HTTP on all four adapters", by: "conformance/CVE-2024-28122 a compact JWE with zip DEF is an invalid token"},
		{source: "CVE-2023-49290", id: "HD-13", what: "jwx: a PBES2 JWE with p2c 2^31-1 is refused before any key derivation", tok: jwe(`{"alg":"PBES2-HS256+A128KW","enc":"A128GCM","p2c":2147483647,"p2s":"c2FsdHNhbHQ"}`), want: core.ErrInvalidToken},
		{source: "CVE-2023-49290", id: "HD-13", what: "p2c on a three-part token", by: "TestHeader/HD-13 p2c 1e9 (CVE-2023-49290)"},
		{source: "CVE-2024-21664", id: "FM-11", what: "jwx: JSON serialization with a signature and no protected header", tok: jsonJWS(func(s []string) string {
			return `{"payload":"` + s[1] + `","signature":"` + s[2] + `"}`
		}), want: core.ErrInvalidToken},
		{source: "CVE-2024-21664", id: "FM-11", what: "over HTTP on all four adapters", by: "conformance/CVE-2024-21664 a JSON-serialized JWS without protected header is an invalid token"},
		{source: "CVE-2016-9122", id: "FM-11", what: "go-jose: general JSON serialization with two signatures", tok: jsonJWS(func(s []string) string {
			return `{"payload":"` + s[1] + `","signatures":[{"protected":"` + s[0] + `","signature":"` + s[2] + `"},{"protected":"` + enc64([]byte(`{"alg":"none"}`)) + `","signature":""}]}`
		}), want: core.ErrInvalidToken},
		{source: "CVE-2016-9122", id: "FM-11", what: "go-jose: flattened JSON with alg and kid only in the unprotected header", tok: jsonJWS(func(s []string) string {
			return `{"header":{"alg":"RS256"},"payload":"` + s[1] + `","signature":"` + s[2] + `"}`
		}), want: core.ErrInvalidToken},
		{source: "CVE-2016-9121", id: "KS-15", what: "go-jose invalid curve: EC keys off their curve never load", by: "TestKeyPolicy/KS-15 EC point off the curve"},
		{source: "CVE-2016-9121", id: "HD-13", what: "go-jose invalid curve: an epk off its curve is never used", by: "TestAttackSuite/RFC 8725 §2.5 ECDH-ES header with an off-curve epk on a three-part token"},
		{source: "CVE-2020-26160", id: "CL-10", what: "jwt-go: aud [] is no audience", by: "TestClaims/CL-10 aud [] (CVE-2020-26160)"},
		{source: "CVE-2020-26160", id: "CL-10", what: "over HTTP on all four adapters", by: "conformance/CVE-2020-26160 aud [] is an invalid token"},
		{source: "CVE-2025-22149", id: "KS-10", what: "jwkset: a key removed from the JWKS is refused after the next refresh", by: "TestRotation/KS-10 a removed key is refused after the next refresh (jwkset #40)"},
		{source: "CVE-2025-22149", id: "KS-10", what: "jwkset: a removed key's cached tokens are refused too", by: "TestTokenCacheFollowsTheKeySet"},
	}
}

// TestAttackSuite runs the rows of the attack table that build a token.
func TestAttackSuite(t *testing.T) {
	iss := startIssuer(t, "RS256")
	a := startAuth(t, iss.Config())
	for _, at := range attacks() {
		if at.tok == nil {
			continue
		}
		t.Run(at.source+" "+at.what, func(t *testing.T) {
			tok := at.tok(t, iss)
			p, err := a.Authenticate(context.Background(), bearerReq(tok))
			if at.want == nil {
				if err != nil {
					t.Fatalf("%s: positive control refused: %v", at.id, err)
				}
				if p.Subject != "user-1" {
					t.Fatalf("%s: principal %+v", at.id, p)
				}
				return
			}
			checkRefused(t, a, err, at.want, tok)
		})
	}
}

// TestDotFloodAllocations pins FM-02 (CVE-2025-30204, CVE-2025-27144,
// CVE-2025-22868): the refusal of a dot flood allocates no more for 8000
// dots than for 80, so the work an attacker buys does not grow with length.
func TestDotFloodAllocations(t *testing.T) {
	iss := startIssuer(t, "ES256")
	a := startAuth(t, iss.Config())
	allocs := func(n int) float64 {
		r := bearerReq(strings.Repeat(".", n))
		return testing.AllocsPerRun(50, func() { _, _ = a.Authenticate(context.Background(), r) })
	}
	small, large := allocs(80), allocs(8000)
	if large > small {
		t.Fatalf("refusing 8000 dots allocates %v times, 80 dots %v: the cost grows with the flood", large, small)
	}
}

// TestAttackTable checks the table itself: every row names a source, a
// catalog row and either a token or a pointer to a test that exists; every
// required source has a row. With -v it lists the rows per source.
func TestAttackTable(t *testing.T) {
	fset := token.NewFileSet()
	funcs := map[string]string{} // test function name -> its file's text
	files, _ := filepath.Glob("*_test.go")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				funcs[fd.Name.Name] = string(src)
			}
		}
	}
	conformance, err := os.ReadFile(filepath.Join("adaptertest", "cases.go"))
	if err != nil {
		t.Fatal(err)
	}
	perSource := map[string]int{}
	var order []string
	for _, at := range attacks() {
		if at.source == "" || at.id == "" || at.what == "" {
			t.Errorf("row %+v lacks a source, catalog id or description", at)
		}
		if (at.tok == nil) == (at.by == "") {
			t.Errorf("%s %s: a row needs exactly one of tok and by", at.source, at.what)
		}
		if perSource[at.source] == 0 {
			order = append(order, at.source)
		}
		perSource[at.source]++
		if at.by == "" {
			continue
		}
		name, sub, _ := strings.Cut(at.by, "/")
		switch {
		case name == "conformance":
			if !bytes.Contains(conformance, []byte(strconv.Quote(sub))) {
				t.Errorf("%s %s: no conformance case named %q", at.source, at.what, sub)
			}
		case funcs[name] == "":
			t.Errorf("%s %s: no test function %s", at.source, at.what, name)
		default:
			for _, part := range strings.Split(sub, "/") {
				lit := strconv.Quote(strings.ReplaceAll(part, `\\`, `\`))
				if part != "" && !strings.Contains(funcs[name], part) && !strings.Contains(funcs[name], lit[1:len(lit)-1]) {
					t.Errorf("%s %s: %s names no subtest %q", at.source, at.what, name, part)
				}
			}
		}
	}
	for _, s := range requiredSources {
		if perSource[s] == 0 {
			t.Errorf("no row for %s", s)
		}
	}
	for _, s := range order {
		t.Logf("%-18s %d", s, perSource[s])
	}
}

// TestRevocationUnderEachPolicy pins the revocation table of SECURITY.md:
// how soon a revoked session is refused on a plain and on a sensitive route,
// under each SessionPolicy, when the revocation is known only to the
// checker (an HTTP session endpoint without feed), when it arrives through a
// revocation feed (deny set), and with the MemoryStore (checker and feed).
// Every token was accepted, and so cached by the verified-token cache,
// before the revocation.
func TestRevocationUnderEachPolicy(t *testing.T) {
	type want struct{ plain, sensitive int }
	cases := []struct {
		how    string
		policy core.Policy
		want   want
	}{
		{"checker only", core.PolicyNever, want{200, 200}},
		{"checker only", core.PolicySensitiveOnly, want{200, 401}},
		{"checker only", core.PolicyAlways, want{401, 401}},
		{"feed", core.PolicyNever, want{401, 401}},
		{"feed", core.PolicySensitiveOnly, want{401, 401}},
		{"feed", core.PolicyAlways, want{401, 401}},
		{"MemoryStore", core.PolicyNever, want{401, 401}},
		{"MemoryStore", core.PolicySensitiveOnly, want{401, 401}},
		{"MemoryStore", core.PolicyAlways, want{401, 401}},
	}
	names := map[core.Policy]string{core.PolicyNever: "Never", core.PolicySensitiveOnly: "PolicySensitiveOnly", core.PolicyAlways: "Always"}
	for _, tc := range cases {
		t.Run(tc.how+" "+names[tc.policy], func(t *testing.T) {
			feed := &stubFeed{}
			var store *core.MemoryStore
			e := newSessEnv(t, func(c *core.Config) {
				c.SessionPolicy = tc.policy
				switch tc.how {
				case "feed":
					c.Revocations = feed
				case "MemoryStore":
					store = core.NewMemoryStore(core.StoreOptions{Now: func() time.Time { return fixedNow }})
					t.Cleanup(func() { store.Close() })
					c.Sessions = store
				}
			})
			sid := "s-1"
			if store != nil {
				s, _, err := store.Create(context.Background(), core.SessionParams{Subject: "user-1", Issuer: e.iss.URL})
				if err != nil {
					t.Fatal(err)
				}
				sid = s.ID
			}
			tok := e.token(sid)
			for _, sensitive := range []bool{false, true, false} {
				if _, err := e.do(context.Background(), tok, sensitive); err != nil {
					t.Fatalf("before the revocation (sensitive=%t): %v", sensitive, err)
				}
			}
			switch tc.how {
			case "checker only":
				e.checker.revoke(sid)
			case "feed":
				// The checker still answers active: only the deny set knows.
				feed.push(core.Revocation{SessionID: sid, Issuer: e.iss.URL, At: e.clock.Now()})
			case "MemoryStore":
				if err := store.Revoke(context.Background(), sid); err != nil {
					t.Fatal(err)
				}
			}
			_, errPlain := e.do(context.Background(), tok, false)
			_, errSensitive := e.do(context.Background(), tok, true)
			if got := (want{statusOf(errPlain), statusOf(errSensitive)}); got != tc.want {
				t.Fatalf("after the revocation: plain %d, sensitive %d; want %d, %d (errors %v, %v)",
					got.plain, got.sensitive, tc.want.plain, tc.want.sensitive, errPlain, errSensitive)
			}
			for _, err := range []error{errPlain, errSensitive} {
				if err != nil && !errors.Is(err, core.ErrSessionRevoked) {
					t.Fatalf("refused with %v, want ErrSessionRevoked", err)
				}
			}
		})
	}
}

// TestIntrospectedTokenRevokedAtTheServerIsRefusedNextRequest pins the
// introspection row of SECURITY.md's revocation table: active answers are
// never cached, so a token the authorization server stops calling active is
// refused on the very next request, on every route.
func TestIntrospectedTokenRevokedAtTheServerIsRefusedNextRequest(t *testing.T) {
	var revoked atomic.Bool
	stub := newIntrospectionStub(t, func(tok string) (int, string) {
		if revoked.Load() {
			return 200, `{"active":false}`
		}
		return 200, `{"active":true,"sub":"u1","sid":"s-9"}`
	})
	a := startAuth(t, core.Config{Opaque: newIntrospector(t, stub.URL, nil)})
	req := bearerReq("opaque-0123456789abcdefghij")
	for range 3 {
		if _, err := a.Authenticate(context.Background(), req); err != nil {
			t.Fatalf("active token refused: %v", err)
		}
	}
	revoked.Store(true)
	_, err := a.Authenticate(context.Background(), req)
	checkRefused(t, a, err, core.ErrSessionRevoked, "opaque-0123456789abcdefghij")
	if n := stub.calls.Load(); n != 4 {
		t.Fatalf("%d introspection calls for 4 requests: an active answer was reused", n)
	}
}

// TestBackendDownUnderEachPolicy pins the "session backend down" rows of
// SECURITY.md: which routes answer 503 (fail closed, the token not blamed)
// while the checker fails, under each SessionPolicy, and that the same
// routes answer again once it recovers.
func TestBackendDownUnderEachPolicy(t *testing.T) {
	type want struct{ plain, sensitive int }
	for _, tc := range []struct {
		name   string
		policy core.Policy
		want   want
	}{
		{"Never", core.PolicyNever, want{200, 200}},
		{"PolicySensitiveOnly", core.PolicySensitiveOnly, want{200, 503}},
		{"Always", core.PolicyAlways, want{503, 503}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSessEnv(t, func(c *core.Config) { c.SessionPolicy = tc.policy })
			tok := e.token("s-1")
			e.checker.set(func(f *stubChecker) { f.err = errors.New("backend down") })
			_, errPlain := e.do(context.Background(), tok, false)
			_, errSensitive := e.do(context.Background(), tok, true)
			if got := (want{statusOf(errPlain), statusOf(errSensitive)}); got != tc.want {
				t.Fatalf("backend down: plain %d, sensitive %d; want %d, %d", got.plain, got.sensitive, tc.want.plain, tc.want.sensitive)
			}
			for _, err := range []error{errPlain, errSensitive} {
				if err != nil {
					checkRefused(t, e.auth, err, core.ErrUnavailable, tok)
					if resp := adapter.Render(e.auth, err); resp.Header.Get("Retry-After") == "" || strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
						t.Fatalf("503 without Retry-After, or blaming the token: %v", resp.Header)
					}
				}
			}
			e.checker.set(func(f *stubChecker) { f.err = nil })
			for _, sensitive := range []bool{false, true} {
				if _, err := e.do(context.Background(), tok, sensitive); err != nil {
					t.Fatalf("after recovery (sensitive=%t): %v", sensitive, err)
				}
			}
		})
	}
}

// TestOptionalRouteRefusesARevokedSession pins EX-14 with SS-02: on an
// Optional route a token whose session was revoked is refused, never
// downgraded to an anonymous request.
func TestOptionalRouteRefusesARevokedSession(t *testing.T) {
	feed := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = feed })
	r := bearerReq(e.token("s-1"))
	if _, err := adapter.Admit(e.auth, context.Background(), r, true); err != nil {
		t.Fatalf("before the revocation: %v", err)
	}
	feed.push(core.Revocation{SessionID: "s-1", At: e.clock.Now()})
	ctx, err := adapter.Admit(e.auth, context.Background(), r, true)
	if !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("optional route after the revocation: %v, want ErrSessionRevoked", err)
	}
	if _, ok := core.PrincipalFrom(ctx); ok {
		t.Fatal("a principal was handed on")
	}
}
