package otelauth_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The library uses the OpenTelemetry API only: the SDK (and any exporter)
// is the application's choice, and appears in this module's tests alone.
func TestLibraryImportsNoSDK(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		n++
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if strings.HasPrefix(p, "go.opentelemetry.io/") &&
				!(p == "go.opentelemetry.io/otel/attribute" || p == "go.opentelemetry.io/otel/codes" ||
					strings.HasPrefix(p, "go.opentelemetry.io/otel/metric") || strings.HasPrefix(p, "go.opentelemetry.io/otel/trace")) {
				t.Errorf("%s imports %s: only the OpenTelemetry API may be imported", f, p)
			}
		}
	}
	if n == 0 {
		t.Fatal("no library files found")
	}
}
