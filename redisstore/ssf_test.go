package redisstore

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// TestSSFReachesEveryInstance: a Shared Signals event pushed to one
// instance's receiver (the Redis store as its publisher and jti memory)
// is refused on the other instance sharing the Redis: an opaque session
// id, and a subject cutoff; the same SET pushed to the other instance is
// refused as a replay (the jti memory is Redis). The received-to-refused
// delay on the other instance is logged (a measurement, not an assertion).
func TestSSFReachesEveryInstance(t *testing.T) {
	iss, a, b := twoInstances(t)
	ctx := context.Background()
	tr := authtest.NewTransmitter(t, "stream")
	recv := func(in *instance) *core.SSF {
		r, err := in.auth.SSF(ctx, core.SSFOptions{Issuer: tr.URL, Audience: "stream"})
		must(t, err)
		return r
	}
	ra, rb := recv(a), recv(b)
	push := func(r *core.SSF, set string) int {
		return r.Push(ctx, "POST", core.SETContentType, "", strings.NewReader(set)).Status
	}
	var delays []time.Duration
	for i := range 10 {
		sid := fmt.Sprintf("idp-session-%d", i)
		sub := fmt.Sprintf("ssf-user-%d", i)
		bySID := iss.Token(authtest.Claims{"sid": sid})
		old := iss.Token(authtest.Claims{"sub": sub, "sid": nil, "iat": time.Now().Add(-time.Minute).Unix()})
		for _, tok := range []string{bySID, old} {
			if st := b.status(tok, false); st != http.StatusOK {
				t.Fatalf("before: %d", st)
			}
		}
		set := tr.SET(core.CAEPSessionRevoked, map[string]any{"format": "opaque", "id": sid}, nil, nil)
		received := time.Now()
		if st := push(ra, set); st != http.StatusAccepted {
			t.Fatalf("push to A: %d", st)
		}
		waitUntil(t, 5*time.Second, "the session revoked on the other instance", func() bool { return b.status(bySID, false) == http.StatusUnauthorized })
		delays = append(delays, time.Since(received))
		if st := push(rb, set); st != http.StatusBadRequest {
			t.Fatalf("the same SET pushed to B: %d, want 400 (jti replayed, shared through Redis)", st)
		}
		if st := push(ra, tr.SET(core.RISCAccountDisabled, map[string]any{"format": "iss_sub", "iss": iss.URL, "sub": sub}, nil, nil)); st != http.StatusAccepted {
			t.Fatalf("push to A: %d", st)
		}
		waitUntil(t, 5*time.Second, "the cutoff on the other instance", func() bool { return b.status(old, false) == http.StatusUnauthorized })
	}
	slices.Sort(delays)
	t.Logf("SET received by A to its session refused on B: median %v, max %v (%d runs)", delays[len(delays)/2], delays[len(delays)-1], len(delays))
}
