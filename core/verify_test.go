package core_test

import (
	"context"
	"crypto"

	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/golang-jwt/jwt/v5"
)

// ---- shared helpers of the core_test package ----

// req is a minimal core.Request.
type vreq struct {
	method, host string
	h            http.Header
	query        string
}

func (q vreq) Method() string { return q.method }
func (q vreq) Host() string   { return q.host }
func (q vreq) Header(name string) []string {
	return q.h[name]
}
func (q vreq) RawQuery() string { return q.query }

func bearerReq(tok string) vreq {
	return vreq{method: "GET", host: "api.example.com", h: http.Header{"Authorization": {"Bearer " + tok}}}
}

// fixedNow is the clock of every test that mints its own times.
var fixedNow = time.Unix(1_800_000_000, 0)

func clock() time.Time { return fixedNow }

func startIssuer(t testing.TB, alg string) *authtest.Issuer {
	t.Helper()
	return authtest.New(t, authtest.WithAlg(alg), authtest.WithClock(clock))
}

// newAuth builds an Authenticator from cfg with the fixed clock, closed with t.
func startAuth(t testing.TB, cfg core.Config) *core.Authenticator {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = clock
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func enc64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// claimsJSON is a valid claim set for iss as hand-written JSON, with extra
// members appended verbatim (extra starts with a comma when not empty).
func claimsJSON(iss *authtest.Issuer, extra string) string {
	return fmt.Sprintf(`{"iss":%q,"aud":"test-api","sub":"user-1","sid":"session-1","iat":%d,"exp":%d%s}`,
		iss.URL, fixedNow.Unix(), fixedNow.Add(5*time.Minute).Unix(), extra)
}

// headerJSON is the default JOSE header of k with extra members appended.
func headerJSON(k *authtest.Key, extra string) string {
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"%s}`, k.Alg, k.ID, extra)
}

// raw signs hand-written header and payload JSON with k.
func raw(k *authtest.Key, hdr, payload string) string {
	return authtest.SignRaw(k, []byte(hdr), []byte(payload))
}

// unsigned assembles a token from JSON and signature bytes without signing.
func unsigned(hdr, payload string, sig []byte) string {
	return enc64([]byte(hdr)) + "." + enc64([]byte(payload)) + "." + enc64(sig)
}

func hs(alg, hdr, payload string, secret []byte) string {
	input := enc64([]byte(hdr)) + "." + enc64([]byte(payload))
	var m = hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + enc64(m.Sum(nil))
}

func segments(tok string) []string { return strings.Split(tok, ".") }

func replaceSig(tok string, sig []byte) string {
	i := strings.LastIndexByte(tok, '.')
	return tok[:i+1] + enc64(sig)
}

func sigOf(t testing.TB, tok string) []byte {
	t.Helper()
	s := segments(tok)
	b, err := base64.RawURLEncoding.DecodeString(s[len(s)-1])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// descriptions is the fixed vocabulary a client may see (OP-01).
var descriptions = []string{
	"",
	"the request carries malformed or ambiguous credentials",
	"the access token is invalid",
	"the access token has expired",
	"the session has ended",
	"the access token lacks a required scope",
	"the principal lacks a required role",
	"cross-origin request refused",
	"authentication is temporarily unavailable",
	"the server is misconfigured",
}

// checkRefused asserts that err is a refusal of class want with the
// status and code of that class, and that the rendered response echoes none
// of secrets nor the token (OP-01).
func checkRefused(t testing.TB, a *core.Authenticator, err error, want error, tok string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v; want errors.Is %v", err, want)
	}
	for _, other := range []error{core.ErrNoToken, core.ErrInvalidRequest, core.ErrInvalidToken, core.ErrTokenExpired, core.ErrUnavailable} {
		if other != want && errors.Is(err, other) {
			t.Fatalf("error %v is also %v", err, other)
		}
	}
	var e *core.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not a *core.Error", err)
	}
	status, code := classOf(want)
	if e.Status != status || e.Code != code {
		t.Fatalf("Status %d Code %q; want %d %q", e.Status, e.Code, status, code)
	}
	if !slices.Contains(descriptions, e.Description) {
		t.Fatalf("description %q is not from the fixed vocabulary", e.Description)
	}
	resp := adapter.Render(a, err)
	if resp.Status != status {
		t.Fatalf("rendered status %d; want %d", resp.Status, status)
	}
	checkNoEcho(t, resp, append(secretsOf(tok), secrets...)...)
}

func classOf(want error) (int, string) {
	switch want {
	case core.ErrNoToken:
		return 401, ""
	case core.ErrInvalidRequest:
		return 400, "invalid_request"
	case core.ErrUnavailable:
		return 503, ""
	}
	return 401, "invalid_token"
}

// secretsOf lists the token and its segments long enough to be recognised.
func secretsOf(tok string) []string {
	var out []string
	if len(tok) >= 6 {
		out = append(out, tok)
	}
	for _, s := range strings.Split(tok, ".") {
		if len(s) >= 6 {
			out = append(out, s)
		}
	}
	return out
}

func checkNoEcho(t testing.TB, resp core.Response, secrets ...string) {
	t.Helper()
	var all strings.Builder
	all.Write(resp.Body)
	for k, vs := range resp.Header {
		all.WriteString(k)
		for _, v := range vs {
			all.WriteString(v)
		}
	}
	text := all.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Fatalf("response echoes %q: %s", s, text)
		}
	}
	for _, leak := range []string{"crypto/", "golang-jwt", "jsontext", "go-json", "panic", "goroutine"} {
		if strings.Contains(text, leak) {
			t.Fatalf("response leaks %q: %s", leak, text)
		}
	}
}

// ---- the verification table ----

type tokenCase struct {
	name string
	// tok builds the token from the issuer (signing key iss.Signer()).
	tok func(t *testing.T, iss *authtest.Issuer) string
	// want is nil for acceptance, else the sentinel.
	want error
	// secrets are further strings that must not be echoed (kid, claims).
	secrets []string
	// check inspects an accepted principal.
	check func(t *testing.T, p *core.Principal)
}

func runTokenCases(t *testing.T, iss *authtest.Issuer, cfg core.Config, cases []tokenCase) {
	t.Helper()
	a := startAuth(t, cfg)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.tok(t, iss)
			p, err := a.Authenticate(context.Background(), bearerReq(tok))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tc.check != nil {
					tc.check(t, p)
				}
				return
			}
			checkRefused(t, a, err, tc.want, tok, tc.secrets...)
		})
	}
}

func signed(extra string) func(*testing.T, *authtest.Issuer) string {
	return func(t *testing.T, iss *authtest.Issuer) string {
		return raw(iss.Signer(), headerJSON(iss.Signer(), ""), claimsJSON(iss, extra))
	}
}

func withHeader(extra string) func(*testing.T, *authtest.Issuer) string {
	return func(t *testing.T, iss *authtest.Issuer) string {
		return raw(iss.Signer(), headerJSON(iss.Signer(), extra), claimsJSON(iss, ""))
	}
}

func withRaw(hdr, payload func(iss *authtest.Issuer) string) func(*testing.T, *authtest.Issuer) string {
	return func(t *testing.T, iss *authtest.Issuer) string {
		return raw(iss.Signer(), hdr(iss), payload(iss))
	}
}

func defHdr(iss *authtest.Issuer) string { return headerJSON(iss.Signer(), "") }

func constTok(s string) func(*testing.T, *authtest.Issuer) string {
	return func(*testing.T, *authtest.Issuer) string { return s }
}

func good(t *testing.T, iss *authtest.Issuer) string { return signed("")(t, iss) }

