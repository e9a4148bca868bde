// Package storetest is the conformance suite of core.SessionStore. Every
// store (core.MemoryStore, the Redis store) runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, opts core.StoreOptions) core.SessionStore {
//			return core.NewMemoryStore(opts)
//		})
//	}
//
// newStore must return a fresh, empty store that honours every field of
// opts, in particular opts.Now for every time decision (the suite moves the
// clock by hours; a store must not rely on its backend's own clock for
// idle and absolute timeouts) and opts.Audit. Run closes each store when
// its subtest ends. Revocation delivery may be asynchronous: the suite waits
// up to FeedWait for a revocation to arrive.
package storetest

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storekit"
)

// FeedWait bounds how long the suite waits for an asynchronous revocation
// feed to deliver (a bound on waiting, not a timing assertion).
const FeedWait = 5 * time.Second

// Clock is a settable clock for opts.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to a fixed instant.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// AuditRecorder is an AuditSink that keeps every event.
type AuditRecorder struct {
	mu     sync.Mutex
	events []core.AuditEvent
}

// Revoked records e.
func (r *AuditRecorder) Revoked(_ context.Context, e core.AuditEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events returns a copy of the events recorded so far.
func (r *AuditRecorder) Events() []core.AuditEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// env is one subtest's store with its clock and audit recorder.
type env struct {
	t     *testing.T
	s     core.SessionStore
	clock *Clock
	audit *AuditRecorder
	ctx   context.Context
}

// Run runs the whole SessionStore contract.
func Run(t *testing.T, newStore func(t *testing.T, opts core.StoreOptions) core.SessionStore) {
	mk := func(t *testing.T, opts core.StoreOptions) *env {
		t.Helper()
		e := &env{t: t, clock: NewClock(), audit: &AuditRecorder{}, ctx: context.Background()}
		opts.Now = e.clock.Now
		opts.Audit = e.audit
		e.s = newStore(t, opts)
		t.Cleanup(func() { _ = e.s.Close() })
		return e
	}
	base := core.StoreOptions{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 8 * time.Hour, TouchInterval: time.Minute}
	tests := []struct {
		name string
		opts core.StoreOptions
		run  func(e *env)
	}{
		{"create returns a session, its token, and Get/List find it", base, testCreate},
		{"create refuses an empty subject", base, testCreateNoSubject},
		{"returned sessions are copies", base, testCopies},
		{"check: active, revoked, unknown, malformed sid", base, testCheck},
		{"opaque token lookup by hash; unknown, revoked, expired identical (SS-13)", base, testOpaque},
		{"revoke ends the session everywhere and audits it", base, testRevoke},
		{"revoke of an unknown or ended session is ErrSessionRevoked", base, testRevokeUnknown},
		{"revoke subject ends every session of that subject only", base, testRevokeSubject},
		{"idle timeout (SS-17)", base, testIdle},
		{"touch is throttled by TouchInterval (SS-17)", core.StoreOptions{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 8 * time.Hour, TouchInterval: 10 * time.Minute}, testThrottledTouch},
		{"absolute timeout beats activity (SS-17)", core.StoreOptions{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: time.Hour, TouchInterval: time.Minute}, testAbsolute},
		{"no idle timeout: only the absolute one", core.StoreOptions{AbsoluteTimeout: time.Hour}, testNoIdle},
		{"cap refuses the new session (SS-18)", core.StoreOptions{MaxSessions: 2, IdleTimeout: 30 * time.Minute}, testCapRefuse},
		{"cap evicts the oldest session (SS-18)", core.StoreOptions{MaxSessions: 2, EvictOldest: true}, testCapEvict},
		{"cap under parallel creates, refuse-new (SS-18)", core.StoreOptions{MaxSessions: 3}, testCapRaceRefuse},
		{"cap under parallel creates, evict-oldest (SS-18)", core.StoreOptions{MaxSessions: 3, EvictOldest: true}, testCapRaceEvict},
		{"revoke subject racing creates leaves nothing half-indexed (SS-03)", base, testRevokeSubjectRace},
		{"revocation feed delivers revocations and stops", base, testFeed},
		{"expired sessions leave List", base, testListExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(mk(t, tc.opts)) })
	}
}

