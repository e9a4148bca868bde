package installtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

const prefix = "github.com/authgate/authgate/"

// The adapters and stores a user installs with go get, as the README's
// Install section lists them; each has a program in testdata/consumer.
var getModules = []string{"ginauth", "nethttpauth", "echoauth", "fiberauth", "redisstore", "otelauth"}

// cmdTimeout bounds each go command the test runs.
const cmdTimeout = 10 * time.Minute

// TestInstallOutsideTheWorkspace publishes the released modules of the
// working tree on a file-based module proxy at the version their go.mod
// files require of each other, then, in a new module with GOWORK=off, runs
// the README's go get lines, builds a quick start program per framework
// (and examples/quickstart/main.go, the README's whole Quick start), and
// go installs the operator tool. A module that requires a sibling at a
// version that is not published fails it.
func TestInstallOutsideTheWorkspace(t *testing.T) {
	root := setUp(t)
	start := time.Now()
	released := releasedModules(t, root)
	version := releaseVersion(t, root, released)
	t.Logf("release version %s, modules %v", version, released)

	proxy := filepath.Join(t.TempDir(), "proxy")
	for _, m := range released {
		publish(t, proxy, prefix+m, version, filepath.Join(root, m), nil)
	}
	env := consumerEnv(t, proxy)

	work := filepath.Join(t.TempDir(), "consumer")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	goRun(t, work, env, "mod", "init", "example.com/consumer")

	// Every released module is on the proxy, at that version only, and it
	// is the latest.
	args := []string{"list", "-m", "-versions", "-json"}
	for _, m := range released {
		args = append(args, prefix+m+"@latest")
	}
	dec := json.NewDecoder(strings.NewReader(goRun(t, work, env, args...)))
	seen := 0
	for dec.More() {
		var mod struct {
			Path, Version string
			Versions      []string
		}
		if err := dec.Decode(&mod); err != nil {
			t.Fatalf("go list -m -json: %v", err)
		}
		seen++
		if mod.Version != version || !slices.Equal(mod.Versions, []string{version}) {
			t.Errorf("%s: latest %s, versions %v on the proxy; want %s only", mod.Path, mod.Version, mod.Versions, version)
		}
	}
	if seen != len(released) {
		t.Errorf("go list -m listed %d modules, want %d", seen, len(released))
	}

	// The README's Install section, line by line.
	for _, m := range getModules {
		goRun(t, work, env, "get", prefix+m+"@"+version)
	}
	if err := os.CopyFS(work, os.DirFS(filepath.Join("testdata", "consumer"))); err != nil {
		t.Fatal(err)
	}
	// The README's Quick start, pasted into a main.go of the user's module.
	dir := filepath.Join(work, "readmequickstart")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), readmeQuickStart(t, root), 0o644); err != nil {
		t.Fatal(err)
	}
	goRun(t, work, env, "build", "-o", os.DevNull, "./...")
	gomod, err := os.ReadFile(filepath.Join(work, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range getModules {
		if !bytes.Contains(gomod, []byte(prefix+m+" "+version)) {
			t.Errorf("the consumer's go.mod does not require %s %s:\n%s", prefix+m, version, gomod)
		}
	}

	// The operator tool, as RELEASING.md says to install it.
	if slices.Contains(released, "cmd/authgate") {
		bin := filepath.Join(t.TempDir(), "bin")
		goRun(t, work, append(env, "GOBIN="+bin), "install", prefix+"cmd/authgate@"+version)
		out, err := exec.Command(filepath.Join(bin, "authgate"), "version").CombinedOutput()
		if err != nil {
			t.Fatalf("authgate version: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), version) {
			t.Errorf("authgate version says %q, want it to name %s", out, version)
		}
		out, err = exec.Command(filepath.Join(bin, "authgate"), "help").CombinedOutput()
		for _, c := range []string{"check-issuer", "explain", "decode"} {
			if err != nil || !strings.Contains(string(out), "  "+c+" ") {
				t.Errorf("the installed authgate help does not list %s (%v):\n%s", c, err, out)
			}
		}
	}
	t.Logf("install test took %s", time.Since(start).Round(time.Second))
}

// TestInstallFailsOnAnUnpublishedSibling is the install test's control: a
// proxy whose ginauth requires core at v0.0.0, which is not published, makes
// go get fail, so the install test would too.
func TestInstallFailsOnAnUnpublishedSibling(t *testing.T) {
	root := setUp(t)
	released := releasedModules(t, root)
	version := releaseVersion(t, root, released)
	proxy := filepath.Join(t.TempDir(), "proxy")
	for _, m := range []string{"core", "ginauth"} {
		var override []byte
		if m == "ginauth" {
			f := parseMod(t, filepath.Join(root, m, "go.mod"))
			if err := f.AddRequire(prefix+"core", "v0.0.0"); err != nil {
				t.Fatal(err)
			}
			var err error
			if override, err = f.Format(); err != nil {
				t.Fatal(err)
			}
		}
		publish(t, proxy, prefix+m, version, filepath.Join(root, m), override)
	}
	env := consumerEnv(t, proxy)
	work := t.TempDir()
	goRun(t, work, env, "mod", "init", "example.com/consumer")
	out, err := goCmd(t, work, env, "get", prefix+"ginauth@"+version)
	if err == nil {
		t.Fatalf("go get succeeded although ginauth requires core v0.0.0:\n%s", out)
	}
	if !strings.Contains(out, prefix+"core@v0.0.0") {
		t.Errorf("go get failed, but not on core@v0.0.0:\n%s", out)
	}
}

// TestSiblingRequirementsNameTheReleaseVersion reads every module of the
// workspace: each requirement of a released module names the one release
// version (scripts/release.sh sets them all).
func TestSiblingRequirementsNameTheReleaseVersion(t *testing.T) {
	root := workspaceRoot(t)
	released := releasedModules(t, root)
	version := releaseVersion(t, root, released)
	wf, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	work, err := modfile.ParseWork("go.work", wf, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range work.Use {
		f := parseMod(t, filepath.Join(root, u.Path, "go.mod"))
		for _, r := range f.Require {
			if m, ok := strings.CutPrefix(r.Mod.Path, prefix); ok && slices.Contains(released, m) && r.Mod.Version != version {
				t.Errorf("%s/go.mod requires %s %s, not the release version %s: run scripts/release.sh --set-only %s", u.Path, r.Mod.Path, r.Mod.Version, version, version)
			}
		}
		if f.Module.Mod.Path == prefix+"cmd/authgate" && len(f.Replace) > 0 {
			t.Errorf("%s/go.mod has replace directives: go install %scmd/authgate@%s refuses a module with any", u.Path, prefix, version)
		}
	}
}

// setUp skips or fails the install tests as the environment allows.
func setUp(t *testing.T) string {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("-short: the install test builds every adapter outside the workspace (about a minute)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		skipOrFail(t, "no go command on PATH")
	}
	return workspaceRoot(t)
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// workspaceRoot is the directory of the go.work in use.
func workspaceRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		t.Fatalf("go env GOWORK: %v", err)
	}
	w := strings.TrimSpace(string(out))
	if w == "" || w == "off" {
		skipOrFail(t, "not in the authgate workspace (no go.work)")
	}
	return filepath.Dir(w)
}

// releasedModules reads the list of released module directories from
// scripts/release.sh, so that the test publishes what the script tags.
func releasedModules(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "scripts", "release.sh"))
	if err != nil {
		t.Fatalf("reading the release script: %v", err)
	}
	m := regexp.MustCompile(`(?m)^released=\(([^)]*)\)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("scripts/release.sh has no released=(...) line")
	}
	mods := strings.Fields(string(m[1]))
	for _, want := range append([]string{"core", "cmd/authgate"}, getModules...) {
		if !slices.Contains(mods, want) {
			t.Errorf("scripts/release.sh does not release %s", want)
		}
	}
	return mods
}

// releaseVersion is the version the released modules require of each
// other; they must agree, and it must be a release (not v0.0.0).
func releaseVersion(t *testing.T, root string, released []string) string {
	t.Helper()
	versions := map[string][]string{}
	for _, m := range released {
		f := parseMod(t, filepath.Join(root, m, "go.mod"))
		if f.Module == nil || f.Module.Mod.Path != prefix+m {
			t.Fatalf("%s/go.mod does not declare module %s", m, prefix+m)
		}
		for _, r := range f.Require {
			if dep, ok := strings.CutPrefix(r.Mod.Path, prefix); ok && slices.Contains(released, dep) {
				versions[r.Mod.Version] = append(versions[r.Mod.Version], m+" -> "+dep)
			}
		}
	}
	if len(versions) != 1 {
		t.Fatalf("the released modules require each other at more than one version (or none): %v", versions)
	}
	for v := range versions {
		if !semver.IsValid(v) || semver.Canonical(v) != v || v == "v0.0.0" {
			t.Fatalf("the released modules require each other at %s, which is not a release version: run scripts/release.sh --set-only vX.Y.Z", v)
		}
		return v
	}
	panic("unreachable")
}

func parseMod(t *testing.T, path string) *modfile.File {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// publish writes one module version to a file-based module proxy (the
// GOPROXY protocol: <path>/@v/list, .info, .mod, .zip). gomod, when not nil,
// replaces the module's go.mod in both the .mod file and the zip.
func publish(t *testing.T, proxy, path, version, dir string, gomod []byte) {
	t.Helper()
	esc, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	vdir := filepath.Join(proxy, filepath.FromSlash(esc), "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if gomod != nil {
		copyDir := filepath.Join(t.TempDir(), "src")
		if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, "go.mod"), gomod, 0o644); err != nil {
			t.Fatal(err)
		}
		dir = copyDir
	}
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := json.Marshal(map[string]string{"Version": version, "Time": time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"list": []byte(version + "\n"), version + ".info": info, version + ".mod": mod} {
		if err := os.WriteFile(filepath.Join(vdir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	zf, err := os.Create(filepath.Join(vdir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zf.Close()
	if err := modzip.CreateFromDir(zf, module.Version{Path: path, Version: version}, dir); err != nil {
		t.Fatalf("zip of %s: %v", path, err)
	}
	if err := zf.Close(); err != nil {
		t.Fatal(err)
	}
}

// consumerEnv is the environment of a user's module outside the workspace:
// authgate's modules come from the file proxy only (a fresh module cache,
// so that the test's versions never enter the user's; no checksum database
// for them); third-party modules from the user's module cache, then the
// GOPROXY in effect.
func consumerEnv(t *testing.T, proxy string) []string {
	t.Helper()
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	fileURL := func(dir string) string {
		p := filepath.ToSlash(dir)
		if !strings.HasPrefix(p, "/") {
			p = "/" + p // a Windows drive letter
		}
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	proxies := []string{fileURL(proxy)}
	if mc := goEnv("GOMODCACHE"); mc != "" {
		proxies = append(proxies, fileURL(filepath.Join(mc, "cache", "download")))
	}
	if p := goEnv("GOPROXY"); p != "" && p != "off" {
		proxies = append(proxies, p)
	}
	return append(os.Environ(),
		"GOWORK=off",
		"GOFLAGS=-mod=mod -modcacherw -trimpath", // -trimpath: build cache hits across fresh module caches
		"GOPROXY="+strings.Join(proxies, ","),
		"GOMODCACHE="+filepath.Join(t.TempDir(), "modcache"),
		"GONOSUMDB="+strings.TrimSuffix(prefix, "/"),
		"GOPRIVATE=",
		"GONOPROXY=",
		"GOTOOLCHAIN=local",
	)
}

func goCmd(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("go %s: %s", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
	return string(out), err
}

func goRun(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := goCmd(t, dir, env, args...)
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// quickStartFile is the program the README's Quick start shows whole.
const quickStartFile = "examples/quickstart/main.go"

// quickStartRE finds the README's complete quick start program: the fenced
// Go block right after <!-- all of examples/quickstart/main.go --> (the
// marker examples/internal/flowtest checks).
var quickStartRE = regexp.MustCompile("(?s)<!-- all of " + regexp.QuoteMeta(quickStartFile) + " -->\\s*```go\\n(.*?)```")

// readmeQuickStart returns examples/quickstart/main.go, the file a user
// pastes from the README's Quick start; it fails the test when the README
// does not show that whole file, byte for byte.
func readmeQuickStart(t *testing.T, root string) []byte {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(quickStartFile)))
	if err != nil {
		t.Fatal(err)
	}
	m := quickStartRE.FindSubmatch(readme)
	if m == nil {
		t.Fatalf("README.md has no <!-- all of %s --> block: its Quick start must be that whole program", quickStartFile)
	}
	if !bytes.Equal(m[1], src) {
		t.Fatalf("README.md's Quick start differs from %s: the README must show the file the install test builds", quickStartFile)
	}
	return src
}
