package main

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecode runs the whole decode command in-process on arbitrary input:
// it never panics, and exits 0 (decoded, behind the UNVERIFIED banner) or 1
// (with a message), never anything else.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"", "a", "a.b", "a.b.c", "a.b.c.d.e", "...", "Bearer x.y.z",
		"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln",
		"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjFlMzAwfQ.c2ln",  // exp 1e300
		"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOi0xZTMwMH0.c2ln", // exp -1e300
		"eyJhbGciOiJSUzI1NiJ9.W10.c2ln",
		"e30=.e30=.c2ln",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(in), stdout: safeWriter{&out}, stderr: safeWriter{&errb}}
		switch code := e.main([]string{"decode"}); code {
		case exitOK:
			if !strings.HasPrefix(out.String(), "*** UNVERIFIED") {
				t.Fatalf("decoded without the banner: %q", out.String())
			}
		case exitFail:
			if errb.Len() == 0 {
				t.Fatalf("exit 1 without a message")
			}
		default:
			t.Fatalf("exit %d", code)
		}
	})
}

// TestRFC8414URL: the well-known segment goes between the host and the
// issuer's path (RFC 8414 section 3.1), not after the path as OIDC's does.
func TestRFC8414URL(t *testing.T) {
	for in, want := range map[string]string{
		"https://id.example.com":          "https://id.example.com/.well-known/oauth-authorization-server",
		"https://id.example.com/":         "https://id.example.com/.well-known/oauth-authorization-server",
		"https://id.example.com/tenant/a": "https://id.example.com/.well-known/oauth-authorization-server/tenant/a",
		"http://127.0.0.1:8080/t/":        "http://127.0.0.1:8080/.well-known/oauth-authorization-server/t",
	} {
		if got, err := rfc8414URL(in); err != nil || got != want {
			t.Errorf("rfc8414URL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := rfc8414URL("not a url"); err == nil {
		t.Error("rfc8414URL of a string without a host: no error")
	}
}
