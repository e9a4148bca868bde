// Package idptest runs a real identity provider, Ory Hydra, for authgate's
// tests: it builds hydra once (cached outside the repository), starts it on
// free loopback ports, and drives it through its admin API: OAuth clients,
// the client_credentials grant, the authorization-code flow with login and
// consent accepted by the admin API, key rotation, RFC 7009 revocation,
// stop and restart.
//
// It is a test-only module: no authgate module depends on it. Hydra itself
// is a Go tool of the nested module idptest/hydra (go.mod's "tool"
// directive), outside the workspace, so that hydra's dependency versions
// neither move nor are moved by the workspace's.
package idptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// HydraVersion is the hydra release the tool module pins.
const HydraVersion = "v2.3.0"

// buildTags give hydra the in-process SQLite its "memory" and file DSNs use.
const buildTags = "sqlite,sqlite_omit_load_extension"

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// HydraBinary returns the path of a hydra binary: $AUTHGATE_HYDRA when set,
// else one built from idptest/hydra (go build of the tool, with CGO and
// SQLite) and cached under the user's cache directory, keyed by the hydra
// version and the tool module's go.mod and go.sum. When it cannot be had,
// the test fails under CI=true and is skipped elsewhere, with a hint.
func HydraBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { buildPath, buildErr = buildHydra(t) })
	if buildErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ory/hydra is needed and could not be built: %v", buildErr)
		}
		t.Skipf("skipped: ory/hydra could not be built (%v). It needs the Go module proxy and a C compiler (apt-get install gcc); the first build takes about 2-4 min and is cached. Or set AUTHGATE_HYDRA to a hydra %s binary built with -tags %s. Under CI=true this fails.", buildErr, HydraVersion, buildTags)
	}
	return buildPath
}

func buildHydra(t testing.TB) (string, error) {
	if p := os.Getenv("AUTHGATE_HYDRA"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("AUTHGATE_HYDRA: %w", err)
		}
		return p, nil
	}
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the idptest sources")
	}
	modDir := filepath.Join(filepath.Dir(self), "hydra")
	key := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(modDir, f))
		if err != nil {
			return "", err
		}
		key.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "authgate-idptest", fmt.Sprintf("hydra-%s-%s-%s-%s", HydraVersion, runtime.GOOS, runtime.GOARCH, hex.EncodeToString(key.Sum(nil))[:12]))
	bin := filepath.Join(dir, "hydra")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, fmt.Sprintf("hydra.tmp%d", os.Getpid()))
	cmd := exec.Command(goBin, "build", "-tags", buildTags, "-o", tmp, "github.com/ory/hydra/v2")
	cmd.Dir = modDir
	// GOWORK=off: the tool module is not in the workspace and must build
	// with its own dependency versions.
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=1")
	t.Logf("building ory/hydra %s into %s (once; the first build takes minutes)", HydraVersion, dir)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build: %v\n%s", err, tail(out, 2000))
	}
	t.Logf("built ory/hydra in %v", time.Since(start).Round(time.Second))
	// A rename is atomic: a concurrent test process sees no half binary.
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Options configure a hydra instance.
type Options struct {
	// Persistent keeps hydra's state in an SQLite file (migrated at the
	// first start), so that Restart keeps clients, keys, sessions and
	// tokens. Default: "dsn: memory", which Restart would wipe.
	Persistent bool
	// ScopeClaim is strategies.jwt.scope_claim: "list" (hydra's default:
	// scp, an array), "string" (scope) or "both".
	ScopeClaim string
	// AccessTokenTTL is ttl.access_token; default 1h.
	AccessTokenTTL time.Duration
}

