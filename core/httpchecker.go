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

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Defaults of the HTTP checkers.
const (
	defaultHTTPCheckTimeout = 3 * time.Second
	defaultMaxCheckBody     = 64 << 10
)

// HTTPSessionOptions configures an HTTPSessionChecker.
type HTTPSessionOptions struct {
	// URL is the session endpoint with "{sid}" where the session id goes and,
	// for endpoints that look sessions up per user, "{sub}" where the
	// subject goes, each in the path or the query (path- or query-escaped
	// there), e.g. "https://id.example.com/api/sessions/{sid}" or
	// "http://127.0.0.1:4445/admin/oauth2/auth/sessions/consent?subject={sub}&login_session_id={sid}".
	// "{sid}" must appear exactly once, "{sub}" at most once. https, or
	// http to a loopback address.
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
	// MaxBody caps how much of a response is read; default 64 KiB. With a
	// JSON rule (ActiveField, NonEmptyArray), a longer answer cannot be read
	// and counts as no answer.
	MaxBody int64
	// ActiveField, when set, makes a 200 answer count by its JSON: it must
	// be an object whose member ActiveField (a dotted path reaches into
	// nested objects, as in ClaimNames) is a boolean; true is alive, false
	// revoked. Set at most one of ActiveField and NonEmptyArray.
	ActiveField string
	// NonEmptyArray, when set, makes a 200 answer count by its JSON: it must
	// be an array; one or more elements is alive, an empty array revoked
	// (Ory Hydra's consent sessions of a subject answer 200 [] for an
	// unknown session).
	NonEmptyArray bool
}

// HTTPSessionChecker asks an identity provider's session endpoint whether a
// session is alive: GET URL with the session id (and subject). 404 and 410
// mean revoked or unknown. 200 means active, or, with a JSON rule
// (ActiveField, NonEmptyArray), whatever the rule reads in the answer.
// Anything else (other statuses, redirects, transport errors, timeouts, an
// answer the rule does not recognise) means the checker cannot tell, which
// the session policy answers 503: it is never taken for alive. Without a
// rule the body is ignored (read up to MaxBody).
//
// It is not a RevocationFeed: with it alone, a revoked session is refused on
// Sensitive routes (and every route under PolicyAlways), while its JWTs
// stay valid on other routes until they expire.
type HTTPSessionChecker struct {
	tmpl               string // URL with the placeholders
	sidQuery, subQuery bool   // where each placeholder is
	needSub            bool
	header             http.Header
	client             *http.Client
	timeout            time.Duration
	maxBody            int64
	activeField        string
	nonEmptyArray      bool
}

var _ SubjectSessionChecker = (*HTTPSessionChecker)(nil)

var _ ContextHonorer = (*HTTPSessionChecker)(nil)

// HonorsContext reports whether Check returns once its context is done:
// true with net/http's own transport (the default, or an *http.Transport),
// which ends a request at its context's deadline; false with another
// RoundTripper, which may not.
func (c *HTTPSessionChecker) HonorsContext() bool {
	switch c.client.Transport.(type) {
	case nil, *http.Transport:
		return true
	}
	return false
}

const (
	sidPlaceholder = "{sid}"
	subPlaceholder = "{sub}"
	// maxSubjectLen bounds the subject put into a URL; a longer one is
	// answered revoked without a request, as an unusable sid is.
	maxSubjectLen = 1024
)

