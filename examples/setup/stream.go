package setup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/coder/websocket"
)

// streams lets the app end its open streams before it shuts down.
type streams struct {
	once sync.Once
	done chan struct{}
}

func (s *streams) ch() chan struct{} {
	s.once.Do(func() { s.done = make(chan struct{}) })
	return s.done
}

// EndStreams ends every open GET /events stream (an "end" event with the
// reason "server shutting down") and GET /ws connection (close status 1001,
// going away). Call it when shutting down, before the server's Shutdown,
// which would otherwise wait for them.
func (a *App) EndStreams() {
	ch := a.streams.ch()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

// shutdownReason is the close reason of streams ended by EndStreams.
const shutdownReason = "server shutting down"

// Heartbeat is how often GET /events sends a heartbeat event.
const Heartbeat = 5 * time.Second

// EventsContentType is the Content-Type of GET /events.
const EventsContentType = "text/event-stream"

// EndReason is the close reason of a stream whose context (the adapter's
// StreamContext) ended with cause: "session revoked", "token expired",
// "unavailable" (revocations may be missing, or the server is closing), or
// "closed" (the client went away, or the handler returned).
func EndReason(cause error) string {
	switch {
	case errors.Is(cause, core.ErrSessionRevoked):
		return "session revoked"
	case errors.Is(cause, core.ErrTokenExpired):
		return "token expired"
	case errors.Is(cause, core.ErrUnavailable):
		return "unavailable"
	}
	return "closed"
}

// Events writes the server-sent event stream of GET /events to w: an
// "open" event naming the principal's subject, a "heartbeat" every
// [Heartbeat], and, when ctx (the adapter's StreamContext) ends, an "end"
// event with the reason ([EndReason]), after which the handler returns and
// the response ends; [App.EndStreams] ends it too. flush sends what was written; Events returns early
// when a write or flush fails (the client went away). The caller sets
// Content-Type to [EventsContentType] before.
func (a *App) Events(ctx context.Context, w io.Writer, flush func() error) {
	sub := ""
	if p, ok := core.PrincipalFrom(ctx); ok {
		sub = p.Subject
	}
	send := func(event string, data any) bool {
		b, _ := json.Marshal(data)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return flush() == nil
	}
	if !send("open", map[string]any{"sub": sub}) {
		return
	}
	t := time.NewTicker(Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-a.streams.ch():
			send("end", map[string]any{"reason": shutdownReason})
			return
		case <-ctx.Done():
			send("end", map[string]any{"reason": EndReason(context.Cause(ctx))})
			return
		case now := <-t.C:
			if !send("heartbeat", map[string]any{"at": now.Unix()}) {
				return
			}
		}
	}
}

// WebSocket serves GET /ws for a request the middleware admitted: it
// accepts the upgrade (coder/websocket refuses one from another origin
// than the Host, so that a page elsewhere cannot ride the caller's cookie),
// echoes every message, and when ctx (the adapter's StreamContext) ends
// closes with status 1008 (policy violation) and the reason
// ([EndReason]). It needs w to support hijacking (net/http, gin, echo).
func (a *App) WebSocket(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	// Not ctx for reads and writes: a cancelled one would drop the
	// connection without a close frame. The close handshake says why.
	stop := context.AfterFunc(ctx, func() {
		_ = c.Close(websocket.StatusPolicyViolation, EndReason(context.Cause(ctx)))
	})
	defer stop()
	stopping := make(chan struct{})
	defer close(stopping)
	go func() {
		select {
		case <-a.streams.ch():
			_ = c.Close(websocket.StatusGoingAway, shutdownReason)
		case <-stopping:
		}
	}()
	for {
		typ, msg, err := c.Read(context.Background())
		if err != nil {
			return
		}
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = c.Write(wctx, typ, msg)
		cancel()
		if err != nil {
			return
		}
	}
}
