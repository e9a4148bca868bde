package core_test

import (
	"encoding/json"
	"fmt"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// CheckKeySet judges each key of a JWK Set as an Authenticator would.
func ExampleCheckKeySet() {
	ec := authtest.PublicJWK(&authtest.Key{ID: "ec-1", Alg: "ES256", Private: authtest.GenerateKey("ES256")})
	oct := map[string]any{"kty": "oct", "kid": "hs-1", "k": "c2VjcmV0"}
	jwks, _ := json.Marshal(map[string]any{"keys": []any{ec, oct}})

	verdicts, err := core.CheckKeySet(jwks, nil) // nil: the default allow-list
	if err != nil {
		fmt.Println("not a key set:", err)
		return
	}
	for _, v := range verdicts {
		if v.Usable() {
			fmt.Printf("%s: verifies %v\n", v.KID, v.Algorithms)
		} else {
			fmt.Printf("%s: refused: %s\n", v.KID, v.Refused)
		}
	}
	// Output:
	// ec-1: verifies [ES256]
	// hs-1: refused: symmetric "oct" key in a public key set
}
