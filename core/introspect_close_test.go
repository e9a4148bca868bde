package core_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/authgate/authgate/core"
)

// TestIntrospectorClose: Close ends an introspection in flight at once (not
// at its timeout), the waiting request is refused, and later calls fail
// without reaching the endpoint.
func TestIntrospectorClose(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	calls := make(chan struct{}, 16)
	stub := newIntrospectionStub(t, func(string) (int, string) {
		calls <- struct{}{}
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		return 200, `{"active":false}`
	})
	ignore := goleak.IgnoreCurrent()
	in := newIntrospector(t, stub.URL, func(o *core.IntrospectionOptions) { o.Timeout = 30 * time.Second })
	done := make(chan error, 1)
	go func() {
		_, err := in.AuthenticateOpaque(context.Background(), "opaque-0123456789abcdef")
		done <- err
	}()
	select {
	case <-entered:
	case <-time.After(leakWait):
		t.Fatal("no introspection started")
	}
	closeWithin(t, "Introspector.Close", in.Close)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("an introspection cancelled by Close admitted the token")
		}
	case <-time.After(leakWait):
		t.Fatal("Close did not end the introspection in flight")
	}
	if _, err := in.AuthenticateOpaque(context.Background(), "opaque-fedcba9876543210"); err == nil {
		t.Fatal("a closed Introspector admitted a token")
	}
	if n := len(calls); n != 1 {
		t.Fatalf("endpoint called %d times, want 1 (none after Close)", n)
	}
	close(release) // the stub's handler; the client side ended on Close
	noLeaks(t, ignore)
}
