package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core/authtest"
)

// The tests build the command as a user would (go build) and run it as a
// process against core/authtest's real issuer (OIDC discovery, JWKS), as
// examples/quickstart's test does.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the authgate binary; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "authgate-cli-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "authgate")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout\n" + r.stdout + "--- stderr\n" + r.stderr
}

// authgate runs the binary with args, the given AUTHGATE_* variables (the
// test's own are removed) and stdin.
func authgate(t *testing.T, vars []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(strings.ToUpper(kv), "AUTHGATE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, vars...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("authgate %v: %v", args, err)
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("authgate %v panicked:\n%s", args, r)
	}
	return r
}

// lineWith returns the first output line holding every part, or "".
func lineWith(out string, parts ...string) string {
	for _, l := range strings.Split(out, "\n") {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(l, p) }) {
			return l
		}
	}
	return ""
}

func TestUsage(t *testing.T) {
	r := authgate(t, nil, "", "help")
	if r.code != 0 {
		t.Fatalf("help: %s", r)
	}
	for _, c := range []string{"check-issuer", "explain", "decode", "version"} {
		if lineWith(r.stdout, "  "+c+" ") == "" {
			t.Errorf("help does not list %s:\n%s", c, r.stdout)
		}
	}
	if h := authgate(t, nil, "", "-h"); h.code != 0 || h.stdout != r.stdout {
		t.Errorf("-h differs from help: %s", h)
	}
	r = authgate(t, nil, "", "frobnicate")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) || !strings.Contains(r.stderr, "check-issuer") {
		t.Errorf("unknown command: want exit 2, the usage on stderr: %s", r)
	}
	if r = authgate(t, nil, ""); r.code != 2 || !strings.Contains(r.stderr, "usage:") {
		t.Errorf("no command: want exit 2 and the usage: %s", r)
	}
	if r = authgate(t, nil, "", "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "authgate ") {
		t.Errorf("version: %s", r)
	}
	if r = authgate(t, nil, "", "explain", "-bogus"); r.code != 2 {
		t.Errorf("an unknown flag: want exit 2: %s", r)
	}
}

// issuerHandler serves discovery and iss's JWKS with extra headers on the
// JWKS (authtest's own handler sets none).
func issuerHandler(iss *authtest.Issuer, jwksHeaders map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss.URL, "jwks_uri": iss.JWKSURL()})
		case "/jwks.json":
			for k, v := range jwksHeaders {
				w.Header().Set(k, v)
			}
			_, _ = w.Write(iss.JWKS())
		default:
			http.NotFound(w, r)
		}
	})
}

func TestCheckIssuerGood(t *testing.T) {
	iss := authtest.New(t)
	ec := iss.AddKey("ES256")
	ed := iss.AddKey("EdDSA")
	iss.SetHandler(issuerHandler(iss, map[string]string{"Cache-Control": "public, max-age=3600", "ETag": `"v7"`}))
	r := authgate(t, nil, "", "check-issuer", iss.URL)
	if r.code != 0 {
		t.Fatalf("a good issuer: %s", r)
	}
	for alg, kid := range map[string]string{"RS256": iss.Signer().ID, "ES256": ec.ID, "EdDSA": ed.ID} {
		if lineWith(r.stdout, "ok", `kid "`+kid+`"`, "verifies "+alg) == "" {
			t.Errorf("key %s not judged usable for %s:\n%s", kid, alg, r.stdout)
		}
	}
	for _, want := range []string{
		"names issuer \"" + iss.URL + "\" and jwks_uri " + iss.JWKSURL(),
		"Cache-Control: public, max-age=3600", `ETag: "v7"`, "Expires: (none)", "Last-Modified: (none)", "Age: (none)",
		"3 key(s) in service", "verdict     usable: 3 key(s) accepted",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "REFUSED") || strings.Contains(r.stdout, "FAIL") {
		t.Errorf("a good issuer has a refusal:\n%s", r.stdout)
	}

	// The allow-list is the one the API would use: without EdDSA, that key
	// fits no allowed algorithm.
	r = authgate(t, nil, "", "check-issuer", "-algorithms", "RS256,ES256", iss.URL)
	if r.code != 0 || lineWith(r.stdout, "REFUSED", `kid "`+ed.ID+`"`, "fits no allowed algorithm") == "" {
		t.Errorf("-algorithms RS256,ES256: want exit 0 and the EdDSA key refused: %s", r)
	}
	if r := authgate(t, nil, "", "check-issuer", "-algorithms", "HS256", iss.URL); r.code != 2 || !strings.Contains(r.stderr, "HS* algorithms need HMACSecret") {
		t.Errorf("an allow-list core refuses: want exit 2 and core's reason: %s", r)
	}
	// The issuer from the examples' environment.
	r = authgate(t, []string{"AUTHGATE_ISSUER=" + iss.URL}, "", "check-issuer")
	if r.code != 0 || !strings.Contains(r.stdout, "issuer      "+iss.URL) {
		t.Errorf("AUTHGATE_ISSUER: %s", r)
	}
}

