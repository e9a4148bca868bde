package core_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

type stdReq struct{ r *http.Request }

func (q stdReq) Method() string              { return q.r.Method }
func (q stdReq) Host() string                { return q.r.Host }
func (q stdReq) Header(name string) []string { return q.r.Header[name] }
func (q stdReq) RawQuery() string            { return q.r.URL.RawQuery }

func TestSmoke(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		iss := authtest.New(t, authtest.WithAlg(alg))
		a, err := core.New(context.Background(), iss.Config())
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+iss.Token(authtest.Claims{"scope": "a b"}))
		p, err := a.Authenticate(context.Background(), stdReq{r})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if p.Subject != "user-1" || p.SessionID != "session-1" || len(p.Scopes) != 2 {
			t.Fatalf("%+v", p)
		}
		r.Header.Set("Authorization", "Bearer "+iss.Token(authtest.Claims{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()}))
		_, err = a.Authenticate(context.Background(), stdReq{r})
		if !errors.Is(err, core.ErrTokenExpired) {
			t.Fatalf("want expired, got %v", err)
		}
	}
}
