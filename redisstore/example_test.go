package redisstore_test

import (
	"context"
	"log"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/redisstore"
	"github.com/redis/go-redis/v9"
)

// Sessions in Redis, shared by every instance of the API; a revocation on
// one instance is refused by all of them.
func ExampleNew() {
	ctx := context.Background()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"},
		ContextTimeoutEnabled: true}) // calls end at their context's deadline: live checks skip a goroutine handoff
	defer rdb.Close()
	store, err := redisstore.New(ctx, rdb, redisstore.Options{IdleTimeout: 30 * time.Minute, MaxSessions: 5, EvictOldest: true})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	cfg := core.Config{ /* issuers, audience ... */ }
	cfg.Sessions = store    // live checks on sensitive routes
	cfg.Revocations = store // the deny set, fed by every instance
	auth, err := core.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	// At login: open a session and mint tokens with "sid": sess.ID.
	sess, _, err := store.Create(ctx, core.SessionParams{Subject: "alice", Issuer: "https://id.example"})
	if err != nil {
		log.Fatal(err)
	}
	// At logout, on any instance:
	if err := store.Revoke(ctx, sess.ID, core.WithReason("logout"), core.WithActor("alice")); err != nil {
		log.Fatal(err)
	}
}
