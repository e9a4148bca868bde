package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storetest"
)

// cutToken mints a token of sub issued at iat (zero: no iat), with sid
// ("" for none), valid for an hour from the env's clock.
func (e *sessEnv) cutToken(sub, sid string, iat time.Time) string {
	c := authtest.Claims{"sub": sub, "exp": e.clock.Now().Add(time.Hour).Unix(), "sid": nil, "iat": nil}
	if sid != "" {
		c["sid"] = sid
	}
	if !iat.IsZero() {
		c["iat"] = iat.Unix()
	}
	return e.iss.Token(c)
}

// TestSubjectCutoff: a cutoff of (iss, sub) at T refuses that subject's
// tokens issued at or before T on every route, cached or not, with or
// without a session id, and nothing else.
func TestSubjectCutoff(t *testing.T) {
	store := core.NewMemoryStore(core.StoreOptions{Audit: &storetest.AuditRecorder{}})
	t.Cleanup(func() { store.Close() })
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = store })
	now := e.clock.Now()
	early := now.Add(-10 * time.Minute)
	before := e.cutToken("alice", "", early)
	beforeSID := e.cutToken("alice", "sess-1", early)
	other := e.cutToken("bob", "", early)
	// Accepted, and so in the verified-token cache, before the cutoff.
	for _, tok := range []string{before, beforeSID, other} {
		if _, err := e.do(context.Background(), tok, false); err != nil {
			t.Fatalf("before the cutoff: %v", err)
		}
	}
	err := store.PublishRevocation(context.Background(), core.Revocation{
		Cutoff: true, Subject: "alice", Issuer: e.iss.URL, At: now.Add(-time.Minute),
	}, core.WithReason("test"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"no sid": before, "with sid": beforeSID} {
		if _, err := e.do(context.Background(), tok, false); !errors.Is(err, core.ErrSessionRevoked) {
			t.Errorf("%s, issued before the cutoff, cached: %v, want revoked", name, err)
		}
	}
	// The cache is not what refuses: a fresh authenticator fed the same.
	if _, err := e.do(context.Background(), e.cutToken("alice", "", now.Add(-time.Minute)), false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Errorf("issued in the second of the cutoff: %v, want revoked (iat <= T)", err)
	}
	if _, err := e.do(context.Background(), e.cutToken("alice", "", time.Time{}), false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Errorf("no iat: %v, want revoked (it cannot show it was issued after the cutoff)", err)
	}
	if _, err := e.do(context.Background(), other, false); err != nil {
		t.Errorf("another subject: %v", err)
	}
	if _, err := e.do(context.Background(), e.cutToken("alice", "", now), false); err != nil {
		t.Errorf("issued after the cutoff: %v", err)
	}
}

// TestSubjectCutoffIssuerScope: a cutoff names one issuer, or every issuer
// when its Issuer is empty.
func TestSubjectCutoffIssuerScope(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
	tok := e.cutToken("alice", "", e.clock.Now().Add(-time.Hour))
	fd.push(core.Revocation{Cutoff: true, Subject: "alice", Issuer: "https://other.example/", At: e.clock.Now()})
	if _, err := e.do(context.Background(), tok, false); err != nil {
		t.Fatalf("a cutoff of another issuer refused this one's token: %v", err)
	}
	fd.push(core.Revocation{Cutoff: true, Subject: "alice", At: e.clock.Now()})
	if _, err := e.do(context.Background(), tok, false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("a cutoff of every issuer: %v, want revoked", err)
	}
}

// TestSubjectCutoffRetention: a cutoff is kept for MaxTokenLifetime + 3
// Leeway after T (a token issued before T cannot be accepted longer), and
// dropped after.
func TestSubjectCutoffRetention(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd; c.MaxTokenLifetime = time.Hour })
	t0 := e.clock.Now()
	fd.push(core.Revocation{Cutoff: true, Subject: "alice", At: t0})
	e.clock.Advance(time.Hour + 89*time.Second) // just inside 1h + 3*30s
	if _, err := e.do(context.Background(), e.cutToken("alice", "", time.Time{}), false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("inside the retention: %v, want revoked", err)
	}
	e.clock.Advance(2 * time.Second)
	if _, err := e.do(context.Background(), e.cutToken("alice", "", time.Time{}), false); err != nil {
		t.Fatalf("past the retention the cutoff should be gone: %v", err)
	}
}

