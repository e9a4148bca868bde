package flowtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of the Chromium binary. It skips the test when
// there is none, except under CI=true, where it fails: CI installs it.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	const msg = "no chromium: install it with `apt-get install chromium` (or set CHROMIUM to its path)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// result is one API call the dev page made, as it records it in
// window.results.
type result struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// Browser drives the dev page in real headless Chromium: log in, call /me
// with the cookie, transfer, refuse a forged cross-site POST made by another
// page, log out, replay the old token and see it refused, and log out of all
// devices. With AUTHGATE_SCREENSHOT set to a file name, it writes a PNG of
// the page at the end.
func Browser(t *testing.T, run Run) {
	chromium := Chromium(t)
	app := Start(t, run, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()

	b := &page{t: t, ctx: browser}
	b.do(chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(chromedp.ID("login")))

	// Log in as alice with role admin.
	b.do(chromedp.SetValue(chromedp.ID("subject"), "alice"), chromedp.Click(chromedp.ID("admin")))
	login := b.click("login", 1)[0]
	if login.Status != 200 || !strings.Contains(login.Body, `"sub": "alice"`) {
		t.Fatalf("login: %+v", login)
	}
	cookies := eval[string](b, `document.cookie`)
	if strings.Contains(cookies, "access_token") {
		t.Fatal("CK-11: the page's script can read the token cookie; it must be HttpOnly")
	}

	// Cookie auth: /me, the sensitive /transfer, /admin; a GET cannot transfer.
	expect(t, b.click("me", 1)[0], 200, `"token_from": "cookie"`)
	expect(t, b.click("transfer", 1)[0], 200, `"session_checked_live": true`)
	expect(t, b.click("adminbtn", 1)[0], 200, `"admin": true`)
	if r := b.click("gettransfer", 1)[0]; r.Status != 405 && r.Status != 404 {
		t.Fatalf("CK-05 GET /transfer from the page: %+v", r)
	}
	b.screenshot("logged-in")

	// CSRF: a page on another origin posts a form to /transfer. Same-site
	// (127.0.0.1, another port): the browser sends the cookie, the app
	// refuses the cross-origin POST (CK-02). Cross-site (localhost): the
	// SameSite cookie is not sent at all, so there is no credential (401).
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><form id="f" method="POST" action="%s/transfer"></form><script>document.getElementById("f").submit()</script>`, r.URL.Query().Get("target"))
	}))
	defer attacker.Close()
	for _, c := range []struct {
		name, origin string
		want         string
	}{
		{"same-site attacker (CK-02)", attacker.URL, "cross-origin request refused"},
		{"cross-site attacker (SameSite cookie withheld)", strings.Replace(attacker.URL, "127.0.0.1", "localhost", 1), `{"error":"unauthorized"`},
	} {
		b.do(chromedp.Navigate(c.origin + "/?target=" + app.URL))
		eval[bool](b, `location.pathname === "/transfer" && document.body !== null && document.body.innerText.length > 0`, true)
		text := eval[string](b, `document.body.innerText`)
		if !strings.Contains(text, c.want) || strings.Contains(text, "transferred") {
			t.Errorf("%s: the forged POST /transfer answered %q; want it refused with %q", c.name, text, c.want)
		}
	}
	b.do(chromedp.Navigate(app.URL+"/"), chromedp.WaitVisible(chromedp.ID("login")))
	expect(t, b.click("me", 1)[0], 200, `"sub": "alice"`) // the session survived the forged requests

	// Log in again to get a token to replay, then log out.
	expect(t, b.click("login", 1)[0], 200, `"sub": "alice"`)
	expect(t, b.click("logout", 1)[0], 200, `"revoked": 1`)
	expect(t, b.click("me", 1)[0], 401, "")            // the cookie was cleared
	replay := b.click("replay", 2)                     // the old token, as a Bearer header
	expect(t, replay[0], 401, "the session has ended") // SS-02 on a plain route
	expect(t, replay[1], 401, "the session has ended") // and on the sensitive one

	// Log out of all devices: another device of alice's is logged out too.
	other, _ := app.Login(t, "alice")
	expect(t, b.click("login", 1)[0], 200, `"sub": "alice"`)
	expect(t, b.click("logoutall", 1)[0], 200, `"revoked": 3`) // this login, the device above, and the first login
	app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: other}, 401)
	b.screenshot("logged-out")
}

type page struct {
	t   *testing.T
	ctx context.Context
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates expr in the page; with poll, it waits until expr is truthy.
func eval[T any](p *page, expr string, poll ...bool) T {
	p.t.Helper()
	a := chromedp.Evaluate[T](expr)
	if len(poll) > 0 && poll[0] {
		a = chromedp.Poll[T](expr, chromedp.WithPollingTimeout(30*time.Second))
	}
	v, err := chromedp.Run(p.ctx, a)
	if err != nil {
		p.t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}

// click clicks the button sel and waits for it to record n more API calls,
// which it returns.
func (p *page) click(sel string, n int) []result {
	p.t.Helper()
	before := eval[int](p, `window.results.length`)
	p.do(chromedp.Click(chromedp.ID(sel)))
	eval[bool](p, fmt.Sprintf(`window.results.length >= %d`, before+n), true)
	raw := eval[string](p, fmt.Sprintf(`JSON.stringify(window.results.slice(%d))`, before))
	var rs []result
	if err := json.Unmarshal([]byte(raw), &rs); err != nil || len(rs) < n {
		p.t.Fatalf("click %s: results %q: %v", sel, raw, err)
	}
	return rs
}

func (p *page) screenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("AUTHGATE_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("browser: screenshot: %v", err)
	}
	path := fmt.Sprintf("%s/%s-%s.png", dir, strings.ReplaceAll(p.t.Name(), "/", "_"), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

func expect(t *testing.T, r result, status int, body string) {
	t.Helper()
	if r.Status != status || !strings.Contains(r.Body, body) {
		t.Fatalf("%s %s: status %d body %s; want %d and %q", r.Method, r.Path, r.Status, r.Body, status, body)
	}
}
