package core_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
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
		_, err := adapter.Admit(a, context.Background(), adapter.HTTPRequest(r), false)
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
			if st := adapter.Render(a, err).Status; st != http.StatusServiceUnavailable {
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

// TestUnknownKidWhileTheRefetchIsRateLimited pins the rotation rule (issue
// 16): a token of a key rotated in after the last fetch, while the next
// refetch is rate-limited (UnknownKeyRefresh), is 503 with Retry-After (the
// wait until that refetch may run), never 401, and is admitted once the
// refetch has run; a kid that refetch did not bring is 401 from then on.
// While rate-limited, unknown kids cost the issuer no fetch.
func TestUnknownKidWhileTheRefetchIsRateLimited(t *testing.T) {
	clk := newSessClock()
	iss := authtest.New(t, authtest.WithClock(clk.Now))
	cfg := iss.Config()
	cfg.JWKSURL = iss.JWKSURL()
	cfg.UnknownKeyRefresh = 2 * time.Second // more than the 1s a request may wait
	cfg.Now, cfg.Logger = clk.Now, quiet
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	status := func(tok string) (int, string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, err := adapter.Admit(a, context.Background(), adapter.HTTPRequest(r), false)
		if err == nil {
			return 200, ""
		}
		resp := adapter.Render(a, err)
		return resp.Status, resp.Header.Get("Retry-After")
	}
	iss.Rotate("ES256")
	if st, _ := status(iss.Token(nil)); st != 200 {
		t.Fatalf("first rotated-in key: %d, want 200 (its refetch is allowed)", st)
	}
	clk.Advance(3 * time.Second) // tokens issued after that fetch
	iss.Rotate("ES256")          // a second rotation within UnknownKeyRefresh
	second := iss.Token(nil)
	stranger := authtest.SignRaw(iss.Signer(), []byte(`{"alg":"ES256","kid":"never-published","typ":"JWT"}`),
		[]byte(fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"user-1","iat":%d,"exp":%d}`, iss.URL, authtest.DefaultAudience, clk.Now().Unix(), clk.Now().Add(time.Hour).Unix())))
	before := iss.Fetches()
	st, retry := status(second)
	if st != 503 {
		t.Fatalf("key rotated in while the refetch is rate-limited: %d, want 503 (401 would tell the client to drop a valid token)", st)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 2 {
		t.Errorf("Retry-After %q, want the wait until the next refetch may run (1 or 2 s)", retry)
	}
	for range 20 {
		if st, _ := status(stranger); st != 503 && st != 401 {
			t.Fatalf("unknown kid while rate-limited: %d", st)
		}
	}
	// Poll until the refetch may run; bounded, with no assertion on time.
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, _ := status(second)
		if st == 200 {
			break
		}
		if st != 503 || time.Now().After(deadline) {
			t.Fatalf("rotated-in key while waiting for the refetch: %d, want 503 then 200", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _ := status(stranger); st != 401 {
		t.Errorf("a kid a refetch begun after the token's iat did not bring: %d, want 401", st)
	}
	if n := iss.Fetches() - before; n > 2 {
		t.Errorf("%d fetches while rate-limited, want at most 2 (one per UnknownKeyRefresh)", n)
	}
}
