package core_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// httpRequest adapts *http.Request to core.Request, as nethttpauth does.
type httpRequest struct{ r *http.Request }

func (q httpRequest) Method() string              { return q.r.Method }
func (q httpRequest) Host() string                { return q.r.Host }
func (q httpRequest) Header(name string) []string { return q.r.Header[name] }
func (q httpRequest) RawQuery() string            { return q.r.URL.RawQuery }
func (q httpRequest) StdRequest() *http.Request   { return q.r }

// exampleToken mints an ES256 token for the examples.
func exampleToken(key *authtest.Key, exp time.Time) string {
	claims := fmt.Sprintf(`{"iss":"https://id.example.com","aud":"orders-api","sub":"alice","sid":"s-42","scope":"orders:read","iat":%d,"exp":%d}`,
		exp.Add(-5*time.Minute).Unix(), exp.Unix())
	return authtest.SignRaw(key, []byte(`{"alg":"ES256","kid":"k1","typ":"at+jwt"}`), []byte(claims))
}

// New with a static public key: no network at all. With only Issuer and
// Audience set, the keys are found by OIDC discovery instead.
func ExampleNew() {
	key := &authtest.Key{ID: "k1", Alg: "ES256", Private: authtest.GenerateKey("ES256")}
	auth, err := core.New(context.Background(), core.Config{
		Issuer:     "https://id.example.com",
		Audience:   []string{"orders-api"},
		PublicKeys: []string{authtest.PublicPEM(key)},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	// An unsafe configuration is refused with an error that says what to fix.
	_, err = core.New(context.Background(), core.Config{Issuer: "https://id.example.com"})
	fmt.Println(errors.Is(err, core.ErrConfig))
	// Output: true
}

// Authenticate a request; refusals are *core.Error values that render to an
// RFC 6750 response and never echo the token.
func ExampleAuthenticator_Authenticate() {
	key := &authtest.Key{ID: "k1", Alg: "ES256", Private: authtest.GenerateKey("ES256")}
	auth, err := core.New(context.Background(), core.Config{
		Issuer:     "https://id.example.com",
		Audience:   []string{"orders-api"},
		PublicKeys: []string{authtest.PublicPEM(key)},
		Algorithms: []string{"ES256"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer auth.Close()

	r := httptest.NewRequest("GET", "/orders", nil)
	r.Header.Set("Authorization", "Bearer "+exampleToken(key, time.Now().Add(5*time.Minute)))
	p, err := auth.Authenticate(r.Context(), httpRequest{r})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Subject, p.SessionID, p.Scopes, p.Source)

	r.Header.Set("Authorization", "Bearer "+exampleToken(key, time.Now().Add(-time.Minute)))
	_, err = auth.Authenticate(r.Context(), httpRequest{r})
	resp := adapter.Render(auth, err)
	fmt.Println(errors.Is(err, core.ErrTokenExpired), resp.Status)
	fmt.Println(resp.Header.Get("WWW-Authenticate"))
	// Output:
	// alice s-42 [orders:read] header
	// true 401
	// Bearer realm="api", error="invalid_token", error_description="the access token has expired"
}
