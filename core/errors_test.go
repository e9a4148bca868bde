package core

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// The RFC 6750 section 3 challenge: auth-param = token BWS "=" BWS ( token / quoted-string ).
var challengeRE = regexp.MustCompile(`^Bearer realm="([^"\\]|\\.)*"(, (error|error_description|scope)="([^"\\]|\\.)*")*$`)

func TestRenderedRefusals(t *testing.T) {
	cases := []struct {
		name        string
		err         *Error
		status      int
		challenge   string // "" means no WWW-Authenticate header
		retryAfter  string
		bodyErrCode string
	}{
		{"EX-01 no credentials: challenge without error attributes (RFC 6750 3.1)", newError(ErrNoToken, nil),
			401, `Bearer realm="api"`, "", "unauthorized"},
		{"invalid_request is 400 and still challenges", newError(ErrInvalidRequest, errors.New("x")),
			400, `Bearer realm="api", error="invalid_request", error_description="` + descInvalidReq + `"`, "", "invalid_request"},
		{"invalid_token", invalid("internal detail"),
			401, `Bearer realm="api", error="invalid_token", error_description="` + descInvalidToken + `"`, "", "invalid_token"},
		{"expired says expired", newError(ErrTokenExpired, nil),
			401, `Bearer realm="api", error="invalid_token", error_description="` + descExpired + `"`, "", "invalid_token"},
		{"revoked session", newError(ErrSessionRevoked, nil),
			401, `Bearer realm="api", error="invalid_token", error_description="` + descRevoked + `"`, "", "invalid_token"},
		{"insufficient scope names the scopes", func() *Error { e := newError(ErrInsufficientScope, nil); e.Scope = []string{"a", "b"}; return e }(),
			403, `Bearer realm="api", error="insufficient_scope", error_description="` + descScope + `", scope="a b"`, "", "insufficient_scope"},
		{"CK-01 cross-origin is 403 without invalid_token", newError(ErrCrossOrigin, nil),
			403, "", "", "forbidden"},
		{"SS-08 unavailable is 503 with Retry-After and blames no token", newError(ErrUnavailable, errors.New("redis down")),
			503, "", "5", "temporarily_unavailable"},
		{"misconfigured route is 500", newError(ErrMisconfigured, nil),
			500, "", "", "server_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := DefaultRenderer(c.err, "api")
			if r.Status != c.status {
				t.Fatalf("status %d, want %d", r.Status, c.status)
			}
			got := r.Header.Get("WWW-Authenticate")
			if got != c.challenge {
				t.Fatalf("challenge %q, want %q", got, c.challenge)
			}
			if got != "" && !challengeRE.MatchString(got) {
				t.Fatalf("challenge %q is not RFC 6750 syntax", got)
			}
			if ra := r.Header.Get("Retry-After"); ra != c.retryAfter {
				t.Fatalf("Retry-After %q, want %q", ra, c.retryAfter)
			}
			if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", r.Header)
			}
			var body map[string]string
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatalf("body %q: %v", r.Body, err)
			}
			if body["error"] != c.bodyErrCode {
				t.Fatalf("body error %q, want %q", body["error"], c.bodyErrCode)
			}
			if strings.Contains(string(r.Body), "internal detail") || strings.Contains(string(r.Body), "redis") {
				t.Fatalf("OP-01: body leaks the cause: %s", r.Body)
			}
		})
	}
}

func TestChallengeQuoting(t *testing.T) {
	e := newError(ErrInsufficientScope, nil)
	e.Scope = []string{`we"ird\scope`, "x\r\ny"}
	got := bearerChallenge(`re"alm`, e)
	if strings.ContainsAny(got, "\r\n") {
		t.Fatalf("CR/LF reached the header: %q", got)
	}
	if !challengeRE.MatchString(got) {
		t.Fatalf("%q is not a valid challenge", got)
	}
}

func TestErrorsIs(t *testing.T) {
	cause := errors.New("cause")
	e := newError(ErrSessionRevoked, cause)
	if !errors.Is(e, ErrSessionRevoked) || !errors.Is(e, cause) || errors.Is(e, ErrInvalidToken) {
		t.Fatalf("errors.Is does not see the sentinel and the cause alone: %v", e)
	}
	var ae *Error
	if !errors.As(error(e), &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatal("errors.As")
	}
	// A foreign error is refused as an invalid token, never as success.
	if got := asError(errors.New("x")); got.Status != 401 || !errors.Is(got, ErrInvalidToken) {
		t.Fatalf("asError: %+v", got)
	}
}