// Hydra is a running hydra: serve all --dev (http issuer on loopback) with
// JWT access tokens.
type Hydra struct {
	t         testing.TB
	bin, dir  string
	config    string
	env       []string
	publicURL string
	adminURL  string
	// Issuer is the "iss" of hydra's tokens (from OIDC discovery).
	Issuer string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start builds (once) and starts hydra on two free loopback ports; the test's
// cleanup stops it.
func Start(t testing.TB, opts Options) *Hydra {
	t.Helper()
	bin := HydraBinary(t)
	h := &Hydra{t: t, bin: bin, dir: t.TempDir()}
	pub, adm := freePort(t), freePort(t)
	h.publicURL = "http://127.0.0.1:" + strconv.Itoa(pub)
	h.adminURL = "http://127.0.0.1:" + strconv.Itoa(adm)
	dsn := "memory"
	if opts.Persistent {
		dsn = "sqlite://" + filepath.Join(h.dir, "hydra.sqlite") + "?_fk=true&mode=rwc"
	}
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = time.Hour
	}
	cfg := map[string]any{
		"dsn": dsn,
		"serve": map[string]any{
			"public": map[string]any{"host": "127.0.0.1", "port": pub},
			"admin":  map[string]any{"host": "127.0.0.1", "port": adm},
		},
		"urls": map[string]any{
			"self": map[string]any{"issuer": h.publicURL},
			// Never fetched: the tests accept login and consent through the
			// admin API, reading the challenges from the redirects.
			"login":   "http://127.0.0.1:9/login",
			"consent": "http://127.0.0.1:9/consent",
			"logout":  "http://127.0.0.1:9/logout",
		},
		"secrets":    map[string]any{"system": []string{randomString(32)}},
		"strategies": map[string]any{"access_token": "jwt"},
		"ttl":        map[string]any{"access_token": opts.AccessTokenTTL.String()},
		"log":        map[string]any{"level": "warn", "format": "text"},
	}
	if opts.ScopeClaim != "" {
		cfg["strategies"].(map[string]any)["jwt"] = map[string]any{"scope_claim": opts.ScopeClaim}
	}
	b, _ := json.Marshal(cfg)
	h.config = filepath.Join(h.dir, "hydra.json")
	if err := os.WriteFile(h.config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if opts.Persistent {
		cmd := exec.Command(bin, "migrate", "sql", "up", "-e", "--yes", "-c", h.config)
		cmd.Env = append(os.Environ(), "DSN="+dsn)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("hydra migrate: %v\n%s", err, tail(out, 2000))
		}
	}
	t.Cleanup(h.Stop)
	h.start()
	var disc struct {
		Issuer string `json:"issuer"`
	}
	h.getJSON(h.publicURL+"/.well-known/openid-configuration", &disc)
	if disc.Issuer == "" {
		t.Fatal("hydra's discovery document names no issuer")
	}
	h.Issuer = disc.Issuer
	return h
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// start runs hydra and waits until its admin port answers ready.
func (h *Hydra) start() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd != nil {
		h.t.Fatal("hydra is already running")
	}
	logf, err := os.OpenFile(filepath.Join(h.dir, "hydra.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(h.bin, "serve", "all", "--dev", "--sqa-opt-out", "-c", h.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		logf.Close()
		h.t.Fatalf("starting hydra: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	h.cmd, h.done = cmd, done
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-done:
			h.cmd = nil
			h.t.Fatalf("hydra exited at start:\n%s", h.Log())
		default:
		}
		resp, err := http.Get(h.adminURL + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if resp, err := http.Get(h.publicURL + "/health/ready"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return
					}
				}
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("hydra not ready after 90s:\n%s", h.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops hydra (SIGTERM, then SIGKILL after 10s) and waits for it to
// exit. Stopping a stopped hydra does nothing.
func (h *Hydra) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cmd == nil {
		return
	}
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(10 * time.Second):
		h.cmd.Process.Kill()
		<-h.done
	}
	h.cmd = nil
}

// Restart starts a stopped hydra again on the same ports. Only a Persistent
// hydra keeps its state.
func (h *Hydra) Restart() {
	h.t.Helper()
	h.start()
}

// Log returns the tail of hydra's log.
func (h *Hydra) Log() string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "hydra.log"))
	return tail(b, 4000)
}

// PublicURL is hydra's public port (OAuth 2.0 and OIDC endpoints).
func (h *Hydra) PublicURL() string { return h.publicURL }

// AdminURL is hydra's admin port (clients, keys, login and consent,
// introspection at /admin/oauth2/introspect, which needs no credentials).
func (h *Hydra) AdminURL() string { return h.adminURL }

// JWKSURL is hydra's public key set.
func (h *Hydra) JWKSURL() string { return h.publicURL + "/.well-known/jwks.json" }

