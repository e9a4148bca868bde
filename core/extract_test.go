package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// TestExtraction pins section A (EX) of the catalog: where a token is taken
// from, and which requests are refused before any token is parsed.
func TestExtraction(t *testing.T) {
	iss := startIssuer(t, "ES256")
	tok := iss.Token(nil)
	other := iss.Token(authtest.Claims{"sub": "user-2"})
	cfg := iss.Config()
	cfg.Now = nil
	cfg.HeaderName = "X-Access-Token"
	cfg.CookieName = "__Host-access"
	cfg.Sources = []core.Source{core.SourceHeader, core.SourceCookie, core.SourceCustomHeader}
	a := startAuth(t, cfg)

	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	cases := []struct {
		name string
		h    http.Header
		want error // nil: accepted
		src  core.Source
		// secret must not be echoed (besides the token itself).
		secret string
	}{
		{name: "EX-01 no credentials (RFC 6750 3.1)", h: h(), want: core.ErrNoToken},
		{name: "EX-02 Basic scheme is not ours (RFC 6750 3.1)", h: h("Authorization", "Basic dXNlcjpwYXNz"), want: core.ErrNoToken, secret: "dXNlcjpwYXNz"},
		{name: "EX-02 Token scheme", h: h("Authorization", "Token abc"), want: core.ErrNoToken},
		{name: "EX-02 DPoP scheme with a JWT (RFC 9449)", h: h("Authorization", "DPoP "+tok), want: core.ErrNoToken},
		{name: "EX-02 Negotiate scheme", h: h("Authorization", "Negotiate x"), want: core.ErrNoToken},
		{name: "EX-02 Basic header beside a valid cookie: the cookie decides", h: h("Authorization", "Basic dXNlcjpwYXNz", "Cookie", "__Host-access="+tok), src: core.SourceCookie},
		{name: "EX-03 scheme Bearer", h: h("Authorization", "Bearer "+tok), src: core.SourceHeader},
		{name: "EX-03 scheme bearer (RFC 9110 11.1)", h: h("Authorization", "bearer "+tok), src: core.SourceHeader},
		{name: "EX-03 scheme BEARER", h: h("Authorization", "BEARER "+tok), src: core.SourceHeader},
		{name: "EX-03 scheme bEaReR", h: h("Authorization", "bEaReR "+tok), src: core.SourceHeader},
		{name: "EX-04 two spaces after Bearer (strict: exactly one SP)", h: h("Authorization", "Bearer  "+tok), want: core.ErrInvalidRequest},
		{name: "EX-04 HTAB instead of SP (RFC 6750 2.1)", h: h("Authorization", "Bearer\t"+tok), want: core.ErrInvalidRequest},
		{name: "EX-04 no separator", h: h("Authorization", "Bearer"+tok), want: core.ErrInvalidRequest},
		{name: "EX-04 leading space is OWS (RFC 9110 5.5)", h: h("Authorization", " Bearer "+tok), src: core.SourceHeader},
		{name: "EX-04 trailing space is OWS (RFC 9110 5.5)", h: h("Authorization", "Bearer "+tok+" "), src: core.SourceHeader},
		{name: "EX-04 a second word after the token", h: h("Authorization", "Bearer "+tok+" extra"), want: core.ErrInvalidRequest},
		{name: "EX-05 Bearer with nothing (RFC 6750 3.1)", h: h("Authorization", "Bearer"), want: core.ErrInvalidRequest},
		{name: "EX-05 Bearer and one space", h: h("Authorization", "Bearer "), want: core.ErrInvalidRequest},
		{name: "EX-05 Bearer and two spaces", h: h("Authorization", "Bearer  "), want: core.ErrInvalidRequest},
		{name: "EX-06 the same token in two Authorization lines (RFC 9110 5.3)", h: h("Authorization", "Bearer "+tok, "Authorization", "Bearer "+tok), want: core.ErrInvalidRequest},
		{name: "EX-06 victim and attacker tokens in two lines", h: h("Authorization", "Bearer "+tok, "Authorization", "Bearer "+other), want: core.ErrInvalidRequest},
		{name: "EX-07 list form 'Bearer a, Bearer b' (RFC 6750 2.1)", h: h("Authorization", "Bearer "+tok+", Bearer "+other), want: core.ErrInvalidRequest},
		{name: "EX-07 list form 'Bearer a,b'", h: h("Authorization", "Bearer "+tok+","+other), want: core.ErrInvalidToken},
		{name: "EX-07 list form 'Bearer a;b'", h: h("Authorization", "Bearer "+tok+";"+other), want: core.ErrInvalidToken},
		{name: "EX-08 double quote in the token (RFC 8725bis 3.14)", h: h("Authorization", "Bearer "+tok[:20]+`"`+tok[20:]), want: core.ErrInvalidToken},
		{name: "EX-08 brace in the token", h: h("Authorization", "Bearer {"+tok[1:]), want: core.ErrInvalidToken},
		{name: "EX-08 percent-encoded dot", h: h("Authorization", "Bearer "+strings.Replace(tok, ".", "%2E", 1)), want: core.ErrInvalidToken},
		{name: "EX-08 plus sign", h: h("Authorization", "Bearer "+tok[:20]+"+"+tok[21:]), want: core.ErrInvalidToken},
		{name: "EX-08 slash", h: h("Authorization", "Bearer "+tok[:20]+"/"+tok[21:]), want: core.ErrInvalidToken},
		{name: "EX-08 inner '='", h: h("Authorization", "Bearer "+tok[:20]+"="+tok[21:]), want: core.ErrInvalidToken},
		{name: "EX-08 non-ASCII", h: h("Authorization", "Bearer "+tok[:20]+"é"+tok[21:]), want: core.ErrInvalidToken},
		{name: "EX-08 NUL", h: h("Authorization", "Bearer "+tok[:20]+"\x00"+tok[21:]), want: core.ErrInvalidToken},
		{name: "EX-08 DEL", h: h("Authorization", "Bearer "+tok[:20]+"\x7f"+tok[21:]), want: core.ErrInvalidToken},
		{name: "EX-09 header and cookie with different tokens (RFC 6750 2)", h: h("Authorization", "Bearer "+tok, "Cookie", "__Host-access="+other), want: core.ErrInvalidRequest},
		{name: "EX-09 header and cookie with the identical token are accepted", h: h("Authorization", "Bearer "+tok, "Cookie", "__Host-access="+tok), src: core.SourceHeader},
		{name: "EX-10 a query token is ignored while query tokens are off (RFC 6750 5.3)", h: h(), want: core.ErrNoToken},
		{name: "EX-13 a 64 KiB Authorization value is refused without decoding", h: h("Authorization", "Bearer "+strings.Repeat("a", 64<<10)), want: core.ErrInvalidToken},
		{name: "EX-13 a 1 MiB + 1 cookie value is refused", h: h("Cookie", "__Host-access="+strings.Repeat("a", 1<<20+1)), want: core.ErrInvalidToken},
		{name: "EX-13 large unrelated cookies do not refuse a header token", h: h("Authorization", "Bearer "+tok, "Cookie", "prefs="+strings.Repeat("p", 60<<10)), src: core.SourceHeader},
		{name: "EX-17 custom header repeated", h: h("X-Access-Token", tok, "X-Access-Token", tok), want: core.ErrInvalidRequest},
		{name: "EX-17 custom header and Authorization with different tokens", h: h("Authorization", "Bearer "+tok, "X-Access-Token", other), want: core.ErrInvalidRequest},
		{name: "EX-17 custom header alone", h: h("X-Access-Token", tok), src: core.SourceCustomHeader},
		{name: "EX-17 custom header empty", h: h("X-Access-Token", " "), want: core.ErrInvalidRequest},
		{name: "cookie: __Host- name read exactly", h: h("Cookie", "a=b; __Host-access="+tok+"; c=d"), src: core.SourceCookie},
		{name: "cookie: the name without its prefix is not the token cookie", h: h("Cookie", "access="+tok), want: core.ErrNoToken},
		{name: "cookie: quoted value (RFC 6265 cookie-value)", h: h("Cookie", `__Host-access="`+tok+`"`), src: core.SourceCookie},
		{name: "cookie: tossed twice in one line (cookie tossing)", h: h("Cookie", "__Host-access="+tok+"; __Host-access="+other), want: core.ErrInvalidRequest},
		{name: "cookie: tossed twice across two lines", h: h("Cookie", "__Host-access="+tok, "Cookie", "__Host-access="+other), want: core.ErrInvalidRequest},
		{name: "cookie: empty value counts as absent", h: h("Cookie", "__Host-access="), want: core.ErrNoToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := vreq{method: "GET", host: "api.example.com", h: tc.h}
			if strings.HasPrefix(tc.name, "EX-10") {
				r.query = "access_token=" + tok
			}
			p, err := a.Authenticate(context.Background(), r)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if p.Source != tc.src {
					t.Fatalf("Source %v; want %v", p.Source, tc.src)
				}
				return
			}
			var secrets []string
			for _, vs := range tc.h {
				for _, v := range vs {
					if v = strings.TrimSpace(strings.TrimPrefix(v, "Bearer")); len(v) < 4096 {
						secrets = append(secrets, secretsOf(v)...)
					}
				}
			}
			checkRefused(t, a, err, tc.want, tok, append(secrets, tc.secret, other)...)
		})
	}
}

