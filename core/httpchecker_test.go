package core_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
)

// sessionStub is a session endpoint that records the raw request URIs and
// authorization headers it receives.
type sessionStub struct {
	*httptest.Server
	mu    sync.Mutex
	uris  []string
	auths []string
	h     atomic.Pointer[http.HandlerFunc]
}

func newSessionStub(t *testing.T, h http.HandlerFunc) *sessionStub {
	s := &sessionStub{}
	s.h.Store(&h)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.uris = append(s.uris, r.RequestURI)
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		s.mu.Unlock()
		(*s.h.Load())(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sessionStub) requests() ([]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.uris...), append([]string(nil), s.auths...)
}

func statusHandler(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func newHTTPChecker(t *testing.T, base string, mut func(o *core.HTTPSessionOptions)) *core.HTTPSessionChecker {
	t.Helper()
	o := core.HTTPSessionOptions{URL: base + "/api/sessions/{sid}", Header: http.Header{"Authorization": {"Bearer api-key"}}, Timeout: 200 * time.Millisecond}
	if mut != nil {
		mut(&o)
	}
	c, err := core.NewHTTPSessionChecker(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHTTPSessionCheckerAnswers(t *testing.T) {
	cases := []struct {
		name    string
		h       http.HandlerFunc
		state   core.SessionState
		unavail bool
	}{
		{"200 is active", statusHandler(200, `{"id":"x"}`), core.StateActive, false},
		{"200 with an HTML body is active (body ignored, SS-10)", statusHandler(200, "<html>"), core.StateActive, false},
		{"200 with an empty body is active", statusHandler(200, ""), core.StateActive, false},
		{"200 with a 100 MiB body is active and read only up to the cap", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			chunk := make([]byte, 1<<20)
			for range 100 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, core.StateActive, false},
		{"404 is revoked", statusHandler(404, ""), core.StateRevoked, false},
		{"410 is revoked", statusHandler(410, ""), core.StateRevoked, false},
		{"401 is unavailable", statusHandler(401, ""), 0, true},
		{"403 is unavailable", statusHandler(403, ""), 0, true},
		{"429 is unavailable", statusHandler(429, ""), 0, true},
		{"500 is unavailable", statusHandler(500, ""), 0, true},
		{"204 is unavailable", statusHandler(204, ""), 0, true},
		{"a redirect is unavailable, not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/api/sessions/other", http.StatusFound)
		}, 0, true},
		{"garbage instead of HTTP is unavailable", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Write([]byte("garbage\r\n\r\n"))
				conn.Close()
			}
		}, 0, true},
		{"a hanging endpoint is unavailable after the timeout (SS-09)", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stub := newSessionStub(t, tc.h)
			c := newHTTPChecker(t, stub.URL, nil)
			st, err := c.Check(context.Background(), "sess-1")
			if tc.unavail {
				if err == nil {
					t.Fatalf("state %v with no error, want an error", st)
				}
				return
			}
			if err != nil || st != tc.state {
				t.Fatalf("Check = %v, %v; want %v", st, err, tc.state)
			}
			uris, auths := stub.requests()
			if len(uris) != 1 || uris[0] != "/api/sessions/sess-1" || auths[0] != "Bearer api-key" {
				t.Fatalf("requests %v with %v", uris, auths)
			}
		})
	}
}

func TestHTTPSessionCheckerNeverSendsCredentialsOffOrigin(t *testing.T) {
	other := newSessionStub(t, statusHandler(200, ""))
	stub := newSessionStub(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	})
	c := newHTTPChecker(t, stub.URL, nil)
	if _, err := c.Check(context.Background(), "sess-1"); err == nil {
		t.Fatal("a redirect to another host was treated as an answer")
	}
	if uris, _ := other.requests(); len(uris) != 0 {
		t.Fatalf("SS-10: the redirect target was contacted: %v", uris)
	}
}