// TestFormat pins section B (FM) of the security catalog.
func TestFormat(t *testing.T) {
	iss := startIssuer(t, "RS256")
	cfg := iss.Config()
	cases := []tokenCase{
		{name: "positive control: a valid RS256 token is accepted", tok: good, check: func(t *testing.T, p *core.Principal) {
			if p.Subject != "user-1" || p.SessionID != "session-1" || p.Kind != core.KindJWT || p.Source != core.SourceHeader {
				t.Fatalf("principal %+v", p)
			}
		}},
		{name: "FM-01 one segment (RFC 7519 7.2)", tok: constTok("abcdefghijk"), want: core.ErrInvalidToken},
		{name: "FM-01 two segments (RFC 7519 7.2)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(good(t, iss))
			return s[0] + "." + s[1]
		}, want: core.ErrInvalidToken},
		{name: "FM-01 four segments (RFC 7519 7.2)", tok: func(t *testing.T, iss *authtest.Issuer) string { return good(t, iss) + ".abcd" }, want: core.ErrInvalidToken},
		{name: "FM-01 five-part JWE (RFC 8725 3.3)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return enc64([]byte(`{"alg":"RSA-OAEP","enc":"A256GCM"}`)) + ".a2V5.aXY.Y2lwaGVy.dGFn"
		}, want: core.ErrInvalidToken},
		{name: "FM-01 trailing dot (Wycheproof 15)", tok: func(t *testing.T, iss *authtest.Issuer) string { return good(t, iss) + "." }, want: core.ErrInvalidToken},
		{name: "FM-02 dot flood of 5000 dots (CVE-2025-30204)", tok: constTok(strings.Repeat(".", 5000)), want: core.ErrInvalidToken},
		{name: "FM-02 valid token followed by 1000 dots (CVE-2025-30204)", tok: func(t *testing.T, iss *authtest.Issuer) string { return good(t, iss) + strings.Repeat(".", 1000) }, want: core.ErrInvalidToken},
		{name: "FM-03 empty header segment (Wycheproof 3)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(good(t, iss))
			return "." + s[1] + "." + s[2]
		}, want: core.ErrInvalidToken},
		{name: "FM-03 empty payload segment (Wycheproof 6)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(good(t, iss))
			return s[0] + ".." + s[2]
		}, want: core.ErrInvalidToken},
		{name: "FM-03 null signature (CVE-2020-28042)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(good(t, iss))
			return s[0] + "." + s[1] + "."
		}, want: core.ErrInvalidToken},
		{name: "FM-03 only dots", tok: constTok(".."), want: core.ErrInvalidToken},
		{name: "FM-04 '=' padding on the signature (RFC 7515 2)", tok: func(t *testing.T, iss *authtest.Issuer) string { return good(t, iss) + "==" }, want: core.ErrInvalidToken},
		{name: "FM-04 standard alphabet '+' and '/' (RFC 7515 2)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			for {
				tok := good(t, iss)
				s := segments(tok)
				if strings.ContainsAny(s[2], "-_") {
					return s[0] + "." + s[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s[2])
				}
			}
		}, want: core.ErrInvalidToken},
		{name: "FM-04 CRLF inside the payload segment (RFC 7515 2)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(good(t, iss))
			return s[0] + "." + s[1][:10] + "\r\n" + s[1][10:] + "." + s[2]
		}, want: core.ErrInvalidToken},
		{name: "FM-05 payload is an array (RFC 7519 7.2 step 10)", tok: withRaw(defHdr, func(*authtest.Issuer) string { return `[1]` }), want: core.ErrInvalidToken},
		{name: "FM-05 payload is a string", tok: withRaw(defHdr, func(*authtest.Issuer) string { return `"x"` }), want: core.ErrInvalidToken},
		{name: "FM-05 payload is a number", tok: withRaw(defHdr, func(*authtest.Issuer) string { return `1` }), want: core.ErrInvalidToken},
		{name: "FM-05 payload is null (golang-jwt parser.go)", tok: withRaw(defHdr, func(*authtest.Issuer) string { return `null` }), want: core.ErrInvalidToken},
		{name: "FM-05 payload is true", tok: withRaw(defHdr, func(*authtest.Issuer) string { return `true` }), want: core.ErrInvalidToken},
		{name: "FM-05 payload is whitespace only", tok: withRaw(defHdr, func(*authtest.Issuer) string { return ` ` }), want: core.ErrInvalidToken},
		{name: "FM-05 header is an array (RFC 7515 5.2 step 3)", tok: withRaw(func(*authtest.Issuer) string { return `["RS256"]` }, func(i *authtest.Issuer) string { return claimsJSON(i, "") }), want: core.ErrInvalidToken},
		{name: "FM-05 header is null", tok: withRaw(func(*authtest.Issuer) string { return `null` }, func(i *authtest.Issuer) string { return claimsJSON(i, "") }), want: core.ErrInvalidToken},
		{name: "FM-06 invalid UTF-8 in a claim (RFC 8725 3.7)", tok: signed(`,"name":"ad` + "\xff" + `min"`), want: core.ErrInvalidToken},
		{name: "FM-06 invalid UTF-8 in sub (RFC 8725 3.7)", tok: withRaw(defHdr, func(i *authtest.Issuer) string {
			return strings.Replace(claimsJSON(i, ""), `"user-1"`, "\"ad\xffmin\"", 1)
		}), want: core.ErrInvalidToken},
		{name: "FM-06 BOM before the claims (RFC 8259 8.1)", tok: withRaw(defHdr, func(i *authtest.Issuer) string { return "\ufeff" + claimsJSON(i, "") }), want: core.ErrInvalidToken},
		{name: "FM-06 UTF-16 claims (RFC 8725 3.7)", tok: withRaw(defHdr, func(i *authtest.Issuer) string {
			var b strings.Builder
			for _, c := range claimsJSON(i, "") {
				b.WriteByte(byte(c))
				b.WriteByte(0)
			}
			return b.String()
		}), want: core.ErrInvalidToken},
		{name: "FM-06 lone surrogate escape (RFC 8259 8.2)", tok: signed(`,"name":"\ud800"`), want: core.ErrInvalidToken},
		{name: "FM-06 invalid UTF-8 in the header", tok: withHeader(`,"x":"` + "\xc3\x28" + `"`), want: core.ErrInvalidToken},
		{name: "FM-07 duplicate alg in the header (RFC 7515 4)", tok: withHeader(`,"alg":"none"`), want: core.ErrInvalidToken},
		{name: "FM-07 duplicate kid in the header (RFC 7515 4)", tok: withHeader(`,"kid":"b"`), want: core.ErrInvalidToken},
		{name: "FM-07 duplicate sub in the claims (RFC 7519 4)", tok: signed(`,"sub":"admin"`), want: core.ErrInvalidToken, secrets: []string{"admin"}},
		{name: "FM-07 duplicate exp in the claims (RFC 7519 4)", tok: signed(`,"exp":1`), want: core.ErrInvalidToken},
		{name: "FM-07 duplicate custom claim (RFC 7519 4)", tok: signed(`,"plan":"free","plan":"pro"`), want: core.ErrInvalidToken},
		{name: "FM-08 SUB beside sub: exact-case names (RFC 7515 10.13)", tok: signed(`,"SUB":"admin","Exp":1,"ROLES":["admin"]`), check: func(t *testing.T, p *core.Principal) {
			if p.Subject != "user-1" || p.HasRole("admin") || len(p.Roles) != 0 {
				t.Fatalf("case-folded claims leaked into the principal: %+v", p)
			}
			var c struct {
				Sub   string   `json:"sub"`
				Roles []string `json:"roles"`
			}
			if err := p.Decode(&c); err != nil || c.Sub != "user-1" || len(c.Roles) != 0 {
				t.Fatalf("Decode disagrees with the verifier: %+v %v", c, err)
			}
		}},
		{name: "FM-09 deep nesting (2500 arrays) in a custom claim is bounded", tok: signed(`,"deep":` + strings.Repeat("[", 2500) + strings.Repeat("]", 2500)), check: func(t *testing.T, p *core.Principal) {}},
		{name: "FM-10 a token above MaxTokenSize is refused before decoding (CVE-2025-30204 class)", tok: signed(`,"pad":"` + strings.Repeat("A", 9000) + `"`), want: core.ErrInvalidToken},
		{name: "FM-11 JWS JSON serialization (RFC 8725bis 3.14, Wycheproof 17)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(good(t, iss))
			return `{"payload":"` + s[1] + `","protected":"` + s[0] + `","signature":"` + s[2] + `"}`
		}, want: core.ErrInvalidToken},
		{name: "FM-12 43-character opaque token with opaque mode off", tok: constTok("dGhpcyBpcyBhbiBvcGFxdWUgdG9rZW4gb2YgNDMgY2g"), want: core.ErrInvalidToken},
		{name: "FM-12 a.b with opaque mode off", tok: constTok("a.b"), want: core.ErrInvalidToken},
	}
	runTokenCases(t, iss, cfg, cases)
}

