package core

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fuzzJWKS serves the fuzz key as a JWKS and an SSF configuration naming
// the server itself, for the receivers' fuzz targets.
func fuzzJWKS(tb testing.TB) *httptest.Server {
	tb.Helper()
	jwk := fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q}`,
		base64.RawURLEncoding.EncodeToString(fuzzKey.Public().(ed25519.PublicKey)))
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/ssf-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
		case "/jwks":
			_, _ = w.Write([]byte(`{"keys":[` + jwk + `]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func fuzzSETClaims(iss, extra string) string {
	return fmt.Sprintf(`{"iss":%q,"aud":"stream","iat":%d,"jti":"j1","sub_id":{"format":"opaque","id":"s1"},"events":{%q:{}}%s}`,
		iss, fuzzNow.Unix(), CAEPSessionRevoked, extra)
}

// FuzzSET feeds SETs signed by the transmitter's key with arbitrary header
// and payload bytes to the push receiver (RFC 8417, RFC 8935): it never
// panics, answers only 202, 400 with an RFC 8935 error code, or 503, and
// accepts only a SET whose iss, aud, iat and events hold.
func FuzzSET(f *testing.F) {
	srv := fuzzJWKS(f)
	hdr := []byte(`{"alg":"EdDSA","kid":"k1","typ":"secevent+jwt"}`)
	for _, p := range []string{
		fuzzSETClaims(srv.URL, ""), `[1]`, `null`, ``, fuzzSETClaims(srv.URL, `,"aud":"other"`),
		fuzzSETClaims(srv.URL, `,"events":{}`), fuzzSETClaims(srv.URL, `,"jti":"j1"`),
		fuzzSETClaims(srv.URL, `,"sub_id":{"format":"complex","session":{"format":"opaque","id":"s2"}}`),
		fuzzSETClaims(srv.URL, `,"sub_id":{"format":"iss_sub","iss":"`+fuzzIssuer+`","sub":"u"}`),
		fuzzSETClaims(srv.URL, `,"sub_id":{"format":"complex","user":"x"}`),
		fuzzSETClaims(srv.URL, `,"events":{"`+RISCAccountPurged+`":{"subject":{"format":"iss_sub","iss":"`+fuzzIssuer+`","sub":"u"}}}`),
		fuzzSETClaims(srv.URL, `,"events":{"`+CAEPCredentialChange+`":{"event_timestamp":1e300}}`),
		fuzzSETClaims(srv.URL, `,"iat":1e999`), "\xff" + fuzzSETClaims(srv.URL, ""),
	} {
		f.Add(hdr, []byte(p))
	}
	f.Add([]byte(`{"alg":"EdDSA","kid":"k1","typ":"JWT"}`), []byte(fuzzSETClaims(srv.URL, "")))
	f.Add([]byte(`{"alg":"none"}`), []byte(fuzzSETClaims(srv.URL, "")))
	a := fuzzAuth(f)
	recv, err := a.SSF(context.Background(), SSFOptions{Issuer: srv.URL, Audience: "stream", Algorithms: []string{"EdDSA"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		tok := fuzzSign(header, payload)
		resp := recv.Push(context.Background(), "POST", SETContentType, "", strings.NewReader(tok))
		switch resp.Status {
		case http.StatusAccepted:
			var c struct {
				Iss    string         `json:"iss"`
				Aud    any            `json:"aud"`
				Iat    float64        `json:"iat"`
				Events map[string]any `json:"events"`
			}
			if json.Unmarshal(payload, &c) != nil || c.Iss != srv.URL || c.Iat == 0 || len(c.Events) == 0 {
				t.Fatalf("accepted a SET without its iss, iat or events: %s", payload)
			}
			if s, ok := c.Aud.(string); ok && s != "stream" {
				t.Fatalf("accepted a SET for audience %q", s)
			}
		case http.StatusBadRequest:
			var e map[string]string
			if json.Unmarshal(resp.Body, &e) != nil || setDescriptions[e["err"]] == "" || len(e) != 2 {
				t.Fatalf("400 body %s", resp.Body)
			}
		case http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d for %q", resp.Status, tok)
		}
	})
}

// FuzzLogoutToken feeds logout tokens signed by the issuer's key with
// arbitrary header and payload bytes to the back-channel logout receiver:
// it never panics, answers only 200, 400 invalid_request or 503, and
// accepts only a token whose iss, aud, iat, jti and event hold.
func FuzzLogoutToken(f *testing.F) {
	hdr := []byte(`{"alg":"EdDSA","kid":"k1","typ":"logout+jwt"}`)
	lt := func(extra string) []byte {
		return []byte(fmt.Sprintf(`{"iss":%q,"aud":"client","iat":%d,"jti":"j1","sid":"s1","events":{%q:{}}%s}`,
			fuzzIssuer, fuzzNow.Unix(), BackchannelLogoutEvent, extra))
	}
	for _, p := range [][]byte{lt(""), lt(`,"nonce":"n"`), lt(`,"sid":null`), lt(`,"sub":"u","sid":"../x"`),
		lt(`,"events":{}`), lt(`,"aud":["x","client"]`), lt(`,"exp":1`), []byte(`{}`), nil} {
		f.Add(hdr, p)
	}
	f.Add([]byte(`{"alg":"EdDSA","kid":"k1","typ":"at+jwt"}`), lt(""))
	a := fuzzAuth(f)
	recv, err := a.BackchannelLogout(BackchannelLogoutOptions{ClientID: "client"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header, payload []byte) {
		tok := fuzzSign(header, payload)
		body := "logout_token=" + url.QueryEscape(tok)
		resp := recv.Receive(context.Background(), "POST", "application/x-www-form-urlencoded", strings.NewReader(body))
		switch resp.Status {
		case http.StatusOK:
			var c struct {
				Iss    string         `json:"iss"`
				Jti    string         `json:"jti"`
				Events map[string]any `json:"events"`
			}
			if json.Unmarshal(payload, &c) != nil || c.Iss != fuzzIssuer || c.Jti == "" || c.Events[BackchannelLogoutEvent] == nil {
				t.Fatalf("accepted a logout token without its iss, jti or event: %s", payload)
			}
		case http.StatusBadRequest:
			if !strings.Contains(string(resp.Body), `"error":"invalid_request"`) {
				t.Fatalf("400 body %s", resp.Body)
			}
		case http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d", resp.Status)
		}
	})
}
