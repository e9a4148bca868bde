package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core/authtest"
)

// TestQuickStart builds the README's quick start as a user would and runs it
// as a process against a real test issuer (OIDC discovery, JWKS) and a
// session endpoint, then checks each route's promise: public, token
// required, and live session check that sees an ended session at once.
func TestQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the quick start binary; skipped with -short")
	}
	iss := authtest.New(t)
	var ended atomic.Bool
	var checks atomic.Int64
	sessions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checks.Add(1)
		if r.URL.Path != "/sessions/s-1" || ended.Load() {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer sessions.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "quickstart")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "ISSUER="+iss.URL, "AUDIENCE="+authtest.DefaultAudience,
		"SESSION_URL="+sessions.URL+"/sessions/{sid}", "ADDR="+addr)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil || !strings.Contains(line, "listening on http://"+addr) {
		t.Fatalf("the quick start did not start: %q %v", line, err)
	}
	go io.Copy(io.Discard, stderr)
	base := "http://" + addr

	do := func(method, path, token string) (int, map[string]any) {
		t.Helper()
		for range 50 { // the listener opens just after the log line
			req, _ := http.NewRequestWithContext(ctx, method, base+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			return resp.StatusCode, body
		}
		t.Fatalf("%s %s: no answer", method, path)
		return 0, nil
	}

	tok := iss.Token(authtest.Claims{"sub": "alice", "sid": "s-1", "scope": "orders:read"})
	if code, _ := do("GET", "/healthz", ""); code != 200 {
		t.Errorf("GET /healthz = %d, want 200 (public)", code)
	}
	if code, _ := do("GET", "/me", ""); code != 401 {
		t.Errorf("GET /me without a token = %d, want 401", code)
	}
	forged := tok[:len(tok)-4] + "AAAA"
	if code, _ := do("GET", "/me", forged); code != 401 {
		t.Errorf("GET /me with a forged token = %d, want 401", code)
	}
	if code, body := do("GET", "/me", tok); code != 200 || body["sub"] != "alice" || body["sid"] != "s-1" {
		t.Errorf("GET /me = %d %v, want 200 for alice, s-1", code, body)
	}
	if checks.Load() != 0 {
		t.Errorf("GET /me made %d session checks; plain routes need none", checks.Load())
	}
	if code, body := do("POST", "/transfer", tok); code != 200 || body["session_checked"] != true {
		t.Errorf("POST /transfer = %d %v, want 200 with a live check", code, body)
	}
	ended.Store(true) // the user logs out at the identity provider
	if code, _ := do("POST", "/transfer", tok); code != 401 {
		t.Errorf("POST /transfer after the session ended = %d, want 401", code)
	}
	if checks.Load() != 2 {
		t.Errorf("session endpoint called %d times, want 2 (one per sensitive request)", checks.Load())
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