// NewHTTPSessionChecker checks opts and returns the checker.
func NewHTTPSessionChecker(opts HTTPSessionOptions) (*HTTPSessionChecker, error) {
	if strings.Count(opts.URL, sidPlaceholder) != 1 {
		return nil, configErr("HTTPSessionOptions.URL %q must contain %s exactly once", opts.URL, sidPlaceholder)
	}
	nsub := strings.Count(opts.URL, subPlaceholder)
	if nsub > 1 {
		return nil, configErr("HTTPSessionOptions.URL %q must contain %s at most once", opts.URL, subPlaceholder)
	}
	const sidMarker, subMarker = "authgate-sid-marker", "authgate-sub-marker"
	u, err := url.Parse(strings.Replace(strings.Replace(opts.URL, sidPlaceholder, sidMarker, 1), subPlaceholder, subMarker, 1))
	if err != nil {
		return nil, configErr("HTTPSessionOptions.URL: %v", err)
	}
	if err := checkFetchURL(u.String()); err != nil {
		return nil, configErr("HTTPSessionOptions.URL: %v", err)
	}
	if u.Fragment != "" || strings.Contains(opts.URL, "#") {
		return nil, configErr("HTTPSessionOptions.URL: a fragment is never sent; put %s in the path or the query", sidPlaceholder)
	}
	// where tells the path from the query: a placeholder anywhere else (the
	// host, user info) is refused.
	where := func(marker, name string) (query bool, err error) {
		inPath, inQuery := strings.Contains(u.EscapedPath(), marker), strings.Contains(u.RawQuery, marker)
		if inPath == inQuery {
			return false, configErr("HTTPSessionOptions.URL: %s must be in the path or the query", name)
		}
		return inQuery, nil
	}
	c := &HTTPSessionChecker{
		tmpl:          opts.URL,
		needSub:       nsub == 1,
		header:        opts.Header.Clone(),
		client:        noRedirectClient(opts.Client),
		activeField:   opts.ActiveField,
		nonEmptyArray: opts.NonEmptyArray,
	}
	if c.sidQuery, err = where(sidMarker, sidPlaceholder); err != nil {
		return nil, err
	}
	if c.needSub {
		if c.subQuery, err = where(subMarker, subPlaceholder); err != nil {
			return nil, err
		}
	}
	if opts.ActiveField != "" && opts.NonEmptyArray {
		return nil, configErr("HTTPSessionOptions: set ActiveField or NonEmptyArray, not both")
	}
	if f := opts.ActiveField; strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || strings.Contains(f, "..") {
		return nil, configErr("HTTPSessionOptions.ActiveField %q: a dotted path has an empty segment", f)
	}
	if c.timeout, c.maxBody, err = httpBounds(opts.Timeout, opts.MaxBody); err != nil {
		return nil, err
	}
	return c, nil
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
// URL (CL-16). A valid one is path- or query-escaped. With "{sub}" in the
// URL, the subject is the one the session policy is checking (it calls
// CheckSession); called directly without one, Check cannot tell (an error).
func (c *HTTPSessionChecker) Check(ctx context.Context, sid string) (SessionState, error) {
	sub, ok := sessionSubject(ctx)
	if c.needSub && !ok {
		return StateRevoked, errors.New("session endpoint needs the subject ({sub}); call CheckSession")
	}
	return c.CheckSession(ctx, sub, sid)
}

// CheckSession asks the endpoint about session sid of subject (the token's
// "sub"). The subject is only used when the URL has "{sub}"; an empty one,
// or one longer than 1024 bytes, is answered revoked without a request.
func (c *HTTPSessionChecker) CheckSession(ctx context.Context, subject, sid string) (SessionState, error) {
	if !validSessionID(sid) {
		return StateRevoked, nil
	}
	u := strings.Replace(c.tmpl, sidPlaceholder, escapeAs(sid, c.sidQuery), 1)
	if c.needSub {
		if subject == "" || len(subject) > maxSubjectLen {
			return StateRevoked, nil
		}
		// The escaped sid holds no "{": it cannot be taken for {sub}.
		u = strings.Replace(u, subPlaceholder, escapeAs(subject, c.subQuery), 1)
	}
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > c.timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	} // else the caller's deadline comes first (the session policy's Timeout): no second timer
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return StateRevoked, errors.New("session endpoint: the request cannot be built")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if c.activeField != "" || c.nonEmptyArray {
		if _, ok := req.Header["Accept"]; !ok {
			req.Header.Set("Accept", "application/json")
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return StateRevoked, fmt.Errorf("session endpoint: %w", withoutURL(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusGone:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.maxBody))
		return StateRevoked, nil
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.maxBody))
		return StateRevoked, fmt.Errorf("session endpoint answered %d", resp.StatusCode)
	}
	if c.activeField == "" && !c.nonEmptyArray {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.maxBody))
		return StateActive, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return StateRevoked, fmt.Errorf("session endpoint: reading answer: %w", err)
	}
	if int64(len(body)) > c.maxBody {
		return StateRevoked, fmt.Errorf("session endpoint answer exceeds %d bytes", c.maxBody)
	}
	return c.readAnswer(body)
}

// readAnswer applies the JSON rule to a 200 answer. Only a recognised
// answer is alive or revoked; anything else is an error (cannot tell).
func (c *HTTPSessionChecker) readAnswer(body []byte) (SessionState, error) {
	if c.nonEmptyArray {
		v := jsontext.Value(body)
		if !v.IsValid() || v.Kind() != '[' {
			return StateRevoked, errors.New("session endpoint answer is not a JSON array")
		}
		var elems []jsontext.Value
		if err := json.Unmarshal(body, &elems); err != nil {
			return StateRevoked, errors.New("session endpoint answer is not a JSON array")
		}
		if len(elems) == 0 {
			return StateRevoked, nil
		}
		return StateActive, nil
	}
	active, found, err := lookupBool(body, c.activeField)
	if err != nil {
		return StateRevoked, errors.New("session endpoint answer is not a JSON object")
	}
	if !found {
		return StateRevoked, fmt.Errorf("session endpoint answer has no boolean %q", c.activeField)
	}
	if !active {
		return StateRevoked, nil
	}
	return StateActive, nil
}

// escapeAs escapes s for the query or for one path segment.
func escapeAs(s string, query bool) string {
	if query {
		return url.QueryEscape(s)
	}
	return url.PathEscape(s)
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
