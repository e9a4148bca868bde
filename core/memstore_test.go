package core_test

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts core.StoreOptions) core.SessionStore {
		return core.NewMemoryStore(opts)
	})
}

// sweepers counts running MemoryStore sweeper goroutines.
func sweepers() int {
	buf := make([]byte, 8<<20)
	n := runtime.Stack(buf, true)
	// Every goroutine's trace names its creator, whether it has run yet or not.
	return strings.Count(string(buf[:n]), "created by github.com/authgate/authgate/core.NewMemoryStore")
}

func TestMemoryStoreCloseEndsItsSweeper(t *testing.T) {
	before := sweepers()
	stores := make([]*core.MemoryStore, 5)
	for i := range stores {
		stores[i] = core.NewMemoryStore(core.StoreOptions{})
	}
	if got := sweepers(); got != before+5 {
		t.Fatalf("%d sweepers running, want %d", got, before+5)
	}
	for _, s := range stores {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		_ = s.Close() // idempotent
	}
	// Close waits for the sweeper; a sweeper that has signalled its end may
	// still be on its way out of the stack dump for a moment, so wait
	// (bounded) for it to go.
	got := sweepers()
	for i := 0; i < 500 && got != before; i++ {
		time.Sleep(2 * time.Millisecond)
		got = sweepers()
	}
	if got != before {
		t.Fatalf("goroutine leak: %d sweepers after Close, want %d", got, before)
	}
}

func TestMemoryStoreSweepRemovesExpiredSessions(t *testing.T) {
	clk := storetest.NewClock()
	m := core.NewMemoryStore(core.StoreOptions{IdleTimeout: time.Minute, Now: clk.Now, Audit: &storetest.AuditRecorder{}})
	defer m.Close()
	for range 10 {
		if _, _, err := m.Create(context.Background(), core.SessionParams{Subject: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Minute)
	if m.Len() != 10 {
		t.Fatalf("Len = %d before the sweep", m.Len())
	}
	m.SweepNow()
	if m.Len() != 0 {
		t.Fatalf("Len = %d after the sweep, want 0", m.Len())
	}
}

func TestMemoryStoreClosedRefusesCreate(t *testing.T) {
	m := core.NewMemoryStore(core.StoreOptions{})
	m.Close()
	if _, _, err := m.Create(context.Background(), core.SessionParams{Subject: "a"}); err == nil {
		t.Fatal("Create on a closed store succeeded")
	}
}

func TestSlogAuditIsTheDefault(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	m := core.NewMemoryStore(core.StoreOptions{})
	defer m.Close()
	s, tok, _ := m.Create(context.Background(), core.SessionParams{Subject: "user-9"})
	if err := m.Revoke(context.Background(), s.ID, core.WithReason("password changed"), core.WithActor("admin-1")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`"msg":"authgate: session revoked"`, `"session_id":"` + s.ID, `"subject":"user-9"`, `"reason":"password changed"`, `"actor":"admin-1"`} {
		if !strings.Contains(out, want) {
			t.Fatalf("audit log %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, tok) {
		t.Fatal("the audit log contains the opaque token")
	}
}
