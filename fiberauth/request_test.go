package fiberauth

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// The core.Request over fasthttp returns every field line of a header
// (EX-06, CK-09), as views of fasthttp's buffers valid while the request is
// served; each Header call's slice is its own. That nothing the core keeps
// points into those buffers is tested end to end (TestRetainedValues...).
func TestRequestReturnsEveryFieldLine(t *testing.T) {
	app := fiber.New()
	var fctx fasthttp.RequestCtx
	fctx.Request.Header.SetMethod("GET")
	fctx.Request.SetRequestURI("/me?a=b")
	fctx.Request.Header.SetHost("api.example")
	fctx.Request.Header.Add("Authorization", "Bearer AAAA")
	fctx.Request.Header.Add("Authorization", "Bearer BBBB")
	fctx.Request.Header.Add("Cookie", "access_token=CCCC")
	fctx.Request.Header.Add("Cookie", "access_token=DDDD")
	fctx.Request.Header.Add("Origin", "https://a.example")
	fctx.Request.Header.Add("Sec-Fetch-Site", "cross-site")
	for i := range 9 {
		fctx.Request.Header.Add("X-Many", fmt.Sprint("v", i))
	}
	c := app.AcquireCtx(&fctx)
	defer app.ReleaseCtx(c)
	q := requests.Get().(*request)
	q.c = c

	if m, h, query := q.Method(), q.Host(), q.RawQuery(); m != "GET" || h != "api.example" || query != "a=b" {
		t.Errorf("method %q host %q query %q", m, h, query)
	}
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
	// Two results held at once (the core's cross-origin check does) do not
	// share memory, and appending to one does not write into the next.
	origin, site := q.Header("Origin"), q.Header("Sec-Fetch-Site")
	_ = append(origin, "appended")
	many := q.Header("X-Many") // more lines than the request has room for
	if !slices.Equal(origin, []string{"https://a.example"}) || !slices.Equal(site, []string{"cross-site"}) {
		t.Errorf("Origin %q Sec-Fetch-Site %q", origin, site)
	}
	if len(many) != 9 || many[0] != "v0" || many[8] != "v8" {
		t.Errorf("X-Many %q", many)
	}
	if !slices.Equal(auth, []string{"Bearer AAAA", "Bearer BBBB"}) {
		t.Errorf("Authorization changed by later calls: %q", auth)
	}
	q.release()
	if q.c != nil || q.used != 0 || q.vals != [8]string{} {
		t.Error("a released request still points at the request's buffers")
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
		if got := (&request{c: ctx}).Host(); got != c.want {
			t.Errorf("request line %q, Host %q: Host() = %q, want %q", c.uri, c.host, got, c.want)
		}
		app.ReleaseCtx(ctx)
	}
}
