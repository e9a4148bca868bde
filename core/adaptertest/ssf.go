package adaptertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// RouteSSFPush is the path of the Shared Signals push endpoint a harness
// serves with its adapter's SSFPush(env.SSF), outside the authentication
// middleware and for every method, when [Env.SSF] is not nil:
//
//	POST /ssf/events   SSFPush(env.SSF)   no middleware
const RouteSSFPush = "/ssf/events"

// SSFAudience is the stream audience of the suite's SSF receiver.
const SSFAudience = "conformance-stream"

// SSFPushToken is the bearer token the suite's push endpoint requires.
const SSFPushToken = "conformance-push-token"

// setCase is one push the receiver must refuse: which MUST it breaks
// (section), the answer's status and RFC 8935 error code.
type setCase struct {
	name    string
	section string
	// build returns the request: its Content-Type, Authorization token
	// ("" none) and body.
	build  func(tr *authtest.Transmitter, good func(mut func(authtest.Claims)) string) (ctype, token, body string)
	status int
	err    string
}

// ssfCases is the SET conformance table: each case breaks one rule once.
func ssfCases() []setCase {
	const ct = core.SETContentType
	with := func(mut func(authtest.Claims)) func(*authtest.Transmitter, func(func(authtest.Claims)) string) (string, string, string) {
		return func(_ *authtest.Transmitter, good func(func(authtest.Claims)) string) (string, string, string) {
			return ct, SSFPushToken, good(mut)
		}
	}
	return []setCase{
		{"signature does not verify", "RFC 8417 section 2 (JWS); RFC 8935 section 2.4 invalid_key",
			func(_ *authtest.Transmitter, good func(func(authtest.Claims)) string) (string, string, string) {
				return ct, SSFPushToken, flipSignature(good(nil))
			}, 400, "invalid_key"},
		{"signed by a key the transmitter never published", "RFC 8935 section 2.4 invalid_key",
			func(tr *authtest.Transmitter, good func(func(authtest.Claims)) string) (string, string, string) {
				s := tr.Signer()
				rogue := &authtest.Key{ID: s.ID, Alg: s.Alg, Private: authtest.GenerateKey(s.Alg)}
				c := tr.SETClaims(core.CAEPSessionRevoked, opaque("ssf-rogue"), nil, nil)
				return ct, SSFPushToken, tr.Sign(rogue, map[string]any{"typ": "secevent+jwt"}, c)
			}, 400, "invalid_key"},
		{"alg none", "RFC 8725 section 3.1; RFC 8935 section 2.4 invalid_key",
			func(tr *authtest.Transmitter, good func(func(authtest.Claims)) string) (string, string, string) {
				h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "secevent+jwt"})
				p, _ := json.Marshal(tr.SETClaims(core.CAEPSessionRevoked, opaque("ssf-none"), nil, nil))
				return ct, SSFPushToken, b64url(string(h)) + "." + b64url(string(p)) + "."
			}, 400, "invalid_key"},
		{"iss is not the transmitter", "RFC 8417 section 2.2 iss; RFC 8935 section 2.4 invalid_issuer",
			with(func(c authtest.Claims) { c["iss"] = "https://other-transmitter.example" }), 400, "invalid_issuer"},
		{"aud is not the stream audience", "RFC 8417 section 2.2 aud; RFC 8935 section 2.4 invalid_audience",
			with(func(c authtest.Claims) { c["aud"] = "another-stream" }), 400, "invalid_audience"},
		{"no aud", "RFC 8417 section 2.2 aud; RFC 8935 section 2.4 invalid_audience",
			with(func(c authtest.Claims) { c["aud"] = nil }), 400, "invalid_audience"},
		{"no iat", "RFC 8417 section 2.2 iat REQUIRED",
			with(func(c authtest.Claims) { c["iat"] = nil }), 400, "invalid_request"},
		{"iat in the future", "RFC 8417 section 2.2 iat",
			with(func(c authtest.Claims) { c["iat"] = time.Now().Add(time.Hour).Unix() }), 400, "invalid_request"},
		{"iat older than MaxAge", "RFC 8417 section 4.4 (bounded window)",
			with(func(c authtest.Claims) { c["iat"] = time.Now().Add(-3 * time.Hour).Unix() }), 400, "invalid_request"},
		{"no jti", "RFC 8417 section 2.2 jti REQUIRED",
			with(func(c authtest.Claims) { c["jti"] = nil }), 400, "invalid_request"},
		{"no events", "RFC 8417 section 2.2 events REQUIRED",
			with(func(c authtest.Claims) { c["events"] = nil }), 400, "invalid_request"},
		{"empty events", "RFC 8417 section 2.2 events (at least one)",
			with(func(c authtest.Claims) { c["events"] = map[string]any{} }), 400, "invalid_request"},
		{"event payload not an object", "RFC 8417 section 2.2 events",
			with(func(c authtest.Claims) { c["events"] = map[string]any{core.CAEPSessionRevoked: "yes"} }), 400, "invalid_request"},
		{"typ is another kind of JWT", "RFC 8417 section 2.3 explicit typing",
			func(tr *authtest.Transmitter, good func(func(authtest.Claims)) string) (string, string, string) {
				return ct, SSFPushToken, tr.SignSET(map[string]any{"typ": "at+jwt"}, tr.SETClaims(core.CAEPSessionRevoked, opaque("ssf-typ"), nil, nil))
			}, 400, "invalid_request"},
		{"expired", "RFC 7519 section 4.1.4 exp, when present",
			with(func(c authtest.Claims) { c["exp"] = time.Now().Add(-time.Hour).Unix() }), 400, "invalid_request"},
		{"subject format that maps to nothing", "RFC 9493 section 3.2.2 email: no session, no iss_sub",
			with(func(c authtest.Claims) { c["sub_id"] = map[string]any{"format": "email", "email": "a@example.com"} }), 400, "invalid_request"},
		{"revoking event without a subject", "SSF 1.0 section 4.1 sub_id",
			with(func(c authtest.Claims) { c["sub_id"] = nil }), 400, "invalid_request"},
		{"iss_sub of an issuer not configured", "RFC 8935 section 2.4 access_denied",
			with(func(c authtest.Claims) {
				c["sub_id"] = map[string]any{"format": "iss_sub", "iss": "https://stranger.example", "sub": "u"}
			}), 400, "access_denied"},
		{"malformed body", "RFC 8935 section 2.4 invalid_request (not a SET)",
			func(*authtest.Transmitter, func(func(authtest.Claims)) string) (string, string, string) {
				return ct, SSFPushToken, "not.a-set.at-all!"
			}, 400, "invalid_request"},
		{"empty body", "RFC 8935 section 2 (the SET is the body)",
			func(*authtest.Transmitter, func(func(authtest.Claims)) string) (string, string, string) {
				return ct, SSFPushToken, ""
			}, 400, "invalid_request"},
		{"wrong Content-Type", "RFC 8935 section 2 Content-Type application/secevent+jwt",
			func(_ *authtest.Transmitter, good func(func(authtest.Claims)) string) (string, string, string) {
				return "application/jwt", SSFPushToken, good(nil)
			}, 400, "invalid_request"},
		{"oversized body", "RFC 8935 section 2.4 invalid_request (bounded)",
			func(*authtest.Transmitter, func(func(authtest.Claims)) string) (string, string, string) {
				return ct, SSFPushToken, strings.Repeat("x", 80<<10)
			}, 400, "invalid_request"},
		{"no push authorization", "RFC 8935 section 2.4 authentication_failed",
			func(_ *authtest.Transmitter, good func(func(authtest.Claims)) string) (string, string, string) {
				return ct, "", good(nil)
			}, 400, "authentication_failed"},
		{"wrong push authorization", "RFC 8935 section 2.4 authentication_failed",
			func(_ *authtest.Transmitter, good func(func(authtest.Claims)) string) (string, string, string) {
				return ct, SSFPushToken + "x", good(nil)
			}, 400, "authentication_failed"},
	}
}

