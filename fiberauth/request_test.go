package fiberauth

import (
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// The core.Request over fasthttp returns every field line of a header
// (EX-06, CK-09), and strings that stay the same when fasthttp reuses its
// buffers for the next request.
func TestRequestCopiesEveryFieldLine(t *testing.T) {
	app := fiber.New()
	var fctx fasthttp.RequestCtx
	fctx.Request.Header.SetMethod("GET")
	fctx.Request.SetRequestURI("/me?a=b")
	fctx.Request.Header.SetHost("api.example")
	fctx.Request.Header.Add("Authorization", "Bearer AAAA")
	fctx.Request.Header.Add("Authorization", "Bearer BBBB")
	fctx.Request.Header.Add("Cookie", "access_token=CCCC")
	fctx.Request.Header.Add("Cookie", "access_token=DDDD")
	c := app.AcquireCtx(&fctx)
	defer app.ReleaseCtx(c)
	q := request{c}

	method, host, query := q.Method(), q.Host(), q.RawQuery()
	auth, cookie := q.Header("Authorization"), q.Header("Cookie")
	if q.Header("X-Absent") != nil {
		t.Errorf("absent header: %q, want nil", q.Header("X-Absent"))
	}
	if want := []string{"Bearer AAAA", "Bearer BBBB"}; !slices.Equal(auth, want) {
		t.Errorf("Authorization %q, want %q", auth, want)
	}
	// fasthttp may hand cookies back as one line (when it has parsed them);
	// both occurrences must be there either way (CK-09).
	if got := strings.Join(cookie, "; "); got != "access_token=CCCC; access_token=DDDD" {
		t.Errorf("Cookie %q, want both access_token cookies", cookie)
	}

	// The next request on this connection overwrites the buffers in place.
	fctx.Request.Header.SetMethod("PUT")
	fctx.Request.SetRequestURI("/xx?c=d")
	fctx.Request.Header.SetHost("evil.examp")
	fctx.Request.Header.Del("Authorization")
	fctx.Request.Header.Del("Cookie")
	fctx.Request.Header.Add("Authorization", "Bearer ZZZZ")
	fctx.Request.Header.Add("Authorization", "Bearer YYYY")
	fctx.Request.Header.Add("Cookie", "access_token=XXXX")
	if method != "GET" || host != "api.example" || query != "a=b" {
		t.Errorf("after reuse: method %q host %q query %q", method, host, query)
	}
	if auth[0] != "Bearer AAAA" || auth[1] != "Bearer BBBB" || !strings.HasPrefix(cookie[0], "access_token=CCCC") {
		t.Errorf("after reuse: Authorization %q Cookie %q", auth, cookie)
	}
}

func TestMethodIsNotABufferView(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"} {
		b := []byte(m)
		got := method(string(b))
		for i := range b {
			b[i] = 'x'
		}
		if got != m {
			t.Errorf("method(%q) = %q after its buffer changed", m, got)
		}
	}
}

// Host is what net/http's Request.Host would be: the Host header as sent
// (not lower-cased), or the host of an absolute-form request line.
func TestRequestHostAsNetHTTP(t *testing.T) {
	app := fiber.New()
	for _, c := range []struct{ uri, host, want string }{
		{"/me", "API.Example:8080", "API.Example:8080"},
		{"http://Other.Example/me", "api.example", "Other.Example"},
		{"https://other.example:8443/me?x=1", "api.example", "other.example:8443"},
		{"*", "api.example", "api.example"},
	} {
		var fctx fasthttp.RequestCtx
		fctx.Request.Header.SetMethod("OPTIONS")
		fctx.Request.Header.SetRequestURI(c.uri)
		fctx.Request.Header.SetHost(c.host)
		ctx := app.AcquireCtx(&fctx)
		if got := (request{ctx}).Host(); got != c.want {
			t.Errorf("request line %q, Host %q: Host() = %q, want %q", c.uri, c.host, got, c.want)
		}
		app.ReleaseCtx(ctx)
	}
}
