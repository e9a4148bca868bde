package fiberauth_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adaptertest"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/fiberauth"
	"github.com/gofiber/fiber/v2"
)

// keepingStore is an opaque-token store that keeps every token it is given,
// as a cache or a background introspection call would.
type keepingStore struct {
	mu   sync.Mutex
	seen []string
}

func (s *keepingStore) AuthenticateOpaque(_ context.Context, token string) (*core.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, token)
	return &core.Session{ID: "opaque-" + token[:8], Subject: "opaque-user-" + token[:8]}, nil
}

// TestRetainedValuesSurviveBufferReuse: the adapter hands the core views of
// fasthttp's buffers, which the next request on a keep-alive connection
// overwrites in place. Everything that outlives a request must be a copy:
// the verified-token cache's keys (each token, sent again later, must be
// served as itself), the principals handlers keep, what an Observer keeps,
// and the tokens an opaque-token store keeps.
func TestRetainedValuesSurviveBufferReuse(t *testing.T) {
	iss := authtest.New(t)
	store := &keepingStore{}
	var (
		mu     sync.Mutex
		events []core.Event
	)
	cfg := adaptertest.Config(iss, &adaptertest.Sessions{})
	cfg.Opaque = store
	cfg.Observer = core.ObserverFunc(func(_ context.Context, e core.Event) {
		if e.Kind == core.EventAuthenticated {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	auth, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Close() })

	var kept []*core.Principal
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use(fiberauth.New(auth))
	app.Get("/me", func(c *fiber.Ctx) error {
		p, _ := fiberauth.Principal(c)
		kept = append(kept, p)
		return c.SendString(p.Subject + " " + p.SessionID)
	})
	base := "http://" + start(t, app)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}} // one connection: buffers reused
	defer client.CloseIdleConnections()
	get := func(tok, pad string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		// Sent before Authorization (the client sorts header names): the
		// token lands at another offset of the reused buffer.
		req.Header.Set("A-Pad", pad)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return string(body)
	}

	// Same-length subjects and sids: every token overwrites the last one's
	// bytes in place.
	const n = 16
	toks := make([]string, n)
	opaque := make([]string, n)
	for i := range n {
		toks[i] = iss.Token(authtest.Claims{"sub": fmt.Sprintf("user-%02d", i), "sid": fmt.Sprintf("sess-%02d", i)})
		opaque[i] = fmt.Sprintf("opaqueToken%02dxxxxxxxxxxxxxxxxxxxxx", i)
	}
	for round := range 2 { // the second round is served by the token cache
		for i := range n {
			pad := strings.Repeat("p", 1+(i+round)%3)
			if got, want := get(toks[i], pad), fmt.Sprintf("user-%02d sess-%02d", i, i); got != want {
				t.Fatalf("round %d, token %d answered as %q, want %q", round, i, got, want)
			}
			if got, want := get(opaque[i], pad), "opaque-user-opaqueTo opaque-opaqueTo"; got != want {
				t.Fatalf("round %d, opaque token %d answered as %q, want %q", round, i, got, want)
			}
		}
	}
	for i, p := range kept {
		tok := i / 2 % n
		if i%2 == 1 {
			continue // opaque
		}
		if p.Subject != fmt.Sprintf("user-%02d", tok) || p.SessionID != fmt.Sprintf("sess-%02d", tok) {
			t.Errorf("kept principal %d now says sub=%q sid=%q", i, p.Subject, p.SessionID)
		}
	}
	for i, tok := range store.seen {
		if tok != opaque[i%n] {
			t.Errorf("the store's token %d now reads %q, want %q", i, tok, opaque[i%n])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 4*n {
		t.Fatalf("%d authenticated events, want %d", len(events), 4*n)
	}
	for i, e := range events {
		if i%2 == 1 {
			continue
		}
		// The second round's JWTs are found in the cache: its keys are the
		// tokens as they were sent, not views of the reused buffers.
		if want := core.CacheHit; i >= 2*n && e.Cache != want {
			t.Errorf("event %d: cache %v, want %v", i, e.Cache, want)
		}
		tok := i / 2 % n
		if e.Subject != fmt.Sprintf("user-%02d", tok) || e.SessionID != fmt.Sprintf("sess-%02d", tok) {
			t.Errorf("event %d now says sub=%q sid=%q", i, e.Subject, e.SessionID)
		}
	}
}
