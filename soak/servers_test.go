package soak

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/redisstore"
	"github.com/redis/go-redis/v9"
)

// restartable is an HTTP server on a fixed loopback address that can be
// stopped (listener and connections closed: clients get "connection
// refused") and started again on the same address. httptest.Server cannot
// do that, so the test issuer's key set and the HTTP session endpoint are
// served from one of these.
type restartable struct {
	handler http.Handler
	errLog  *log.Logger

	mu   sync.Mutex
	addr string // "127.0.0.1:0" until the first Start
	srv  *http.Server
	done chan struct{}
}

func newRestartable(h http.Handler, errLog *log.Logger) *restartable {
	return &restartable{handler: h, errLog: errLog, addr: "127.0.0.1:0"}
}

// URL is the server's base URL (valid after the first Start).
func (s *restartable) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.addr
}

// Start listens on the server's address (the same one every time) and
// serves. Binding is retried for a bounded time.
func (s *restartable) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		ln, err = net.Listen("tcp", s.addr)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("listen %s: %w", s.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{Handler: s.handler, ErrorLog: s.errLog, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	s.srv, s.done = srv, done
	return nil
}

// Stop closes the listener and every connection at once, and waits for the
// serving goroutine to end.
func (s *restartable) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	_ = s.srv.Close()
	<-s.done
	s.srv, s.done = nil, nil
}

// backend is the session backend of one run.
type backend interface {
	// configure sets the checker (wrapped by wrap, which records its
	// failures), the revocation feed and the policy.
	configure(cfg *core.Config, wrap func(core.SessionChecker) core.SessionChecker)
	// create opens a session and returns its id.
	create(ctx context.Context, subject, issuer string) (string, error)
	// revoke ends a session; nil means acknowledged.
	revoke(ctx context.Context, sid string) error
	// revokeSubject ends every session of subject; nil means acknowledged.
	revokeSubject(ctx context.Context, subject string) error
	// restartable reports whether stop and start can be used.
	restartable() bool
	stop()
	start() error
	// note describes the backend for the report.
	note() string
	close()
}

// memoryBackend is core's MemoryStore. It cannot go down: its faults are
// bursts of revocations (RevokeSubject) instead.
type memoryBackend struct{ store *core.MemoryStore }

func newMemoryBackend() *memoryBackend {
	return &memoryBackend{store: core.NewMemoryStore(core.StoreOptions{
		Audit:         core.AuditFunc(func(context.Context, core.AuditEvent) {}),
		SweepInterval: time.Second,
	})}
}

// configure does not wrap the MemoryStore: core calls it directly, without
// timeout or singleflight, and it cannot fail.
func (b *memoryBackend) configure(cfg *core.Config, _ func(core.SessionChecker) core.SessionChecker) {
	cfg.Sessions = b.store
}
func (b *memoryBackend) create(ctx context.Context, subject, iss string) (string, error) {
	s, _, err := b.store.Create(ctx, core.SessionParams{Subject: subject, Issuer: iss})
	if err != nil {
		return "", err
	}
	return s.ID, nil
}
func (b *memoryBackend) revoke(ctx context.Context, sid string) error {
	return b.store.Revoke(ctx, sid)
}
func (b *memoryBackend) revokeSubject(ctx context.Context, subject string) error {
	_, err := b.store.RevokeSubject(ctx, subject)
	return err
}
func (b *memoryBackend) restartable() bool { return false }
func (b *memoryBackend) stop()             {}
func (b *memoryBackend) start() error      { return nil }
func (b *memoryBackend) note() string {
	return "core.MemoryStore (revocation feed), PolicySensitiveOnly; faults: RevokeSubject bursts"
}
func (b *memoryBackend) close() { _ = b.store.Close() }

// httpBackend is an identity provider's session endpoint (GET
// /sessions/{sid}: 200 active, 404 revoked or unknown) on a restartable
// server, used through core.NewHTTPSessionChecker under PolicyAlways (no
// feed: every request is checked live, so a revocation at the endpoint is
// refused on every route).
type httpBackend struct {
	mu   sync.Mutex
	live map[string]string // sid -> subject

	srv     *restartable
	tr      *http.Transport
	checker *core.HTTPSessionChecker
}

