package adaptertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storetest"
)

// RouteStream is GET /stream: New(auth) and a handler that streams with the
// adapter's StreamContext. The harness's handler takes the context from its
// adapter's StreamContext, defers the CancelFunc, sets Content-Type to
// [StreamContentType] and calls [Env.Stream] with a writer and a flush
// function of the framework's streaming response (fiber: inside
// c.Context().SetBodyStreamWriter, after the handler returned).
const RouteStream = "stream"

// StreamContentType is the Content-Type of RouteStream's answer.
const StreamContentType = "text/event-stream"

// streamTick is how often RouteStream writes a line.
const streamTick = 20 * time.Millisecond

// Stream is the body of RouteStream: a line "open sub=<subject>" at once,
// then "tick <n>" every 20 ms until ctx ends, then "end: <reason>" (see
// [EndReason]) as the last line. It returns when ctx ends or a write or
// flush fails (the client went away).
func (e *Env) Stream(ctx context.Context, w io.Writer, flush func() error) {
	sub := "?"
	if p, ok := core.PrincipalFrom(ctx); ok {
		sub = p.Subject
	}
	if _, err := fmt.Fprintf(w, "open sub=%s\n", sub); err != nil || flush() != nil {
		return
	}
	t := time.NewTicker(streamTick)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			_, _ = fmt.Fprintf(w, "end: %s\n", EndReason(context.Cause(ctx)))
			_ = flush()
			return
		case <-t.C:
			if _, err := fmt.Fprintf(w, "tick %d\n", n); err != nil || flush() != nil {
				return
			}
		}
	}
}

// EndReason names why a stream ended, from its context's cause: "session
// revoked", "token expired", "unavailable", "no token", "misconfigured",
// else "closed".
func EndReason(cause error) string {
	switch {
	case errors.Is(cause, core.ErrSessionRevoked):
		return "session revoked"
	case errors.Is(cause, core.ErrTokenExpired):
		return "token expired"
	case errors.Is(cause, core.ErrUnavailable):
		return "unavailable"
	case errors.Is(cause, core.ErrNoToken):
		return "no token"
	case errors.Is(cause, core.ErrMisconfigured):
		return "misconfigured"
	}
	return "closed"
}

// pushFeed is a RevocationFeed the suite pushes to.
type pushFeed struct {
	mu  sync.Mutex
	fns []func(core.Revocation)
}

func (f *pushFeed) SubscribeRevocations(_ context.Context, fn func(core.Revocation)) (func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fns = append(f.fns, fn)
	return func() {}, nil
}

func (f *pushFeed) push(r core.Revocation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fn := range f.fns {
		fn(r)
	}
}

// streamWait bounds every wait of the stream cases: a failure bound, not a
// timing assertion.
const streamWait = 15 * time.Second

// openStream is one client of RouteStream.
type openStream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

