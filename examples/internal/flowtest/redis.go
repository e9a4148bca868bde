package flowtest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/redisstore"
	"github.com/redis/go-redis/v9"
)

// StartRedis starts a private redis-server on a free loopback port, stopped
// when the test ends, and returns its address. Without redis-server the test
// is skipped, except under CI=true, where it fails.
func StartRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		const msg = "redis-server not found: install it with `apt-get install redis-server`"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c.Ping(context.Background()).Err() == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not come up", addr)
		}
	}
}

// Redis runs the app with AUTHGATE_REDIS_URL: the whole development flow on
// the Redis store, then two instances of the app behind a real issuer that
// share one Redis, where a logout on one is refused on the other (SS-02
// across processes: at once on the sensitive route, through the revocation
// feed on the others).
func Redis(t *testing.T, run Run) {
	addr := StartRedis(t)
	t.Run("development flow on Redis", func(t *testing.T) {
		FlowEnv(t, run, map[string]string{"AUTHGATE_REDIS_URL": "redis://" + addr + "/0"})
	})
	t.Run("SS-02 logout on one instance is refused on another", func(t *testing.T) {
		iss := authtest.New(t)
		url := "redis://" + addr + "/1"
		// The login service: it writes the session to the shared Redis and
		// has the issuer mint a token naming it.
		rdb := redis.NewClient(&redis.Options{Addr: addr, DB: 1})
		t.Cleanup(func() { _ = rdb.Close() })
		login, err := redisstore.New(context.Background(), rdb, redisstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = login.Close() })
		s, _, err := login.Create(context.Background(), core.SessionParams{Subject: "user-1", Issuer: iss.URL})
		if err != nil {
			t.Fatal(err)
		}
		tok := iss.Token(authtest.Claims{"sub": "user-1", "sid": s.ID})

		env := map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience, "AUTHGATE_REDIS_URL": url}
		a, b := Start(t, run, env), Start(t, run, env)
		for _, app := range []*App{a, b} {
			app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200)
			app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok}, 200)
		}
		if m := a.Expect(t, Req{Method: "POST", Path: "/logout", Bearer: tok}, 200).JSON(t); m["revoked"] != 1.0 {
			t.Fatalf("logout on A = %v", m)
		}
		b.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: tok}, 401) // live check: at once
		// Non-sensitive route: the revocation arrives through the Redis feed.
		// The wait is bounded; how fast it arrives is measured elsewhere.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if b.Do(t, Req{Method: "GET", Path: "/me", Bearer: tok}).Status == 401 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("instance B still accepts the logged-out token on /me: the revocation feed never delivered")
			}
		}

		t.Run("the banner's walk answers what it says", func(t *testing.T) {
			s2, _, err := login.Create(context.Background(), core.SessionParams{Subject: "user-1", Issuer: iss.URL})
			if err != nil {
				t.Fatal(err)
			}
			BannerWalk(t, a, iss.Token(authtest.Claims{"sub": "user-1", "sid": s2.ID, "roles": []string{"admin"}}), nil)
		})
	})
}
