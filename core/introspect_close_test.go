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
	closeDuring(t, "Introspector.Close", entered, in.Close, func() error {
		_, err := in.AuthenticateOpaque(context.Background(), "opaque-0123456789abcdef")
		return err
	})
	if _, err := in.AuthenticateOpaque(context.Background(), "opaque-fedcba9876543210"); err == nil {
		t.Fatal("a closed Introspector admitted a token")
	}
	if n := len(calls); n != 1 {
		t.Fatalf("endpoint called %d times, want 1 (none after Close)", n)
	}
	close(release) // the stub's handler; the client side ended on Close
	noLeaks(t, ignore)
}