func (e *env) create(subject string) (*core.Session, string) {
	e.t.Helper()
	s, tok, err := e.s.Create(e.ctx, core.SessionParams{Subject: subject, Issuer: "https://id.example", Scopes: []string{"a", "b"}, Roles: []string{"admin"}, Tenant: "t1", Metadata: map[string]string{"device": "phone"}})
	if err != nil {
		e.t.Fatalf("Create(%q): %v", subject, err)
	}
	return s, tok
}

func (e *env) alive(sid string) bool {
	e.t.Helper()
	_, err := e.s.Get(e.ctx, sid)
	if err != nil && !errors.Is(err, core.ErrSessionRevoked) {
		e.t.Fatalf("Get: unexpected error %v", err)
	}
	return err == nil
}

func (e *env) state(sid string) core.SessionState {
	e.t.Helper()
	st, err := e.s.Check(e.ctx, sid)
	if err != nil {
		e.t.Fatalf("Check(%q): %v", sid, err)
	}
	return st
}

func (e *env) opaqueAlive(tok string) bool {
	e.t.Helper()
	_, err := e.s.AuthenticateOpaque(e.ctx, tok)
	if err != nil && !errors.Is(err, core.ErrSessionRevoked) {
		e.t.Fatalf("AuthenticateOpaque: unexpected error %v", err)
	}
	return err == nil
}

func (e *env) list(subject string) []*core.Session {
	e.t.Helper()
	l, err := e.s.List(e.ctx, subject)
	if err != nil {
		e.t.Fatalf("List: %v", err)
	}
	return l
}

func ids(l []*core.Session) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = s.ID
	}
	return out
}

