// Command quickstart is the README's quick start: a complete API protected
// by authgate on net/http. GET /healthz is public, GET /me needs a valid
// token, POST /transfer also needs the token's session to be alive at the
// identity provider, checked live on every call.
//
//	ISSUER=https://id.example.com/ AUDIENCE=orders-api \
//	SESSION_URL='https://id.example.com/sessions/{sid}' go run ./examples/quickstart
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
	// Sensitive routes ask the identity provider whether the token's session
	// is still alive: 200 alive, 404 or 410 ended.
	sessions, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: os.Getenv("SESSION_URL")})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := core.New(ctx, core.Config{
		Issuer:   os.Getenv("ISSUER"), // keys found by OIDC discovery
		Audience: []string{os.Getenv("AUDIENCE")},
		Sessions: sessions,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	protected := nethttpauth.New(auth) // no valid token, no handler: 401
	mux.Handle("GET /me", protected(http.HandlerFunc(me)))
	mux.Handle("POST /transfer", protected(nethttpauth.Sensitive(http.HandlerFunc(transfer))))

	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	log.Printf("listening on http://%s", addr)
	log.Fatal(http.ListenAndServe(addr, mux))
}

func me(w http.ResponseWriter, r *http.Request) {
	p, _ := nethttpauth.Principal(r) // always there behind the middleware
	json.NewEncoder(w).Encode(map[string]any{"sub": p.Subject, "sid": p.SessionID, "scopes": p.Scopes})
}

func transfer(w http.ResponseWriter, r *http.Request) {
	p, _ := nethttpauth.Principal(r)
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "by": p.Subject, "session_checked": p.SessionChecked})
}
