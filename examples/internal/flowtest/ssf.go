package flowtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

const (
	ssfStream = "orders-stream"
	ssfPush   = "example-push-token"
)

func ssfSession(id string) map[string]any { return map[string]any{"format": "opaque", "id": id} }

// pushSET POSTs set to the app's POST /ssf/events with token as its bearer.
func pushSET(t *testing.T, app *App, token, set string) Resp {
	t.Helper()
	h := map[string]string{"Content-Type": core.SETContentType}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return app.doBody(t, "POST", "/ssf/events", h, set)
}

// SSF runs the app as a Shared Signals receiver (AUTHGATE_SSF_ISSUER,
// AUTHGATE_SSF_AUDIENCE) with a transmitter written for the test: a pushed
// session-revoked event ends its session on /me at once; a push without
// AUTHGATE_SSF_PUSH_TOKEN is refused (400 authentication_failed) and
// revokes nothing; in poll mode (AUTHGATE_SSF_POLL_URL) a queued event is
// polled, applied and acknowledged; with redis-server, two instances whose
// sessions are checked at AUTHGATE_SESSION_URL share AUTHGATE_REDIS_URL as
// the revocation bus alone, and an event pushed to one is refused on the
// other.
func SSF(t *testing.T, run Run) {
	iss := authtest.New(t)
	tr := authtest.NewTransmitter(t, ssfStream)
	env := map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience,
		"AUTHGATE_SSF_ISSUER": tr.URL, "AUTHGATE_SSF_AUDIENCE": ssfStream, "AUTHGATE_SSF_PUSH_TOKEN": ssfPush}
	t.Run("push", func(t *testing.T) {
		app := Start(t, run, env)
		tok := iss.Token(authtest.Claims{"sid": "idp-session-1"})
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200)
		set := tr.SET(core.CAEPSessionRevoked, ssfSession("idp-session-1"), nil, nil)
		r := pushSET(t, app, "", set)
		if m := r.JSON(t); r.Status != 400 || m["err"] != "authentication_failed" {
			t.Fatalf("a push without the push token: %d %v, want 400 authentication_failed", r.Status, m)
		}
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200)
		if r := pushSET(t, app, ssfPush, set); r.Status != 202 {
			t.Fatalf("push: %d %s, want 202", r.Status, r.Body)
		}
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 401)

		old := iss.Token(authtest.Claims{"sub": "erin", "sid": nil, "iat": time.Now().Add(-time.Minute).Unix()})
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: old}, 200)
		if r := pushSET(t, app, ssfPush, tr.SET(core.RISCAccountDisabled, map[string]any{"format": "iss_sub", "iss": iss.URL, "sub": "erin"}, nil, nil)); r.Status != 202 {
			t.Fatalf("push: %d %s", r.Status, r.Body)
		}
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: old}, 401)
		if !strings.Contains(app.Output(), "security events from "+tr.URL) {
			t.Errorf("the banner's mode does not say security events are received:\n%s", app.Output())
		}
	})
	t.Run("poll", func(t *testing.T) {
		pt := authtest.NewTransmitter(t, ssfStream)
		pt.PollToken = "example-poll-token"
		tok := iss.Token(authtest.Claims{"sid": "idp-session-2"})
		jti := pt.Enqueue(pt.SET(core.CAEPSessionRevoked, ssfSession("idp-session-2"), nil, nil))
		app := Start(t, run, map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience,
			"AUTHGATE_SSF_ISSUER": pt.URL, "AUTHGATE_SSF_AUDIENCE": ssfStream,
			"AUTHGATE_SSF_POLL_URL": pt.PollURL(), "AUTHGATE_SSF_POLL_TOKEN": pt.PollToken})
		// The first poll runs at start; wait for it, bounded.
		for deadline := time.Now().Add(20 * time.Second); app.Do(t, Req{Method: "GET", Path: "/me", Bearer: tok}).Status != 401; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the polled event never revoked the session")
			}
		}
		if r := pushSET(t, app, "", pt.SET(core.CAEPSessionRevoked, ssfSession("x"), nil, nil)); r.Status != 404 && r.Status != 405 {
			t.Errorf("poll mode serves a push endpoint: %d", r.Status)
		}
		if err := app.Stop(); err != nil {
			t.Fatal(err)
		}
		if !pt.Acked(jti) { // the app acknowledges what it applied when it stops, at the latest
			t.Error("the applied event was never acknowledged")
		}
	})
	t.Run("two instances, Redis as the revocation bus beside AUTHGATE_SESSION_URL", func(t *testing.T) {
		addr := StartRedis(t)
		sessions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]any{"active": true})
		}))
		t.Cleanup(sessions.Close)
		renv := map[string]string{"AUTHGATE_REDIS_URL": "redis://" + addr + "/3", "AUTHGATE_SESSION_URL": sessions.URL + "/sessions/{sid}"}
		for k, v := range env {
			renv[k] = v
		}
		a, b := Start(t, run, renv), Start(t, run, renv)
		if !strings.Contains(a.Output(), "revocations shared through Redis") {
			t.Errorf("the banner's mode does not say Redis is the revocation bus:\n%s", a.Output())
		}
		tok := iss.Token(authtest.Claims{"sid": "idp-session-3"})
		for _, app := range []*App{a, b} {
			app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200)
			app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok}, 200) // checked at AUTHGATE_SESSION_URL, not in Redis
		}
		set := tr.SET(core.CAEPSessionRevoked, ssfSession("idp-session-3"), nil, nil)
		if r := pushSET(t, a, ssfPush, set); r.Status != 202 {
			t.Fatalf("push to A: %d %s", r.Status, r.Body)
		}
		a.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 401)
		for deadline := time.Now().Add(20 * time.Second); b.Do(t, Req{Method: "GET", Path: "/me", Bearer: tok}).Status != 401; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("instance B still accepts the token after the event received by A")
			}
		}
		if r := pushSET(t, b, ssfPush, set); r.Status != 400 {
			t.Errorf("the same SET pushed to B: %d, want 400 (the jti memory is shared through Redis)", r.Status)
		}
		a.Expect(t, Req{Method: "POST", Path: "/logout", Bearer: iss.Token(authtest.Claims{"sid": "idp-session-4"})}, 501) // sessions are not kept in Redis
	})
	t.Run("start errors", func(t *testing.T) {
		for name, c := range map[string]struct {
			env  map[string]string
			want string
		}{
			"audience without transmitter":    {map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a", "AUTHGATE_SSF_AUDIENCE": ssfStream}, "AUTHGATE_SSF_ISSUER"},
			"transmitter in development mode": {map[string]string{"AUTHGATE_SSF_ISSUER": tr.URL, "AUTHGATE_SSF_AUDIENCE": ssfStream}, "AUTHGATE_ISSUER"},
			"transmitter without audience":    {map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a", "AUTHGATE_SSF_ISSUER": tr.URL}, "AUTHGATE_SSF_AUDIENCE"},
			"push token in poll mode": {map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a", "AUTHGATE_SSF_ISSUER": tr.URL,
				"AUTHGATE_SSF_AUDIENCE": ssfStream, "AUTHGATE_SSF_POLL_URL": tr.PollURL(), "AUTHGATE_SSF_PUSH_TOKEN": "x"}, "AUTHGATE_SSF_PUSH_TOKEN"},
			"unreachable transmitter": {map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a", "AUTHGATE_SSF_ISSUER": "http://127.0.0.1:1",
				"AUTHGATE_SSF_AUDIENCE": ssfStream}, "AUTHGATE_SSF_ISSUER"},
		} {
			t.Run(name, func(t *testing.T) {
				if err := StartErr(t, run, c.env); !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %q does not mention %q", err, c.want)
				}
			})
		}
	})
}

// doBody sends a request with a raw body and headers.
func (a *App) doBody(t testing.TB, method, path string, header map[string]string, body string) Resp {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}
