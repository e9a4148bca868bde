package idptest_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

// TestHydraBackchannelLogoutToExampleApps: hydra's back-channel logout
// reaches two instances of each example app sharing one Redis. The client's
// backchannel_logout_uri names instance A only; hydra's logout token (sid,
// no sub) is received there and published on the Redis feed, and the
// logged-out token is refused on /me at A and at B, for both ways hydra
// ends a login session: the admin API (DELETE
// /admin/oauth2/auth/sessions/login?sid=) and the RP-initiated logout flow
// (id_token_hint, logout challenge accepted). Another login session's token
// stays accepted: only the named session ends.
//
// The apps run as real processes, built from the workspace as the README's
// go run resolves them. Every wait is bounded and polls; none is timed.
func TestHydraBackchannelLogoutToExampleApps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hydra and the example apps; skipped with -short")
	}
	redisAddr := startRedis(t)
	h := idptest.Start(t, idptest.Options{})
	root := workspaceRoot(t)
	for db, name := range []string{"nethttp", "gin", "echo", "fiber"} {
		t.Run(name, func(t *testing.T) {
			bin := buildExample(t, root, name)
			portA := freeLoopbackPort(t)
			c := h.CreateClient(idptest.ClientSpec{
				Audience:             []string{"orders-api"},
				BackchannelLogoutURI: "http://127.0.0.1:" + strconv.Itoa(portA) + "/backchannel-logout",
			})
			env := []string{
				"AUTHGATE_ISSUER=" + h.Issuer, "AUTHGATE_AUDIENCE=orders-api",
				"AUTHGATE_CLAIM_SID=ext.sid", // hydra puts the login session id there (idptest.Login)
				"AUTHGATE_CLIENT_ID=" + c.ID, // the logout tokens' aud
				"AUTHGATE_REDIS_URL=redis://" + redisAddr + "/" + strconv.Itoa(db),
			}
			a := startApp(t, bin, portA, env)
			b := startApp(t, bin, freeLoopbackPort(t), env)
			login := func(sub string) idptest.Tokens {
				return h.AuthorizationCode(c, idptest.Login{Subject: sub, Scope: []string{"openid", "offline_access", "read"}, Audience: []string{"orders-api"}})
			}
			admin, rp, other := login("alice"), login("bob"), login("carol")
			for _, app := range []string{a, b} {
				for _, tok := range []idptest.Tokens{admin, rp, other} {
					// Until an instance's Redis feed has caught up, every
					// request is checked live, and Redis holds none of
					// hydra's sessions: 401. Then /me is verified locally.
					waitStatus(t, app, tok.AccessToken, http.StatusOK, "the instance never accepted a live token on /me")
				}
			}

			// The delays are logged, a measurement and no assertion: from the
			// call that ends the session at hydra to the token refused on B
			// (hydra sends the logout token from a goroutine; polled every
			// 10 ms, so they are rounded up to that).
			start := time.Now()
			h.RevokeLoginSession(admin.LoginSessionID)
			for _, app := range []string{a, b} {
				waitStatus(t, app, admin.AccessToken, http.StatusUnauthorized, "after hydra's admin revocation of the login session, the token is still accepted on /me")
			}
			adminDelay := time.Since(start)

			start = time.Now()
			h.Logout(rp.IDToken)
			for _, app := range []string{a, b} {
				waitStatus(t, app, rp.AccessToken, http.StatusUnauthorized, "after hydra's logout flow, the token is still accepted on /me")
			}
			t.Logf("hydra to refused on both instances: admin revocation %v, logout flow %v (the flow's three requests included)",
				adminDelay.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

			for _, app := range []string{a, b} {
				if code := meStatus(t, app, other.AccessToken); code != http.StatusOK {
					t.Errorf("%s: a token of another login session: /me %d, want 200", app, code)
				}
			}
			if t.Failed() {
				t.Logf("hydra log:\n%s", h.Log())
			}
		})
	}
}

// waitStatus polls GET /me with tok until it answers want, failing with msg
// after a bounded wait.
func waitStatus(t *testing.T, base, tok string, want int, msg string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code := meStatus(t, base, tok)
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s (last answer %d, want %d)", base, msg, code, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func meStatus(t *testing.T, base, tok string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s/me: %v", base, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var (
	buildMu  sync.Mutex
	builtApp = map[string]string{}
)

// buildExample builds ./examples/<name> from the workspace root, once per
// test binary.
func buildExample(t *testing.T, root, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := builtApp[name]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "authgate-idptest-app")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, "./examples/"+name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/%s: %v\n%s", name, err, out)
	}
	builtApp[name] = bin
	return bin
}

// startApp runs an example binary on 127.0.0.1:port with env (and no other
// AUTHGATE_* variable), waits for /healthz, and stops it with SIGINT at the
// end of the test, expecting a clean exit.
func startApp(t *testing.T, bin string, port int, env []string) string {
	t.Helper()
	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHGATE_") && !strings.HasPrefix(kv, "ADDR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env, "ADDR=127.0.0.1:"+strconv.Itoa(port))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the app did not exit cleanly: %v\n%s", err, out.String())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("the app did not stop on SIGINT\n%s", out.String())
		}
		if t.Failed() {
			t.Logf("app output:\n%s", out.String())
		}
	})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("the app exited at start: %v\n%s", err, out.String())
		default:
		}
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app did not answer /healthz\n%s", out.String())
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// workspaceRoot is the directory of the go.work in use; the example apps
// are built from there.
func workspaceRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		t.Fatalf("go env GOWORK: %v", err)
	}
	w := strings.TrimSpace(string(out))
	if w == "" || w == "off" {
		t.Skip("not in the authgate workspace (no go.work): the example apps are built from it")
	}
	return filepath.Dir(w)
}

// startRedis starts a private redis-server on a free loopback port for the
// test. Without redis-server the test is skipped, except under CI=true.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		const msg = "redis-server not found: apt-get install redis-server"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	port := freeLoopbackPort(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not come up", addr)
		}
	}
}
