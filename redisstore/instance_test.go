package redisstore

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/redis/go-redis/v9"
)

// instance is one simulated API process: its own Redis client, its own
// Store on the shared Redis, its own Authenticator.
type instance struct {
	t     testing.TB
	rdb   *redis.Client
	store *Store
	auth  *core.Authenticator
}

type stdReq struct{ r *http.Request }

func (q stdReq) Method() string              { return q.r.Method }
func (q stdReq) Host() string                { return q.r.Host }
func (q stdReq) Header(name string) []string { return q.r.Header[name] }
func (q stdReq) RawQuery() string            { return q.r.URL.RawQuery }

func newInstance(t testing.TB, addr string, iss *authtest.Issuer, o Options, mut func(*core.Config)) *instance {
	t.Helper()
	o = quiet(o) // the prefix is drawn here, so that its keys are cleaned up
	cleanupPrefix(t, addr, o.Prefix)
	return newInstanceOn(t, newClient(t, addr), iss, o, mut)
}

// newInstanceOn is newInstance on a client of the caller's (closed when
// the test ends).
func newInstanceOn(t testing.TB, rdb *redis.Client, iss *authtest.Issuer, o Options, mut func(*core.Config)) *instance {
	t.Helper()
	t.Cleanup(func() { _ = rdb.Close() })
	in := &instance{t: t, rdb: rdb}
	o = quiet(o)
	s, err := New(context.Background(), in.rdb, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	in.store = s
	cfg := iss.Config()
	cfg.Sessions = s
	cfg.Revocations = s
	if os.Getenv("REDISSTORE_TEST_LOG") == "" {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if mut != nil {
		mut(&cfg)
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	in.auth = a
	return in
}

// status serves one GET with tok as a Bearer token on a sensitive or a
// plain route and returns the HTTP status core decides.
func (in *instance) status(tok string, sensitive bool) int {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ctx, err := adapter.Admit(in.auth, context.Background(), stdReq{r}, false)
	if err == nil && sensitive {
		err = core.Require(ctx, core.Requirements{Sensitive: true})
	}
	if err != nil {
		return adapter.Render(in.auth, err).Status
	}
	return http.StatusOK
}

// login opens a session in the store and mints a JWT naming it.
func (in *instance) login(iss *authtest.Issuer, subject string) (*core.Session, string) {
	in.t.Helper()
	s, _, err := in.store.Create(context.Background(), core.SessionParams{Subject: subject, Issuer: iss.URL})
	if err != nil {
		in.t.Fatal(err)
	}
	return s, iss.Token(authtest.Claims{"sub": subject, "sid": s.ID})
}

// feedCurrent reports whether every subscription of s has caught up (told
// its subscriber Behind: false).
func feedCurrent(s *Store) bool {
	s.mu.Lock()
	subs := make([]*subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	if len(subs) == 0 {
		return false
	}
	for _, sub := range subs {
		sub.mu.Lock()
		behind := sub.reported
		sub.mu.Unlock()
		if behind {
			return false
		}
	}
	return true
}
