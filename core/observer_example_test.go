package core_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

// An Observer sees every decision without the token: here, refusals by
// reason class. Package otelauth turns the same events into OpenTelemetry
// metrics and spans.
func ExampleObserverFunc() {
	cfg := core.Config{
		Issuer:     "https://id.example.com/",
		Audience:   []string{"api"},
		PublicKeys: []string{"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----"},
		Observer: core.ObserverFunc(func(ctx context.Context, e core.Event) {
			if e.Kind == core.EventRefused {
				fmt.Println(e.Kind, e.Class, e.Status)
			}
		}),
	}
	auth, err := core.New(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	defer auth.Close()

	r := httptest.NewRequest("GET", "/", nil)
	adapter.Admit(auth, context.Background(), request{r}, false)
	r.Header.Set("Authorization", "Bearer not.a.token")
	adapter.Admit(auth, context.Background(), request{r}, false)
	// Output:
	// refused no_token 401
	// refused invalid_token 401
}
