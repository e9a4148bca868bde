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
// must be exactly the start-up banner of development mode on 127.0.0.1:8080.
var (
	copiedRE  = regexp.MustCompile("(?s)<!-- copied from (examples/[a-z/]+\\.go) -->\\s*```go\\n(.*?)```")
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

func TestReadmeSnippetsAreCopiedFromTheExamples(t *testing.T) {
	text := readme(t)
	blocks := copiedRE.FindAllStringSubmatch(text, -1)
	if len(blocks) == 0 {
		t.Skip("README.md has no <!-- copied from examples/... --> block yet")
	}
	for _, b := range blocks {
		src, err := os.ReadFile(filepath.Join("..", "..", "..", b[1]))
		if err != nil {
			t.Errorf("README copies from %s, which cannot be read: %v", b[1], err)
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(src), "\n") {
			lines = append(lines, strings.TrimSpace(l))
		}
		at := 0
		for _, want := range strings.Split(b[2], "\n") {
			want = strings.TrimSpace(want)
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

// Every variable of setup.Variables has a row in the README's "Configuring
// the examples" table (and the other way round).
func TestReadmeTableListsEveryVariable(t *testing.T) {
	text := readme(t)
	start := strings.Index(text, "## Configuring the examples")
	if start < 0 {
		t.Fatal(`README.md has no "## Configuring the examples" section`)
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
			t.Errorf("%s is in setup.Variables but has no row in the README's table", v.Name)
		}
	}
	for name := range documented {
		if !known[name] {
			t.Errorf("the README's table has a row for %s, which setup.Variables does not know", name)
		}
	}
}