func jwksOf(t *testing.T, keys ...map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckIssuerRefusedKeys(t *testing.T) {
	iss := authtest.New(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallJWK := authtest.PublicJWK(&authtest.Key{ID: "small", Alg: "RS256", Private: small})
	oct := map[string]any{"kty": "oct", "kid": "hs", "alg": "HS256", "k": base64.RawURLEncoding.EncodeToString(make([]byte, 32))}
	private := authtest.PublicJWK(&authtest.Key{ID: "leaked", Alg: "ES256", Private: authtest.GenerateKey("ES256")})
	private["d"] = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

	// No usable key: exit 1, each key named with its reason.
	iss.SetJWKS(jwksOf(t, smallJWK, oct))
	r := authgate(t, nil, "", "check-issuer", iss.URL)
	if r.code != 1 {
		t.Errorf("no usable key: want exit 1: %s", r)
	}
	for _, want := range [][]string{
		{"REFUSED", `kid "small"`, "RSA key shorter than 2048 bits"},
		{"REFUSED", `kid "hs"`, `symmetric "oct" key`},
		{"FAIL", "no usable key"},
		{"verdict", "UNUSABLE"},
	} {
		if lineWith(r.stdout, want...) == "" {
			t.Errorf("no line with %q:\n%s", want, r.stdout)
		}
	}
	if lineWith(r.stdout, "FAIL", "JWKS holds no usable key") == "" {
		t.Errorf("core.New's own refusal is not reported:\n%s", r.stdout)
	}

	// A published private key: used by its public half, so the issuer
	// works, but the operator is warned (and sees authgate's own log).
	iss.SetJWKS(jwksOf(t, authtest.PublicJWK(iss.Signer()), private, oct))
	r = authgate(t, nil, "", "check-issuer", iss.URL)
	if r.code != 0 {
		t.Errorf("one good key beside bad ones: want exit 0: %s", r)
	}
	if lineWith(r.stdout, "ok", `kid "leaked"`, "verifies ES256") == "" || lineWith(r.stdout, "WARNING", "PRIVATE key members") == "" {
		t.Errorf("the private key is not flagged:\n%s", r.stdout)
	}
	if lineWith(r.stdout, "log", "private key members") == "" {
		t.Errorf("authgate's own log of the private key is not shown:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, private["d"].(string)) {
		t.Errorf("the private member is printed:\n%s", r.stdout)
	}
}

func TestCheckIssuerUnreachableOrWrong(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	r := authgate(t, nil, "", "check-issuer", "-timeout", "2s", dead)
	if r.code != 1 || lineWith(r.stdout, "FAIL", "request failed", "refused") == "" || !strings.Contains(r.stdout, "UNUSABLE") {
		t.Errorf("a dead issuer: want exit 1 and the connection refused: %s", r)
	}
	if strings.Contains(r.stdout, "oauth-authorization-server") {
		t.Errorf("a server that did not answer is asked again for RFC 8414 metadata:\n%s", r.stdout)
	}

	// A hanging issuer: the timeout bounds the wait.
	hang := make(chan struct{})
	defer close(hang)
	iss := authtest.New(t)
	iss.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	r = authgate(t, nil, "", "check-issuer", "-timeout", "1s", iss.URL)
	if r.code != 1 || lineWith(r.stdout, "FAIL", "no answer within 1s") == "" {
		t.Errorf("a hanging issuer: want exit 1 and the timeout named: %s", r)
	}

	// The issuer's exact string matters: a trailing slash is another issuer.
	good := authtest.New(t)
	r = authgate(t, nil, "", "check-issuer", good.URL+"/")
	if r.code != 1 || lineWith(r.stdout, "FAIL", "names issuer", "mind the trailing slash") == "" {
		t.Errorf("an issuer with a trailing slash its discovery does not name: %s", r)
	}
}

func TestCheckIssuerRFC8414Only(t *testing.T) {
	iss := authtest.New(t)
	iss.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss.URL, "jwks_uri": iss.JWKSURL()})
		case "/jwks.json":
			_, _ = w.Write(iss.JWKS())
		default:
			http.NotFound(w, r)
		}
	}))
	r := authgate(t, nil, "", "check-issuer", iss.URL)
	if r.code != 1 || lineWith(r.stdout, "FAIL", "status 404") == "" || lineWith(r.stdout, "does not read RFC 8414") == "" {
		t.Errorf("RFC 8414 metadata only: want exit 1 and the hint: %s", r)
	}
	if lineWith(r.stdout, "ok", `kid "`+iss.Signer().ID+`"`) == "" {
		t.Errorf("the keys of the RFC 8414 jwks_uri are not judged:\n%s", r.stdout)
	}
	r = authgate(t, nil, "", "check-issuer", "-jwks-url", iss.JWKSURL(), iss.URL)
	if r.code != 0 || !strings.Contains(r.stdout, "discovery   skipped") {
		t.Errorf("with -jwks-url: want exit 0: %s", r)
	}
}

