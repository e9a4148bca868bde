package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/authgate/authgate/core"
)

// maxBody bounds a discovery or JWKS body: core's default MaxJWKSSize.
const maxBody = 1 << 20

// refreshHeaders are the response headers that say how long a key set may
// be kept, printed for the operator.
var refreshHeaders = []string{"Cache-Control", "Expires", "ETag", "Last-Modified", "Age", "Content-Type"}

// checkIssuer reports what authgate makes of an issuer: discovery, the
// JWKS and its headers, each key's verdict, and whether a core.Authenticator
// starts on it.
func checkIssuer(e *env, args []string) int {
	fs := flag.NewFlagSet("check-issuer", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var s settings
	s.register(fs, false)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: authgate check-issuer [flags] [ISSUER]")
		fmt.Fprintln(fs.Output(), "Fetches the issuer's OIDC discovery document and JWKS, judges each key by authgate's")
		fmt.Fprintln(fs.Output(), "key policy, and starts an authenticator on the issuer. Exit status 1 when it is unusable.")
		fmt.Fprintln(fs.Output(), "ISSUER defaults to -issuer, then AUTHGATE_ISSUER.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagStatus(err)
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	if err := s.fromEnviron(fs, e.environ); err != nil {
		fmt.Fprintln(e.stderr, "authgate check-issuer:", err)
		return exitUsage
	}
	if fs.NArg() == 1 {
		s.issuer = fs.Arg(0)
	}
	// An allow-list core refuses is a usage error, not the issuer's fault.
	if _, err := core.CheckKeySet([]byte(`{"keys":[]}`), splitList(s.algorithms)); err != nil {
		fmt.Fprintln(e.stderr, "authgate check-issuer: -algorithms:", err)
		return exitUsage
	}
	if s.issuer == "" {
		fmt.Fprintln(e.stderr, "authgate check-issuer: no issuer: give it as an argument, with -issuer, or in AUTHGATE_ISSUER")
		return exitUsage
	}
	c := &issuerCheck{env: e, s: s, client: &http.Client{
		Timeout:       s.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	return c.run()
}

type issuerCheck struct {
	*env
	s      settings
	client *http.Client
}

func (c *issuerCheck) printf(format string, args ...any) { fmt.Fprintf(c.stdout, format, args...) }

func (c *issuerCheck) run() int {
	iss := c.s.issuer
	c.printf("issuer      %s\n", iss)
	usable := true
	jwksURL := c.s.jwksURL
	if jwksURL != "" {
		c.printf("discovery   skipped: JWKS URL given (%s)\n", jwksURL)
	} else {
		var ok bool
		jwksURL, ok = c.discover(iss)
		usable = usable && ok
	}
	keys := 0
	if jwksURL != "" {
		keys = c.keySet(jwksURL)
		usable = usable && keys > 0
	}

	// The library's own verdict: an Authenticator on this issuer, as an
	// API configured with it would start.
	c.printf("\nauthgate    starting an authenticator on this issuer (core.New)\n")
	var logs logBuffer
	cfg := c.s.config(&logs)
	cfg.Audience = []string{"authgate-check-issuer"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*c.s.timeout)
	defer cancel()
	a, err := core.New(ctx, cfg)
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if l != "" {
			c.printf("  log       %s\n", l)
		}
	}
	if err != nil {
		c.printf("  FAIL      %v\n", err)
		c.printf("\nverdict     UNUSABLE: an API configured with this issuer would not start\n")
		return exitFail
	}
	defer a.Close()
	for _, st := range a.Status().Issuers {
		c.printf("  ok        %d key(s) in service: %s\n", len(st.KeyIDs), kidList(st.KeyIDs))
	}
	if !usable {
		c.printf("\nverdict     UNUSABLE: see the failures above\n")
		return exitFail
	}
	c.printf("\nverdict     usable: %d key(s) accepted\n", keys)
	return exitOK
}

// discover fetches the OIDC discovery document and returns its jwks_uri.
// When it fails, the RFC 8414 metadata is looked at, to say what to set.
func (c *issuerCheck) discover(iss string) (string, bool) {
	u := strings.TrimSuffix(iss, "/") + "/.well-known/openid-configuration"
	c.printf("discovery   GET %s\n", u)
	jwks, err := c.metadata(u, iss)
	if err == nil {
		c.printf("  ok        names issuer %q and jwks_uri %s\n", iss, jwks)
		return jwks, true
	}
	c.printf("  FAIL      %v\n", err)
	// authgate reads OIDC discovery only; an OAuth server may publish RFC
	// 8414 metadata instead. Say so, and go on with its jwks_uri to judge
	// the keys. A server that did not answer at all is not asked again.
	alt, aerr := rfc8414URL(iss)
	if aerr != nil || errors.Is(err, errNoAnswer) {
		return "", false
	}
	c.printf("rfc 8414    GET %s\n", alt)
	jwks, err = c.metadata(alt, iss)
	if err != nil {
		c.printf("  FAIL      %v\n", err)
		return "", false
	}
	c.printf("  note      names jwks_uri %s, but authgate does not read RFC 8414 metadata:\n", jwks)
	c.printf("            set Config.JWKSURL (-jwks-url, AUTHGATE_JWKS_URL) to it\n")
	return jwks, false
}

// rfc8414URL is the RFC 8414 section 3 metadata URL of an issuer: the
// well-known segment goes between the host and the issuer's path.
func rfc8414URL(iss string) (string, error) {
	u, err := url.Parse(iss)
	if err != nil || u.Host == "" {
		return "", errors.New("not a URL")
	}
	u.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}

// metadata GETs a discovery document and returns its jwks_uri, checking
// that it names exactly iss (as core does).
func (c *issuerCheck) metadata(u, iss string) (string, error) {
	body, _, err := c.get(u)
	if err != nil {
		return "", err
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", errors.New("the document is not a JSON object")
	}
	named, _ := doc["issuer"].(string)
	if named != iss {
		return "", fmt.Errorf("the document names issuer %q, not %q: authgate requires the exact same string (OpenID Connect Discovery 1.0 section 4.3; mind the trailing slash)", named, iss)
	}
	jwks, _ := doc["jwks_uri"].(string)
	if jwks == "" {
		return "", errors.New("the document has no jwks_uri")
	}
	return jwks, nil
}

// keySet fetches and judges the JWKS; it returns the number of usable keys.
func (c *issuerCheck) keySet(u string) int {
	c.printf("\njwks        GET %s\n", u)
	body, h, err := c.get(u)
	if err != nil {
		c.printf("  FAIL      %v\n", err)
		return 0
	}
	c.printf("  ok        %d bytes\n", len(body))
	for _, name := range refreshHeaders {
		if v := h.Values(name); len(v) > 0 {
			c.printf("  header    %s: %s\n", name, strings.Join(v, ", "))
		} else {
			c.printf("  header    %s: (none)\n", name)
		}
	}
	c.printf("  note      authgate refetches the set every RefreshInterval (default 10m) and on an\n")
	c.printf("            unknown kid (at most every UnknownKeyRefresh, default 5s); it does not read these headers\n")
	verdicts, err := core.CheckKeySet(body, splitList(c.s.algorithms))
	if err != nil {
		c.printf("  FAIL      %v\n", err)
		return 0
	}
	c.printf("\nkeys        %d published, judged by authgate's key policy (core.CheckKeySet)\n", len(verdicts))
	usable := 0
	for _, v := range verdicts {
		desc := fmt.Sprintf("#%d kid %s kty %s alg %s use %s", v.Index, orNone(v.KID), orNone(v.Kty), orNone(v.Alg), orNone(v.Use))
		if v.Usable() {
			usable++
			c.printf("  ok        %s: verifies %s\n", desc, strings.Join(v.Algorithms, ", "))
		} else {
			c.printf("  REFUSED   %s: %s\n", desc, v.Refused)
		}
		if v.Private {
			c.printf("  WARNING   #%d publishes PRIVATE key members: only its public half is used, but the key is compromised: rotate it\n", v.Index)
		}
	}
	if usable == 0 {
		c.printf("  FAIL      no usable key: authgate refuses this key set\n")
	}
	return usable
}

// errNoAnswer marks a request that got no HTTP answer.
var errNoAnswer = errors.New("no answer")

// get fetches u within the timeout and maxBody, following no redirect.
func (c *issuerCheck) get(u string) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("not a URL: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, nil, fmt.Errorf("%w within %v (-timeout)", errNoAnswer, c.s.timeout)
		}
		return nil, nil, fmt.Errorf("request failed: %v (%w)", err, errNoAnswer)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, resp.Header, fmt.Errorf("status %d, a redirect to %q: authgate never follows redirects for keys or discovery (RFC 8725 section 3.10)", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.Header, fmt.Errorf("status %d (authgate needs 200)", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, resp.Header, fmt.Errorf("reading the body: %v", err)
	}
	if len(body) > maxBody {
		return nil, resp.Header, fmt.Errorf("body larger than %d bytes (Config.MaxJWKSSize default)", maxBody)
	}
	return body, resp.Header, nil
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return fmt.Sprintf("%q", s)
}

func kidList(kids []string) string {
	if len(kids) == 0 {
		return "(none)"
	}
	q := make([]string, len(kids))
	for i, k := range kids {
		q[i] = orNone(k)
	}
	return strings.Join(q, ", ")
}
