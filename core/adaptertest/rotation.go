package adaptertest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storetest"
)

// rotationRefresh is the UnknownKeyRefresh of the rotation case: more than
// the second a request may wait for a refetch, so that a second key rotated
// in at once meets a rate-limited refetch.
const rotationRefresh = 2 * time.Second

// runRotation is the rotation rule of issue 16 through the adapter: a token
// of a key the issuer rotated in after the last fetch, while the next
// refetch is rate-limited, is 503 with Retry-After (the wait until that
// refetch may run, in whole seconds) and no handler runs; once the refetch
// has run it is admitted, and a kid that refetch did not bring is 401.
// It polls for the refetch (bounded, with no assertion on time).
func runRotation(t *testing.T, h Harness) {
	clk := storetest.NewClock()
	iss := authtest.New(t, authtest.WithClock(clk.Now))
	cfg := Config(iss, &Sessions{})
	cfg.JWKSURL = iss.JWKSURL()
	cfg.UnknownKeyRefresh = rotationRefresh
	cfg.Now = clk.Now
	auth, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	env := &Env{Auth: auth}
	r := &runner{addr: h.Start(t, env)}
	me := func(tok string) tcase {
		return tcase{name: "rotation", source: "issue 16 (rotation); RFC 7517 §4.5", method: "GET", path: "/me",
			header: []string{"Authorization: Bearer " + tok}}
	}
	base := authtest.Claims{"sid": SessionActive, "scope": "profile", "roles": []string{"user"}}
	send := func(tok string) (*http.Response, []byte, []hit) {
		t.Helper()
		env.takeHits()
		resp, body, err := r.do(me(tok))
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		return resp, body, env.takeHits()
	}

	iss.Rotate("ES256")
	first := iss.Token(base)
	resp, body, hits := send(first)
	served(RouteMe, fromHeader).check(t, me(first), resp, body, hits, 0)

	clk.Advance(3 * time.Second) // tokens issued after that fetch
	iss.Rotate("ES256")          // a second rotation within UnknownKeyRefresh
	second := iss.Token(base)
	stranger := authtest.SignRaw(iss.Signer(), []byte(`{"alg":"ES256","kid":"never-published","typ":"JWT"}`),
		[]byte(fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"user-1","sid":%q,"iat":%d,"exp":%d}`,
			iss.URL, authtest.DefaultAudience, SessionActive, clk.Now().Unix(), clk.Now().Add(time.Hour).Unix())))

	resp, body, hits = send(second)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("key rotated in while the refetch is rate-limited: status %d, want 503 (401 would tell the client to drop a valid token)", resp.StatusCode)
	}
	retry := resp.Header.Get("Retry-After")
	if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > int(rotationRefresh/time.Second) {
		t.Fatalf("Retry-After %q, want the whole seconds until the refetch may run (1 to %d)", retry, int(rotationRefresh/time.Second))
	}
	w := withChecks(unavailable, checksNone) // the key is missing: no session is checked
	w.retryAfter = retry
	w.check(t, me(second), resp, body, hits, 0)

	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, body, hits = send(second)
		if resp.StatusCode == http.StatusOK {
			served(RouteMe, fromHeader).check(t, me(second), resp, body, hits, 0)
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("rotated-in key while waiting for the refetch: status %d, want 503 until it runs, then 200", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, body, hits = send(stranger)
	invalidToken.check(t, me(stranger), resp, body, hits, 0)
}