// explainOn runs explain against iss with the default audience.
func explainOn(t *testing.T, iss *authtest.Issuer, tok string, extra ...string) result {
	t.Helper()
	args := append([]string{"explain", "-issuer", iss.URL, "-audience", authtest.DefaultAudience}, extra...)
	return authgate(t, nil, "", append(args, tok)...)
}

// assertNoSecrets: explain prints neither the signature nor the subject.
func assertNoSecrets(t *testing.T, r result, tok string) {
	t.Helper()
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	if strings.Contains(r.stdout+r.stderr, sig) || strings.Contains(r.stdout+r.stderr, tok) {
		t.Errorf("the output holds the token or its signature:\n%s", r)
	}
	if strings.Contains(r.stdout, "user-1") {
		t.Errorf("explain prints the subject:\n%s", r.stdout)
	}
}

func TestExplainValid(t *testing.T) {
	iss := authtest.New(t)
	tok := iss.Token(nil)
	r := explainOn(t, iss, tok)
	if r.code != 0 || !strings.Contains(r.stdout, "verdict     ACCEPTED") {
		t.Fatalf("a valid token: %s", r)
	}
	for _, c := range []string{"size", "format", "typ", "claims", "iss", "alg", "kid", "signature", "exp", "nbf", "iat", "lifetime", "aud", "sub", "binding"} {
		if lineWith(r.stdout, "  ok      "+c+" ") == "" {
			t.Errorf("check %s not listed as passed:\n%s", c, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "FAIL") || strings.Contains(r.stdout, "(fail)") {
		t.Errorf("a valid token has a failed check:\n%s", r.stdout)
	}
	if lineWith(r.stdout, "exp", "expires in ", " at 20", " UTC") == "" {
		t.Errorf("exp not in human form:\n%s", r.stdout)
	}
	assertNoSecrets(t, r, tok)

	// The same from stdin, and with the examples' environment.
	vars := []string{"AUTHGATE_ISSUER=" + iss.URL, "AUTHGATE_AUDIENCE=other," + authtest.DefaultAudience}
	for _, args := range [][]string{{"explain", "-"}, {"explain"}} {
		r = authgate(t, vars, "Bearer "+tok+"\n", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "ACCEPTED") {
			t.Errorf("%v with the token on stdin and the environment: %s", args, r)
		}
	}
	// A flag wins over the environment.
	r = authgate(t, vars, "", "explain", "-audience", "someone-else", tok)
	if r.code != 1 || lineWith(r.stdout, "FAILED", "aud") == "" {
		t.Errorf("-audience over AUTHGATE_AUDIENCE: want aud failed: %s", r)
	}
	// An unknown AUTHGATE_* variable stops it, as it stops the examples.
	r = authgate(t, append(vars, "AUTHGATE_AUDIENC=x"), "", "explain", tok)
	if r.code != 2 || !strings.Contains(r.stderr, "unknown variable AUTHGATE_AUDIENC: did you mean AUTHGATE_AUDIENCE?") {
		t.Errorf("a misspelt variable: want exit 2 and the nearest name: %s", r)
	}
	// A variable of the examples that explain does not use is no error.
	r = authgate(t, append(vars, "AUTHGATE_REDIS_URL=redis://127.0.0.1:1/0"), "", "explain", tok)
	if r.code != 0 {
		t.Errorf("AUTHGATE_REDIS_URL set: %s", r)
	}
}

func TestExplainExpired(t *testing.T) {
	iss := authtest.New(t)
	now := time.Date(2026, 12, 4, 15, 4, 14, 0, time.UTC)
	exp := now.Add(-(3*time.Minute + 12*time.Second))
	tok := iss.Token(authtest.Claims{"iat": exp.Add(-5 * time.Minute).Unix(), "exp": exp.Unix()})
	r := explainOn(t, iss, tok, "-now", now.Format(time.RFC3339))
	if r.code != 1 {
		t.Fatalf("an expired token: want exit 1: %s", r)
	}
	if lineWith(r.stdout, "FAILED", "exp", "token expired", "expired 3m12s ago at 2026-12-04 15:01:02 UTC (leeway 30s)") == "" {
		t.Errorf("the exp check does not say when it expired:\n%s", r.stdout)
	}
	if lineWith(r.stdout, "ok", "signature") == "" || lineWith(r.stdout, "(ok)", "aud") == "" {
		t.Errorf("the checks before exp passed, after it are judged unverified:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "verdict     REFUSED (401 invalid_token: token expired)") {
		t.Errorf("verdict:\n%s", r.stdout)
	}
	// Within the leeway it is accepted, and said so; with -no-leeway not.
	r = explainOn(t, iss, tok, "-now", exp.Add(20*time.Second).Format(time.RFC3339))
	if r.code != 0 || lineWith(r.stdout, "ok", "exp", "within the leeway of 30s") == "" {
		t.Errorf("20s after exp with a 30s leeway: %s", r)
	}
	r = explainOn(t, iss, tok, "-no-leeway", "-now", exp.Add(20*time.Second).Format(time.RFC3339))
	if r.code != 1 || lineWith(r.stdout, "FAILED", "exp", "expired 20s ago") == "" {
		t.Errorf("20s after exp with -no-leeway: %s", r)
	}
	assertNoSecrets(t, r, tok)
}

func TestExplainRefusals(t *testing.T) {
	iss := authtest.New(t)
	es := iss.AddKey("ES256") // so that an allow-list of ES256 alone starts
	ghost := &authtest.Key{ID: "ghost", Alg: "RS256", Private: authtest.GenerateKey("RS256")}
	valid := iss.Token(nil)
	other := iss.Token(authtest.Claims{"sub": "user-2"})
	forged := valid[:strings.LastIndexByte(valid, '.')] + other[strings.LastIndexByte(other, '.'):]
	for _, c := range []struct {
		name, tok string
		line      []string // parts of the FAILED line
		args      []string
	}{
		{"wrong aud", iss.Token(authtest.Claims{"aud": "billing-api"}), []string{"aud", "aud names no accepted audience", `aud ["billing-api"] names none of the accepted audiences ["test-api"]`}, nil},
		{"wrong iss", iss.Token(authtest.Claims{"iss": "https://evil.example"}), []string{"iss", "iss names no configured issuer", `iss "https://evil.example" is not the configured issuer`}, nil},
		{"unknown kid", iss.Sign(ghost, nil, iss.Defaults()), []string{"kid", "unknown kid", `kid "ghost" is not among the key(s) in service: "` + iss.Signer().ID + `", "` + es.ID + `"`}, nil},
		{"forged signature", forged, []string{"signature", "signature does not verify"}, nil},
		{"alg not allowed", iss.Token(nil), []string{"alg", "alg not allowed for this issuer", `alg "RS256" is not in the allow-list ES256`}, []string{"-algorithms", "ES256"}},
		{"no sub", iss.Token(authtest.Claims{"sub": nil}), []string{"sub", "no sub claim"}, nil},
		{"not yet valid", iss.Token(authtest.Claims{"nbf": time.Now().Add(time.Hour).Unix()}), []string{"nbf", "token not valid yet (nbf)", "not valid before"}, nil},
		{"another kind of JWT", iss.Sign(iss.Signer(), map[string]any{"typ": "logout+jwt"}, iss.Defaults()), []string{"typ", "typ names another kind of JWT"}, nil},
		{"not at+jwt", iss.Token(nil), []string{"typ", "typ is not at+jwt"}, []string{"-require-at-jwt"}},
		{"too large", iss.Token(authtest.Claims{"pad": strings.Repeat("x", 400)}), []string{"size", "token larger than MaxTokenSize", "(at most 256)"}, []string{"-max-token-size", "256"}},
		{"claims not an object", authtest.SignRaw(iss.Signer(), []byte(`{"alg":"RS256","kid":"`+iss.Signer().ID+`"}`), []byte(`[1]`)), []string{"claims", "malformed claims", "not an object"}, nil},
		{"no exp", iss.Token(authtest.Claims{"exp": nil}), []string{"exp", "no exp claim"}, nil},
		{"a session without iat", iss.Token(authtest.Claims{"iat": nil}), []string{"lifetime", "token names a session but has no iat", "(sid) but has no iat"}, nil},
		{"too long a lifetime", iss.Token(authtest.Claims{"exp": time.Now().Add(48 * time.Hour).Unix()}), []string{"lifetime", "token lifetime exceeds MaxTokenLifetime", "(at most 24h0m0s)"}, nil},
		{"RFC 9068 claims missing", iss.Sign(iss.Signer(), map[string]any{"typ": "at+jwt"}, iss.Defaults()), []string{"RFC 9068", "RFC 9068 claims missing", "missing: client_id"}, []string{"-require-at-jwt"}},
		{"bound to a DPoP key", iss.Token(authtest.Claims{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}), []string{"binding", "cnf claim"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := explainOn(t, iss, c.tok, c.args...)
			if r.code != 1 || !strings.Contains(r.stdout, "verdict     REFUSED") {
				t.Fatalf("want exit 1, refused: %s", r)
			}
			if lineWith(r.stdout, append([]string{"FAILED"}, c.line...)...) == "" {
				t.Errorf("no FAILED line with %q:\n%s", c.line, r.stdout)
			}
			if n := strings.Count(r.stdout, "FAILED"); n != 1 {
				t.Errorf("%d FAILED lines, want the one check authgate stopped at:\n%s", n, r.stdout)
			}
			assertNoSecrets(t, r, c.tok)
		})
	}
	// After a refusal at the key, the signature is not checked.
	r := explainOn(t, iss, iss.Sign(ghost, nil, iss.Defaults()))
	if lineWith(r.stdout, "(fail)", "signature", "not checked") == "" || lineWith(r.stdout, "(ok)", "exp") == "" {
		t.Errorf("checks after the kid:\n%s", r.stdout)
	}
}

// TestExplainOffline: with -public-keys nothing is fetched, so a token of
// an https issuer can be explained from a PEM file alone.
func TestExplainOffline(t *testing.T) {
	iss := authtest.New(t)
	iss.SetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("explain -public-keys fetched %s", r.URL)
	}))
	pem := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(pem, []byte(authtest.PublicPEM(iss.Signer())), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := iss.Token(authtest.Claims{"iss": "https://id.example.com/"})
	args := []string{"explain", "-issuer", "https://id.example.com/", "-audience", authtest.DefaultAudience, "-public-keys", pem}
	r := authgate(t, nil, "", append(args, tok)...)
	if r.code != 0 || !strings.Contains(r.stdout, "keys from "+pem+" (-public-keys)") || !strings.Contains(r.stdout, "ACCEPTED") {
		t.Errorf("explain with a PEM file: %s", r)
	}
	other := &authtest.Key{ID: "other", Alg: "RS256", Private: authtest.GenerateKey("RS256")}
	r = authgate(t, nil, "", append(args, iss.Sign(other, map[string]any{"kid": nil}, authtest.Claims(map[string]any{
		"iss": "https://id.example.com/", "aud": authtest.DefaultAudience, "sub": "x", "exp": time.Now().Add(time.Minute).Unix()})))...)
	if r.code != 1 || lineWith(r.stdout, "FAILED", "signature", "signature does not verify") == "" {
		t.Errorf("a token of another key against the PEM file: %s", r)
	}
	if r := authgate(t, nil, "", append(args[:len(args)-1], "/nonexistent/key.pem", tok)...); r.code != 2 || !strings.Contains(r.stderr, "-public-keys") {
		t.Errorf("a missing key file: %s", r)
	}
}

func TestExplainBadSettings(t *testing.T) {
	iss := authtest.New(t)
	tok := iss.Token(nil)
	if r := authgate(t, nil, "", "explain", tok); r.code != 2 || !strings.Contains(r.stderr, "set the issuer and the audience") {
		t.Errorf("no issuer: %s", r)
	}
	if r := explainOn(t, iss, tok, "-leeway", "10m"); r.code != 2 || !strings.Contains(r.stderr, "Leeway 10m0s is outside") {
		t.Errorf("a leeway core refuses: want exit 2 and core's message: %s", r)
	}
	if r := explainOn(t, iss, "", "-now", "yesterday"); r.code != 2 {
		t.Errorf("a bad -now: %s", r)
	}
	r := explainOn(t, iss, "not-a-token")
	if r.code != 1 || lineWith(r.stdout, "FAILED", "format", "1 segment(s)") == "" || lineWith(r.stdout, "(...)", "not judged") == "" || strings.Contains(r.stdout, "  ok      iss") {
		t.Errorf("an opaque string: want the format check failed and nothing judged after it: %s", r)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + l.Addr().String()
	l.Close()
	r = authgate(t, nil, "", "explain", "-issuer", dead, "-audience", "a", "-timeout", "2s", tok)
	if r.code != 1 || !strings.Contains(r.stderr, "authgate does not start with these settings") {
		t.Errorf("an unreachable issuer: %s", r)
	}
}

func TestDecode(t *testing.T) {
	iss := authtest.New(t)
	tok := iss.Token(authtest.Claims{"sub": "alice", "roles": []string{"admin"}})
	r := authgate(t, nil, "", "decode", tok)
	if r.code != 0 {
		t.Fatalf("decode: %s", r)
	}
	if !strings.HasPrefix(r.stdout, "*** UNVERIFIED") {
		t.Errorf("no UNVERIFIED banner first:\n%s", r.stdout)
	}
	for _, want := range []string{`"alg": "RS256"`, `"kid": "` + iss.Signer().ID + `"`, `"sub": "alice"`, `"roles": [`, "exp:", "signature: 256 bytes (not shown, not checked)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("decode output lacks %q:\n%s", want, r.stdout)
		}
	}
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	if strings.Contains(r.stdout, sig) {
		t.Errorf("decode prints the signature")
	}
	// A bad signature is no reason to fail: nothing is verified.
	forged := tok[:strings.LastIndexByte(tok, '.')+1] + "AAAA"
	if r := authgate(t, nil, forged, "decode", "-"); r.code != 0 || !strings.Contains(r.stdout, `"sub": "alice"`) {
		t.Errorf("decode of a forged token from stdin: %s", r)
	}

	b64 := base64.RawURLEncoding.EncodeToString
	for _, c := range []struct{ name, in, want string }{
		{"one segment", "not-a-token", "1 segment(s)"},
		{"four segments", "a.b.c.d", "4 segment(s)"},
		{"JWE", "a.b.c.d.e", "encrypted token (JWE)"},
		{"empty payload", b64([]byte(`{"alg":"RS256"}`)) + "..c2ln", "payload segment is empty"},
		{"bad base64", "@@@." + b64([]byte(`{}`)) + ".c2ln", "header segment is not base64url"},
		{"padded", b64([]byte(`{"alg":"RS256"}`)) + "." + base64.URLEncoding.EncodeToString([]byte(`{"a":1}`)) + ".c2ln", "'=' padding"},
		{"header not JSON", b64([]byte("hello")) + "." + b64([]byte(`{}`)) + ".c2ln", "the header is not a JSON object"},
		{"header an array", b64([]byte("[1]")) + "." + b64([]byte(`{}`)) + ".c2ln", "not an object"},
		{"empty", "   ", "no token"},
	} {
		r := authgate(t, nil, c.in, "decode")
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("decode of %s: want exit 1 and %q: %s", c.name, c.want, r)
		}
	}
	// A payload that is not JSON is shown as such, not a failure: the
	// header still tells what the token claims to be.
	r = authgate(t, nil, b64([]byte(`{"alg":"RS256"}`))+"."+b64([]byte{0xff, 0xfe})+".c2ln", "decode")
	if r.code != 0 || !strings.Contains(r.stdout, "the payload is not a JSON object: not valid UTF-8") {
		t.Errorf("decode of a binary payload: %s", r)
	}
	// Terminal control sequences in a claim are shown escaped, not obeyed.
	r = authgate(t, nil, b64([]byte(`{"alg":"RS256"}`))+"."+b64([]byte("{\"x\":\"\u009b31m\u00e9\"}"))+".c2ln", "decode")
	if r.code != 0 || strings.Contains(r.stdout, "\u009b") || !strings.Contains(r.stdout, `\u009b31m`) || !strings.Contains(r.stdout, "\u00e9") {
		t.Errorf("decode of a claim holding a C1 control: want it escaped, other text kept: %s", r)
	}
	// The input is bounded.
	r = authgate(t, nil, strings.Repeat("a", 1<<20), "decode")
	if r.code != 1 || !strings.Contains(r.stderr, "larger than") {
		t.Errorf("decode of 1 MiB: %s", r)
	}
}

// TestEnvironmentNamesAreTheExamples: the AUTHGATE_* names the command
// knows are exactly the example apps' (examples/setup/env.go), so a
// variable set for the examples never stops it and a typo always does.
func TestEnvironmentNamesAreTheExamples(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "setup", "env.go"))
	if err != nil {
		t.Skipf("not in the authgate repository: %v", err)
	}
	var names []string
	for _, m := range regexp.MustCompile(`\{"(AUTHGATE_[A-Z0-9_]+)",`).FindAllStringSubmatch(string(src), -1) {
		names = append(names, m[1])
	}
	if len(names) < 10 {
		t.Fatalf("found %d names in examples/setup/env.go: the pattern no longer matches its table", len(names))
	}
	if !slices.Equal(names, exampleVariables) {
		t.Errorf("exampleVariables differ from examples/setup Variables:\n got %v\nwant %v", exampleVariables, names)
	}
	for name := range configVariables {
		if !slices.Contains(names, name) {
			t.Errorf("explain reads %s, which the examples do not know", name)
		}
	}
}