// TestSpareBits pins FM-04: all 16 spellings of an ES256 signature's last
// character that decode to the same bytes under a lenient decoder.
func TestSpareBits(t *testing.T) {
	iss := startIssuer(t, "ES256")
	a := startAuth(t, iss.Config())
	tok := good(t, iss)
	if _, err := a.Authenticate(context.Background(), bearerReq(tok)); err != nil {
		t.Fatalf("canonical token refused: %v", err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	// 86 characters carry 516 bits for 512: the last character's low 4 bits are spare.
	n := 0
	for v := last &^ 15; v < last&^15+16; v++ {
		if v == last {
			continue
		}
		n++
		bad := tok[:len(tok)-1] + string(alphabet[v])
		t.Run(fmt.Sprintf("FM-04 spare bits %q (RFC 4648 3.5)", alphabet[v]), func(t *testing.T) {
			_, err := a.Authenticate(context.Background(), bearerReq(bad))
			checkRefused(t, a, err, core.ErrInvalidToken, bad)
		})
	}
	if n != 15 {
		t.Fatalf("built %d variants, want 15", n)
	}
}

// TestAlgorithms pins section C (AL).
func TestAlgorithms(t *testing.T) {
	iss := startIssuer(t, "RS256")
	rsaKey := iss.Signer()
	ecKey := iss.AddKey("ES256")
	p384 := iss.AddKey("ES384")
	edKey := iss.AddKey("EdDSA")
	psKey := iss.AddKey("PS256")
	rs512 := iss.AddKey("RS512")
	cfg := iss.Config()
	cfg.Algorithms = []string{"RS256", "ES256", "ES384", "EdDSA", "PS256"}

	pub := rsaKey.Private.Public().(*rsa.PublicKey)
	spki, _ := x509.MarshalPKIXPublicKey(pub)
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	spkiPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1})
	jwkJSON, _ := json.Marshal(authtest.PublicJWK(rsaKey))
	ecSPKI, _ := x509.MarshalPKIXPublicKey(ecKey.Private.Public())
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecSPKI})

	hsWith := func(secret []byte) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			return hs("HS256", fmt.Sprintf(`{"alg":"HS256","kid":%q,"typ":"JWT"}`, rsaKey.ID), claimsJSON(iss, ""), secret)
		}
	}
	noneTok := func(alg string, sig []byte) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			return unsigned(`{"alg":`+alg+`,"kid":"`+rsaKey.ID+`","typ":"JWT"}`, claimsJSON(iss, ""), sig)
		}
	}
	signWith := func(k *authtest.Key, alg string) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			return raw(&authtest.Key{ID: k.ID, Alg: alg, Private: k.Private}, fmt.Sprintf(`{"alg":%q,"kid":%q}`, alg, k.ID), claimsJSON(iss, ""))
		}
	}
	ecSig := func(r, s *big.Int) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			sig := make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
			return replaceSig(raw(ecKey, headerJSON(ecKey, ""), claimsJSON(iss, "")), sig)
		}
	}
	n := elliptic.P256().Params().N
	one := big.NewInt(1)
	nm1 := new(big.Int).Sub(n, one)
	resize := func(k *authtest.Key, f func([]byte) []byte) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			tok := raw(k, headerJSON(k, ""), claimsJSON(iss, ""))
			return replaceSig(tok, f(sigOf(t, tok)))
		}
	}
	pss := func(salt int) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			input := enc64([]byte(headerJSON(psKey, ""))) + "." + enc64([]byte(claimsJSON(iss, "")))
			d := sha256.Sum256([]byte(input))
			sig, err := rsa.SignPSS(rand.Reader, psKey.Private.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: salt})
			if err != nil {
				t.Fatal(err)
			}
			return input + "." + enc64(sig)
		}
	}

	cases := []tokenCase{
		{name: "positive control RS256", tok: signWith(rsaKey, "RS256")},
		{name: "positive control ES256", tok: signWith(ecKey, "ES256")},
		{name: "positive control ES384", tok: signWith(p384, "ES384")},
		{name: "positive control EdDSA", tok: signWith(edKey, "EdDSA")},
		{name: "positive control PS256 with salt = hash length (RFC 7518 3.5)", tok: pss(rsa.PSSSaltLengthEqualsHash)},
		{name: "AL-01 alg none, empty signature (RFC 8725 2.1)", tok: noneTok(`"none"`, nil), want: core.ErrInvalidToken},
		{name: "AL-01 alg None (RFC 8725bis 2.11)", tok: noneTok(`"None"`, nil), want: core.ErrInvalidToken},
		{name: "AL-01 alg NONE", tok: noneTok(`"NONE"`, nil), want: core.ErrInvalidToken},
		{name: "AL-01 alg nOnE", tok: noneTok(`"nOnE"`, nil), want: core.ErrInvalidToken},
		{name: "AL-01 alg \\u006eone escape", tok: noneTok(`"\u006eone"`, []byte("x")), want: core.ErrInvalidToken},
		{name: "AL-01 alg 'none ' with a signature", tok: noneTok(`"none "`, []byte("sig")), want: core.ErrInvalidToken},
		{name: "AL-01 alg none with a non-empty signature (CVE-2015-2951)", tok: noneTok(`"none"`, []byte("signature")), want: core.ErrInvalidToken},
		{name: "AL-01 alg empty string", tok: noneTok(`""`, []byte("signature")), want: core.ErrInvalidToken},
		{name: "AL-01 alg missing", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(rsaKey, `{"kid":"`+rsaKey.ID+`"}`, claimsJSON(iss, ""))
		}, want: core.ErrInvalidToken},
		{name: "AL-01 alg not a string", tok: noneTok(`1`, []byte("signature")), want: core.ErrInvalidToken},
		{name: "AL-02 HS256 keyed with the SPKI PEM (CVE-2015-9235)", tok: hsWith(spkiPEM), want: core.ErrInvalidToken},
		{name: "AL-02 HS256 keyed with the SPKI PEM without newline", tok: hsWith(spkiPEM[:len(spkiPEM)-1]), want: core.ErrInvalidToken},
		{name: "AL-02 HS256 keyed with the PKCS#1 PEM (CVE-2023-48223)", tok: hsWith(pkcs1PEM), want: core.ErrInvalidToken},
		{name: "AL-02 HS256 keyed with the DER", tok: hsWith(spki), want: core.ErrInvalidToken},
		{name: "AL-02 HS256 keyed with the JWK JSON", tok: hsWith(jwkJSON), want: core.ErrInvalidToken},
		{name: "AL-02 HS256 keyed with the raw modulus", tok: hsWith(pub.N.Bytes()), want: core.ErrInvalidToken},
		{name: "AL-02 HS256 keyed with the EC SPKI PEM", tok: hsWith(ecPEM), want: core.ErrInvalidToken},
		{name: "AL-03 RS512 outside the allow-list (RFC 8725 3.2)", tok: signWith(rs512, "RS512"), want: core.ErrInvalidToken},
		{name: "AL-03 Ed25519 (RFC 9864) when only EdDSA is listed", tok: signWith(edKey, "Ed25519"), want: core.ErrInvalidToken},
		{name: "AL-03 HS256 when HMAC is not configured", tok: hsWith([]byte(strings.Repeat("k", 32))), want: core.ErrInvalidToken},
		{name: "AL-04 PS256 on a key published for RS256 (RFC 8725 3.1)", tok: signWith(rsaKey, "PS256"), want: core.ErrInvalidToken},
		{name: "AL-04 RS256 on a key published for PS256", tok: signWith(psKey, "RS256"), want: core.ErrInvalidToken},
		{name: "AL-04 ES256 naming the P-384 key (RFC 7518 3.4)", tok: signWith(p384, "ES256"), want: core.ErrInvalidToken},
		{name: "AL-04 ES384 naming the P-256 key", tok: signWith(ecKey, "ES384"), want: core.ErrInvalidToken},
		{name: "AL-04 EdDSA naming the EC key", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(edKey, fmt.Sprintf(`{"alg":"EdDSA","kid":%q}`, ecKey.ID), claimsJSON(iss, ""))
		}, want: core.ErrInvalidToken},
		{name: "AL-05 no kid against a multi-key JWKS", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(rsaKey, `{"alg":"RS256"}`, claimsJSON(iss, ""))
		}, want: core.ErrInvalidToken},
		{name: "AL-06 RS256 signature one byte short", tok: resize(rsaKey, func(s []byte) []byte { return s[1:] }), want: core.ErrInvalidToken},
		{name: "AL-06 RS256 signature one byte long", tok: resize(rsaKey, func(s []byte) []byte { return append([]byte{0}, s...) }), want: core.ErrInvalidToken},
		{name: "AL-06 ES256 signature of 63 bytes", tok: resize(ecKey, func(s []byte) []byte { return s[:63] }), want: core.ErrInvalidToken},
		{name: "AL-06 ES256 signature of 65 bytes (Wycheproof 380)", tok: resize(ecKey, func(s []byte) []byte { return append(s, 0) }), want: core.ErrInvalidToken},
		{name: "AL-06 ES256 signature of 128 bytes", tok: resize(ecKey, func(s []byte) []byte { return append(s, s...) }), want: core.ErrInvalidToken},
		{name: "AL-06 ES256 signature in ASN.1 DER (RFC 7518 3.4)", tok: resize(ecKey, func(s []byte) []byte {
			r, ss := new(big.Int).SetBytes(s[:32]), new(big.Int).SetBytes(s[32:])
			der, _ := derSig(r, ss)
			return der
		}), want: core.ErrInvalidToken},
		{name: "AL-06 EdDSA signature of 63 bytes (RFC 8032 5.1.7)", tok: resize(edKey, func(s []byte) []byte { return s[:63] }), want: core.ErrInvalidToken},
		{name: "AL-06 EdDSA signature of 65 bytes", tok: resize(edKey, func(s []byte) []byte { return append(s, 0) }), want: core.ErrInvalidToken},
		{name: "AL-07 psychic signature r = s = 0 (CVE-2022-21449)", tok: ecSig(big.NewInt(0), big.NewInt(0)), want: core.ErrInvalidToken},
		{name: "AL-07 r = 0, s = 1", tok: ecSig(big.NewInt(0), one), want: core.ErrInvalidToken},
		{name: "AL-07 r = 1, s = 0", tok: ecSig(one, big.NewInt(0)), want: core.ErrInvalidToken},
		{name: "AL-07 r = s = n", tok: ecSig(n, n), want: core.ErrInvalidToken},
		{name: "AL-07 r = s = n - 1", tok: ecSig(nm1, nm1), want: core.ErrInvalidToken},
		{name: "AL-07 r = 1, s = n - 1", tok: ecSig(one, nm1), want: core.ErrInvalidToken},
		{name: "AL-08 ECDSA s replaced by n - s verifies as the same principal (Wycheproof p1363 1)", tok: resize(ecKey, func(s []byte) []byte {
			out := slices.Clone(s)
			sv := new(big.Int).SetBytes(s[32:])
			new(big.Int).Sub(n, sv).FillBytes(out[32:])
			return out
		}), check: func(t *testing.T, p *core.Principal) {
			if p.Subject != "user-1" || p.SessionID != "session-1" {
				t.Fatalf("principal %+v", p)
			}
		}},
		{name: "AL-10 PS256 with salt length 0 (RFC 7518 3.5)", tok: pss(0), want: core.ErrInvalidToken},
		{name: "AL-10 PS256 with salt length 64", tok: pss(64), want: core.ErrInvalidToken},
		{name: "AL-10 PS256 with salt length 20", tok: pss(20), want: core.ErrInvalidToken},
		{name: "AL-11 EdDSA signature with S + L (non-canonical, RFC 8032 5.1.7)", tok: resize(edKey, func(s []byte) []byte {
			L, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
			le := slices.Clone(s[32:])
			slices.Reverse(le)
			sv := new(big.Int).Add(new(big.Int).SetBytes(le), L)
			be := sv.FillBytes(make([]byte, 32))
			slices.Reverse(be)
			return append(slices.Clone(s[:32]), be...)
		}), want: core.ErrInvalidToken},
		{name: "AL-14 tampered payload under the original signature (RFC 7515 5.2 step 8)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(signWith(rsaKey, "RS256")(t, iss))
			return s[0] + "." + enc64([]byte(strings.Replace(claimsJSON(iss, ""), "user-1", "admin1", 1))) + "." + s[2]
		}, want: core.ErrInvalidToken},
		{name: "AL-14 tampered header under the original signature (Wycheproof 8)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(signWith(rsaKey, "RS256")(t, iss))
			return enc64([]byte(fmt.Sprintf(`{"alg":"RS256","kid":%q,"x":1}`, rsaKey.ID))) + "." + s[1] + "." + s[2]
		}, want: core.ErrInvalidToken},
		{name: "AL-14 roles added to the payload", tok: func(t *testing.T, iss *authtest.Issuer) string {
			s := segments(signWith(rsaKey, "RS256")(t, iss))
			return s[0] + "." + enc64([]byte(claimsJSON(iss, `,"roles":["admin"]`))) + "." + s[2]
		}, want: core.ErrInvalidToken},
		{name: "AL-14 flipped signature bit", tok: resize(rsaKey, func(s []byte) []byte {
			out := slices.Clone(s)
			out[len(out)/2] ^= 1
			return out
		}), want: core.ErrInvalidToken},
	}
	runTokenCases(t, iss, cfg, cases)
}

