package core

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// events records what Observe receives; counting adds CountCacheHit.
type events struct{ got []Event }

func (r *events) Observe(_ context.Context, e Event) { r.got = append(r.got, e) }

type counting struct {
	events
	hits  map[[2]int]int
	panic bool
}

func (c *counting) CountCacheHit(k Kind, s Source) {
	if c.panic {
		panic("counter broke")
	}
	c.hits[[2]int{int(k), int(s)}]++
}

func observedAuth(obs Observer, log *bytes.Buffer) *Authenticator {
	return &Authenticator{obs: obs, log: slog.New(slog.NewTextHandler(log, nil))}
}

// A cache hit goes to a CacheHitCounter without an Event; every other
// accepted token, and every hit for an Observer that does not count, is an
// EventAuthenticated as documented.
func TestObserveAuthenticatedDispatch(t *testing.T) {
	ctx := context.Background()
	p := &Principal{Issuer: "https://id.example/", Subject: "user-1", SessionID: "sid-1", Kind: KindJWT, Source: SourceCookie}
	start := time.Now().Add(-time.Millisecond)

	c := &counting{hits: map[[2]int]int{}}
	a := observedAuth(c, &bytes.Buffer{})
	a.observeAuthenticated(ctx, p, CacheHit, time.Time{})
	a.observeAuthenticated(ctx, p, CacheHit, time.Time{})
	a.observeAuthenticated(ctx, p, CacheMiss, start)
	a.observeAuthenticated(ctx, p, CacheOff, start)
	if n := c.hits[[2]int{int(KindJWT), int(SourceCookie)}]; n != 2 || len(c.hits) != 1 {
		t.Fatalf("CountCacheHit calls: %v, want 2 for (jwt, cookie)", c.hits)
	}
	if len(c.got) != 2 || c.got[0].Cache != CacheMiss || c.got[1].Cache != CacheOff {
		t.Fatalf("Observe got %+v, want the miss and the uncached token only", c.got)
	}
	for _, e := range c.got {
		if e.Kind != EventAuthenticated || e.Issuer != p.Issuer || e.Subject != p.Subject || e.SessionID != p.SessionID ||
			e.TokenKind != KindJWT || e.Source != SourceCookie || !e.Start.Equal(start) || e.Duration < time.Millisecond {
			t.Fatalf("event %+v", e)
		}
	}

	r := &events{}
	observedAuth(r, &bytes.Buffer{}).observeAuthenticated(ctx, p, CacheHit, time.Time{})
	if len(r.got) != 1 || r.got[0].Cache != CacheHit || !r.got[0].Start.IsZero() || r.got[0].Duration != 0 ||
		r.got[0].Subject != p.Subject {
		t.Fatalf("an Observer without CountCacheHit got %+v, want one untimed hit event", r.got)
	}
}

// A panicking CountCacheHit is recovered and logged, like a panicking
// Observe (OP-05).
func TestPanickingCacheHitCounterIsRecovered(t *testing.T) {
	var log bytes.Buffer
	a := observedAuth(&counting{panic: true}, &log)
	p := &Principal{Kind: KindJWT, Source: SourceHeader}
	a.observeAuthenticated(context.Background(), p, CacheHit, time.Time{})
	a.observeAuthenticated(context.Background(), p, CacheHit, time.Time{})
	if got := log.String(); strings.Count(got, "Observer panicked") != 1 || !strings.Contains(got, "event=authenticated") {
		t.Fatalf("log %q, want one line for the panic", got)
	}
}
