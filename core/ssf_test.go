package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storetest"
)

const ssfAudience = "orders-stream"

// ssfEnv is an authenticator (on the env's clock) and a transmitter whose
// SETs carry the same clock's iat.
type ssfEnv struct {
	*sessEnv
	tr *authtest.Transmitter
}

func newSSFEnv(t *testing.T, mut func(c *core.Config)) *ssfEnv {
	t.Helper()
	e := &ssfEnv{sessEnv: newSessEnv(t, mut)}
	e.tr = authtest.NewTransmitter(t, ssfAudience, authtest.WithClock(e.clock.Now))
	return e
}

func (e *ssfEnv) receiver(t *testing.T, o core.SSFOptions) *core.SSF {
	t.Helper()
	o.Issuer, o.Audience = e.tr.URL, ssfAudience
	r, err := e.auth.SSF(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func push(r *core.SSF, set string) core.Response {
	return r.Push(context.Background(), "POST", core.SETContentType, "", strings.NewReader(set))
}

func opaqueSubject(id string) map[string]any { return map[string]any{"format": "opaque", "id": id} }

// TestSSFNeverAcknowledgesWhatItCouldNotApply: with the revocation bus
// down, a pushed SET is answered 503 with Retry-After (never 202) and a
// polled one is neither acknowledged nor reported as refused, so that the
// transmitter delivers it again; once the bus is back, the same SET is
// applied (its jti was not used up) and acknowledged.
func TestSSFNeverAcknowledgesWhatItCouldNotApply(t *testing.T) {
	e := newSSFEnv(t, nil)
	pub := &failingPublisher{fail: true}
	t.Run("push", func(t *testing.T) {
		r := e.receiver(t, core.SSFOptions{Publisher: pub})
		set := e.tr.SET(core.CAEPSessionRevoked, opaqueSubject("s-push"), nil, nil)
		resp := push(r, set)
		if resp.Status != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("bus down: %d %v, want 503 with Retry-After", resp.Status, resp.Header)
		}
		pub.setFail(false, false)
		if resp := push(r, set); resp.Status != http.StatusAccepted {
			t.Fatalf("retry: %d %s, want 202", resp.Status, resp.Body)
		}
		if got := pub.published(); len(got) != 1 || got[0].SessionID != "s-push" {
			t.Fatalf("published %+v", got)
		}
	})
	t.Run("poll", func(t *testing.T) {
		pub.setFail(true, true)
		r := e.receiver(t, core.SSFOptions{Publisher: pub, PollURL: e.tr.PollURL(), PollInterval: time.Hour})
		jti := e.tr.Enqueue(e.tr.SET(core.RISCAccountDisabled, map[string]any{"format": "iss_sub", "iss": e.iss.URL, "sub": "alice"}, nil, nil))
		if _, err := r.Poll(context.Background()); err == nil {
			t.Fatal("a poll whose SET could not be applied reported no error")
		}
		if _, err := r.Poll(context.Background()); err == nil { // delivered again: still failing
			t.Fatal("the redelivered SET was not processed again")
		}
		if e.tr.Acked(jti) || e.tr.SetErr(jti) != "" || e.tr.Pending() != 1 {
			t.Fatalf("bus down: acked %v, setErr %q, pending %d; want neither, still pending", e.tr.Acked(jti), e.tr.SetErr(jti), e.tr.Pending())
		}
		pub.setFail(false, false)
		if _, err := r.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Poll(context.Background()); err != nil { // carries the ack
			t.Fatal(err)
		}
		if !e.tr.Acked(jti) || e.tr.Pending() != 0 {
			t.Fatalf("bus back: acked %v, pending %d", e.tr.Acked(jti), e.tr.Pending())
		}
		if got := pub.published(); len(got) != 1 || !got[0].Cutoff || got[0].Subject != "alice" || got[0].Issuer != e.iss.URL {
			t.Fatalf("published %+v", got)
		}
	})
	t.Run("poll endpoint down: acks are kept for the next poll", func(t *testing.T) {
		r := e.receiver(t, core.SSFOptions{Publisher: pub, PollURL: e.tr.PollURL(), PollInterval: time.Hour})
		jti := e.tr.Enqueue(e.tr.SET(core.CAEPSessionRevoked, opaqueSubject("s-poll-2"), nil, nil))
		if _, err := r.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.tr.SetPollDown(true)
		if _, err := r.Poll(context.Background()); err == nil {
			t.Fatal("a 503 from the poll endpoint was not an error")
		}
		e.tr.SetPollDown(false)
		if _, err := r.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !e.tr.Acked(jti) {
			t.Fatal("the ack lost with the failed poll was not sent again")
		}
	})
}

// TestSSFKeysUnavailable: a SET under a kid the receiver does not hold,
// while the transmitter's key set cannot be fetched, is 503, not 400: the
// transmitter retries once the keys are back.
func TestSSFKeysUnavailable(t *testing.T) {
	e := newSSFEnv(t, nil)
	r := e.receiver(t, core.SSFOptions{})
	e.tr.Rotate("RS256")
	e.tr.SetJWKS([]byte("not a key set"))
	resp := push(r, e.tr.SET(core.CAEPSessionRevoked, opaqueSubject("s-keys"), nil, nil))
	if resp.Status != http.StatusServiceUnavailable {
		t.Fatalf("keys unavailable: %d %s, want 503", resp.Status, resp.Body)
	}
}

// TestSSFAudited: each applied event is audited with the event type as
// reason and the transmitter as actor: by the Publisher's store, or by
// SSFOptions.Audit without one.
func TestSSFAudited(t *testing.T) {
	rec := &storetest.AuditRecorder{}
	store := core.NewMemoryStore(core.StoreOptions{Audit: rec})
	t.Cleanup(func() { store.Close() })
	e := newSSFEnv(t, func(c *core.Config) { c.Revocations = store })
	r := e.receiver(t, core.SSFOptions{})
	if resp := push(r, e.tr.SET(core.CAEPCredentialChange, map[string]any{"format": "iss_sub", "iss": e.iss.URL, "sub": "carol"}, nil, nil)); resp.Status != http.StatusAccepted {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	ev := rec.Events()
	if len(ev) != 1 || !ev[0].Cutoff || ev[0].Subject != "carol" || ev[0].Reason != "security event "+core.CAEPCredentialChange || ev[0].Actor != e.tr.URL {
		t.Fatalf("store audit %+v", ev)
	}

	alone := newSSFEnv(t, nil)
	own := &storetest.AuditRecorder{}
	r = alone.receiver(t, core.SSFOptions{Audit: own})
	tok := alone.token("s-alone")
	if _, err := alone.do(context.Background(), tok, false); err != nil {
		t.Fatal(err)
	}
	if resp := push(r, alone.tr.SET(core.CAEPSessionRevoked, opaqueSubject("s-alone"), nil, nil)); resp.Status != http.StatusAccepted {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	if _, err := alone.do(context.Background(), tok, false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("without a Publisher, this instance: %v, want revoked", err)
	}
	if ev := own.Events(); len(ev) != 1 || ev[0].SessionID != "s-alone" || ev[0].Actor != alone.tr.URL {
		t.Fatalf("SSFOptions.Audit %+v", ev)
	}
}

// TestSSFRefusalsLeakNothing: a refusal's body names the RFC 8935 error
// class only, never the cause (which goes to the Debug log).
func TestSSFRefusalsLeakNothing(t *testing.T) {
	e := newSSFEnv(t, nil)
	r := e.receiver(t, core.SSFOptions{})
	set := e.tr.SET(core.CAEPSessionRevoked, opaqueSubject("s-leak"), nil, func(c authtest.Claims) { c["aud"] = "secret-other-stream" })
	resp := push(r, set)
	var b map[string]string
	if err := json.Unmarshal(resp.Body, &b); err != nil || resp.Status != 400 || b["err"] != "invalid_audience" || len(b) != 2 {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	for _, leak := range []string{"secret-other-stream", ssfAudience, "section", "aud does not"} {
		if strings.Contains(string(resp.Body), leak) {
			t.Errorf("the body leaks %q: %s", leak, resp.Body)
		}
	}
}

// TestSSFSubjectIssuers: an iss_sub naming the transmitter's organisation
// reaches the tokens of the issuer it is mapped to.
func TestSSFSubjectIssuers(t *testing.T) {
	e := newSSFEnv(t, nil)
	r := e.receiver(t, core.SSFOptions{SubjectIssuers: map[string]string{"https://org.example": e.iss.URL}})
	old := e.cutToken("dave", "", e.clock.Now().Add(-time.Minute))
	if _, err := e.do(context.Background(), old, false); err != nil {
		t.Fatal(err)
	}
	if resp := push(r, e.tr.SET(core.RISCSessionsRevoked, map[string]any{"format": "iss_sub", "iss": "https://org.example", "sub": "dave"}, nil, nil)); resp.Status != http.StatusAccepted {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	if _, err := e.do(context.Background(), old, false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("after the mapped cutoff: %v, want revoked", err)
	}
}

// TestSSFOptions: construction-time checks, and a transmitter
// configuration that names another issuer.
func TestSSFOptions(t *testing.T) {
	e := newSSFEnv(t, nil)
	base := core.SSFOptions{Issuer: e.tr.URL, Audience: ssfAudience}
	for name, mut := range map[string]func(o *core.SSFOptions){
		"no issuer":              func(o *core.SSFOptions) { o.Issuer = "" },
		"no audience":            func(o *core.SSFOptions) { o.Audience = "" },
		"plain http issuer":      func(o *core.SSFOptions) { o.Issuer = "http://ssf.example.com" },
		"MaxAge too large":       func(o *core.SSFOptions) { o.MaxAge = 30 * 24 * time.Hour },
		"body too small":         func(o *core.SSFOptions) { o.MaxBodySize = 10 },
		"poll token without URL": func(o *core.SSFOptions) { o.PollToken = "x" },
		"HMAC":                   func(o *core.SSFOptions) { o.Algorithms = []string{"HS256"} },
		"none":                   func(o *core.SSFOptions) { o.Algorithms = []string{"none"} },
		"MaxEvents too large":    func(o *core.SSFOptions) { o.MaxEvents = 5000 },
		"poll interval too short": func(o *core.SSFOptions) {
			o.PollURL, o.PollInterval = e.tr.PollURL(), time.Millisecond
		},
		"subject issuer unknown": func(o *core.SSFOptions) { o.SubjectIssuers = map[string]string{"a": "https://nobody.example"} },
	} {
		o := base
		mut(&o)
		if _, err := e.auth.SSF(context.Background(), o); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": "https://someone-else.example", "jwks_uri": e.tr.JWKSURL()})
	}))
	t.Cleanup(liar.Close)
	o := base
	o.Issuer = liar.URL
	if _, err := e.auth.SSF(context.Background(), o); !errors.Is(err, core.ErrConfig) {
		t.Errorf("a configuration naming another issuer: %v, want ErrConfig (SSF 1.0 section 7.1)", err)
	}
}