// derSig encodes r and s as an ASN.1 ECDSA-Sig-Value.
func derSig(r, s *big.Int) ([]byte, error) {
	enc := func(v *big.Int) []byte {
		b := v.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(enc(r), enc(s)...)
	return append([]byte{0x30, byte(len(body))}, body...), nil
}

// TestHMAC pins AL-12 and AL-02 across issuers: HMAC only with an explicit,
// strong secret; tokens MACed with anything else are refused.
func TestHMAC(t *testing.T) {
	secret := []byte("k8Jz2Qw9Xv4Lm7Tp1Rb6Ny3Hc5Fd0Gs8Ae2Uj4Wo")
	rsaIss := startIssuer(t, "RS256")
	const hsIssuer = "https://hmac.example.com"
	cfg := rsaIss.Config()
	cfg.Issuers = []core.IssuerConfig{{Issuer: hsIssuer, Audience: []string{"test-api"}, HMACSecret: secret}}
	a := startAuth(t, cfg)

	claims := func(iss string) string {
		return fmt.Sprintf(`{"iss":%q,"aud":"test-api","sub":"user-1","iat":%d,"exp":%d}`, iss, fixedNow.Unix(), fixedNow.Add(time.Minute).Unix())
	}
	hdr := `{"alg":"HS256","typ":"JWT"}`
	ok := hs("HS256", hdr, claims(hsIssuer), secret)
	if _, err := a.Authenticate(context.Background(), bearerReq(ok)); err != nil {
		t.Fatalf("positive control: HS256 with the configured secret refused: %v", err)
	}
	pub := rsaIss.Signer().Private.Public()
	spki, _ := x509.MarshalPKIXPublicKey(pub)
	spkiPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})
	cases := []struct {
		name string
		tok  string
	}{
		{"AL-02 RSA issuer's token MACed with its public key while HMAC is on for another issuer", hs("HS256", hdr, claims(rsaIss.URL), spkiPEM)},
		{"AL-02 RSA issuer's token MACed with the other issuer's secret", hs("HS256", hdr, claims(rsaIss.URL), secret)},
		{"AL-12 empty secret (jwt_tool -X b, CVE-2019-20933)", hs("HS256", hdr, claims(hsIssuer), nil)},
		{"HD-01 kid path traversal MACed with an empty key", hs("HS256", `{"alg":"HS256","kid":"../../../../../../dev/null"}`, claims(hsIssuer), nil)},
		{"HD-01 kid /dev/null MACed with a NUL byte", hs("HS256", `{"alg":"HS256","kid":"/dev/null"}`, claims(hsIssuer), []byte{0})},
		{"HD-02 SQL kid MACed with '1'", hs("HS256", `{"alg":"HS256","kid":"x' UNION SELECT '1';--"}`, claims(hsIssuer), []byte("1"))},
	}
	for _, w := range weakList {
		cases = append(cases, struct {
			name string
			tok  string
		}{"AL-12 MACed with weak secret " + w, hs("HS256", hdr, claims(hsIssuer), []byte(w))})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Authenticate(context.Background(), bearerReq(tc.tok))
			checkRefused(t, a, err, core.ErrInvalidToken, tc.tok, string(secret))
		})
	}
}

