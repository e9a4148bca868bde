package flowtest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/authgate/authgate/examples/setup"
)

// The README's quick start is copied from the examples, never written
// separately. A fenced block right after
//
//	<!-- copied from examples/nethttp/main.go -->
//
// must consist of lines of that file, in order (indentation aside); a block
// after
//
//	<!-- printed by examples/nethttp -->
//
// must be exactly the start-up banner of development mode on 127.0.0.1:8080,
// and a block after
//
//	<!-- all of examples/quickstart/main.go -->
//
// must be that whole file, byte for byte: a program a user can paste.
var (
	copiedRE  = regexp.MustCompile("(?s)<!-- copied from ((?:examples|core)/[a-z0-9_/]+\\.go) -->\\s*```go\\n(.*?)```")
	allRE     = regexp.MustCompile("(?s)<!-- all of (examples/[a-z/]+\\.go) -->\\s*```go\\n(.*?)```")
	printedRE = regexp.MustCompile("(?s)<!-- printed by examples/([a-z]+) -->\\s*```[a-z]*\\n(.*?)```")
)

func readme(t *testing.T) string {
	path := os.Getenv("AUTHGATE_README") // to check a draft
	if path == "" {
		path = filepath.Join("..", "..", "..", "README.md")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no README: %v", err)
	}
	return string(b)
}

// pages are README.md and docs/*.md, by path relative to the repository root.
func pages(t *testing.T) map[string]string {
	out := map[string]string{"README.md": readme(t)}
	docs, _ := filepath.Glob(filepath.Join("..", "..", "..", "docs", "*.md"))
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		out["docs/"+filepath.Base(d)] = string(b)
	}
	return out
}

// Every Go snippet of the README and docs/ is checked against compiled code:
// each ```go block follows a marker naming the file it comes from.
func TestEveryGoSnippetNamesItsSource(t *testing.T) {
	marker := regexp.MustCompile(`<!-- (copied from|all of) [a-z0-9_/]+\.go -->\s*$`)
	for name, text := range pages(t) {
		for i := 0; ; {
			j := strings.Index(text[i:], "```go\n")
			if j < 0 {
				break
			}
			at := i + j
			if !marker.MatchString(text[:at]) {
				line := strings.Count(text[:at], "\n") + 1
				t.Errorf("%s:%d: a ```go block without a <!-- copied from FILE --> marker (its code is checked by nothing)", name, line)
			}
			i = at + 5
		}
	}
}

func TestReadmeSnippetsAreCopiedFromTheExamples(t *testing.T) {
	var blocks [][]string
	for _, text := range pages(t) {
		blocks = append(blocks, copiedRE.FindAllStringSubmatch(text, -1)...)
	}
	if len(blocks) == 0 {
		t.Fatal("README.md and docs/ have no <!-- copied from ... --> block")
	}
	for _, b := range blocks {
		src, err := os.ReadFile(filepath.Join("..", "..", "..", b[1]))
		if err != nil {
			t.Errorf("README copies from %s, which cannot be read: %v", b[1], err)
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(src), "\n") {
			lines = append(lines, squash(l))
		}
		at := 0
		for _, want := range strings.Split(b[2], "\n") {
			want = squash(want)
			if want == "" {
				continue
			}
			found := false
			for ; at < len(lines); at++ {
				if lines[at] == want {
					found, at = true, at+1
					break
				}
			}
			if !found {
				t.Errorf("README block copied from %s has a line that is not in the file (in this order): %q", b[1], want)
				break
			}
		}
	}
}

// squash drops a line's indentation and turns each run of spaces into one,
// so that gofmt's alignment of comments does not matter.
func squash(line string) string { return strings.Join(strings.Fields(line), " ") }

func TestReadmeQuickStartIsAWholeProgram(t *testing.T) {
	text := readme(t)
	blocks := allRE.FindAllStringSubmatch(text, -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no <!-- all of examples/... --> block: the quick start must be a whole program")
	}
	for _, b := range blocks {
		src, err := os.ReadFile(filepath.Join("..", "..", "..", b[1]))
		if err != nil {
			t.Errorf("README holds all of %s, which cannot be read: %v", b[1], err)
			continue
		}
		if b[2] != string(src) {
			t.Errorf("README's copy of %s differs from the file (it must be the whole file, byte for byte)", b[1])
		}
	}
}

func TestReadmeBannerIsWhatTheAppPrints(t *testing.T) {
	text := readme(t)
	blocks := printedRE.FindAllStringSubmatch(text, -1)
	if len(blocks) == 0 {
		t.Skip("README.md has no <!-- printed by examples/... --> block yet")
	}
	app, err := setup.FromEnv(context.Background(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	names := map[string]string{"nethttp": "net/http", "gin": "gin", "echo": "echo", "fiber": "fiber"}
	for _, b := range blocks {
		var out bytes.Buffer
		app.Banner(&out, names[b[1]], "http://127.0.0.1:8080")
		if got, want := strings.TrimSpace(out.String()), strings.TrimSpace(b[2]); got != want {
			t.Errorf("README banner of examples/%s differs from what it prints:\n--- README\n%s\n--- printed\n%s", b[1], want, got)
		}
	}
}

// Every variable of setup.Variables has a row in the one table of the
// examples' variables, docs/examples.md (and the other way round).
func TestReadmeTableListsEveryVariable(t *testing.T) {
	text := pages(t)["docs/examples.md"]
	start := strings.Index(text, "# Configuring the examples")
	if start < 0 {
		t.Fatal(`docs/examples.md has no "# Configuring the examples" section`)
	}
	section := text[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var rows strings.Builder
	for _, l := range strings.Split(section, "\n") {
		if strings.HasPrefix(l, "| `") {
			first, _, _ := strings.Cut(l[1:], " |")
			rows.WriteString(first + "\n")
		}
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("`([A-Z_]+)`").FindAllStringSubmatch(rows.String(), -1) {
		documented[m[1]] = true
	}
	known := map[string]bool{}
	for _, v := range setup.Variables {
		known[v.Name] = true
		// Telemetry variables are documented in the telemetry section.
		if !documented[v.Name] && !strings.HasPrefix(v.Meaning, "\"stdout\"") && v.Name != "AUTHGATE_METRICS_INTERVAL" && v.Name != "OTEL_EXPORTER_OTLP_ENDPOINT" {
			t.Errorf("%s is in setup.Variables but has no row in docs/examples.md's table", v.Name)
		}
	}
	for name := range documented {
		if !known[name] {
			t.Errorf("docs/examples.md's table has a row for %s, which setup.Variables does not know", name)
		}
	}
}