// IntrospectionURL is hydra's RFC 7662 endpoint (admin port).
func (h *Hydra) IntrospectionURL() string { return h.adminURL + "/admin/oauth2/introspect" }

// ConsentSessionsURL is a template for core.HTTPSessionOptions.URL: the
// remembered consent sessions of a subject within one login session; hydra
// answers 200 [] when there is none.
func (h *Hydra) ConsentSessionsURL() string {
	return h.adminURL + "/admin/oauth2/auth/sessions/consent?subject={sub}&login_session_id={sid}"
}

// Client is an OAuth 2.0 client registered at hydra.
type Client struct {
	ID, Secret  string
	RedirectURI string
}

// ClientSpec describes a client to create.
type ClientSpec struct {
	// GrantTypes default to client_credentials, authorization_code and
	// refresh_token.
	GrantTypes []string
	// Scope is the space-separated scopes the client may ask for; default
	// "openid offline_access read write".
	Scope string
	// Audience lists the audiences the client may ask for.
	Audience []string
	// AccessTokenStrategy is the client's "access_token_strategy": "jwt"
	// (the server's default here) or "opaque" (ory_at_X.Y tokens).
	AccessTokenStrategy string
	// BackchannelLogoutURI is the client's "backchannel_logout_uri": where
	// hydra POSTs a logout token (sid, no sub; typ JWT, no exp) when a
	// login session in which the client got consent ends, by the logout
	// flow (Logout) or the admin API (RevokeLoginSession). Hydra sends it
	// once, asynchronously, retrying twice on a 5xx or a connection error.
	BackchannelLogoutURI string
}

// CreateClient registers a client (client_secret_basic at the token
// endpoint) through the admin API.
func (h *Hydra) CreateClient(spec ClientSpec) Client {
	h.t.Helper()
	if spec.GrantTypes == nil {
		spec.GrantTypes = []string{"client_credentials", "authorization_code", "refresh_token"}
	}
	if spec.Scope == "" {
		spec.Scope = "openid offline_access read write"
	}
	redirect := "http://127.0.0.1:9/callback"
	body := map[string]any{
		"grant_types":                spec.GrantTypes,
		"response_types":             []string{"code"},
		"scope":                      spec.Scope,
		"audience":                   spec.Audience,
		"redirect_uris":              []string{redirect},
		"token_endpoint_auth_method": "client_secret_basic",
	}
	if spec.AccessTokenStrategy != "" {
		body["access_token_strategy"] = spec.AccessTokenStrategy
	}
	if spec.BackchannelLogoutURI != "" {
		body["backchannel_logout_uri"] = spec.BackchannelLogoutURI
		body["backchannel_logout_session_required"] = true // hydra always sends sid
	}
	var out struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	h.sendJSON(http.MethodPost, h.adminURL+"/admin/clients", body, http.StatusCreated, &out)
	if out.ID == "" || out.Secret == "" {
		h.t.Fatalf("hydra created a client without id or secret: %+v", out)
	}
	return Client{ID: out.ID, Secret: out.Secret, RedirectURI: redirect}
}

// Tokens are what the token endpoint answered.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
	// LoginSessionID is hydra's login session of an authorization-code
	// flow (the OIDC "sid"); it is also put in the access token as ext.sid.
	LoginSessionID string `json:"-"`
}

// ClientCredentials runs the client_credentials grant.
func (h *Hydra) ClientCredentials(c Client, scope string, audience ...string) Tokens {
	h.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	if len(audience) > 0 {
		form.Set("audience", strings.Join(audience, " "))
	}
	return h.token(c, form)
}

func (h *Hydra) token(c Client, form url.Values) Tokens {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.publicURL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	var tok Tokens
	h.do(req, http.StatusOK, &tok)
	if tok.AccessToken == "" {
		h.t.Fatal("token endpoint answered no access_token")
	}
	return tok
}

// Login is what an authorization-code flow's login and consent accept.
type Login struct {
	Subject  string
	Scope    []string // requested and granted
	Audience []string // requested and granted (access token audience)
	// AccessTokenClaims are added to the consent session's access_token
	// (hydra puts them under "ext"); "sid" is always set to the login
	// session id.
	AccessTokenClaims map[string]any
}

