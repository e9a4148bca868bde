package redisstore

import (
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storetest"
)

// TestConformance runs the SessionStore contract (core/storetest) against
// the Redis store: timeouts on the suite's clock, the session cap under
// parallel creates (SS-18), RevokeSubject racing creates (SS-03), opaque
// tokens by hash (SS-13), the feed.
func TestConformance(t *testing.T) {
	addr := sharedAddr(t)
	storetest.Run(t, func(t *testing.T, opts core.StoreOptions) core.SessionStore {
		return newStore(t, addr, Options{
			IdleTimeout: opts.IdleTimeout, AbsoluteTimeout: opts.AbsoluteTimeout, MaxSessions: opts.MaxSessions,
			EvictOldest: opts.EvictOldest, TouchInterval: opts.TouchInterval, Audit: opts.Audit, Now: opts.Now,
		})
	})
}