func startStream(t *testing.T, base, tok string) *openStream {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := (&http.Client{Timeout: 3 * streamWait}).Do(req)
	if err != nil {
		t.Fatalf("GET /stream: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /stream: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, StreamContentType) {
		t.Errorf("Content-Type %q, want %s", ct, StreamContentType)
	}
	s := &openStream{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
	if l := s.line(); !strings.HasPrefix(l, "open sub=") {
		t.Fatalf("first line %q, want open sub=...", l)
	}
	if l := s.line(); !strings.HasPrefix(l, "tick ") {
		t.Fatalf("second line %q, want a tick", l)
	}
	return s
}

// line reads one line, failing after streamWait.
func (s *openStream) line() string {
	s.t.Helper()
	type res struct {
		l   string
		err error
	}
	ch := make(chan res, 1)
	go func() { l, err := s.r.ReadString('\n'); ch <- res{l, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			s.t.Fatalf("reading the stream: %v (got %q)", r.err, r.l)
		}
		return strings.TrimSuffix(r.l, "\n")
	case <-time.After(streamWait):
		s.resp.Body.Close()
		s.t.Fatalf("no line within %v", streamWait)
		return ""
	}
}

// end reads until the end line, checks its reason and that nothing follows,
// and returns when it was read.
func (s *openStream) end(reason string) time.Time {
	s.t.Helper()
	for {
		l := s.line()
		if strings.HasPrefix(l, "tick ") {
			continue
		}
		at := time.Now()
		if want := "end: " + reason; l != want {
			s.t.Fatalf("last line %q, want %q", l, want)
		}
		rest, err := io.ReadAll(s.r)
		if len(rest) > 0 || err != nil {
			s.t.Errorf("after the end line: %q, %v; want the response to end", rest, err)
		}
		return at
	}
}

// runStream opens RouteStream and ends it every way a credential ends
// (issue 21).
func runStream(t *testing.T, h Harness, iss *authtest.Issuer) {
	store := core.NewMemoryStore(core.StoreOptions{Audit: &storetest.AuditRecorder{}})
	t.Cleanup(func() { _ = store.Close() })
	auth, err := core.New(context.Background(), Config(iss, store))
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	base := "http://" + h.Start(t, &Env{Auth: auth})
	ctx := context.Background()
	session := func(t *testing.T, sub string) string {
		t.Helper()
		s, _, err := store.Create(ctx, core.SessionParams{Subject: sub, Issuer: iss.URL})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}

	t.Run("session revoked; another session's stream stays open", func(t *testing.T) {
		sid, other := session(t, "user-1"), session(t, "user-1")
		s := startStream(t, base, iss.Token(authtest.Claims{"sid": sid}))
		o := startStream(t, base, iss.Token(authtest.Claims{"sid": other}))
		start := time.Now()
		if err := store.Revoke(ctx, sid, core.WithReason("conformance")); err != nil {
			t.Fatal(err)
		}
		at := s.end("session revoked")
		t.Logf("revocation to close: %v", at.Sub(start))
		for range 3 { // still flowing
			if l := o.line(); !strings.HasPrefix(l, "tick ") {
				t.Fatalf("the other session's stream: %q, want ticks", l)
			}
		}
	})
	t.Run("token expires", func(t *testing.T) {
		exp := time.Now().Add(2 * time.Second).Truncate(time.Second)
		if time.Until(exp) < 500*time.Millisecond {
			exp = exp.Add(time.Second)
		}
		s := startStream(t, base, iss.Token(authtest.Claims{"sid": session(t, "user-1"), "exp": exp.Unix()}))
		at := s.end("token expired")
		if at.Before(exp) {
			t.Errorf("ended %v before the token's exp", exp.Sub(at))
		}
		t.Logf("exp to close: %v", at.Sub(exp))
	})
	t.Run("subject cutoff", func(t *testing.T) {
		s := startStream(t, base, iss.Token(authtest.Claims{"sub": "user-cut", "sid": session(t, "user-cut")}))
		o := startStream(t, base, iss.Token(authtest.Claims{"sub": "user-kept", "sid": session(t, "user-kept")}))
		start := time.Now()
		err := store.PublishRevocation(ctx, core.Revocation{Cutoff: true, Subject: "user-cut", Issuer: iss.URL, At: time.Now()},
			core.WithReason("conformance"))
		if err != nil {
			t.Fatal(err)
		}
		at := s.end("session revoked")
		t.Logf("cutoff to close: %v", at.Sub(start))
		if l := o.line(); !strings.HasPrefix(l, "tick ") {
			t.Fatalf("another subject's stream: %q, want ticks", l)
		}
	})
	t.Run("feed behind, no checker", func(t *testing.T) {
		feed := &pushFeed{}
		cfg := Config(iss, nil)
		cfg.Revocations = feed
		a, err := core.New(context.Background(), cfg)
		if err != nil {
			t.Fatalf("core.New: %v", err)
		}
		t.Cleanup(func() { _ = a.Close() })
		b := "http://" + h.Start(t, &Env{Auth: a})
		s := startStream(t, b, iss.Token(authtest.Claims{"sid": "sess-behind"}))
		start := time.Now()
		feed.push(core.Revocation{Behind: true})
		at := s.end("unavailable")
		t.Logf("behind to close: %v", at.Sub(start))
	})
}