// TestQuerySource pins EX-10 and EX-11: query tokens only when enabled, and
// never beside another source.
func TestQuerySource(t *testing.T) {
	iss := startIssuer(t, "EdDSA")
	tok := iss.Token(nil)
	cfg := iss.Config()
	cfg.QueryParam = "access_token"
	a := startAuth(t, cfg)
	p, err := a.Authenticate(context.Background(), vreq{method: "GET", query: "x=1&access_token=" + tok})
	if err != nil || p.Source != core.SourceQuery {
		t.Fatalf("EX-11 enabled query token: %v %v", p, err)
	}
	for name, r := range map[string]vreq{
		"EX-11 query and header with different tokens": {method: "GET", query: "access_token=" + tok, h: http.Header{"Authorization": {"Bearer " + iss.Token(nil)}}},
		"EX-11 query parameter repeated":               {method: "GET", query: "access_token=" + tok + "&access_token=" + tok},
		"EX-11 query parameter empty":                  {method: "GET", query: "access_token="},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := a.Authenticate(context.Background(), r)
			checkRefused(t, a, err, core.ErrInvalidRequest, tok)
		})
	}
}

// TestOptional pins EX-14: an optional route admits a request without
// credentials anonymously and still refuses a bad token.
func TestOptional(t *testing.T) {
	iss := startIssuer(t, "ES256")
	a := startAuth(t, iss.Config())
	ctx, err := adapter.Admit(a, context.Background(), vreq{method: "GET", h: http.Header{}}, true)
	if err != nil {
		t.Fatalf("anonymous request refused on an optional route: %v", err)
	}
	if _, ok := core.PrincipalFrom(ctx); ok {
		t.Fatal("anonymous request got a principal")
	}
	forged := iss.Token(nil)
	forged = forged[:len(forged)-4] + "AAAA"
	for name, r := range map[string]vreq{
		"EX-14 forged token on an optional route":    bearerReq(forged),
		"EX-14 malformed token on an optional route": bearerReq("not-a-token"),
		"EX-14 expired token on an optional route":   bearerReq(iss.Token(authtest.Claims{"iat": fixedNow.Add(-2 * time.Hour).Unix(), "exp": fixedNow.Add(-time.Hour).Unix()})),
		"EX-14 empty Bearer on an optional route":    {method: "GET", h: http.Header{"Authorization": {"Bearer "}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := adapter.Admit(a, context.Background(), r, true)
			if err == nil || errors.Is(err, core.ErrNoToken) {
				t.Fatalf("admitted or treated as anonymous: %v", err)
			}
		})
	}
}