// weakList is a sample of publicly listed weak JWT secrets (the kind found
// in jwt_tool's jwt-common.txt and tutorials), written here by hand.
var weakList = []string{"secret", "password", "123456", "your-256-bit-secret", "changeme", "jwt", "key", "admin", "test", "secretkey", "s3cr3t", "qwerty", "default", ""}

// TestHeader pins section D (HD).
func TestHeader(t *testing.T) {
	iss := startIssuer(t, "RS256")
	k := iss.Signer()
	evil := &authtest.Key{ID: k.ID, Alg: "RS256", Private: authtest.GenerateKey("RS256")}
	evilJWK, _ := json.Marshal(authtest.PublicJWK(evil))

	var hits atomic.Int64
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"keys":[%s]}`, evilJWK)
	}))
	t.Cleanup(listener.Close)

	evilSigned := func(extra string) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			return raw(evil, headerJSON(evil, extra), claimsJSON(iss, ""))
		}
	}
	kidTok := func(kid string) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			return raw(k, `{"alg":"RS256","kid":`+kid+`}`, claimsJSON(iss, ""))
		}
	}
	typTok := func(typ string) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			return raw(k, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":%s}`, k.ID, typ), claimsJSON(iss, ""))
		}
	}
	cases := []tokenCase{
		{name: "HD-02 SQL injection kid", tok: kidTok(`"x' UNION SELECT '1';--"`), want: core.ErrInvalidToken, secrets: []string{"UNION"}},
		{name: "HD-02 LDAP injection kid", tok: kidTok(`"*)(uid=*"`), want: core.ErrInvalidToken, secrets: []string{"uid="}},
		{name: "HD-02 shell pipe kid", tok: kidTok(`"|sleep 10"`), want: core.ErrInvalidToken, secrets: []string{"sleep"}},
		{name: "HD-02 CR/LF log-forging kid (CWE-117)", tok: kidTok(`"a\r\nlevel=ERROR msg=forged"`), want: core.ErrInvalidToken, secrets: []string{"forged"}},
		{name: "HD-02 NUL in kid", tok: kidTok(`"a\u0000b"`), want: core.ErrInvalidToken},
		{name: "HD-02 4 KiB kid", tok: kidTok(`"` + strings.Repeat("k", 4096) + `"`), want: core.ErrInvalidToken, secrets: []string{strings.Repeat("k", 64)}},
		{name: "HD-02 trailing-space copy of the real kid", tok: func(t *testing.T, iss *authtest.Issuer) string { return kidTok(`"`+k.ID+` "`)(t, iss) }, want: core.ErrInvalidToken},
		{name: "HD-03 kid is a number (RFC 7515 4.1.4)", tok: kidTok(`123`), want: core.ErrInvalidToken},
		{name: "HD-03 kid is an array", tok: kidTok(`[]`), want: core.ErrInvalidToken},
		{name: "HD-03 kid is an object", tok: kidTok(`{}`), want: core.ErrInvalidToken},
		{name: "HD-03 kid is null", tok: kidTok(`null`), want: core.ErrInvalidToken},
		{name: "HD-03 kid is empty", tok: kidTok(`""`), want: core.ErrInvalidToken},
		{name: "HD-05 embedded jwk with the real kid (CVE-2018-0114)", tok: evilSigned(`,"jwk":` + string(evilJWK)), want: core.ErrInvalidToken},
		{name: "HD-05 embedded jwk without kid", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(evil, `{"alg":"RS256","jwk":`+string(evilJWK)+`}`, claimsJSON(iss, ""))
		}, want: core.ErrInvalidToken},
		{name: "HD-06 jku at a loopback listener (RFC 8725 3.10)", tok: evilSigned(`,"jku":"` + listener.URL + `/jwks"`), want: core.ErrInvalidToken},
		{name: "HD-06 x5u at a loopback listener", tok: evilSigned(`,"x5u":"` + listener.URL + `/cert"`), want: core.ErrInvalidToken},
		{name: "HD-06 jku at cloud metadata", tok: evilSigned(`,"jku":"http://169.254.169.254/latest"`), want: core.ErrInvalidToken},
		{name: "HD-06 jku at a file URL", tok: evilSigned(`,"jku":"file:///etc/passwd"`), want: core.ErrInvalidToken},
		{name: "HD-06 jku with userinfo trick", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return evilSigned(`,"jku":"`+strings.Replace(listener.URL, "http://", "http://"+strings.TrimPrefix(iss.URL, "http://")+"@", 1)+`"`)(t, iss)
		}, want: core.ErrInvalidToken},
		{name: "HD-06 a real-key token that merely carries jku is judged on the real key", tok: withHeader(`,"jku":"` + listener.URL + `/jwks"`)},
		{name: "HD-07 attacker x5c self-signed chain", tok: evilSigned(`,"x5c":["MIIBszCCAVmgAwIBAgIUe"]`), want: core.ErrInvalidToken},
		{name: "HD-07 x5t on a real-key token does not refuse it (Azure AD)", tok: withHeader(`,"x5t":"bm90LXRoZS1rZXk","x5t#S256":"bm90LXRoZS1rZXk"`)},
		{name: "HD-08 crit with an unknown extension (RFC 7515 4.1.11)", tok: withHeader(`,"crit":["x-must-understand"],"x-must-understand":true`), want: core.ErrInvalidToken},
		{name: "HD-08 crit empty", tok: withHeader(`,"crit":[]`), want: core.ErrInvalidToken},
		{name: "HD-08 crit not an array", tok: withHeader(`,"crit":"exp"`), want: core.ErrInvalidToken},
		{name: "HD-08 crit lists alg", tok: withHeader(`,"crit":["alg"]`), want: core.ErrInvalidToken},
		{name: "HD-08 crit lists an absent parameter", tok: withHeader(`,"crit":["x-absent"]`), want: core.ErrInvalidToken},
		{name: "HD-08 crit with duplicate entries", tok: withHeader(`,"crit":["x","x"],"x":1`), want: core.ErrInvalidToken},
		{name: "HD-09 b64 false with crit b64 (RFC 7797)", tok: withHeader(`,"b64":false,"crit":["b64"]`), want: core.ErrInvalidToken},
		{name: "HD-09 b64 false without crit", tok: withHeader(`,"b64":false`), want: core.ErrInvalidToken},
		{name: "HD-10 typ at+jwt accepted (RFC 9068 2.1)", tok: typTok(`"at+jwt"`)},
		{name: "HD-10 typ JWT accepted with the profile off", tok: typTok(`"JWT"`)},
		{name: "HD-10 typ dpop+jwt refused with the profile off (RFC 8725bis 3.11)", tok: typTok(`"dpop+jwt"`), want: core.ErrInvalidToken},
		{name: "HD-10 typ secevent+jwt refused", tok: typTok(`"secevent+jwt"`), want: core.ErrInvalidToken},
		{name: "HD-10 typ application/logout+jwt refused", tok: typTok(`"application/logout+jwt"`), want: core.ErrInvalidToken},
		{name: "HD-10 typ not a string", tok: typTok(`1`), want: core.ErrInvalidToken},
		{name: "HD-11 DPoP proof shape (jwk header, htm, htu) refused by typ", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(k, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"dpop+jwt","jwk":%s}`, k.ID, evilJWK), claimsJSON(iss, `,"htm":"GET","htu":"https://api.example.com/"`))
		}, want: core.ErrInvalidToken},
		{name: "HD-11 OIDC ID token (aud = client_id) refused by aud (RFC 8725 3.12)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return raw(k, headerJSON(k, ""), strings.Replace(claimsJSON(iss, `,"nonce":"n-0S6_WzA2Mj"`), `"aud":"test-api"`, `"aud":"web-client"`, 1))
		}, want: core.ErrInvalidToken},
		{name: "HD-11 back-channel logout token (events) refused", tok: signed(`,"events":{"http://schemas.openid.net/event/backchannel-logout":{}}`), want: core.ErrInvalidToken},
		{name: "HD-12 cty JWT (nested, RFC 7519 5.2)", tok: withHeader(`,"cty":"JWT"`), want: core.ErrInvalidToken},
		{name: "HD-12 cty text/xml", tok: withHeader(`,"cty":"text/xml"`), want: core.ErrInvalidToken},
		{name: "HD-12 cty application/x-java-serialized-object", tok: withHeader(`,"cty":"application/x-java-serialized-object"`), want: core.ErrInvalidToken},
		{name: "HD-13 zip DEF (CVE-2024-28180)", tok: withHeader(`,"zip":"DEF"`), want: core.ErrInvalidToken},
		{name: "HD-13 enc", tok: withHeader(`,"enc":"A256GCM"`), want: core.ErrInvalidToken},
		{name: "HD-13 p2c 1e9 (CVE-2023-49290)", tok: withHeader(`,"p2c":1000000000,"p2s":"c2FsdA"`), want: core.ErrInvalidToken},
		{name: "HD-13 epk", tok: withHeader(`,"epk":{"kty":"EC"}`), want: core.ErrInvalidToken},
		{name: "HD-14 unknown non-critical header parameter is ignored (RFC 7515 4)", tok: withHeader(`,"x-foo":"` + strings.Repeat("z", 1000) + `"`)},
	}
	runTokenCases(t, iss, iss.Config(), cases)
	if h := hits.Load(); h != 0 {
		t.Fatalf("HD-06: the attacker's listener saw %d requests; want 0", h)
	}

	t.Run("HD-10 RFC 9068 profile enforced", func(t *testing.T) {
		cfg := iss.Config()
		cfg.RequireAccessTokenType = true
		full := func(typ string) func(*testing.T, *authtest.Issuer) string {
			return func(t *testing.T, iss *authtest.Issuer) string {
				h := fmt.Sprintf(`{"alg":"RS256","kid":%q%s}`, k.ID, typ)
				return raw(k, h, claimsJSON(iss, `,"jti":"j-1","client_id":"c-1"`))
			}
		}
		runTokenCases(t, iss, cfg, []tokenCase{
			{name: "HD-10 at+jwt", tok: full(`,"typ":"at+jwt"`)},
			{name: "HD-10 application/at+jwt", tok: full(`,"typ":"application/at+jwt"`)},
			{name: "HD-10 AT+JWT (RFC 7515 4.1.9 case-insensitive)", tok: full(`,"typ":"AT+JWT"`)},
			{name: "HD-10 JWT refused", tok: full(`,"typ":"JWT"`), want: core.ErrInvalidToken},
			{name: "HD-10 typ absent refused", tok: full(``), want: core.ErrInvalidToken},
			{name: "HD-10 dpop+jwt refused", tok: full(`,"typ":"dpop+jwt"`), want: core.ErrInvalidToken},
			{name: "HD-10 secevent+jwt refused", tok: full(`,"typ":"secevent+jwt"`), want: core.ErrInvalidToken},
			{name: "HD-10 logout+jwt refused", tok: full(`,"typ":"logout+jwt"`), want: core.ErrInvalidToken},
			{name: "HD-10 non-string typ refused", tok: full(`,"typ":["at+jwt"]`), want: core.ErrInvalidToken},
			{name: "CL-19 jti missing (RFC 9068 2.2)", tok: func(t *testing.T, iss *authtest.Issuer) string {
				return raw(k, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt"}`, k.ID), claimsJSON(iss, `,"client_id":"c-1"`))
			}, want: core.ErrInvalidToken},
			{name: "CL-19 client_id missing (RFC 9068 2.2)", tok: func(t *testing.T, iss *authtest.Issuer) string {
				return raw(k, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt"}`, k.ID), claimsJSON(iss, `,"jti":"j-1"`))
			}, want: core.ErrInvalidToken},
			{name: "CL-19 iat missing (RFC 9068 2.2)", tok: func(t *testing.T, iss *authtest.Issuer) string {
				c := fmt.Sprintf(`{"iss":%q,"aud":"test-api","sub":"user-1","exp":%d,"jti":"j","client_id":"c"}`, iss.URL, fixedNow.Add(time.Minute).Unix())
				return raw(k, fmt.Sprintf(`{"alg":"RS256","kid":%q,"typ":"at+jwt"}`, k.ID), c)
			}, want: core.ErrInvalidToken},
		})
	})
}

