// Command redis is net/http with sessions and the revocation feed in Redis,
// built by the install test outside the workspace; it is never run.
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/nethttpauth"
	"github.com/authgate/authgate/redisstore"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx := context.Background()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"},
		ContextTimeoutEnabled: true}) // calls end at their context's deadline: live checks skip a goroutine handoff
	defer rdb.Close()
	store, err := redisstore.New(ctx, rdb, redisstore.Options{IdleTimeout: 30 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	auth, err := core.New(ctx, core.Config{
		Issuer:      os.Getenv("ISSUER"),
		Audience:    []string{"orders-api"},
		Sessions:    store,
		Revocations: store,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()
	mux := http.NewServeMux()
	mux.Handle("POST /transfer", nethttpauth.Sensitive(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	log.Fatal(http.ListenAndServe(":8080", nethttpauth.New(auth)(mux)))
}