// TestSubjectCutoffOverflow: a cutoff lost to a full set refuses (503) every
// token issued at or before it, whoever its subject, until it would have
// expired; later tokens are unaffected.
func TestSubjectCutoffOverflow(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd; c.SessionCheck.DenySetSize = 2 })
	t0 := e.clock.Now()
	fd.push(core.Revocation{Cutoff: true, Subject: "u1", At: t0})
	fd.push(core.Revocation{Cutoff: true, Subject: "u2", At: t0})
	old := e.cutToken("carol", "", t0.Add(-time.Minute))
	if _, err := e.do(context.Background(), old, false); err != nil {
		t.Fatalf("no cutoff lost yet: %v", err)
	}
	fd.push(core.Revocation{Cutoff: true, Subject: "u3", At: t0}) // lost: the set is full
	if _, err := e.do(context.Background(), old, false); statusOf(err) != 503 {
		t.Fatalf("after an overflow, a token issued before the lost cutoff: %v, want 503", err)
	}
	e.clock.Advance(time.Second)
	if _, err := e.do(context.Background(), e.cutToken("carol", "", e.clock.Now()), false); err != nil {
		t.Fatalf("a token issued after the lost cutoff: %v", err)
	}
	if _, err := e.do(context.Background(), e.cutToken("u1", "", t0.Add(-time.Minute)), false); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("a recorded cutoff after an overflow: %v, want revoked", err)
	}
}

// TestBehindRefusesUnsessioned: while a feed is behind it may be missing a
// subject cutoff, and a token without a session id has no live check that
// could answer for it: 503 until the feed has caught up.
func TestBehindRefusesUnsessioned(t *testing.T) {
	fd := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = fd })
	tok := e.cutToken("alice", "", e.clock.Now())
	fd.push(core.Revocation{Behind: true})
	if _, err := e.do(context.Background(), tok, false); statusOf(err) != 503 {
		t.Fatalf("behind: %v, want 503", err)
	}
	fd.push(core.Revocation{Behind: false})
	if _, err := e.do(context.Background(), tok, false); err != nil {
		t.Fatalf("caught up: %v", err)
	}
}

// TestMemoryStorePublishReplays: a MemoryStore replays published foreign
// revocations and cutoffs to later subscribers, and refuses revocations
// that name nothing.
func TestMemoryStorePublishReplays(t *testing.T) {
	audit := &storetest.AuditRecorder{}
	store := core.NewMemoryStore(core.StoreOptions{Audit: audit})
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	if err := store.PublishRevocation(ctx, core.Revocation{SessionID: "idp-sid-1", Issuer: "https://id.example/"}); err != nil {
		t.Fatal(err)
	}
	if err := store.PublishRevocation(ctx, core.Revocation{Cutoff: true, Subject: "alice"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []core.Revocation{{}, {SessionID: "a b"}, {Cutoff: true}, {Cutoff: true, Subject: "x", SessionID: "s"}} {
		if err := store.PublishRevocation(ctx, bad); !errors.Is(err, core.ErrRevocationInvalid) {
			t.Errorf("%+v: %v, want ErrRevocationInvalid", bad, err)
		}
	}
	var got []core.Revocation
	stop, err := store.SubscribeRevocations(ctx, func(r core.Revocation) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var sid, cut bool
	for _, r := range got {
		sid = sid || r.SessionID == "idp-sid-1" && r.Issuer == "https://id.example/"
		cut = cut || r.Cutoff && r.Subject == "alice"
	}
	if !sid || !cut {
		t.Fatalf("replay %+v: want the foreign sid and the cutoff", got)
	}
	if n := len(audit.Events()); n != 2 {
		t.Fatalf("%d audit events, want 2", n)
	}
}