// claimSet writes a claim set from name/raw-JSON pairs; a pair with an
// empty value leaves the claim out.
func claimSet(iss *authtest.Issuer, over map[string]string) string {
	base := map[string]string{
		"iss": fmt.Sprintf("%q", iss.URL),
		"aud": `"test-api"`,
		"sub": `"user-1"`,
		"iat": fmt.Sprint(fixedNow.Unix()),
		"exp": fmt.Sprint(fixedNow.Add(5 * time.Minute).Unix()),
	}
	for k, v := range over {
		base[k] = v
	}
	names := make([]string, 0, len(base))
	for k := range base {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, k := range names {
		if base[k] == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%q:%s", k, base[k])
	}
	b.WriteByte('}')
	return b.String()
}

// TestClaims pins section E (CL) of the catalog that concerns one token.
func TestClaims(t *testing.T) {
	iss := startIssuer(t, "ES256")
	now := fixedNow.Unix()
	with := func(over map[string]string) func(*testing.T, *authtest.Issuer) string {
		return func(t *testing.T, iss *authtest.Issuer) string {
			return raw(iss.Signer(), defHdr(iss), claimSet(iss, over))
		}
	}
	n := func(v int64) string { return fmt.Sprint(v) }
	const leeway = 30 // the default
	cases := []tokenCase{
		{name: "CL-01 exp missing (RFC 9068 2.2)", tok: with(map[string]string{"exp": ""}), want: core.ErrInvalidToken},
		{name: "CL-02 exp = now - leeway - 1 is expired (RFC 7519 4.1.4)", tok: with(map[string]string{"iat": n(now - 600), "exp": n(now - leeway - 1)}), want: core.ErrTokenExpired},
		{name: "CL-02 exp = now - leeway is expired (now MUST be before exp)", tok: with(map[string]string{"iat": n(now - 600), "exp": n(now - leeway)}), want: core.ErrTokenExpired},
		{name: "CL-02 exp inside the leeway is accepted", tok: with(map[string]string{"iat": n(now - 600), "exp": n(now - leeway + 1)})},
		{name: "CL-02 exp = now + 1 is accepted", tok: with(map[string]string{"exp": n(now + 1)})},
		{name: "CL-03 exp 0 (golang-jwt #496)", tok: with(map[string]string{"iat": "", "exp": "0"}), want: core.ErrTokenExpired},
		{name: "CL-04 exp as a string (RFC 7519 2)", tok: with(map[string]string{"exp": `"1900000000"`}), want: core.ErrInvalidToken},
		{name: "CL-04 exp true", tok: with(map[string]string{"exp": `true`}), want: core.ErrInvalidToken},
		{name: "CL-04 exp [1]", tok: with(map[string]string{"exp": `[1]`}), want: core.ErrInvalidToken},
		{name: "CL-04 exp {}", tok: with(map[string]string{"exp": `{}`}), want: core.ErrInvalidToken},
		{name: "CL-04 exp null", tok: with(map[string]string{"exp": `null`}), want: core.ErrInvalidToken},
		{name: "CL-04 nbf as a string", tok: with(map[string]string{"nbf": `"1"`}), want: core.ErrInvalidToken},
		{name: "CL-04 iat null", tok: with(map[string]string{"iat": `null`}), want: core.ErrInvalidToken},
		{name: "CL-05 nbf 1e19 (golang-jwt PR #526)", tok: with(map[string]string{"nbf": `1e19`}), want: core.ErrInvalidToken},
		{name: "CL-05 exp 1e19", tok: with(map[string]string{"exp": `1e19`}), want: core.ErrInvalidToken},
		{name: "CL-05 exp 1e300", tok: with(map[string]string{"exp": `1e300`}), want: core.ErrInvalidToken},
		{name: "CL-05 nbf -1e300", tok: with(map[string]string{"nbf": `-1e300`}), want: core.ErrInvalidToken},
		{name: "CL-05 exp 9223372036854775807", tok: with(map[string]string{"exp": `9223372036854775807`}), want: core.ErrInvalidToken},
		{name: "CL-05 exp 1e999", tok: with(map[string]string{"exp": `1e999`}), want: core.ErrInvalidToken},
		{name: "CL-05 iat -1", tok: with(map[string]string{"iat": `-1`}), want: core.ErrInvalidToken},
		{name: "CL-05 nbf -1", tok: with(map[string]string{"nbf": `-1`}), want: core.ErrInvalidToken},
		{name: "CL-06 fractional exp in range is accepted (RFC 7519 2)", tok: with(map[string]string{"exp": n(now+60) + ".5"}), check: func(t *testing.T, p *core.Principal) {
			if p.ExpiresAt.UnixMilli() != (now+60)*1000+500 {
				t.Fatalf("ExpiresAt %v", p.ExpiresAt)
			}
		}},
		{name: "CL-07 nbf beyond the leeway (RFC 7519 4.1.5)", tok: with(map[string]string{"nbf": n(now + leeway + 1)}), want: core.ErrInvalidToken},
		{name: "CL-07 nbf inside the leeway", tok: with(map[string]string{"nbf": n(now + leeway - 1)})},
		{name: "CL-08 iat beyond the leeway (RFC 7519 4.1.6)", tok: with(map[string]string{"iat": n(now + leeway + 1)}), want: core.ErrInvalidToken},
		{name: "CL-08 iat missing is accepted without the RFC 9068 profile", tok: with(map[string]string{"iat": ""})},
		{name: "CL-09 lifetime of 10 years (RFC 6750 5.3)", tok: with(map[string]string{"exp": n(now + 10*365*86400)}), want: core.ErrInvalidToken},
		{name: "CL-09 lifetime above MaxTokenLifetime without iat", tok: with(map[string]string{"iat": "", "exp": n(now + 25*3600)}), want: core.ErrInvalidToken},
		{name: "CL-09 lifetime of 24h is accepted", tok: with(map[string]string{"exp": n(now + 24*3600)})},
		{name: "CL-10 aud as a string", tok: with(map[string]string{"aud": `"test-api"`})},
		{name: "CL-10 aud as an array naming us", tok: with(map[string]string{"aud": `["x","test-api"]`}), check: func(t *testing.T, p *core.Principal) {
			if !slices.Equal(p.Audience, []string{"x", "test-api"}) {
				t.Fatalf("Audience %v", p.Audience)
			}
		}},
		{name: "CL-10 aud [] (CVE-2020-26160)", tok: with(map[string]string{"aud": `[]`}), want: core.ErrInvalidToken},
		{name: "CL-10 aud empty string", tok: with(map[string]string{"aud": `""`}), want: core.ErrInvalidToken},
		{name: "CL-10 aud [\"\"]", tok: with(map[string]string{"aud": `[""]`}), want: core.ErrInvalidToken},
		{name: "CL-10 aud null", tok: with(map[string]string{"aud": `null`}), want: core.ErrInvalidToken},
		{name: "CL-10 aud missing (RFC 9068 4)", tok: with(map[string]string{"aud": ""}), want: core.ErrInvalidToken},
		{name: "CL-10 aud [1] (golang-jwt 1a11d37)", tok: with(map[string]string{"aud": `[1]`}), want: core.ErrInvalidToken},
		{name: "CL-10 aud 1", tok: with(map[string]string{"aud": `1`}), want: core.ErrInvalidToken},
		{name: "CL-10 aud {}", tok: with(map[string]string{"aud": `{}`}), want: core.ErrInvalidToken},
		{name: "CL-10 aud of another case", tok: with(map[string]string{"aud": `"Test-API"`}), want: core.ErrInvalidToken},
		{name: "CL-10 aud with a trailing space", tok: with(map[string]string{"aud": `"test-api "`}), want: core.ErrInvalidToken},
		{name: "CL-10 aud of another API", tok: with(map[string]string{"aud": `"billing-api"`}), want: core.ErrInvalidToken, secrets: []string{"billing-api"}},
		{name: "CL-11 iss with a trailing slash (RFC 7519 4.1.1)", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return with(map[string]string{"iss": fmt.Sprintf("%q", iss.URL+"/")})(t, iss)
		}, want: core.ErrInvalidToken},
		{name: "CL-11 iss over https instead of http", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return with(map[string]string{"iss": fmt.Sprintf("%q", strings.Replace(iss.URL, "http:", "https:", 1))})(t, iss)
		}, want: core.ErrInvalidToken},
		{name: "CL-11 iss with another host case", tok: func(t *testing.T, iss *authtest.Issuer) string {
			return with(map[string]string{"iss": fmt.Sprintf("%q", strings.Replace(iss.URL, "127.0.0.1", "LOCALHOST", 1))})(t, iss)
		}, want: core.ErrInvalidToken},
		{name: "CL-11 iss missing", tok: with(map[string]string{"iss": ""}), want: core.ErrInvalidToken},
		{name: "CL-11 iss not a string", tok: with(map[string]string{"iss": `["x"]`}), want: core.ErrInvalidToken},
		{name: "CL-14 sub missing (RFC 7519 4.1.2)", tok: with(map[string]string{"sub": ""}), want: core.ErrInvalidToken},
		{name: "CL-14 sub empty", tok: with(map[string]string{"sub": `""`}), want: core.ErrInvalidToken},
		{name: "CL-14 sub null", tok: with(map[string]string{"sub": `null`}), want: core.ErrInvalidToken},
		{name: "CL-14 sub 123", tok: with(map[string]string{"sub": `123`}), want: core.ErrInvalidToken},
		{name: "CL-14 sub [\"a\"]", tok: with(map[string]string{"sub": `["a"]`}), want: core.ErrInvalidToken},
		{name: "CL-14 sub {}", tok: with(map[string]string{"sub": `{}`}), want: core.ErrInvalidToken},
		{name: "CL-17 scope string and scp array are both read (RFC 9068 2.2.3)", tok: with(map[string]string{"scope": `"read write"`, "scp": `["admin"]`}), check: func(t *testing.T, p *core.Principal) {
			if !p.HasScope("read") || !p.HasScope("write") || !p.HasScope("admin") {
				t.Fatalf("Scopes %v", p.Scopes)
			}
		}},
		{name: "CL-17 malformed scope and roles grant nothing (403, never 500)", tok: with(map[string]string{"scope": `{"a":1}`, "roles": `[1,"admin"]`}), check: func(t *testing.T, p *core.Principal) {
			if len(p.Scopes) != 0 || p.HasRole("admin") {
				t.Fatalf("malformed claims granted %v %v", p.Scopes, p.Roles)
			}
		}},
		{name: "CL-17 scope separators are SP only: a tab-joined token grants nothing (RFC 6749 3.3)", tok: with(map[string]string{"scope": `"read\tadmin  write \"x\" \u00e9t\u00e9"`}), check: func(t *testing.T, p *core.Principal) {
			if p.HasScope("admin") || p.HasScope("read") || len(p.Scopes) != 1 || !p.HasScope("write") {
				t.Fatalf("Scopes %q", p.Scopes)
			}
		}},
		{name: "CL-17 scp as a space-delimited string (Azure AD) is split", tok: with(map[string]string{"scp": `"User.Read Mail.Read"`}), check: func(t *testing.T, p *core.Principal) {
			if !p.HasScope("User.Read") || !p.HasScope("Mail.Read") || len(p.Scopes) != 2 {
				t.Fatalf("Scopes %q", p.Scopes)
			}
		}},
		{name: "CL-17 a scope array member is one scope, never split", tok: with(map[string]string{"scp": `["read write"]`}), check: func(t *testing.T, p *core.Principal) {
			if p.HasScope("read") || p.HasScope("write") {
				t.Fatalf("Scopes %q", p.Scopes)
			}
		}},
		{name: "CL-17 role case is exact", tok: with(map[string]string{"roles": `["Admin"]`}), check: func(t *testing.T, p *core.Principal) {
			if p.HasRole("admin") {
				t.Fatal("Admin granted admin")
			}
		}},
		{name: "CL-18 cnf.jkt (DPoP-bound) presented as Bearer (RFC 9449 7.2)", tok: with(map[string]string{"cnf": `{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}`}), want: core.ErrInvalidToken},
		{name: "CL-18 cnf x5t#S256 (mTLS-bound, RFC 8705 3)", tok: with(map[string]string{"cnf": `{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}`}), want: core.ErrInvalidToken},
	}
	runTokenCases(t, iss, iss.Config(), cases)
}

