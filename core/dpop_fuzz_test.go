package core

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fuzzDPoPKey is the client's fixed DPoP key, so that seeded proofs verify
// and the fuzzer reaches the checks after the signature.
var fuzzDPoPKey = func() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("authgate fuzz DPoP key"))
	return ed25519.NewKeyFromSeed(seed[:])
}()

const fuzzDPoPURL = "https://api.example.com/orders"

func fuzzDPoPJWK() string {
	return `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(fuzzDPoPKey.Public().(ed25519.PublicKey)) + `"}`
}

func fuzzDPoPJKT() string {
	c := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(fuzzDPoPKey.Public().(ed25519.PublicKey)) + `"}`
	d := sha256.Sum256([]byte(c))
	return base64.RawURLEncoding.EncodeToString(d[:])
}

func fuzzDPoPSign(header, payload []byte) string {
	in := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(fuzzDPoPKey, []byte(in)))
}

// FuzzDPoPProof feeds arbitrary DPoP proofs to the whole Admit path of a
// request carrying a token bound to the client's key: raw is sent as it
// is, and header and payload are signed with the client's key so that the
// JSON readers and every check after the signature see them. No input may
// panic or be answered other than 400, 401 or 503; a proof that is
// admitted must be the client's own, for this request, and is never
// admitted twice (RFC 9449 sections 4.3 and 11.1).
func FuzzDPoPProof(f *testing.F) {
	claims := func(extra string) []byte {
		return fmt.Appendf(nil, `{"jti":"j-1","htm":"GET","htu":%q,"iat":%d,"ath":"%%s"%s}`, fuzzDPoPURL, fuzzNow.Unix(), extra)
	}
	hdr := []byte(`{"typ":"dpop+jwt","alg":"EdDSA","jwk":` + fuzzDPoPJWK() + `}`)
	f.Add("", hdr, claims(""))
	f.Add("", hdr, claims(`,"nonce":"n"`))
	f.Add("", []byte(`{"typ":"dpop+jwt","alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519","x":"AAAA","d":"AAAA"}}`), claims(""))
	f.Add("", []byte(`{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"","y":""}}`), claims(""))
	f.Add("", []byte(`{"typ":"dpop+jwt","typ":"JWT","alg":"EdDSA","jwk":`+fuzzDPoPJWK()+`}`), claims(`,"htu":"https://evil.example/orders"`))
	f.Add("a.b.c", []byte(nil), []byte(nil))
	f.Add(strings.Repeat(".", 64), []byte(nil), []byte(nil))
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6Im5vbmUifQ.e30.", []byte(nil), []byte(nil))

	jwk := fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q}`,
		base64.RawURLEncoding.EncodeToString(fuzzKey.Public().(ed25519.PublicKey)))
	a, err := New(context.Background(), Config{
		Issuer: fuzzIssuer, Audience: []string{"api"}, PublicKeys: []string{jwk},
		Now:  func() time.Time { return fuzzNow },
		DPoP: DPoPOptions{Mode: DPoPAllowed},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	tok := fuzzSign([]byte(`{"alg":"EdDSA","kid":"k1"}`), []byte(fuzzClaims(`,"cnf":{"jkt":"`+fuzzDPoPJKT()+`"}`)))
	ath := tokenHash(tok)

	// The seeds reach the end: a well-formed proof is admitted.
	r := httptest.NewRequest("GET", fuzzDPoPURL, nil)
	r.Header["Authorization"] = []string{"DPoP " + tok}
	r.Header["Dpop"] = []string{fuzzDPoPSign(hdr, []byte(strings.Replace(strings.Replace(string(claims("")), "j-1", "setup", 1), "%s", ath, 1)))}
	if _, err := a.admit(context.Background(), httpRequest{r}, false); err != nil {
		f.Fatalf("the seed proof is refused: %v (%s)", err, Cause(err))
	}

	f.Fuzz(func(t *testing.T, raw string, header, payload []byte) {
		proof := raw
		if proof == "" {
			// The seeds' "%s" is the token's ath, so that they reach the
			// key check; the fuzzer may change it like any other byte.
			proof = fuzzDPoPSign(header, []byte(strings.Replace(string(payload), "%s", ath, 1)))
		}
		if strings.ContainsAny(proof, "\r\n\x00") {
			return // not a header field value
		}
		req := func() stdRequest {
			r := httptest.NewRequest("GET", fuzzDPoPURL, nil)
			r.Header["Authorization"] = []string{"DPoP " + tok}
			r.Header["Dpop"] = []string{proof}
			return httpRequest{r}
		}
		ctx, err := a.admit(context.Background(), req(), false)
		if err != nil {
			switch st := asError(err).Status; st {
			case http.StatusBadRequest, http.StatusUnauthorized, http.StatusServiceUnavailable:
			default:
				t.Fatalf("status %d (%s) for proof %q", st, Cause(err), proof)
			}
			_ = a.render(err)
			return
		}
		p, _ := PrincipalFrom(ctx)
		if p.Binding != BindingDPoP || p.Thumbprint != fuzzDPoPJKT() {
			t.Fatalf("admitted with binding %v %q", p.Binding, p.Thumbprint)
		}
		pr, perr := parseProof(trimOWS(proof))
		if perr != nil || pr.htm != "GET" || !pr.hasU {
			t.Fatalf("admitted a proof the parser refuses or that is not for GET: %v", perr)
		}
		if u, ok := normalizeHTU(pr.htu); !ok || u != fuzzDPoPURL {
			t.Fatalf("admitted a proof for %q", pr.htu)
		}
		if _, err := a.admit(context.Background(), req(), false); err == nil {
			t.Fatalf("the same proof admitted twice: %q", proof)
		}
	})
}
