package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

func ExampleMemoryStore() {
	ctx := context.Background()
	store := core.NewMemoryStore(core.StoreOptions{
		IdleTimeout:     30 * time.Minute,
		AbsoluteTimeout: 7 * 24 * time.Hour,
		MaxSessions:     5, EvictOldest: true,
		Audit: core.AuditFunc(func(_ context.Context, e core.AuditEvent) {
			fmt.Printf("audit: %s revoked (%s) by %s\n", e.Subject, e.Reason, e.Actor)
		}),
	})
	defer store.Close()

	s, _, _ := store.Create(ctx, core.SessionParams{Subject: "user-42"})
	st, _ := store.Check(ctx, s.ID)
	fmt.Println("active:", st == core.StateActive)

	n, _ := store.RevokeSubject(ctx, "user-42", core.WithReason("password changed"), core.WithActor("user-42"))
	st, _ = store.Check(ctx, s.ID)
	fmt.Println("ended:", n, "active:", st == core.StateActive)
	// Output:
	// active: true
	// audit: user-42 revoked (password changed) by user-42
	// ended: 1 active: false
}

// Opaque session tokens: the store hands out a random token and keeps only
// its SHA-256; the authenticator looks it up on every request.
func ExampleMemoryStore_opaqueTokens() {
	ctx := context.Background()
	store := core.NewMemoryStore(core.StoreOptions{Audit: core.AuditFunc(func(context.Context, core.AuditEvent) {})})
	defer store.Close()
	auth, err := core.New(ctx, core.Config{Opaque: store, Sessions: store})
	if err != nil {
		panic(err)
	}
	defer auth.Close()

	s, token, _ := store.Create(ctx, core.SessionParams{Subject: "user-42", Scopes: []string{"orders:read"}})
	r := httptest.NewRequest("GET", "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	p, err := auth.Authenticate(ctx, sessReq{r})
	fmt.Println(p.Subject, p.Kind, p.HasScope("orders:read"), err)

	store.Revoke(ctx, s.ID, core.WithReason("logout"))
	_, err = auth.Authenticate(ctx, sessReq{r})
	fmt.Println(errors.Is(err, core.ErrSessionRevoked), adapter.Render(auth, err).Status)
	// Output:
	// user-42 opaque true <nil>
	// true 401
}