// TestOP04ExpiredForged pins OP-04 (CVE-2024-51744): "expired" is said only
// of tokens whose signature verified.
func TestOP04ExpiredForged(t *testing.T) {
	iss := startIssuer(t, "RS256")
	a := startAuth(t, iss.Config())
	tok := iss.Token(authtest.Claims{"iat": fixedNow.Add(-time.Hour).Unix(), "exp": fixedNow.Add(-time.Minute).Unix()})
	_, err := a.Authenticate(context.Background(), bearerReq(tok))
	checkRefused(t, a, err, core.ErrTokenExpired, tok)
	bad := sigOf(t, tok)
	bad[0] ^= 0xff
	forged := replaceSig(tok, bad)
	_, err = a.Authenticate(context.Background(), bearerReq(forged))
	checkRefused(t, a, err, core.ErrInvalidToken, forged)
	if resp := adapter.Render(a, err); strings.Contains(string(resp.Body), "expired") {
		t.Fatalf("OP-04: a forged expired token is described as expired: %s", resp.Body)
	}
}

// TestIssuerBinding pins CL-12, CL-13 and CL-15 with two issuers.
func TestIssuerBinding(t *testing.T) {
	a1 := startIssuer(t, "RS256")
	b1 := startIssuer(t, "RS256")
	var hits atomic.Int64
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(attacker.Close)
	// Both issuers publish their key under the same kid.
	for _, iss := range []*authtest.Issuer{a1, b1} {
		jwk := authtest.PublicJWK(iss.Signer())
		jwk["kid"] = "1"
		body, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
		iss.SetJWKS(body)
	}
	cfg := a1.Config()
	cfg.Issuers = []core.IssuerConfig{b1.IssuerConfig()}
	a := startAuth(t, cfg)
	mint := func(signer, named *authtest.Issuer, over map[string]string) string {
		k := signer.Signer()
		return raw(k, `{"alg":"RS256","kid":"1"}`, claimSet(named, over))
	}
	for _, iss := range []*authtest.Issuer{a1, b1} {
		p, err := a.Authenticate(context.Background(), bearerReq(mint(iss, iss, map[string]string{"sid": `"s-1"`})))
		if err != nil {
			t.Fatalf("positive control for %s: %v", iss.URL, err)
		}
		if p.Issuer != iss.URL || p.Subject != "user-1" {
			t.Fatalf("CL-15: principal %+v", p)
		}
	}
	cases := []struct{ name, tok string }{
		{"CL-12 iss = B signed with A's key under the shared kid (RFC 8725 3.8)", mint(a1, b1, nil)},
		{"CL-12 iss = A signed with B's key", mint(b1, a1, nil)},
		{"CL-13 iss names an unconfigured issuer: no discovery driven by token content (RFC 8725 3.10)", raw(a1.Signer(), `{"alg":"RS256","kid":"1"}`,
			strings.Replace(claimSet(a1, nil), a1.URL, attacker.URL, 1))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Authenticate(context.Background(), bearerReq(tc.tok))
			checkRefused(t, a, err, core.ErrInvalidToken, tc.tok, attacker.URL)
		})
	}
	if hits.Load() != 0 {
		t.Fatalf("CL-13: the issuer named in a token was contacted %d times", hits.Load())
	}
}

