package soak

import (
	"context"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// slogLogger counts what authgate and redisstore log at Info and above, and
// checks that no record carries a JWT (every token of the test starts with
// "eyJ", the base64url of `{"`). SOAK_LOG=1 also prints the records.
type slogLogger struct {
	*slog.Logger
	warn, errs, tokens atomic.Int64

	mu    sync.Mutex
	first map[string]int // message -> count (Warn and above)
}

func newSlogLogger() *slogLogger {
	l := &slogLogger{first: map[string]int{}}
	var next slog.Handler = slog.DiscardHandler
	if os.Getenv("SOAK_LOG") != "" {
		next = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})
	}
	l.Logger = slog.New(&countingHandler{l: l, next: next})
	return l
}

type countingHandler struct {
	l     *slogLogger
	next  slog.Handler
	attrs []slog.Attr
}

func (h *countingHandler) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	if strings.Contains(b.String(), "eyJ") {
		h.l.tokens.Add(1)
	}
	switch {
	case r.Level >= slog.LevelError:
		h.l.errs.Add(1)
	case r.Level >= slog.LevelWarn:
		h.l.warn.Add(1)
	}
	if r.Level >= slog.LevelWarn {
		h.l.mu.Lock()
		h.l.first[r.Message]++
		h.l.mu.Unlock()
	}
	return h.next.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &countingHandler{l: h.l, next: h.next.WithAttrs(as), attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	return &countingHandler{l: h.l, next: h.next.WithGroup(name), attrs: h.attrs}
}

// messages returns the Warn and Error messages with their counts.
func (l *slogLogger) messages() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.first))
	for k, v := range l.first {
		out[k] = v
	}
	return out
}

// errorLog is the http.Server ErrorLog of every server of a run: it counts
// lines, and the lines net/http writes when a handler panics.
type errorLog struct {
	lines, panics atomic.Int64
	mu            sync.Mutex
	sample        []string
}

func (e *errorLog) Write(p []byte) (int, error) {
	e.lines.Add(1)
	s := string(p)
	if strings.Contains(s, "panic") {
		e.panics.Add(1)
	}
	e.mu.Lock()
	if len(e.sample) < 5 {
		if len(s) > 200 {
			s = s[:200]
		}
		e.sample = append(e.sample, strings.TrimSpace(s))
	}
	e.mu.Unlock()
	if os.Getenv("SOAK_LOG") != "" {
		_, _ = os.Stderr.Write(p)
	}
	return len(p), nil
}

func (e *errorLog) logger() *log.Logger { return log.New(e, "", 0) }
