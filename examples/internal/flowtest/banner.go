package flowtest

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// bannerLine is one curl command of a banner: `  curl -i [-X M] -H "…" URL/path   # NNN: why`.
var bannerLine = regexp.MustCompile(`^  curl -i (?:-X ([A-Z]+) )?-H "Authorization: Bearer \$TOKEN" (\S+)   # (\d{3}): `)

// BannerWalk runs the walk the app's banner proposes outside development
// mode, as it says: each command with tok, in order, checking the status
// the banner gives it; at each "Then …, and:" line it calls then (what the
// banner asks the reader to do at the identity provider), which must be
// given when the banner has one. It fails when the banner proposes nothing
// to run, so a banner that stops stating statuses is noticed.
func BannerWalk(t *testing.T, app *App, tok string, then func()) {
	t.Helper()
	out := app.Output()
	steps, thens := 0, 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Then ") {
			if then == nil {
				t.Fatalf("the banner asks for an action at the identity provider, and the test has none: %q", l)
			}
			then()
			thens++
			continue
		}
		if !strings.HasPrefix(l, "  curl") {
			continue
		}
		m := bannerLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("banner command without a status (\"   # NNN: why\"): %q", l)
		}
		method := m[1]
		if method == "" {
			method = "GET"
		}
		path, ok := strings.CutPrefix(m[2], app.URL)
		if !ok {
			t.Fatalf("banner command for another address: %q (app at %s)", l, app.URL)
		}
		want, _ := strconv.Atoi(m[3])
		if r := app.Do(t, Req{Method: method, Path: path, Bearer: tok}); r.Status != want {
			t.Errorf("banner says %q, the app answered %d: %s", strings.TrimSpace(l), r.Status, r.Body)
		}
		steps++
	}
	if steps == 0 {
		t.Fatalf("the banner proposes no command:\n%s", out)
	}
	if then != nil && thens == 0 {
		t.Errorf("the test revokes at the identity provider, but the banner never says to:\n%s", out)
	}
}
