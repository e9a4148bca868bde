package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// TestCheckCausesAreCoresTexts: each cause text explain maps to a check
// is written in core's source, so that a text core renames fails here
// rather than turning a named check into "not one explain knows".
func TestCheckCausesAreCoresTexts(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "core", "*.go"))
	var src strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	if src.Len() == 0 {
		t.Skip("not in the authgate repository: no core sources")
	}
	for _, c := range checks() {
		for _, cause := range c.causes {
			if !strings.Contains(src.String(), cause) {
				t.Errorf("check %s: cause %q is in no core source file", c.name, cause)
			}
		}
	}
}

// TestExplainUnknownCause: a refusal whose cause explain does not map
// claims no check as passed: every check is shown judged on the token's
// unverified contents, and the cause itself is the failure.
func TestExplainUnknownCause(t *testing.T) {
	iss := authtest.New(t)
	a, err := core.New(context.Background(), core.Config{
		Issuer: iss.URL, Audience: []string{authtest.DefaultAudience},
		PublicKeys: []string{authtest.PublicPEM(iss.Signer())},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	tok := iss.Token(nil)
	x := &explainer{s: settings{issuer: iss.URL, audience: authtest.DefaultAudience}, tok: tok, now: time.Now(), a: a}
	x.d, x.dErr = decodeToken(tok)
	var out bytes.Buffer
	code := x.report(&env{stdout: &out}, errors.New("a check core added later"))
	if code != exitFail {
		t.Errorf("exit %d, want 1", code)
	}
	got := out.String()
	if strings.Contains(got, "  ok      ") {
		t.Errorf("a check is listed as passed although the cause is unknown:\n%s", got)
	}
	for _, want := range []string{"  FAILED  authgate   a check core added later", "  (ok)    aud", "  (fail)  signature  not checked", "explain does not know which check"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
