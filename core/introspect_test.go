package core_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storekit"
)

// introspectionStub answers RFC 7662 requests with body(token), checking the
// client credentials, and counts calls.
type introspectionStub struct {
	*httptest.Server
	calls atomic.Int64
	body  atomic.Value // func(token string) (int, string)
}

func newIntrospectionStub(t *testing.T, body func(token string) (int, string)) *introspectionStub {
	s := &introspectionStub{}
	s.body.Store(body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		id, secret, ok := r.BasicAuth()
		// RFC 6749 section 2.3.1: both are form-urlencoded inside Basic.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if r.Method != "POST" || !ok || id != "rs-1" || secret != "s3cret+/=" {
			w.WriteHeader(401)
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
			w.WriteHeader(400)
			return
		}
		code, b := s.body.Load().(func(string) (int, string))(r.PostForm.Get("token"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, b)
	}))
	t.Cleanup(s.Close)
	return s
}

func newIntrospector(t *testing.T, url string, mut func(o *core.IntrospectionOptions)) *core.Introspector {
	t.Helper()
	o := core.IntrospectionOptions{Endpoint: url, ClientID: "rs-1", ClientSecret: "s3cret+/=", Issuer: "https://as.example", Audience: []string{"orders-api"}, Timeout: 500 * time.Millisecond}
	if mut != nil {
		mut(&o)
	}
	in, err := core.NewIntrospector(o)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestIntrospectorAnswers(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	past := time.Now().Add(-time.Minute).Unix()
	cases := []struct {
		name    string
		code    int
		body    string
		revoked bool // 401
		unavail bool // 503
	}{
		{"active", 200, fmt.Sprintf(`{"active":true,"sub":"u1","sid":"s-1","scope":"a b","exp":%d,"iss":"https://as.example","aud":["orders-api"],"token_type":"access_token","tenant":"acme","roles":["admin"]}`, exp), false, false},
		{"active with aud as a string", 200, `{"active":true,"sub":"u1","aud":"orders-api"}`, false, false},
		{"inactive, other members ignored (SS-11)", 200, `{"active":false,"sub":"u1","scope":"admin"}`, true, false},
		{"active missing", 200, `{"sub":"u1"}`, false, true},
		{"active is a string", 200, `{"active":"true","sub":"u1"}`, false, true},
		{"active is a number", 200, `{"active":1,"sub":"u1"}`, false, true},
		{"active is null", 200, `{"active":null,"sub":"u1"}`, false, true},
		{"duplicate active member", 200, `{"active":false,"active":true,"sub":"u1"}`, false, true},
		{"not JSON", 200, `<html>`, false, true},
		{"a JSON array", 200, `[true]`, false, true},
		{"past exp", 200, fmt.Sprintf(`{"active":true,"sub":"u1","exp":%d}`, past), true, false},
		{"foreign iss", 200, `{"active":true,"sub":"u1","iss":"https://evil.example"}`, true, false},
		{"foreign aud", 200, `{"active":true,"sub":"u1","aud":["other-api"]}`, true, false},
		{"refresh token", 200, `{"active":true,"sub":"u1","token_type":"refresh_token"}`, true, false},
		{"no sub", 200, `{"active":true}`, true, false},
		{"sub of the wrong type", 200, `{"active":true,"sub":7}`, true, false},
		{"unusable sid", 200, `{"active":true,"sub":"u1","sid":"../x"}`, true, false},
		{"500", 500, `{}`, false, true},
		{"401 (our credentials refused)", 401, ``, false, true},
		{"oversized answer", 200, `{"active":true,"sub":"u1","pad":"` + strings.Repeat("x", 70<<10) + `"}`, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stub := newIntrospectionStub(t, func(string) (int, string) { return tc.code, tc.body })
			in := newIntrospector(t, stub.URL, nil)
			tok, _ := storekit.NewOpaqueToken()
			s, err := in.AuthenticateOpaque(context.Background(), tok)
			switch {
			case tc.revoked:
				if !errors.Is(err, core.ErrSessionRevoked) {
					t.Fatalf("%v, want ErrSessionRevoked", err)
				}
			case tc.unavail:
				if err == nil || errors.Is(err, core.ErrSessionRevoked) {
					t.Fatalf("%v, want an error that is not a revocation", err)
				}
			default:
				if err != nil || s.Subject != "u1" || s.Issuer != "https://as.example" {
					t.Fatalf("%+v, %v", s, err)
				}
			}
		})
	}
}

func TestIntrospectorRequiresClientCredentials(t *testing.T) {
	for _, o := range []core.IntrospectionOptions{
		{Endpoint: "https://as.example/introspect"},
		{Endpoint: "https://as.example/introspect", ClientID: "rs"},
		{Endpoint: "http://as.example/introspect", ClientID: "rs", ClientSecret: "x"},
	} {
		if _, err := core.NewIntrospector(o); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig (SS-11)", o, err)
		}
	}
}

func TestIntrospectorRemembersInactiveTokens(t *testing.T) {
	stub := newIntrospectionStub(t, func(string) (int, string) { return 200, `{"active":false}` })
	in := newIntrospector(t, stub.URL, nil)
	tok, _ := storekit.NewOpaqueToken()
	for range 5 {
		if _, err := in.AuthenticateOpaque(context.Background(), tok); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatal(err)
		}
	}
	if n := stub.calls.Load(); n != 1 {
		t.Fatalf("SS-12: a replayed inactive token cost %d calls, want 1", n)
	}
	for range 20 { // random tokens: one call each, no more
		tok, _ := storekit.NewOpaqueToken()
		in.AuthenticateOpaque(context.Background(), tok)
	}
	if n := stub.calls.Load(); n != 21 {
		t.Fatalf("SS-12: %d calls for 21 distinct tokens", n)
	}
}

func TestIntrospectorThroughTheAuthenticator(t *testing.T) {
	stub := newIntrospectionStub(t, func(tok string) (int, string) {
		if strings.HasPrefix(tok, "good") {
			return 200, `{"active":true,"sub":"u1","sid":"s-9","scope":"orders:read","plan":"gold"}`
		}
		return 200, `{"active":false}`
	})
	in := newIntrospector(t, stub.URL, nil)
	a, err := core.New(context.Background(), core.Config{Opaque: in})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	auth := func(tok string) (*core.Principal, error) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return a.Authenticate(context.Background(), sessReq{r})
	}
	p, err := auth("good-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Plan string `json:"plan"`
	}
	if p.Subject != "u1" || p.SessionID != "s-9" || !p.HasScope("orders:read") || p.Kind != core.KindOpaque || !p.SessionChecked || p.Decode(&c) != nil || c.Plan != "gold" {
		t.Fatalf("principal %+v (claims %+v)", p, c)
	}
	if _, err := auth("bad-0123456789abcdefg"); statusOf(err) != 401 {
		t.Fatalf("inactive token: %v", err)
	}
}
