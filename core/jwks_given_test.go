package core_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// TestGivenKeySet: an application's own keyfunc.Keyfunc (over its own
// jwkset HTTP client, with its own refresh) or bare jwkset.Storage serves as
// an issuer's keys, with authgate's key policy and token checks on top.
func TestGivenKeySet(t *testing.T) {
	iss := startIssuer(t, "ES256")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{iss.JWKSURL()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := iss.Config()
	cfg.Logger = quiet
	cfg.Keyfunc = kf
	a := startAuth(t, cfg)
	accept(t, a, iss.Token(nil))
	// Every check on top: another audience is refused.
	refuse(t, a, iss.Token(authtest.Claims{"aud": "someone-else"}), core.ErrInvalidToken)
	// A rotated-in key: the unknown kid asks the application's storage,
	// which refetches under its own limiter.
	iss.Rotate("ES256")
	accept(t, a, iss.Token(nil))

	t.Run("a jwkset.Storage holding a weak and an oct key: the policy drops them", func(t *testing.T) {
		iss := startIssuer(t, "RS256")
		var set jwkset.JWKSMarshal
		if err := json.Unmarshal(iss.JWKS(), &set); err != nil {
			t.Fatal(err)
		}
		store, err := set.ToStorage()
		if err != nil {
			t.Fatal(err)
		}
		weakPriv, _ := rsa.GenerateKey(rand.Reader, 1024)
		weak := &authtest.Key{ID: "weak", Alg: "RS256", Private: weakPriv}
		wj, err := jwkset.NewJWKFromKey(weakPriv.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "weak", ALG: jwkset.AlgRS256}})
		if err != nil {
			t.Fatal(err)
		}
		oj, err := jwkset.NewJWKFromKey([]byte("an-oct-key-an-oct-key-an-oct-key!!"), jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: true}, Metadata: jwkset.JWKMetadataOptions{KID: "hs"}})
		if err != nil {
			t.Fatal(err)
		}
		store.KeyWrite(context.Background(), wj)
		store.KeyWrite(context.Background(), oj)
		cfg := iss.Config()
		cfg.Logger = quiet
		cfg.KeyStorage = store
		a := startAuth(t, cfg)
		accept(t, a, iss.Token(nil))
		if ids := fmt.Sprint(a.KeyIDs(iss.URL)); ids != fmt.Sprint([]string{iss.Signer().ID}) {
			t.Fatalf("loaded kids %s", ids)
		}
		refuse(t, a, iss.Sign(weak, nil, iss.Defaults()), core.ErrInvalidToken)
	})

	t.Run("Keyfunc with another key source is a config error", func(t *testing.T) {
		cfg := iss.Config()
		cfg.Keyfunc, cfg.JWKSURL = kf, iss.JWKSURL()
		if _, err := core.New(context.Background(), cfg); !errors.Is(err, core.ErrConfig) {
			t.Fatalf("New: %v, want ErrConfig", err)
		}
	})
}

// TestDiscoveredJWKSGetsTheIssuersScheme pins issue 14 item 9: an https
// issuer's discovery document naming an http loopback jwks_uri is refused,
// and that URL is never fetched.
func TestDiscoveredJWKSGetsTheIssuersScheme(t *testing.T) {
	var hits atomic.Int64
	inner := startIssuer(t, "ES256")
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(inner.JWKS())
	}))
	defer plain.Close()
	var tlsURL string
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, tlsURL, plain.URL+"/jwks.json")
	}))
	defer tlsSrv.Close()
	tlsURL = tlsSrv.URL
	cfg := core.Config{Issuer: tlsURL, Audience: []string{"api"}, HTTPClient: tlsSrv.Client(), Logger: quiet, AllowStartWithoutKeys: true}
	a, err := core.New(context.Background(), cfg)
	if err == nil {
		a.Close()
		t.Fatal("New accepted an http jwks_uri from an https issuer")
	}
	if !errors.Is(err, core.ErrConfig) {
		t.Fatalf("New: %v, want ErrConfig", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the http jwks_uri was fetched %d times", n)
	}
}
