// Command nethttp is the quick start on net/http, as a user writes it in a
// module of their own. The install test builds it outside the workspace
// against the modules of a release; it is never run.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/nethttpauth"
)

func main() {
	ctx := context.Background()
	store := core.NewMemoryStore(core.StoreOptions{})
	auth, err := core.New(ctx, core.Config{
		Issuer:   os.Getenv("ISSUER"), // keys found by OIDC discovery
		Audience: []string{"orders-api"},
		Sessions: store,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := nethttpauth.Principal(r)
		json.NewEncoder(w).Encode(map[string]any{"sub": p.Subject, "scopes": p.Scopes})
	})
	transfer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := core.PrincipalFrom(r.Context())
		json.NewEncoder(w).Encode(map[string]any{"sub": p.Subject, "session": p.SessionID})
	})
	mux := http.NewServeMux()
	mux.Handle("GET /me", me)                                     // JWT verified locally
	mux.Handle("POST /transfer", nethttpauth.Sensitive(transfer)) // + live session check
	mux.Handle("GET /admin", nethttpauth.RequireRoles(me, "admin"))
	log.Fatal(http.ListenAndServe(":8080", nethttpauth.New(auth)(mux)))
}