func opaque(id string) map[string]any { return map[string]any{"format": "opaque", "id": id} }
func issSub(iss, sub string) map[string]any {
	return map[string]any{"format": "iss_sub", "iss": iss, "sub": sub}
}

// runSSF drives the adapter's SSF push endpoint over real HTTP with a
// transmitter written for the test: every case of the table refused with
// its status and error code and nothing revoked; then every event type
// pushed, each ending with the affected token refused on /me while others
// stay accepted; a replayed jti refused; and the same events delivered by
// poll (RFC 8936), acknowledged, and a refused one reported in setErrs.
func runSSF(t *testing.T, h Harness, iss *authtest.Issuer) {
	tr := authtest.NewTransmitter(t, SSFAudience)
	auth, err := core.New(context.Background(), Config(iss, &Sessions{}))
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	env := &Env{Auth: auth}
	if env.SSF, err = auth.SSF(context.Background(), core.SSFOptions{Issuer: tr.URL, Audience: SSFAudience, PushToken: SSFPushToken}); err != nil {
		t.Fatalf("SSF: %v", err)
	}
	base := "http://" + h.Start(t, env)
	push := base + RouteSSFPush
	me := func(t *testing.T, tok string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	check := func(t *testing.T, status int, body []byte, want int, code string) {
		t.Helper()
		if status != want {
			t.Fatalf("status %d, want %d (body %s)", status, want, body)
		}
		if code == "" {
			return
		}
		var e struct{ Err, Description string }
		if json.Unmarshal(body, &e) != nil || e.Err != code || e.Description == "" {
			t.Errorf("body %s, want {\"err\":%q,\"description\":...} (RFC 8935 section 2.3)", body, code)
		}
	}
	send := func(t *testing.T, ctype, token, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, push, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		return resp.StatusCode, b[:n]
	}

	t.Run("refusals", func(t *testing.T) {
		cases := ssfCases()
		if len(cases) < 20 {
			t.Fatalf("the SET table has %d cases; it must hold at least 20", len(cases))
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				// Each case's SET names a session of its own: a SET wrongly
				// accepted revokes it, and only it.
				victim := fmt.Sprintf("ssf-victim-%d", i)
				tok := iss.Token(authtest.Claims{"sid": victim})
				good := func(mut func(authtest.Claims)) string {
					return tr.SET(core.CAEPSessionRevoked, opaque(victim), nil, mut)
				}
				ctype, token, body := c.build(tr, good)
				st, b := send(t, ctype, token, body)
				if st != c.status {
					t.Logf("breaks: %s", c.section)
				}
				check(t, st, b, c.status, c.err)
				if st := me(t, tok); st != http.StatusOK {
					t.Fatalf("a refused SET revoked the session: GET /me %d", st)
				}
			})
		}
		req, _ := http.NewRequest(http.MethodGet, push, nil)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET %s: %v %v, want 405 with Allow: POST", RouteSSFPush, resp, err)
		} else {
			resp.Body.Close()
		}
	})

	// Every event type, pushed: the affected token refused on /me.
	n := 0
	fresh := func(prefix string) string { n++; return fmt.Sprintf("%s-%d", prefix, n) }
	old := func(sub string) string {
		return iss.Token(authtest.Claims{"sub": sub, "sid": nil, "iat": time.Now().Add(-time.Minute).Unix()})
	}
	type event struct {
		name string
		// set returns the SET, the token it must end and one it must not.
		set func() (set, ended, kept string)
	}
	events := []event{
		{"session-revoked, opaque session id", func() (string, string, string) {
			sid := fresh("ssf-sess")
			return tr.SET(core.CAEPSessionRevoked, opaque(sid), map[string]any{"event_timestamp": time.Now().Unix()}, nil),
				iss.Token(authtest.Claims{"sid": sid}), iss.Token(authtest.Claims{"sid": fresh("ssf-other")})
		}},
		{"session-revoked, complex subject with a session", func() (string, string, string) {
			sid := fresh("ssf-sess")
			subj := map[string]any{"format": "complex", "session": opaque(sid), "user": issSub(iss.URL, "user-1")}
			return tr.SET(core.CAEPSessionRevoked, subj, nil, nil),
				iss.Token(authtest.Claims{"sid": sid}), iss.Token(authtest.Claims{"sid": fresh("ssf-other")})
		}},
		{"session-revoked, iss_sub user: a subject cutoff", func() (string, string, string) {
			sub := fresh("ssf-user")
			return tr.SET(core.CAEPSessionRevoked, issSub(iss.URL, sub), nil, nil), old(sub), old(fresh("ssf-user"))
		}},
		{"session-revoked, complex subject with a user only", func() (string, string, string) {
			sub := fresh("ssf-user")
			return tr.SET(core.CAEPSessionRevoked, map[string]any{"format": "complex", "user": issSub(iss.URL, sub)}, nil, nil), old(sub), old(fresh("ssf-user"))
		}},
		{"session-revoked, subject in the event (pre-SSF 1.0 CAEP)", func() (string, string, string) {
			sub := fresh("ssf-user")
			return tr.SET(core.CAEPSessionRevoked, nil, map[string]any{"subject": issSub(iss.URL, sub)}, nil), old(sub), old(fresh("ssf-user"))
		}},
		{"credential-change at its event_timestamp", func() (string, string, string) {
			sub := fresh("ssf-user")
			at := time.Now().Add(-30 * time.Second)
			// A token issued after the change is kept: the cutoff is at the event's time, not at the SET's iat.
			after := iss.Token(authtest.Claims{"sub": sub, "sid": nil, "iat": time.Now().Add(-5 * time.Second).Unix()})
			return tr.SET(core.CAEPCredentialChange, issSub(iss.URL, sub), map[string]any{"event_timestamp": at.Unix(), "change_type": "update", "credential_type": "password"}, nil),
				old(sub), after
		}},
		{"RISC account-disabled", risc(tr, iss, core.RISCAccountDisabled, fresh, old)},
		{"RISC account-purged", risc(tr, iss, core.RISCAccountPurged, fresh, old)},
		{"RISC sessions-revoked", risc(tr, iss, core.RISCSessionsRevoked, fresh, old)},
		{"RISC credential-compromise", risc(tr, iss, core.RISCCredentialCompromise, fresh, old)},
	}
	t.Run("push: every event type", func(t *testing.T) {
		for _, e := range events {
			t.Run(e.name, func(t *testing.T) {
				set, ended, kept := e.set()
				if st := me(t, ended); st != http.StatusOK {
					t.Fatalf("before: GET /me %d", st)
				}
				st, b := tr.Push(t, push, SSFPushToken, set)
				check(t, st, b, http.StatusAccepted, "")
				if len(b) != 0 {
					t.Errorf("202 with a body %q", b)
				}
				if st := me(t, ended); st != http.StatusUnauthorized {
					t.Errorf("after the event: GET /me %d, want 401", st)
				}
				if st := me(t, kept); st != http.StatusOK {
					t.Errorf("a token the event does not name: GET /me %d, want 200", st)
				}
				st, b = tr.Push(t, push, SSFPushToken, set) // RFC 8417 section 2.2: jti
				check(t, st, b, http.StatusBadRequest, "invalid_request")
			})
		}
	})
	t.Run("push: an unknown event is acknowledged and ignored", func(t *testing.T) {
		sid := fresh("ssf-sess")
		tok := iss.Token(authtest.Claims{"sid": sid})
		st, b := tr.Push(t, push, SSFPushToken, tr.SET("https://schemas.openid.net/secevent/caep/event-type/token-claims-change", opaque(sid), nil, nil))
		check(t, st, b, http.StatusAccepted, "")
		if st := me(t, tok); st != http.StatusOK {
			t.Errorf("GET /me %d after an event that revokes nothing", st)
		}
	})

	t.Run("poll", func(t *testing.T) {
		tr.PollToken = "conformance-poll-token"
		pauth, err := core.New(context.Background(), Config(iss, &Sessions{}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pauth.Close() })
		recv, err := pauth.SSF(context.Background(), core.SSFOptions{Issuer: tr.URL, Audience: SSFAudience,
			PollURL: tr.PollURL(), PollToken: tr.PollToken, PollInterval: time.Hour, MaxEvents: 3})
		if err != nil {
			t.Fatal(err)
		}
		pbase := "http://" + h.Start(t, &Env{Auth: pauth})
		pme := func(tok string) int {
			req, _ := http.NewRequest(http.MethodGet, pbase+"/me", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		var ended, kept, jtis []string
		for _, e := range events {
			set, en, k := e.set()
			ended, kept = append(ended, en), append(kept, k)
			jtis = append(jtis, tr.Enqueue(set))
		}
		bad := tr.Enqueue(tr.SET(core.CAEPSessionRevoked, opaque("ssf-bad"), nil, func(c authtest.Claims) { c["aud"] = "another-stream" }))
		// The background poller ran once at start (the queue was empty
		// then) and waits an hour: drive it by hand, bounded.
		for i := 0; tr.Pending() > 0; i++ {
			if i > 20 {
				t.Fatalf("%d SETs still pending after %d polls", tr.Pending(), i)
			}
			if _, err := recv.Poll(context.Background()); err != nil {
				t.Fatalf("poll: %v", err)
			}
		}
		for i := range events {
			if !tr.Acked(jtis[i]) {
				t.Errorf("%s: not acknowledged", events[i].name)
			}
			if st := pme(ended[i]); st != http.StatusUnauthorized {
				t.Errorf("%s (polled): GET /me %d, want 401", events[i].name, st)
			}
			if st := pme(kept[i]); st != http.StatusOK {
				t.Errorf("%s (polled): a token it does not name: GET /me %d, want 200", events[i].name, st)
			}
		}
		if got := tr.SetErr(bad); got != "invalid_audience" {
			t.Errorf("a polled SET for another audience: setErrs %q, want invalid_audience (RFC 8936 section 2.4)", got)
		}
		if tr.Acked(bad) {
			t.Error("a refused SET was acknowledged")
		}
	})
}

// risc is a RISC event naming an iss_sub subject: a cutoff at the SET's
// iat.
func risc(tr *authtest.Transmitter, iss *authtest.Issuer, typ string, fresh func(string) string, old func(string) string) func() (string, string, string) {
	return func() (string, string, string) {
		sub := fresh("ssf-user")
		return tr.SET(typ, issSub(iss.URL, sub), nil, nil), old(sub), old(fresh("ssf-user"))
	}
}