func TestHTTPSessionCheckerSessionIDInjection(t *testing.T) {
	stub := newSessionStub(t, statusHandler(200, ""))
	c := newHTTPChecker(t, stub.URL, nil)
	for _, sid := range []string{"", "a/b", "..", "../admin", "a?b", "a#b", "%2F", "a%2Fb", "a\r\nb", "{", "}", "*", "a b", strings.Repeat("x", 257)} {
		st, err := c.Check(context.Background(), sid)
		if err != nil || st != core.StateRevoked {
			t.Errorf("CL-16: sid %q: %v, %v; want revoked without a request", sid, st, err)
		}
	}
	if uris, _ := stub.requests(); len(uris) != 0 {
		t.Fatalf("CL-16: the session server received %v", uris)
	}
	const odd = "Abc-09_x.y~z:w"
	if st, err := c.Check(context.Background(), odd); err != nil || st != core.StateActive {
		t.Fatal(st, err)
	}
	uris, _ := stub.requests()
	if len(uris) != 1 || uris[0] != "/api/sessions/"+url.PathEscape(odd) {
		t.Fatalf("CL-16: the server received %v", uris)
	}
	if u, _ := url.ParseRequestURI(uris[0]); u.Path != "/api/sessions/"+odd {
		t.Fatalf("path %q is not one segment holding the sid", u.Path)
	}
}

func TestHTTPSessionCheckerConfig(t *testing.T) {
	for _, bad := range []string{
		"https://id.example.com/sessions",
		"https://id.example.com/sessions/{sid}/{sid}",
		"https://{sid}.example.com/sessions",
		"http://id.example.com/sessions/{sid}",
		"ftp://id.example.com/sessions/{sid}",
		"/sessions/{sid}",
	} {
		if _, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: bad}); !errors.Is(err, core.ErrConfig) {
			t.Errorf("URL %q: %v, want ErrConfig", bad, err)
		}
	}
	for _, good := range []string{"https://id.example.com/sessions/{sid}", "http://127.0.0.1:8080/s/{sid}/status", "http://localhost/s/{sid}"} {
		if _, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: good}); err != nil {
			t.Errorf("URL %q: %v", good, err)
		}
	}
	if _, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: "https://x/{sid}", Timeout: time.Hour}); !errors.Is(err, core.ErrConfig) {
		t.Error("a 1h timeout must be refused")
	}
}

func TestHTTPSessionCheckerThroughTheAuthenticator(t *testing.T) {
	var revoked atomic.Bool
	stub := newSessionStub(t, func(w http.ResponseWriter, r *http.Request) {
		if revoked.Load() {
			w.WriteHeader(404)
		}
	})
	c := newHTTPChecker(t, stub.URL, nil)
	e := newSessEnv(t, func(cfg *core.Config) { cfg.Sessions = c })
	tok := e.token("sess-1")
	if _, err := e.do(context.Background(), tok, true); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	if _, err := e.do(context.Background(), tok, true); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("SS-01: %v", err)
	}
	// Documented limitation (SS-02): no feed, so the JWT stays valid on
	// non-sensitive routes until it expires.
	if _, err := e.do(context.Background(), tok, false); err != nil {
		t.Fatalf("non-sensitive: %v", err)
	}
	stub.h.Store(func() *http.HandlerFunc { h := statusHandler(500, ""); return &h }())
	if _, err := e.do(context.Background(), e.token("sess-2"), true); statusOf(err) != 503 {
		t.Fatalf("SS-08: %v", err)
	}
}

func TestHTTPSessionCheckerErrorsDoNotCarryTheURL(t *testing.T) {
	stub := newSessionStub(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newHTTPChecker(t, stub.URL, func(o *core.HTTPSessionOptions) { o.URL = stub.URL + "/s/{sid}?key=SECRETKEY" })
	_, err := c.Check(context.Background(), "sess-1")
	if err == nil || strings.Contains(err.Error(), "SECRETKEY") || strings.Contains(err.Error(), stub.URL) {
		t.Fatalf("error %v", err)
	}
}

// The checker's own Timeout still bounds a call whose caller allows more
// (its context's deadline is later); a sooner caller deadline replaces it.
func TestHTTPSessionCheckerTimeoutBeforeALaterDeadline(t *testing.T) {
	stub := newSessionStub(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newHTTPChecker(t, stub.URL, nil) // Timeout 200ms
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := c.Check(ctx, "sess-1"); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a hanging endpoint answered")
		}
	case <-time.After(20 * time.Second): // a failure bound, not a timing assertion
		t.Fatal("the checker's Timeout did not end the call: it waited for the caller's later deadline")
	}
}
