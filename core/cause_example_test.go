package core_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http/httptest"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

// Why was a request refused? The response says only "invalid_token"; the
// cause is for the operator. Three places see it: the Debug log of
// Config.Logger (attribute "cause"), an Observer (Event.Cause), and a
// Renderer, which gets the *core.Error and can call core.Cause on it. None
// of them ever sees token bytes or claim values: the causes are authgate's
// fixed texts, and foreign errors are named by their Go type.
func ExampleCause() {
	cfg := core.Config{
		Issuer:     "https://id.example.com/",
		Audience:   []string{"api"},
		PublicKeys: []string{"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----"},
		Observer: core.ObserverFunc(func(ctx context.Context, e core.Event) {
			if e.Kind == core.EventRefused {
				fmt.Printf("observer: %s (%s)\n", e.Class, e.Cause)
			}
		}),
		Renderer: func(e *core.Error, realm string) core.Response {
			fmt.Printf("renderer: %d, cause %q\n", e.Status, core.Cause(e))
			return core.DefaultRenderer(e, realm)
		},
	}
	auth, err := core.New(context.Background(), cfg)
	if err != nil {
		panic(err)
	}
	defer auth.Close()

	b64 := base64.RawURLEncoding.EncodeToString
	otherIssuer := b64([]byte(`{"alg":"EdDSA"}`)) + "." +
		b64([]byte(`{"iss":"https://other.example/","sub":"alice","aud":"api","exp":4102444800}`)) + "." + b64(make([]byte, 64))
	for _, tok := range []string{otherIssuer, "not.a.token"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		if _, err := adapter.Admit(auth, context.Background(), request{r}, false); err != nil {
			adapter.Render(auth, err)
		}
	}
	// Output:
	// observer: invalid_token (iss names no configured issuer)
	// renderer: 401, cause "iss names no configured issuer"
	// observer: invalid_token (header is not canonical base64url)
	// renderer: 401, cause "header is not canonical base64url"
}