func testCreate(e *env) {
	t := e.t
	now := e.clock.Now()
	s, tok := e.create("alice")
	if !storekit.ValidSessionID(s.ID) || s.Subject != "alice" || s.Issuer != "https://id.example" || s.Tenant != "t1" ||
		!slices.Equal(s.Scopes, []string{"a", "b"}) || !slices.Equal(s.Roles, []string{"admin"}) || s.Metadata["device"] != "phone" {
		t.Fatalf("created session does not carry what was asked: %+v", s)
	}
	if !s.CreatedAt.Equal(now) || !s.LastSeen.Equal(now) || !s.ExpiresAt.Equal(now.Add(30*time.Minute)) {
		t.Fatalf("times: created %v last %v expires %v, want %v, %v, %v", s.CreatedAt, s.LastSeen, s.ExpiresAt, now, now, now.Add(30*time.Minute))
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < 32 {
		t.Fatalf("token is not base64url of at least 256 bits: %d bytes, %v", len(raw), err)
	}
	s2, tok2 := e.create("alice")
	if s2.ID == s.ID || tok2 == tok {
		t.Fatal("two sessions share an id or a token")
	}
	got, err := e.s.Get(e.ctx, s.ID)
	if err != nil || got.ID != s.ID || got.Subject != "alice" || !slices.Equal(got.Scopes, s.Scopes) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if l := ids(e.list("alice")); !slices.Equal(l, []string{s.ID, s2.ID}) && !slices.Equal(l, []string{s2.ID, s.ID}) {
		t.Fatalf("List(alice) = %v, want both sessions", l)
	}
	if l := e.list("nobody"); len(l) != 0 {
		t.Fatalf("List(nobody) = %v", ids(l))
	}
	e.clock.Advance(time.Minute)
	s3, _ := e.create("alice")
	if l := ids(e.list("alice")); len(l) != 3 || l[2] != s3.ID {
		t.Fatalf("List must be oldest first: %v, newest %s", l, s3.ID)
	}
}

func testCreateNoSubject(e *env) {
	if _, _, err := e.s.Create(e.ctx, core.SessionParams{}); err == nil {
		e.t.Fatal("Create with an empty subject succeeded")
	}
}

func testCopies(e *env) {
	s, _ := e.create("alice")
	s.Scopes[0] = "changed"
	s.Metadata["device"] = "changed"
	s.Subject = "mallory"
	got, err := e.s.Get(e.ctx, s.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	if got.Scopes[0] != "a" || got.Metadata["device"] != "phone" || got.Subject != "alice" {
		e.t.Fatalf("changing a returned session changed the store: %+v", got)
	}
}

func testCheck(e *env) {
	s, _ := e.create("alice")
	if e.state(s.ID) != core.StateActive {
		e.t.Fatal("live session not active")
	}
	for _, sid := range []string{"unknown-session", "../" + s.ID, s.ID + "/x", "", s.ID + "\n"} {
		if e.state(sid) != core.StateRevoked {
			e.t.Fatalf("Check(%q) active", sid)
		}
	}
	if err := e.s.Revoke(e.ctx, s.ID); err != nil {
		e.t.Fatal(err)
	}
	if e.state(s.ID) != core.StateRevoked {
		e.t.Fatal("revoked session still active")
	}
}

func testOpaque(e *env) {
	t := e.t
	s, tok := e.create("alice")
	got, err := e.s.AuthenticateOpaque(e.ctx, tok)
	if err != nil || got.ID != s.ID || got.Subject != "alice" || got.Tenant != "t1" || !slices.Equal(got.Roles, []string{"admin"}) {
		t.Fatalf("AuthenticateOpaque = %+v, %v", got, err)
	}
	flip := []byte(tok)
	flip[len(flip)-1] ^= 1
	_, errUnknown := e.s.AuthenticateOpaque(e.ctx, string(flip))
	if !errors.Is(errUnknown, core.ErrSessionRevoked) {
		t.Fatalf("unknown token: %v", errUnknown)
	}
	if _, err := e.s.AuthenticateOpaque(e.ctx, s.ID); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatal("the session id must not work as a token")
	}
	if err := e.s.Revoke(e.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	_, errRevoked := e.s.AuthenticateOpaque(e.ctx, tok)
	if !errors.Is(errRevoked, core.ErrSessionRevoked) {
		t.Fatalf("revoked token: %v", errRevoked)
	}
	_, tok2 := e.create("bob")
	e.clock.Advance(31 * time.Minute)
	_, errExpired := e.s.AuthenticateOpaque(e.ctx, tok2)
	if !errors.Is(errExpired, core.ErrSessionRevoked) {
		t.Fatalf("expired token: %v", errExpired)
	}
	if errUnknown.Error() != errRevoked.Error() || errRevoked.Error() != errExpired.Error() {
		t.Fatalf("SS-13: unknown, revoked and expired tokens must be indistinguishable: %q / %q / %q", errUnknown, errRevoked, errExpired)
	}
}

func testRevoke(e *env) {
	t := e.t
	s, tok := e.create("alice")
	other, _ := e.create("alice")
	e.clock.Advance(time.Second)
	at := e.clock.Now()
	if err := e.s.Revoke(e.ctx, s.ID, core.WithReason("admin force logout"), core.WithActor("admin-7")); err != nil {
		t.Fatal(err)
	}
	if e.alive(s.ID) || e.state(s.ID) != core.StateRevoked || e.opaqueAlive(tok) {
		t.Fatal("revoked session still found by Get, Check or its token")
	}
	if err := e.s.Touch(e.ctx, s.ID); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("Touch of a revoked session: %v", err)
	}
	if !e.alive(other.ID) {
		t.Fatal("revoking one session ended another")
	}
	if l := ids(e.list("alice")); !slices.Equal(l, []string{other.ID}) {
		t.Fatalf("List after revoke = %v", l)
	}
	ev := e.audit.Events()
	want := core.AuditEvent{SessionID: s.ID, Subject: "alice", Issuer: "https://id.example", At: at, Reason: "admin force logout", Actor: "admin-7"}
	if len(ev) != 1 || !ev[0].At.Equal(want.At) || ev[0].SessionID != want.SessionID || ev[0].Subject != want.Subject ||
		ev[0].Issuer != want.Issuer || ev[0].Reason != want.Reason || ev[0].Actor != want.Actor {
		t.Fatalf("audit events = %+v, want [%+v]", ev, want)
	}
}

func testRevokeUnknown(e *env) {
	s, _ := e.create("alice")
	if err := e.s.Revoke(e.ctx, "no-such-session"); !errors.Is(err, core.ErrSessionRevoked) {
		e.t.Fatalf("Revoke(unknown) = %v", err)
	}
	if err := e.s.Revoke(e.ctx, s.ID); err != nil {
		e.t.Fatal(err)
	}
	if err := e.s.Revoke(e.ctx, s.ID); !errors.Is(err, core.ErrSessionRevoked) {
		e.t.Fatalf("second Revoke = %v", err)
	}
	if n := len(e.audit.Events()); n != 1 {
		e.t.Fatalf("%d audit events, want 1 (only real revocations are audited)", n)
	}
}

func testRevokeSubject(e *env) {
	t := e.t
	var alice []string
	var toks []string
	for range 3 {
		s, tok := e.create("alice")
		alice = append(alice, s.ID)
		toks = append(toks, tok)
	}
	bob, bobTok := e.create("bob")
	n, err := e.s.RevokeSubject(e.ctx, "alice", core.WithReason("password changed"), core.WithActor("alice"))
	if err != nil || n != 3 {
		t.Fatalf("RevokeSubject = %d, %v; want 3", n, err)
	}
	for i, sid := range alice {
		if e.alive(sid) || e.state(sid) != core.StateRevoked || e.opaqueAlive(toks[i]) {
			t.Fatalf("session %d of alice survived RevokeSubject", i)
		}
	}
	if !e.alive(bob.ID) || !e.opaqueAlive(bobTok) {
		t.Fatal("RevokeSubject(alice) ended bob's session")
	}
	if l := e.list("alice"); len(l) != 0 {
		t.Fatalf("List(alice) = %v after RevokeSubject", ids(l))
	}
	ev := e.audit.Events()
	var got []string
	for _, x := range ev {
		if x.Subject != "alice" || x.Reason != "password changed" || x.Actor != "alice" {
			t.Fatalf("audit event %+v", x)
		}
		got = append(got, x.SessionID)
	}
	slices.Sort(got)
	slices.Sort(alice)
	if !slices.Equal(got, alice) {
		t.Fatalf("audited %v, want %v", got, alice)
	}
	if n, err := e.s.RevokeSubject(e.ctx, "alice"); err != nil || n != 0 {
		t.Fatalf("second RevokeSubject = %d, %v; want 0", n, err)
	}
}

func testIdle(e *env) {
	t := e.t
	s, tok := e.create("alice")
	e.clock.Advance(29 * time.Minute)
	if !e.alive(s.ID) {
		t.Fatal("session ended before its idle timeout")
	}
	if err := e.s.Touch(e.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(29 * time.Minute) // 58m after creation, 29m after the touch
	if !e.alive(s.ID) || !e.opaqueAlive(tok) {
		t.Fatal("a touch did not extend the idle deadline")
	}
	e.clock.Advance(30*time.Minute + time.Second)
	if e.alive(s.ID) || e.state(s.ID) != core.StateRevoked || e.opaqueAlive(tok) {
		t.Fatal("SS-17: session alive past its idle timeout")
	}
	if err := e.s.Touch(e.ctx, s.ID); !errors.Is(err, core.ErrSessionRevoked) {
		t.Fatalf("Touch revived an idle-expired session: %v", err)
	}
}

func testThrottledTouch(e *env) {
	t := e.t
	s, _ := e.create("alice")
	created := s.LastSeen
	e.clock.Advance(5 * time.Minute)
	if err := e.s.Touch(e.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	got, err := e.s.Get(e.ctx, s.ID)
	if err != nil || !got.LastSeen.Equal(created) {
		t.Fatalf("touch within TouchInterval wrote last-seen: %v (created %v), %v", got.LastSeen, created, err)
	}
	e.clock.Advance(5 * time.Minute)
	if err := e.s.Touch(e.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	got, err = e.s.Get(e.ctx, s.ID)
	if err != nil || !got.LastSeen.Equal(e.clock.Now()) || !got.ExpiresAt.Equal(e.clock.Now().Add(30*time.Minute)) {
		t.Fatalf("touch after TouchInterval: last-seen %v expires %v, %v", got.LastSeen, got.ExpiresAt, err)
	}
}

func testAbsolute(e *env) {
	t := e.t
	s, tok := e.create("alice")
	for range 2 { // active every 20 minutes: never idle
		e.clock.Advance(20 * time.Minute)
		if err := e.s.Touch(e.ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(19 * time.Minute)
	got, err := e.s.Get(e.ctx, s.ID)
	if err != nil {
		t.Fatalf("active session ended before its absolute timeout: %v", err)
	}
	if !got.ExpiresAt.Equal(s.CreatedAt.Add(time.Hour)) {
		t.Fatalf("SS-17: touches moved the deadline to %v, past the absolute timeout %v", got.ExpiresAt, s.CreatedAt.Add(time.Hour))
	}
	e.clock.Advance(time.Minute) // 60 minutes after creation: over, however active
	if e.alive(s.ID) || e.state(s.ID) != core.StateRevoked || e.opaqueAlive(tok) {
		t.Fatal("SS-17: session alive at its absolute timeout")
	}
}

func testNoIdle(e *env) {
	s, _ := e.create("alice")
	e.clock.Advance(59 * time.Minute)
	if !e.alive(s.ID) {
		e.t.Fatal("session without idle timeout ended early")
	}
	e.clock.Advance(time.Minute)
	if e.alive(s.ID) {
		e.t.Fatal("session alive at its absolute timeout")
	}
}

func testCapRefuse(e *env) {
	t := e.t
	a, _ := e.create("alice")
	e.clock.Advance(time.Second)
	e.create("alice")
	if _, _, err := e.s.Create(e.ctx, core.SessionParams{Subject: "alice"}); !errors.Is(err, core.ErrTooManySessions) {
		t.Fatalf("third session: %v, want ErrTooManySessions", err)
	}
	e.create("bob") // the cap is per subject
	if !e.alive(a.ID) {
		t.Fatal("refuse-new ended an existing session")
	}
	if err := e.s.Revoke(e.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	e.create("alice")                 // room again
	e.clock.Advance(31 * time.Minute) // both expired: expired sessions do not count
	e.create("alice")
	e.create("alice")
}

func testCapEvict(e *env) {
	t := e.t
	var got []core.Revocation
	var mu sync.Mutex
	stop, err := e.s.SubscribeRevocations(e.ctx, func(r core.Revocation) { mu.Lock(); got = append(got, r); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	a, _ := e.create("alice")
	e.clock.Advance(time.Second)
	b, _ := e.create("alice")
	e.clock.Advance(time.Second)
	c, _ := e.create("alice")
	if e.alive(a.ID) || !e.alive(b.ID) || !e.alive(c.ID) {
		t.Fatal("evict-oldest did not evict exactly the oldest session")
	}
	if l := ids(e.list("alice")); !slices.Equal(l, []string{b.ID, c.ID}) {
		t.Fatalf("List = %v, want [b c]", l)
	}
	ev := e.audit.Events()
	if len(ev) != 1 || ev[0].SessionID != a.ID || ev[0].Reason == "" {
		t.Fatalf("eviction must be audited with a reason: %+v", ev)
	}
	waitFor(t, "eviction on the revocation feed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.ContainsFunc(got, func(r core.Revocation) bool { return r.SessionID == a.ID })
	})
}

func parallelCreates(e *env, n int) (ok []*core.Session, refused int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			s, _, err := e.s.Create(e.ctx, core.SessionParams{Subject: "alice"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok = append(ok, s)
			case errors.Is(err, core.ErrTooManySessions):
				refused++
			default:
				e.t.Errorf("Create: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	return ok, refused
}

func testCapRaceRefuse(e *env) {
	ok, refused := parallelCreates(e, 40)
	if len(ok) != 3 || refused != 37 {
		e.t.Fatalf("SS-18: %d created, %d refused; want 3 and 37", len(ok), refused)
	}
	if l := e.list("alice"); len(l) != 3 {
		e.t.Fatalf("SS-18: %d live sessions, want 3", len(l))
	}
}

func testCapRaceEvict(e *env) {
	ok, refused := parallelCreates(e, 40)
	if len(ok) != 40 || refused != 0 {
		e.t.Fatalf("evict-oldest refused creates: %d ok, %d refused", len(ok), refused)
	}
	l := e.list("alice")
	if len(l) != 3 {
		e.t.Fatalf("SS-18: %d live sessions, want 3", len(l))
	}
	alive := 0
	for _, s := range ok {
		if e.alive(s.ID) {
			alive++
		}
	}
	if alive != 3 {
		e.t.Fatalf("SS-18: %d sessions answer Get, want 3", alive)
	}
	if n := len(e.audit.Events()); n != 37 {
		e.t.Fatalf("%d evictions audited, want 37", n)
	}
}

func testRevokeSubjectRace(e *env) {
	t := e.t
	type made struct {
		s   *core.Session
		tok string
	}
	var mu sync.Mutex
	var all []made
	var wg sync.WaitGroup
	var revoked atomic.Int64
	start := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			<-start
			for range 10 {
				s, tok, err := e.s.Create(e.ctx, core.SessionParams{Subject: "alice"})
				if err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				mu.Lock()
				all = append(all, made{s, tok})
				mu.Unlock()
			}
		})
	}
	for range 3 {
		wg.Go(func() {
			<-start
			n, err := e.s.RevokeSubject(e.ctx, "alice")
			if err != nil {
				t.Errorf("RevokeSubject: %v", err)
			}
			revoked.Add(int64(n))
		})
	}
	close(start)
	wg.Wait()
	listed := ids(e.list("alice"))
	alive := 0
	for _, m := range all {
		inList := slices.Contains(listed, m.s.ID)
		get := e.alive(m.s.ID)
		chk := e.state(m.s.ID) == core.StateActive
		opq := e.opaqueAlive(m.tok)
		if inList != get || get != chk || chk != opq {
			t.Fatalf("SS-03: session half-indexed: list %v get %v check %v token %v", inList, get, chk, opq)
		}
		if get {
			alive++
		}
	}
	if int(revoked.Load())+alive != len(all) {
		t.Fatalf("SS-03: %d revoked + %d alive != %d created", revoked.Load(), alive, len(all))
	}
	// Every session that existed when a RevokeSubject returned is gone: a
	// final call ends exactly the survivors.
	n, err := e.s.RevokeSubject(e.ctx, "alice")
	if err != nil || n != alive {
		t.Fatalf("final RevokeSubject = %d, %v; want %d", n, err, alive)
	}
	if l := e.list("alice"); len(l) != 0 {
		t.Fatalf("sessions left after RevokeSubject: %v", ids(l))
	}
}

type feedLog struct {
	mu sync.Mutex
	rs []core.Revocation
}

func (f *feedLog) add(r core.Revocation) { f.mu.Lock(); f.rs = append(f.rs, r); f.mu.Unlock() }
func (f *feedLog) has(sid string) (core.Revocation, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rs {
		if r.SessionID == sid {
			return r, true
		}
	}
	return core.Revocation{}, false
}

func testFeed(e *env) {
	t := e.t
	var first, second feedLog
	stop1, err := e.s.SubscribeRevocations(e.ctx, first.add)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := e.create("alice")
	b1, _ := e.create("bob")
	b2, _ := e.create("bob")
	if err := e.s.Revoke(e.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Revoke on the feed", func() bool { _, ok := first.has(a.ID); return ok })
	r, _ := first.has(a.ID)
	if r.Subject != "alice" || r.Issuer != "https://id.example" || r.At.IsZero() {
		t.Fatalf("revocation = %+v", r)
	}
	if _, err := e.s.RevokeSubject(e.ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "RevokeSubject on the feed", func() bool {
		_, ok1 := first.has(b1.ID)
		_, ok2 := first.has(b2.ID)
		return ok1 && ok2
	})
	stop1()
	stop1() // idempotent
	stop2, err := e.s.SubscribeRevocations(e.ctx, second.add)
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	c, _ := e.create("carol")
	if err := e.s.Revoke(e.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Revoke on the second feed", func() bool { _, ok := second.has(c.ID); return ok })
	if _, ok := first.has(c.ID); ok {
		t.Fatal("a stopped subscription still received revocations")
	}
}

func testListExpired(e *env) {
	a, _ := e.create("alice")
	e.clock.Advance(20 * time.Minute)
	b, _ := e.create("alice")
	e.clock.Advance(15 * time.Minute) // a idle 35m, b idle 15m
	if l := ids(e.list("alice")); !slices.Equal(l, []string{b.ID}) {
		e.t.Fatalf("List = %v, want only %s (not the expired %s)", l, b.ID, a.ID)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(FeedWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not delivered within %v", what, FeedWait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
