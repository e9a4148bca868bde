package core_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// TestJoinedCheckAfterEndpointRevocation: a sensitive request that starts
// after the session endpoint revoked the session is refused even when a
// check of that session, begun before the revocation, is still in flight:
// it does not take that check's "active" answer (found by the soak test).
// Callers arriving during one call still share the next: the endpoint sees
// one call at a time per session.
func TestJoinedCheckAfterEndpointRevocation(t *testing.T) {
	iss := authtest.New(t)
	var revoked atomic.Bool
	var calls, inFlight, maxInFlight atomic.Int32
	answered := make(chan struct{}, 64)
	release := make(chan struct{})
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		active := !revoked.Load() // the endpoint reads the state...
		answered <- struct{}{}
		if calls.Load() == 1 {
			<-release // ...and its first answer is slow to come back
		}
		if !active {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer ep.Close()
	chk, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: ep.URL + "/sessions/{sid}"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := iss.Config()
	cfg.Sessions = chk
	cfg.Logger = quiet
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tok := iss.Token(authtest.Claims{"sid": "s-1"})
	sensitive := func() int {
		r := httptest.NewRequest("POST", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		ctx, err := adapter.Admit(a, context.Background(), adapter.HTTPRequest(r), false)
		if err == nil {
			err = core.Require(ctx, core.Requirements{Sensitive: true})
		}
		if err != nil {
			return adapter.Render(a, err).Status
		}
		return http.StatusOK
	}
	var wg sync.WaitGroup
	var first int
	wg.Go(func() { first = sensitive() })
	<-answered          // request 1's check has read "active" at the endpoint
	revoked.Store(true) // the endpoint revokes the session: acknowledged
	const later = 8
	statuses := make([]int, later)
	for i := range later {
		wg.Go(func() { statuses[i] = sensitive() }) // start after the revocation
	}
	time.Sleep(100 * time.Millisecond) // lets them reach the shared call
	close(release)
	wg.Wait()
	if first != http.StatusOK {
		t.Errorf("request that started before the revocation: %d, want 200 (its check read active)", first)
	}
	for i, st := range statuses {
		if st != http.StatusUnauthorized {
			t.Errorf("request %d started after the revocation: %d, want 401", i, st)
		}
	}
	if n := calls.Load(); n < 2 || n > 1+later {
		t.Errorf("endpoint calls = %d", n)
	}
	if m := maxInFlight.Load(); m != 1 {
		t.Errorf("at most %d calls of one session in flight at once, want 1", m)
	}
}