func newHTTPBackend(t testing.TB, errLog *log.Logger) *httpBackend {
	t.Helper()
	b := &httpBackend{live: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sessions/{sid}", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		_, ok := b.live[r.PathValue("sid")]
		b.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	b.srv = newRestartable(mux, errLog)
	if err := b.srv.Start(); err != nil {
		t.Fatal(err)
	}
	b.tr = &http.Transport{MaxIdleConnsPerHost: 16}
	c, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{
		URL:     b.srv.URL() + "/sessions/{sid}",
		Client:  &http.Client{Transport: b.tr},
		Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	b.checker = c
	return b
}

func (b *httpBackend) configure(cfg *core.Config, wrap func(core.SessionChecker) core.SessionChecker) {
	cfg.Sessions = wrap(b.checker)
	cfg.SessionPolicy = core.PolicyAlways
}
func (b *httpBackend) create(_ context.Context, subject, _ string) (string, error) {
	var r [12]byte
	_, _ = rand.Read(r[:])
	sid := "s-" + hex.EncodeToString(r[:])
	b.mu.Lock()
	b.live[sid] = subject
	b.mu.Unlock()
	return sid, nil
}
func (b *httpBackend) revoke(_ context.Context, sid string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.live[sid]; !ok {
		return core.ErrSessionRevoked
	}
	delete(b.live, sid)
	return nil
}
func (b *httpBackend) revokeSubject(_ context.Context, subject string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for sid, s := range b.live {
		if s == subject {
			delete(b.live, sid)
		}
	}
	return nil
}

func (b *httpBackend) restartable() bool { return true }
func (b *httpBackend) stop()             { b.srv.Stop() }
func (b *httpBackend) start() error      { return b.srv.Start() }
func (b *httpBackend) note() string {
	return "core.NewHTTPSessionChecker against a restartable endpoint, PolicyAlways (no feed); faults: endpoint closed and reopened"
}
func (b *httpBackend) close() {
	b.srv.Stop()
	b.tr.CloseIdleConnections()
}

// redisBackend is redisstore on a redis-server process of its own, killed
// (SIGKILL) and restarted on the same port; or, without redis-server and
// with REDIS_URL, on that server without restarts.
type redisBackend struct {
	proc   *redisProc // nil with REDIS_URL
	rdb    *redis.Client
	store  *redisstore.Store
	prefix string
}

// goRedisLog counts go-redis's own log lines (dial failures while the
// server is down); SOAK_LOG=1 prints them.
type goRedisLog struct{ lines atomic.Int64 }

func (l *goRedisLog) Printf(_ context.Context, format string, v ...any) {
	l.lines.Add(1)
	if os.Getenv("SOAK_LOG") != "" {
		fmt.Fprintf(os.Stderr, "go-redis: "+format+"\n", v...)
	}
}

var redisLog = &goRedisLog{}

func init() { redis.SetLogger(redisLog) }

func newRedisBackend(t testing.TB, logger *slogLogger) *redisBackend {
	t.Helper()
	b := &redisBackend{}
	var addr string
	if bin, err := exec.LookPath("redis-server"); err == nil {
		b.proc = &redisProc{bin: bin, dir: t.TempDir(), port: freePort(t)}
		if err := b.proc.start(); err != nil {
			t.Fatal(err)
		}
		addr = b.proc.addr()
	} else if u := os.Getenv("REDIS_URL"); u != "" {
		o, err := redis.ParseURL(u)
		if err != nil {
			t.Fatalf("REDIS_URL: %v", err)
		}
		addr = o.Addr
	} else {
		msg := "redis-server not found: install it (apt-get install redis-server), or set REDIS_URL to run the Redis backend without restarts"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	b.prefix = "soak" + hex.EncodeToString(r[:]) + ":"
	b.rdb = redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 250 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 16})
	s, err := redisstore.New(context.Background(), b.rdb, b.options(logger))
	if err != nil {
		_ = b.rdb.Close()
		b.proc.kill()
		t.Fatal(err)
	}
	b.store = s
	return b
}

func (b *redisBackend) options(logger *slogLogger) redisstore.Options {
	return redisstore.Options{
		Prefix:         b.prefix,
		CommandTimeout: 300 * time.Millisecond,
		FeedBlock:      100 * time.Millisecond,
		Logger:         logger.Logger,
		Audit:          core.AuditFunc(func(context.Context, core.AuditEvent) {}),
	}
}

func (b *redisBackend) configure(cfg *core.Config, wrap func(core.SessionChecker) core.SessionChecker) {
	cfg.Sessions = wrap(b.store)
	cfg.Revocations = b.store
}
func (b *redisBackend) create(ctx context.Context, subject, iss string) (string, error) {
	s, _, err := b.store.Create(ctx, core.SessionParams{Subject: subject, Issuer: iss})
	if err != nil {
		return "", err
	}
	return s.ID, nil
}
func (b *redisBackend) revoke(ctx context.Context, sid string) error {
	return b.store.Revoke(ctx, sid)
}
func (b *redisBackend) revokeSubject(ctx context.Context, subject string) error {
	_, err := b.store.RevokeSubject(ctx, subject)
	return err
}
func (b *redisBackend) restartable() bool { return b.proc != nil }
func (b *redisBackend) stop() {
	if b.proc != nil {
		b.proc.kill()
	}
}
func (b *redisBackend) start() error {
	if b.proc == nil {
		return nil
	}
	return b.proc.start()
}
func (b *redisBackend) note() string {
	if b.proc == nil {
		return "redisstore on REDIS_URL (no restarts: redis-server not installed), PolicySensitiveOnly"
	}
	return "redisstore (revocation feed) on its own redis-server (AOF, appendfsync always), PolicySensitiveOnly; faults: SIGKILL and restart on the same port"
}
func (b *redisBackend) close() {
	_ = b.store.Close()
	if b.proc == nil {
		// Shared server: remove this run's keys (test-only KEYS on our prefix).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if keys, err := b.rdb.Keys(ctx, b.prefix+"*").Result(); err == nil && len(keys) > 0 {
			_ = b.rdb.Del(ctx, keys...).Err()
		}
	}
	_ = b.rdb.Close()
	b.proc.kill()
}