// TestGolangJWTGlobals pins OP-09: flipping golang-jwt's package globals
// changes nothing, and authgate never changes them itself.
func TestGolangJWTGlobals(t *testing.T) {
	iss := startIssuer(t, "PS256")
	k := iss.Signer()
	cfg := iss.Config()
	cfg.Algorithms = []string{"PS256"}
	a := startAuth(t, cfg)
	input := enc64([]byte(headerJSON(k, ""))) + "." + enc64([]byte(claimsJSON(iss, "")))
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, k.Private.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: 0})
	if err != nil {
		t.Fatal(err)
	}
	salt0 := input + "." + enc64(sig)
	if jwt.SigningMethodPS256.VerifyOptions.SaltLength != rsa.PSSSaltLengthAuto || !jwt.MarshalSingleStringAsArray || jwt.TimePrecision != time.Second {
		t.Fatal("OP-09: golang-jwt's globals were changed by authgate")
	}
	oldPrec, oldArr := jwt.TimePrecision, jwt.MarshalSingleStringAsArray
	jwt.TimePrecision, jwt.MarshalSingleStringAsArray = time.Nanosecond, false
	t.Cleanup(func() { jwt.TimePrecision, jwt.MarshalSingleStringAsArray = oldPrec, oldArr })
	if _, err := a.Authenticate(context.Background(), bearerReq(good(t, iss))); err != nil {
		t.Fatalf("valid PS256 token refused after flipping globals: %v", err)
	}
	_, err = a.Authenticate(context.Background(), bearerReq(salt0))
	checkRefused(t, a, err, core.ErrInvalidToken, salt0)
	// Prove the test token would pass golang-jwt's own PS256 (salt auto).
	if err := jwt.SigningMethodPS256.Verify(input, sig, k.Private.Public()); err != nil {
		t.Fatalf("control: golang-jwt's PS256 refuses salt 0 too: %v", err)
	}
}

// TestSizeGate pins FM-10 / EX-13: refusal before decoding, at the limit.
func TestSizeGate(t *testing.T) {
	iss := startIssuer(t, "ES256")
	cfg := iss.Config()
	cfg.MaxTokenSize = 1024
	a := startAuth(t, cfg)
	base := good(t, iss)
	pad := func(n int) string {
		// grow the payload until the token is exactly n bytes
		for extra := 0; ; extra++ {
			tok := raw(iss.Signer(), defHdr(iss), claimsJSON(iss, `,"p":"`+strings.Repeat("a", extra)+`"`))
			if len(tok) >= n {
				return tok
			}
		}
	}
	if len(base) > 1024 {
		t.Fatal("base token too large")
	}
	at := pad(1021)
	if len(at) <= 1024 {
		if _, err := a.Authenticate(context.Background(), bearerReq(at)); err != nil {
			t.Fatalf("token of %d bytes (<= limit) refused: %v", len(at), err)
		}
	}
	over := pad(1025)
	_, err := a.Authenticate(context.Background(), bearerReq(over))
	checkRefused(t, a, err, core.ErrInvalidToken, over)
	huge := strings.Repeat("a", 1<<20+1)
	_, err = a.Authenticate(context.Background(), bearerReq(huge))
	checkRefused(t, a, err, core.ErrInvalidToken, huge)
}

// TestStaticKeys pins KS-18 at request time: PEM, PKCS#1, certificate and
// JWK static keys verify, and keys are never fetched.
func TestStaticKeys(t *testing.T) {
	rsaKey := &authtest.Key{ID: "r", Alg: "RS256", Private: authtest.GenerateKey("RS256")}
	ecKey := &authtest.Key{ID: "e", Alg: "ES256", Private: authtest.GenerateKey("ES256")}
	edKey := &authtest.Key{ID: "d", Alg: "EdDSA", Private: authtest.GenerateKey("EdDSA")}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsaKey.Private.Public().(*rsa.PublicKey))})
	edJWK, _ := json.Marshal(authtest.PublicJWK(edKey))
	cfg := core.Config{
		Issuer:     "https://static.example.com",
		Audience:   []string{"test-api"},
		PublicKeys: []string{string(pkcs1), authtest.PublicPEM(ecKey), string(edJWK)},
	}
	a := startAuth(t, cfg)
	claims := fmt.Sprintf(`{"iss":"https://static.example.com","aud":"test-api","sub":"u","exp":%d}`, fixedNow.Add(time.Minute).Unix())
	for _, k := range []*authtest.Key{rsaKey, ecKey, edKey} {
		hdr := fmt.Sprintf(`{"alg":%q}`, k.Alg)
		if k == edKey {
			hdr = fmt.Sprintf(`{"alg":"EdDSA","kid":%q}`, k.ID)
		}
		if _, err := a.Authenticate(context.Background(), bearerReq(raw(k, hdr, claims))); err != nil {
			t.Errorf("KS-18 static %s key: %v", k.Alg, err)
		}
	}
	// A key not configured is refused.
	other := &authtest.Key{Alg: "ES256", Private: authtest.GenerateKey("ES256")}
	tok := raw(other, `{"alg":"ES256"}`, claims)
	_, err := a.Authenticate(context.Background(), bearerReq(tok))
	checkRefused(t, a, err, core.ErrInvalidToken, tok)
}

// stdReq is a core.Request over *http.Request (kept from the former smoke
// test; other test files of the package use it).
type stdReq struct{ r *http.Request }

func (q stdReq) Method() string              { return q.r.Method }
func (q stdReq) Host() string                { return q.r.Host }
func (q stdReq) Header(name string) []string { return q.r.Header[name] }
func (q stdReq) RawQuery() string            { return q.r.URL.RawQuery }
