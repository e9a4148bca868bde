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

// TestUnknownKidWhileTheKeySetIsUnreachable: a token of a key rotated in
// while the JWKS endpoint is down is answered 503 (retry), not 401 (log in
// again), and is admitted once the endpoint is back; a forged token is never
// admitted, and a token with an unknown kid while the endpoint is healthy
// stays 401 (found by the soak test).
func TestUnknownKidWhileTheKeySetIsUnreachable(t *testing.T) {
	iss := authtest.New(t)
	cfg := iss.Config()
	cfg.UnknownKeyRefresh = time.Second
	cfg.Logger = quiet
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	admit := func(tok string) error {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, err := a.Admit(context.Background(), core.HTTPRequest(r), false)
		return err
	}

	// Healthy endpoint, a kid it does not list: 401.
	stranger := authtest.New(t)
	if err := admit(stranger.Token(nil)); !errors.Is(err, core.ErrInvalidToken) {
		t.Fatalf("unknown kid, endpoint up: %v, want ErrInvalidToken", err)
	}

	iss.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }))
	iss.Rotate("ES256") // emergency rotation: the new key signs at once
	good := iss.Token(nil)
	// The first request's refetch fails; it and every later one get 503
	// until the endpoint answers again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := admit(good)
		if err == nil {
			t.Fatal("admitted a token whose key was never fetched")
		}
		if errors.Is(err, core.ErrUnavailable) {
			if st := a.Render(err).Status; st != http.StatusServiceUnavailable {
				t.Fatalf("rendered %d, want 503", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("good token of a rotated-in key while the JWKS is down: %v, want ErrUnavailable", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := admit(stranger.Token(nil)); err == nil {
		t.Fatal("a token of another issuer's key admitted during the outage")
	}

	iss.SetHandler(nil) // back
	deadline = time.Now().Add(10 * time.Second)
	for {
		err := admit(good)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotated-in key not picked up after the endpoint came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := admit(stranger.Token(nil)); !errors.Is(err, core.ErrInvalidToken) {
		t.Fatalf("unknown kid after recovery: %v, want ErrInvalidToken", err)
	}
}
