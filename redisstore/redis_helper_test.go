package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/authgate/authgate/core"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The tests run against a real Redis, never a fake. Each test that needs to
// stop or disturb Redis starts its own redis-server on a free loopback port
// in a temporary directory; the others use REDIS_URL when it is set.
// Without redis-server the tests are skipped, except under CI=true, where
// they fail.

// redisServer is one redis-server process owned by a test.
type redisServer struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

func redisBinary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not found: install it (apt-get install redis-server) or set REDIS_URL for the tests that need no restart"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// startRedis starts a private redis-server, stopped when the test ends.
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	r := &redisServer{t: t, bin: redisBinary(t), port: freePort(t), dir: t.TempDir()}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (r *redisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Start starts the server (again) on its port and waits until it answers.
func (r *redisServer) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	args := append([]string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", ""}, r.args...)
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = r.dir
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	r.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not come up: %v", r.Addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startCluster starts a private one-node Redis Cluster holding all 16384
// slots: real Cluster semantics (CROSSSLOT refusals, MOVED, a
// *redis.ClusterClient) on one process.
func startCluster(t testing.TB) *redisServer {
	t.Helper()
	r := &redisServer{t: t, bin: redisBinary(t), port: freePort(t), dir: t.TempDir()}
	r.args = []string{"--cluster-enabled", "yes", "--cluster-config-file", r.dir + "/nodes.conf"}
	r.Start()
	t.Cleanup(r.Stop)
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer c.Close()
	ctx := context.Background()
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("one-node cluster not ready: %v %s", err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server and waits for it to exit.
func (r *redisServer) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// sharedAddr returns REDIS_URL's address when set (tests that need no
// restart), else a private server's.
func sharedAddr(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		o, err := redis.ParseURL(u)
		if err != nil {
			t.Fatalf("REDIS_URL: %v", err)
		}
		return o.Addr
	}
	return startRedis(t).Addr()
}

// newClient returns a client of addr, closed when the test ends; every
// simulated process gets its own, as separate processes would.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testPrefix is a key prefix of its own for each store, so tests sharing a
// REDIS_URL server never see each other's keys.
func testPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "agt" + hex.EncodeToString(b[:]) + ":"
}

// newStore returns a store on its own client of addr, closed at the end.
func newStore(t testing.TB, addr string, o Options) *Store {
	t.Helper()
	o = quiet(o)
	s, err := New(context.Background(), newClient(t, addr), o)
	if err != nil {
		t.Fatalf("redisstore.New: %v", err)
	}
	cleanupPrefix(t, addr, o.Prefix)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond for at most d (a bound on waiting, not a timing
// assertion).
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(time.Millisecond)
	}
}

// quiet gives o a fresh prefix, and a discarding audit sink and logger
// unless the test set its own.
func quiet(o Options) Options {
	if o.Prefix == "" {
		o.Prefix = testPrefix()
	}
	if o.Audit == nil {
		o.Audit = core.AuditFunc(func(context.Context, core.AuditEvent) {})
	}
	if o.Logger == nil && os.Getenv("REDISSTORE_TEST_LOG") == "" {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// cleanupPrefix deletes the test's keys from a shared REDIS_URL server when
// the test ends (a private server simply dies).
func cleanupPrefix(t testing.TB, addr, prefix string) {
	if os.Getenv("REDIS_URL") == "" {
		return
	}
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx := context.Background()
		keys, err := c.Keys(ctx, prefix+"*").Result() // test-only; the prefix is the test's own
		if err == nil && len(keys) > 0 {
			_ = c.Del(ctx, keys...).Err()
		}
	})
}
