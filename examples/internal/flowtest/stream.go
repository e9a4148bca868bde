package flowtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// streamWait bounds every wait on a stream: a failure bound, not a timing
// assertion.
const streamWait = 20 * time.Second

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data map[string]any
}

// sseStream is a client of GET /events.
type sseStream struct {
	t    *testing.T
	body io.ReadCloser
	r    *bufio.Reader
}

// openEvents opens GET /events with tok and checks the answer's status and
// Content-Type.
func openEvents(t *testing.T, app *App, tok string) *sseStream {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, app.URL+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := (&http.Client{Timeout: 2 * streamWait}).Do(req)
	if err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events: status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("GET /events: Content-Type %q, want text/event-stream", ct)
	}
	return &sseStream{t: t, body: resp.Body, r: bufio.NewReader(resp.Body)}
}

// next reads one event; ok is false at the end of the response.
func (s *sseStream) next() (ev sseEvent, ok bool) {
	s.t.Helper()
	type res struct {
		ev  sseEvent
		err error
	}
	ch := make(chan res, 1)
	go func() {
		var ev sseEvent
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				ch <- res{ev, err}
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case line == "" && ev.name != "":
				ch <- res{ev, nil}
				return
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data); err != nil {
					ch <- res{ev, err}
					return
				}
			}
		}
	}()
	select {
	case r := <-ch:
		if errors.Is(r.err, io.EOF) && r.ev.name == "" {
			return sseEvent{}, false
		}
		if r.err != nil {
			s.t.Fatalf("reading /events: %v", r.err)
		}
		return r.ev, true
	case <-time.After(streamWait):
		s.body.Close()
		s.t.Fatalf("no event within %v", streamWait)
		return sseEvent{}, false
	}
}

// Events opens GET /events with a token of the development issuer, logs
// out (POST /logout), and checks that the stream ends with an "end" event
// whose reason is "session revoked", then nothing; another session's
// stream goes on until the app shuts down ("server shutting down"). The time from the logout to the end is logged.
func Events(t *testing.T, run Run) {
	app := Start(t, run, nil)
	app.Expect(t, Req{Method: "GET", Path: "/events"}, 401)
	tok, _ := app.Login(t, "alice")
	other, _ := app.Login(t, "alice")
	s := openEvents(t, app, tok)
	o := openEvents(t, app, other)
	for _, st := range []*sseStream{s, o} {
		ev, ok := st.next()
		if !ok || ev.name != "open" || ev.data["sub"] != "alice" {
			t.Fatalf("first event %+v, want open naming alice", ev)
		}
	}
	start := time.Now()
	app.Expect(t, Req{Method: "POST", Path: "/logout", Bearer: tok}, 200)
	for {
		ev, ok := s.next()
		if !ok {
			t.Fatal("the stream ended without an end event")
		}
		if ev.name == "heartbeat" {
			continue
		}
		if ev.name != "end" || ev.data["reason"] != "session revoked" {
			t.Fatalf("event %+v, want end with the reason session revoked", ev)
		}
		break
	}
	t.Logf("logout to end event: %v", time.Since(start))
	if ev, ok := s.next(); ok {
		t.Fatalf("after the end event: %+v, want the response to end", ev)
	}
	app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: other}, 200)
	// The other session's stream was not ended by the logout: the app's
	// shutdown ends it.
	if err := app.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for {
		ev, ok := o.next()
		if !ok {
			t.Fatal("the other session's stream ended without an end event")
		}
		if ev.name == "heartbeat" {
			continue
		}
		if ev.name != "end" || ev.data["reason"] != "server shutting down" {
			t.Fatalf("the other session's stream: %+v, want end with the reason server shutting down", ev)
		}
		break
	}
}

// WebSocket connects to GET /ws with a token of the development issuer,
// echoes a message, logs out, and checks the close: status 1008 (policy
// violation), reason "session revoked". A connection without a token is
// refused with 401 before any upgrade.
func WebSocket(t *testing.T, run Run) {
	app := Start(t, run, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*streamWait)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(app.URL, "http") + "/ws"
	if _, resp, err := websocket.Dial(ctx, wsURL, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %v, %v; want 401", err, resp)
	}
	tok, _ := app.Login(t, "alice")
	c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tok}}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if typ, msg, err := c.Read(ctx); err != nil || typ != websocket.MessageText || string(msg) != "hello" {
		t.Fatalf("echo: %v %q %v", typ, msg, err)
	}
	start := time.Now()
	app.Expect(t, Req{Method: "POST", Path: "/logout", Bearer: tok}, 200)
	_, msg, err := c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("after the logout: %q, %v; want a close", msg, err)
	}
	t.Logf("logout to close: %v", time.Since(start))
	if ce.Code != websocket.StatusPolicyViolation || ce.Reason != "session revoked" {
		t.Fatalf("close %d %q, want 1008 (policy violation) %q", ce.Code, ce.Reason, "session revoked")
	}
}