// redisProc is a redis-server process owned by the test. Its data is kept
// in an append-only file fsynced before every reply (appendfsync always),
// as a production Redis holding sessions would be configured, so what it
// acknowledged survives SIGKILL.
type redisProc struct {
	bin, dir string
	port     int

	mu  sync.Mutex
	cmd *exec.Cmd
}

func (r *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisProc) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return nil
	}
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always",
		"--dir", r.dir, "--logfile", "")
	cmd.Dir = r.dir
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	r.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not come up: %w", r.addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to exit.
func (r *redisProc) kill() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_ = r.cmd.Wait()
	r.cmd = nil
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

// checkRecorder passes checks on and records, for each session, when the
// latest call that answered "active" began, and the time span of each call
// that failed, so that a 503 can be matched with the failure behind it.
type checkRecorder struct {
	inner core.SessionChecker
	h     *harness

	mu          sync.Mutex
	activeStart map[string]int64
}

func newCheckRecorder(inner core.SessionChecker, h *harness) *checkRecorder {
	return &checkRecorder{inner: inner, h: h, activeStart: map[string]int64{}}
}

func (c *checkRecorder) Check(ctx context.Context, sid string) (core.SessionState, error) {
	start := c.h.stamp()
	st, err := c.inner.Check(ctx, sid)
	switch {
	case err == nil && st == core.StateActive:
		c.mu.Lock()
		if start > c.activeStart[sid] {
			c.activeStart[sid] = start
		}
		c.mu.Unlock()
	case err != nil && !errors.Is(err, core.ErrSessionRevoked):
		c.h.noteCheckFailure(start, c.h.stamp())
	}
	return st, err
}

// lastActiveStart returns when the latest call that answered "active" for
// sid began (0: none).
func (c *checkRecorder) lastActiveStart(sid string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.activeStart[sid]
}

// second is a backend that can serve a second instance: another process
// with its own client, store and authenticator on the same data.
type second interface {
	secondStore(t testing.TB, logger *slogLogger) (*redisstore.Store, func())
}

func (b *redisBackend) secondStore(t testing.TB, logger *slogLogger) (*redisstore.Store, func()) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: b.rdb.Options().Addr, DialTimeout: 250 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, PoolSize: 16})
	s, err := redisstore.New(context.Background(), rdb, b.options(logger))
	if err != nil {
		_ = rdb.Close()
		t.Fatal(err)
	}
	return s, func() { _ = s.Close(); _ = rdb.Close() }
}
