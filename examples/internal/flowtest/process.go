package flowtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Process builds the example pkg (e.g. "./examples/nethttp") from the
// workspace root, the way the README's `go run ./examples/nethttp` resolves
// it, runs the binary as a real process on a free loopback port, runs the
// commands its banner prints with bash and curl, and stops it with SIGINT,
// expecting a clean exit.
func Process(t *testing.T, pkg string) {
	if testing.Short() {
		t.Skip("builds and runs the example binary; skipped with -short")
	}
	bash := lookTool(t, "bash")
	lookTool(t, "curl")
	root := workspaceRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "example")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s (in %s): %v\n%s", pkg, root, err, out)
	}

	// No unsafe fallbacks: a typo in an AUTHGATE_* name, or development
	// mode on a public address, stops the binary before it listens.
	for _, c := range []struct{ env, want string }{
		{"AUTHGATE_ISUER=https://id.example.com/", "did you mean AUTHGATE_ISSUER?"},
		{"AUTHGATE_ISSUER=", "AUTHGATE_ISSUER is set but empty"},
		{"ADDR=0.0.0.0:0", "AUTHGATE_DEV_ALLOW_REMOTE=1"},
	} {
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second) // an app that starts instead is killed
		refused := exec.CommandContext(rctx, bin)
		refused.Env = append(cleanEnv(), "ADDR=127.0.0.1:0", c.env)
		out, err := refused.CombinedOutput()
		rcancel()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("with %s the app should stop, saying %q; it said (%v):\n%s", c.env, c.want, err, out)
		}
	}

	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(cleanEnv(), "ADDR=127.0.0.1:0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	// Read the banner up to its last line.
	var banner strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		banner.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Development mode:") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	commands := bannerCommands(banner.String())
	if len(commands) != 7 {
		t.Fatalf("banner has %d commands, want 7:\n%s\nstderr:\n%s", len(commands), banner.String(), stderr.String())
	}

	// Run them as a person would paste them, each section marked.
	var script strings.Builder
	script.WriteString("set -u\n")
	for i, c := range commands {
		fmt.Fprintf(&script, "echo '### %d'\n%s\n", i, c)
	}
	sh := exec.CommandContext(ctx, bash, "-c", script.String())
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("banner commands failed: %v\n%s", err, out)
	}
	sections := strings.Split(string(out), "### ")
	want := []string{"", "200", "200", "200", "200", "401", "401"} // login prints nothing
	status := regexp.MustCompile(`(?m)^HTTP/[0-9.]+ (\d{3})`)
	for i, w := range want {
		if w == "" {
			continue
		}
		if i+1 >= len(sections) {
			t.Fatalf("no output for command %d:\n%s", i, out)
		}
		m := status.FindStringSubmatch(sections[i+1])
		if m == nil || m[1] != w {
			t.Errorf("command %q: got %v, want HTTP %s\n%s", commands[i], m, w, sections[i+1])
		}
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	exited = true
	if err != nil {
		t.Fatalf("the app did not exit cleanly on SIGINT: %v\nstderr:\n%s", err, stderr.String())
	}
}

// bannerCommands returns the shell commands of a dev-mode banner: the
// indented lines, comments removed.
func bannerCommands(banner string) []string {
	var cmds []string
	for _, l := range strings.Split(banner, "\n") {
		if !strings.HasPrefix(l, "  ") {
			continue
		}
		if i := strings.Index(l, "   #"); i >= 0 {
			l = l[:i]
		}
		cmds = append(cmds, strings.TrimSpace(l))
	}
	return cmds
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := name + " is not installed: apt-get install " + name
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// workspaceRoot returns the directory of the go.work file in use.
func workspaceRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		t.Fatalf("go env GOWORK: %v", err)
	}
	w := strings.TrimSpace(string(out))
	if w == "" || w == "off" {
		t.Skip("not in the authgate workspace (no go.work): the README's command runs from the repository root")
	}
	return filepath.Dir(w)
}

// cleanEnv is the test's environment without AUTHGATE_* and ADDR, so the
// app starts in development mode.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AUTHGATE_") || strings.HasPrefix(kv, "ADDR=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
