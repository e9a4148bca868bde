// Package flowtest walks the example apps' contract end to end. Each example
// runs the same walks against its own real server on a loopback port:
//
//	func TestFlow(t *testing.T) { flowtest.Flow(t, run) }
//
// Row ids (SS-02, CK-01, OP-08, ...) name the SECURITY-CATALOG rows a case
// proves.
package flowtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Run is the signature of each example's run function: serve until ctx ends,
// reading configuration through getenv, printing the banner to out, and
// sending the base URL on ready once listening.
type Run func(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string) error

// App is a running example app.
type App struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string
	out *syncBuffer

	client *http.Client
	stop   func() error // cancels run and waits for it, once
}

// Output returns what the app printed so far.
func (a *App) Output() string { return a.out.String() }

// Start runs the app with env (ADDR defaults to a free loopback port) and
// stops it when the test ends, failing the test if run returned an error.
func Start(t testing.TB, run Run, env map[string]string) *App {
	t.Helper()
	vars := map[string]string{"ADDR": "127.0.0.1:0"}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	transport := &http.Transport{}
	app := &App{out: &syncBuffer{}, client: &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	go func() { done <- run(ctx, func(k string) string { return vars[k] }, app.out, ready) }()
	select {
	case app.URL = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("app did not start: %v\noutput:\n%s", err, app.Output())
	}
	app.stop = sync.OnceValue(func() error {
		cancel()
		err := <-done
		transport.CloseIdleConnections()
		return err
	})
	t.Cleanup(func() {
		if err := app.Stop(); err != nil {
			t.Errorf("app stopped with an error: %v", err)
		}
	})
	return app
}

// Stop stops the app and returns what run returned. Start's cleanup calls
// it too; calling it again returns the same.
func (a *App) Stop() error { return a.stop() }

// StartErr runs the app with env and returns the error it fails to start
// with; the test fails if it starts.
func StartErr(t testing.TB, run Run, env map[string]string) error {
	t.Helper()
	vars := map[string]string{"ADDR": "127.0.0.1:0"}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return vars[k] }, io.Discard, ready) }()
	select {
	case u := <-ready:
		cancel()
		<-done
		t.Fatalf("app started on %s; want a start-up error", u)
		return nil
	case err := <-done:
		if err == nil {
			t.Fatal("app returned no error and never started")
		}
		return err
	}
}

// Req is one request to the app.
type Req struct {
	Method string
	Path   string
	// Bearer is sent as "Authorization: Bearer <Bearer>" when not empty.
	Bearer string
	// Cookie is sent as the access_token cookie when not empty.
	Cookie string
	// Header holds further headers (Sec-Fetch-Site, Origin, ...).
	Header map[string]string
	// Form is sent as an application/x-www-form-urlencoded body.
	Form url.Values
}

// Resp is the app's answer.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object; it fails the test when it is not one.
func (r Resp) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Cookie returns the Set-Cookie of name, or nil.
func (r Resp) Cookie(name string) *http.Cookie {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Do sends q to the app with a client that keeps no cookies and follows no
// redirects.
func (a *App) Do(t testing.TB, q Req) Resp {
	t.Helper()
	var body io.Reader
	if q.Form != nil {
		body = strings.NewReader(q.Form.Encode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, q.Method, a.URL+q.Path, body)
	if err != nil {
		t.Fatal(err)
	}
	if q.Form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if q.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+q.Bearer)
	}
	if q.Cookie != "" {
		req.AddCookie(&http.Cookie{Name: "access_token", Value: q.Cookie})
	}
	for k, v := range q.Header {
		req.Header.Set(k, v)
	}
	res, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", q.Method, q.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", q.Method, q.Path, err)
	}
	return Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Expect sends q and fails the test unless the status is want.
func (a *App) Expect(t testing.TB, q Req, want int) Resp {
	t.Helper()
	r := a.Do(t, q)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d\nbody: %s", q.Method, q.Path, r.Status, want, r.Body)
	}
	return r
}

// Login logs subject in through POST /dev/login with roles and returns the
// token and session id.
func (a *App) Login(t testing.TB, subject string, roles ...string) (token, sid string) {
	t.Helper()
	form := url.Values{"subject": {subject}}
	if len(roles) > 0 {
		form.Set("roles", strings.Join(roles, ","))
	}
	m := a.Expect(t, Req{Method: "POST", Path: "/dev/login", Form: form}, 200).JSON(t)
	token, _ = m["access_token"].(string)
	sid, _ = m["sid"].(string)
	if token == "" || sid == "" {
		t.Fatalf("login answered no token or sid: %v", m)
	}
	return token, sid
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