// AuthorizationCode runs the authorization-code flow as a browser would,
// with login and consent accepted through the admin API (remember: true, so
// that the consent session is listed by the consent sessions endpoint),
// and exchanges the code for tokens.
func (h *Hydra) AuthorizationCode(c Client, l Login) Tokens {
	h.t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	state := randomString(24)
	q := url.Values{
		"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {c.RedirectURI},
		"scope": {strings.Join(l.Scope, " ")}, "state": {state},
	}
	if len(l.Audience) > 0 {
		q.Set("audience", strings.Join(l.Audience, " "))
	}
	loc := h.redirect(browser, h.publicURL+"/oauth2/auth?"+q.Encode())
	loginChallenge := loc.Query().Get("login_challenge")
	if loginChallenge == "" {
		h.t.Fatalf("no login challenge in %s", loc)
	}
	var accepted struct {
		RedirectTo string `json:"redirect_to"`
	}
	h.sendJSON(http.MethodPut, h.adminURL+"/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(loginChallenge),
		map[string]any{"subject": l.Subject, "remember": true, "remember_for": 0}, http.StatusOK, &accepted)
	loc = h.redirect(browser, accepted.RedirectTo)
	consentChallenge := loc.Query().Get("consent_challenge")
	if consentChallenge == "" {
		h.t.Fatalf("no consent challenge in %s", loc)
	}
	var consent struct {
		LoginSessionID string   `json:"login_session_id"`
		Scope          []string `json:"requested_scope"`
		Audience       []string `json:"requested_access_token_audience"`
	}
	h.getJSON(h.adminURL+"/admin/oauth2/auth/requests/consent?consent_challenge="+url.QueryEscape(consentChallenge), &consent)
	if consent.LoginSessionID == "" {
		h.t.Fatal("consent request without a login session id")
	}
	at := map[string]any{}
	for k, v := range l.AccessTokenClaims {
		at[k] = v
	}
	at["sid"] = consent.LoginSessionID
	h.sendJSON(http.MethodPut, h.adminURL+"/admin/oauth2/auth/requests/consent/accept?consent_challenge="+url.QueryEscape(consentChallenge),
		map[string]any{
			"grant_scope": consent.Scope, "grant_access_token_audience": consent.Audience,
			"remember": true, "remember_for": 0,
			"session": map[string]any{"access_token": at},
		}, http.StatusOK, &accepted)
	loc = h.redirect(browser, accepted.RedirectTo)
	if loc.Query().Get("state") != state {
		h.t.Fatalf("callback %s: state does not match", loc)
	}
	code := loc.Query().Get("code")
	if code == "" {
		h.t.Fatalf("no code in the callback %s", loc)
	}
	tok := h.token(c, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.RedirectURI}})
	tok.LoginSessionID = consent.LoginSessionID
	return tok
}

// redirect GETs u and returns where hydra redirects to; following the
// redirect chain within hydra's public port (hydra sends the browser
// through itself between steps).
func (h *Hydra) redirect(browser *http.Client, u string) *url.URL {
	h.t.Helper()
	for range 10 {
		resp, err := browser.Get(u)
		if err != nil {
			h.t.Fatalf("GET %s: %v", u, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusTemporaryRedirect {
			h.t.Fatalf("GET %s: %d, want a redirect: %s", u, resp.StatusCode, body)
		}
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil {
			h.t.Fatal(err)
		}
		if !strings.HasPrefix(loc.String(), h.publicURL+"/") {
			return loc // left hydra: the login or consent page, or the client's callback
		}
		u = loc.String()
	}
	h.t.Fatalf("too many redirects from %s", u)
	return nil
}

// Revoke revokes a token at the public RFC 7009 endpoint (access or refresh
// token), authenticated as c.
func (h *Hydra) Revoke(c Client, token string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.publicURL+"/oauth2/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	h.do(req, http.StatusOK, nil)
}

// DeleteClientTokens deletes every access and refresh token of client c
// (DELETE /admin/oauth2/tokens?client_id=).
func (h *Hydra) DeleteClientTokens(c Client) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, h.adminURL+"/admin/oauth2/tokens?client_id="+url.QueryEscape(c.ID), nil)
	h.do(req, http.StatusNoContent, nil)
}

