package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults of the HTTP checkers.
const (
	defaultHTTPCheckTimeout = 3 * time.Second
	defaultMaxCheckBody     = 64 << 10
)

// HTTPSessionOptions configures an HTTPSessionChecker.
type HTTPSessionOptions struct {
	// URL is the session endpoint with "{sid}" where the session id goes,
	// e.g. "https://id.example.com/api/sessions/{sid}". "{sid}" must appear
	// exactly once, in the path. https, or http to a loopback address.
	URL string
	// Header is added to every request, e.g. an Authorization header with an
	// API key. It is only ever sent to the URL's origin: redirects are not
	// followed.
	Header http.Header
	// Client's Transport is used (default http.DefaultTransport); its
	// redirect policy is replaced by "never follow".
	Client *http.Client
	// Timeout bounds one check; default 3s. The session policy's own
	// timeout (SessionCheckOptions.Timeout) applies as well.
	Timeout time.Duration
	// MaxBody caps how much of a response is read; default 64 KiB.
	MaxBody int64
}

// HTTPSessionChecker asks an identity provider's session endpoint whether a
// session is alive: GET URL with the session id; 200 means active, 404 and
// 410 mean revoked or unknown, anything else (other statuses, redirects,
// transport errors, timeouts) means the checker cannot tell, which the
// session policy answers 503. The body is ignored (read up to MaxBody).
//
// It is not a RevocationFeed: with it alone, a revoked session is refused on
// Sensitive routes (and every route under policy Always), while its JWTs
// stay valid on other routes until they expire.
type HTTPSessionChecker struct {
	prefix, suffix string
	header         http.Header
	client         *http.Client
	timeout        time.Duration
	maxBody        int64
}

const sidPlaceholder = "{sid}"

// NewHTTPSessionChecker checks opts and returns the checker.
func NewHTTPSessionChecker(opts HTTPSessionOptions) (*HTTPSessionChecker, error) {
	if strings.Count(opts.URL, sidPlaceholder) != 1 {
		return nil, configErr("HTTPSessionOptions.URL %q must contain %s exactly once", opts.URL, sidPlaceholder)
	}
	i := strings.Index(opts.URL, sidPlaceholder)
	prefix, suffix := opts.URL[:i], opts.URL[i+len(sidPlaceholder):]
	const marker = "authgate-sid-marker"
	u, err := url.Parse(prefix + marker + suffix)
	if err != nil {
		return nil, configErr("HTTPSessionOptions.URL: %v", err)
	}
	if err := checkFetchURL(u.String()); err != nil {
		return nil, configErr("HTTPSessionOptions.URL: %v", err)
	}
	if !strings.Contains(u.EscapedPath(), marker) || strings.Contains(u.RawQuery, marker) || strings.Contains(u.Host, marker) {
		return nil, configErr("HTTPSessionOptions.URL: %s must be in the path", sidPlaceholder)
	}
	timeout, maxBody, err := httpBounds(opts.Timeout, opts.MaxBody)
	if err != nil {
		return nil, err
	}
	return &HTTPSessionChecker{
		prefix: prefix, suffix: suffix,
		header:  opts.Header.Clone(),
		client:  noRedirectClient(opts.Client),
		timeout: timeout, maxBody: maxBody,
	}, nil
}

func httpBounds(timeout time.Duration, maxBody int64) (time.Duration, int64, error) {
	if timeout == 0 {
		timeout = defaultHTTPCheckTimeout
	}
	if timeout < 0 || timeout > maxCheckTimeout {
		return 0, 0, configErr("Timeout %v is outside (0, %v]", timeout, maxCheckTimeout)
	}
	if maxBody == 0 {
		maxBody = defaultMaxCheckBody
	}
	if maxBody < 0 || maxBody > 1<<20 {
		return 0, 0, configErr("MaxBody %d is outside (0, 1 MiB]", maxBody)
	}
	return timeout, maxBody, nil
}

// noRedirectClient copies c (or a default client) and makes it never follow
// redirects, so credentials never travel to another origin.
func noRedirectClient(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	out.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &out
}

// Check asks the endpoint about sid. A sid of unusable form (see
// ValidSessionID) is answered revoked without a request: it never enters the
// URL (CL-16). A valid one is path-escaped.
func (c *HTTPSessionChecker) Check(ctx context.Context, sid string) (SessionState, error) {
	if !ValidSessionID(sid) {
		return SessionRevoked, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.prefix+url.PathEscape(sid)+c.suffix, nil)
	if err != nil {
		return SessionRevoked, err
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return SessionRevoked, fmt.Errorf("session endpoint: %w", withoutURL(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.maxBody))
	switch resp.StatusCode {
	case http.StatusOK:
		return SessionActive, nil
	case http.StatusNotFound, http.StatusGone:
		return SessionRevoked, nil
	}
	return SessionRevoked, fmt.Errorf("session endpoint answered %d", resp.StatusCode)
}

var errNotJSON = errors.New("response is not a JSON object")

// withoutURL drops the request URL from a client error, so that logs never
// carry a key that a URL may hold.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