// TestCookieCrossOrigin: a token read from a cookie on an unsafe method must
// come from a same-origin request (net/http CrossOriginProtection), with or
// without a *http.Request behind the adapter; a header token is never
// subject to it.
func TestCookieCrossOrigin(t *testing.T) {
	iss := startIssuer(t, "ES256")
	tok := iss.Token(nil)
	cfg := iss.Config()
	cfg.TrustedOrigins = []string{"https://app.example.com"}
	a := startAuth(t, cfg)
	cases := []struct {
		name   string
		method string
		h      http.Header
		want   error
	}{
		{"cookie on GET from another site", "GET", http.Header{"Cookie": {"access_token=" + tok}, "Sec-Fetch-Site": {"cross-site"}}, nil},
		{"cookie on POST from the same origin (Sec-Fetch-Site)", "POST", http.Header{"Cookie": {"access_token=" + tok}, "Sec-Fetch-Site": {"same-origin"}}, nil},
		{"cookie on POST from another site", "POST", http.Header{"Cookie": {"access_token=" + tok}, "Sec-Fetch-Site": {"cross-site"}}, core.ErrCrossOrigin},
		{"cookie on DELETE with a foreign Origin", "DELETE", http.Header{"Cookie": {"access_token=" + tok}, "Origin": {"https://evil.example"}}, core.ErrCrossOrigin},
		{"cookie on POST from a trusted origin", "POST", http.Header{"Cookie": {"access_token=" + tok}, "Origin": {"https://app.example.com"}}, nil},
		{"cookie on POST with an Origin matching Host", "POST", http.Header{"Cookie": {"access_token=" + tok}, "Origin": {"https://api.example.com"}}, nil},
		{"header token on POST from another site", "POST", http.Header{"Authorization": {"Bearer " + tok}, "Sec-Fetch-Site": {"cross-site"}}, nil},
	}
	for _, tc := range cases {
		for _, std := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s (std=%v)", tc.name, std), func(t *testing.T) {
				var r core.Request = vreq{method: tc.method, host: "api.example.com", h: tc.h}
				if std {
					hr := httptest.NewRequest(tc.method, "https://api.example.com/orders", nil)
					hr.Header = tc.h.Clone()
					r = httpRequest{hr}
				}
				_, err := a.Authenticate(context.Background(), r)
				if tc.want == nil {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					return
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("error %v; want %v", err, tc.want)
				}
				if resp := adapter.Render(a, err); resp.Status != http.StatusForbidden {
					t.Fatalf("status %d", resp.Status)
				}
			})
		}
	}
}