// RevokeConsentSessions ends every consent session of subject (for all
// clients) and hydra's tokens of them.
func (h *Hydra) RevokeConsentSessions(subject string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, h.adminURL+"/admin/oauth2/auth/sessions/consent?all=true&subject="+url.QueryEscape(subject), nil)
	h.do(req, http.StatusNoContent, nil)
}

// RevokeLoginSession ends the login session sid through the admin API
// (DELETE /admin/oauth2/auth/sessions/login?sid=, hydra's headless
// logout): hydra sends a logout token to the backchannel_logout_uri of
// every client that got consent in that session. Only a remembered login
// (accepted with remember: true, as AuthorizationCode does) is found by
// sid; for any other the call succeeds and sends nothing.
func (h *Hydra) RevokeLoginSession(sid string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, h.adminURL+"/admin/oauth2/auth/sessions/login?sid="+url.QueryEscape(sid), nil)
	h.do(req, http.StatusNoContent, nil)
}

// Logout runs OpenID Connect RP-Initiated Logout for the login session of
// idToken (an ID token hydra issued, naming its sid): GET
// /oauth2/sessions/logout?id_token_hint=, the logout challenge accepted
// through the admin API (PUT /admin/oauth2/auth/requests/logout/accept),
// then the logout verifier URL, where hydra ends the session and sends
// the back-channel logout tokens.
func (h *Hydra) Logout(idToken string) {
	h.t.Helper()
	if idToken == "" {
		h.t.Fatal("Logout needs an ID token (ask for the openid scope)")
	}
	browser := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	loc := h.redirect(browser, h.publicURL+"/oauth2/sessions/logout?"+url.Values{"id_token_hint": {idToken}}.Encode())
	challenge := loc.Query().Get("logout_challenge")
	if challenge == "" {
		h.t.Fatalf("no logout challenge in %s (hydra found no remembered login session for the ID token's sid)", loc)
	}
	var accepted struct {
		RedirectTo string `json:"redirect_to"`
	}
	h.sendJSON(http.MethodPut, h.adminURL+"/admin/oauth2/auth/requests/logout/accept?logout_challenge="+url.QueryEscape(challenge), nil, http.StatusOK, &accepted)
	if !strings.HasPrefix(accepted.RedirectTo, h.publicURL+"/") {
		h.t.Fatalf("the logout accept redirects to %q, not to hydra", accepted.RedirectTo)
	}
	resp, err := browser.Get(accepted.RedirectTo)
	if err != nil {
		h.t.Fatalf("GET the logout verifier: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("GET the logout verifier: %d, want a redirect: %s", resp.StatusCode, body)
	}
}

// Introspect asks hydra's admin introspection endpoint about token.
func (h *Hydra) Introspect(token string) map[string]any {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.IntrospectionURL(), strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out map[string]any
	h.do(req, http.StatusOK, &out)
	return out
}

// RotateKeys adds a new RS256 key to the key set hydra signs access tokens
// with (hydra.jwt.access-token); hydra signs with the newest key, and keeps
// publishing the older ones. It returns the new key's kid.
func (h *Hydra) RotateKeys() string {
	h.t.Helper()
	kid := "rotated-" + randomString(8)
	var out struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	h.sendJSON(http.MethodPost, h.adminURL+"/admin/keys/hydra.jwt.access-token", map[string]any{"alg": "RS256", "use": "sig", "kid": kid}, http.StatusCreated, &out)
	if len(out.Keys) == 0 || out.Keys[0].KID != kid {
		h.t.Fatalf("key creation answered %+v", out)
	}
	return kid
}

func (h *Hydra) getJSON(u string, out any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	h.do(req, http.StatusOK, out)
}

func (h *Hydra) sendJSON(method, u string, body any, want int, out any) {
	h.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	h.do(req, want, out)
}

var apiClient = &http.Client{Timeout: 30 * time.Second}

func (h *Hydra) do(req *http.Request, want int, out any) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := apiClient.Do(req.WithContext(ctx))
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		h.t.Fatalf("%s %s: %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", req.Method, req.URL.Path, err, b)
		}
	}
}

// JWTHeader returns the decoded JOSE header of a compact JWS (for tests
// that look at kid and typ).
func JWTHeader(tok string) map[string]any {
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// JWTClaims returns the decoded payload of a compact JWS (unverified).
func JWTClaims(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}
