package core_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDependencyFloor fails when a module of the workspace resolves a
// dependency below the first version that fixes a known advisory. The floors
// live in SECURITY.md, between the floors:begin and floors:end markers.
func TestDependencyFloor(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := os.ReadFile(filepath.Join(root, "SECURITY.md"))
	if err != nil {
		t.Skip("not in the authgate repository (no ../SECURITY.md): nothing to check")
	}
	floors := parseFloors(t, sec)
	if len(floors) < 5 {
		t.Fatalf("read only %d floors from SECURITY.md; is the table intact?", len(floors))
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}

	// The workspace build list, then each module as a user would build it.
	check := func(name, dir string, env ...string) {
		cmd := exec.Command("go", "list", "-m", "all")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: go list -m all: %v", name, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			if floor, ok := floors[f[0]]; ok && semverLess(f[1], floor) {
				t.Errorf("%s resolves %s %s, below the floor %s (see SECURITY.md)", name, f[0], f[1], floor)
			}
		}
	}
	check("workspace", root)
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	type mod struct{ path, dir string }
	var mods []mod
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if p, d, ok := strings.Cut(line, " "); ok {
			mods = append(mods, mod{p, d})
		}
	}
	// Each module alone: a go.work that uses only it and replaces its
	// siblings by their directories, so that its requirements of them
	// (at a release version that may not be published yet) resolve to the
	// working tree, as its own replace directives would with GOWORK=off.
	// The build list is the module's own, as a user of it gets it.
	tmp := t.TempDir()
	for i, m := range mods {
		var w strings.Builder
		w.WriteString("go 1.26.0\n\nuse " + strconv.Quote(m.dir) + "\n\nreplace (\n")
		for _, o := range mods {
			if o.path != m.path {
				w.WriteString("\t" + o.path + " => " + strconv.Quote(o.dir) + "\n")
			}
		}
		w.WriteString(")\n")
		work := filepath.Join(tmp, strconv.Itoa(i)+".work")
		if err := os.WriteFile(work, []byte(w.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		check(filepath.Base(m.dir), m.dir, "GOWORK="+work)
	}
}

func parseFloors(t *testing.T, md []byte) map[string]string {
	floors := map[string]string{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(md))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.Contains(line, "floors:begin"):
			in = true
			continue
		case strings.Contains(line, "floors:end"):
			in = false
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 2 {
			continue
		}
		mod, floor := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1])
		if !strings.HasPrefix(floor, "v") {
			continue // the header and separator rows
		}
		floors[mod] = floor
	}
	return floors
}

// semverLess compares vMAJOR.MINOR.PATCH[-pre][+build] versions. A
// pseudo-version or pre-release sorts before its release.
func semverLess(a, b string) bool {
	pa, prea := splitVersion(a)
	pb, preb := splitVersion(b)
	for i := range 3 {
		if pa[i] != pb[i] {
			return pa[i] < pb[i]
		}
	}
	if prea == "" || preb == "" {
		return prea != "" && preb == ""
	}
	return prea < preb
}

func splitVersion(v string) ([3]int, string) {
	v = strings.TrimPrefix(v, "v")
	v, _, _ = strings.Cut(v, "+")
	core, pre, _ := strings.Cut(v, "-")
	var n [3]int
	for i, p := range strings.SplitN(core, ".", 3) {
		n[i], _ = strconv.Atoi(p)
	}
	return n, pre
}

func TestSemverLess(t *testing.T) {
	cases := []struct {
		a, b string
		less bool
	}{
		{"v5.2.1", "v5.2.2", true},
		{"v5.2.2", "v5.2.2", false},
		{"v5.10.0", "v5.9.9", false},
		{"v0.38.0", "v0.4.0", false},
		{"v9.7.3-beta.1", "v9.7.3", true},
		{"v0.0.0-20240101000000-abcdef123456", "v0.1.0", true},
		{"v1.2.3+incompatible", "v1.2.3", false},
	}
	for _, c := range cases {
		if got := semverLess(c.a, c.b); got != c.less {
			t.Errorf("semverLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}
