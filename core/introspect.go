package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// IntrospectionOptions configures an Introspector.
type IntrospectionOptions struct {
	// Endpoint is the RFC 7662 introspection endpoint. https, or http to a
	// loopback address.
	Endpoint string
	// ClientAuth is how this resource server authenticates to the endpoint;
	// default ClientSecretBasic. RFC 7662 section 2.1 makes the caller
	// authenticate, so that tokens cannot be scanned through an open
	// endpoint: ClientAuthNone must be chosen explicitly.
	ClientAuth ClientAuth
	// ClientID and ClientSecret are the credentials of ClientSecretBasic
	// and ClientSecretPost (required there, refused with the others).
	ClientID, ClientSecret string
	// BearerToken is the credential of ClientAuthBearer, sent as
	// "Authorization: Bearer <token>" (an API key or a token of this
	// resource server's own); required there, refused with the others.
	BearerToken string
	// Claims names the members read into the session, as Config.Claims
	// does for a JWT, dotted paths included ("ext.sid"); default "sid",
	// "scope" (merged with "scp"), "roles", "tenant". Use the same names as
	// in Config.Claims when the issuer puts the same claims in both.
	Claims ClaimNames
	// Issuer, when set, must equal an "iss" member of an answer, and becomes
	// the principal's Issuer.
	Issuer string
	// Audience, when set, must be named by an "aud" member of an answer.
	Audience []string
	// Client's Transport is used (default http.DefaultTransport); redirects
	// are never followed.
	Client *http.Client
	// Timeout bounds one call; default 3s.
	Timeout time.Duration
	// MaxBody caps how much of a response is read; default 64 KiB.
	MaxBody int64
	// MaxInFlight bounds concurrent calls; default 64. Beyond it a token is
	// answered 503 at once.
	MaxInFlight int
	// NegativeTTL is how long an inactive answer is remembered (by the
	// token's SHA-256), so a replayed dead token costs no call; default 30s.
	// Active answers are never cached: each request is answered by a call
	// that began after it arrived (requests for the same token arriving
	// while one call runs share the next call).
	NegativeTTL time.Duration
	// NegativeCacheSize bounds the remembered inactive tokens; default 10000.
	NegativeCacheSize int
	// Now is the clock for "exp"; default time.Now.
	Now func() time.Time
}

// ClientAuth is how an Introspector authenticates to the introspection
// endpoint.
type ClientAuth uint8

// Client authentication methods of the introspection call.
const (
	// ClientSecretBasic sends ClientID and ClientSecret in HTTP Basic
	// (RFC 6749 section 2.3.1, each form-urlencoded first). The default.
	ClientSecretBasic ClientAuth = iota
	// ClientSecretPost sends client_id and client_secret in the form body
	// (RFC 6749 section 2.3.1).
	ClientSecretPost
	// ClientAuthBearer sends "Authorization: Bearer BearerToken".
	ClientAuthBearer
	// ClientAuthNone sends no credentials: only for an endpoint that is not
	// reachable by clients, such as Ory Hydra's admin port, since an open
	// introspection endpoint lets anyone test stolen tokens.
	ClientAuthNone
)

// Introspector authenticates opaque tokens with an OAuth 2.0 authorization
// server's introspection endpoint (RFC 7662): it POSTs the token with the
// client credentials, and the boolean "active" decides. An active answer is
// mapped onto a Session ("sub", "sid", "scope", "roles", "tenant", "iss",
// "exp"); its JSON becomes the principal's claims. Set it as Config.Opaque.
//
// An inactive answer, or an active one whose exp has passed, whose iss or
// aud does not match, whose token_type is not an access token, or without a
// sub, is refused 401. An answer without a boolean "active", a non-200
// status, a redirect or a timeout is 503.
//
// It is not a SessionChecker: introspection takes the token, not a session
// id, and RFC 7662 offers no lookup by session. Principals it authenticates
// were checked live in the request, so Sensitive routes accept them without
// another call. As Config.TokenIntrospection it checks JWTs live too, on
// the routes the session policy names; one Introspector may serve both.
type Introspector struct {
	endpoint   string
	auth       ClientAuth
	id, secret string
	bearer     string
	claims     claimReader
	issuer     string
	audience   []string
	client     *http.Client
	timeout    time.Duration
	maxBody    int64
	now        func() time.Time
	sem        chan struct{}
	fresh      freshCalls[*Session] // per token hash: answers read after the request arrived

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	negTTL  time.Duration
	negSize int
	mu      sync.Mutex
	neg     map[[32]byte]time.Time // token hash -> remembered until
}

var _ OpaqueAuthenticator = (*Introspector)(nil)

// NewIntrospector checks opts and returns the introspector.
func NewIntrospector(opts IntrospectionOptions) (*Introspector, error) {
	if err := checkFetchURL(opts.Endpoint); err != nil {
		return nil, configErr("IntrospectionOptions.Endpoint: %v", err)
	}
	switch opts.ClientAuth {
	case ClientSecretBasic, ClientSecretPost:
		if opts.ClientID == "" || opts.ClientSecret == "" || opts.BearerToken != "" {
			return nil, configErr("IntrospectionOptions: ClientID and ClientSecret are required, BearerToken unused, with ClientSecretBasic and ClientSecretPost (RFC 7662 section 2.1: the resource server authenticates; ClientAuthNone for an endpoint that needs none)")
		}
	case ClientAuthBearer:
		if opts.BearerToken == "" || opts.ClientID != "" || opts.ClientSecret != "" {
			return nil, configErr("IntrospectionOptions: ClientAuthBearer needs BearerToken and no ClientID or ClientSecret")
		}
		if strings.ContainsAny(opts.BearerToken, "\r\n\x00") {
			return nil, configErr("IntrospectionOptions: BearerToken holds a line break or NUL")
		}
	case ClientAuthNone:
		if opts.ClientID != "" || opts.ClientSecret != "" || opts.BearerToken != "" {
			return nil, configErr("IntrospectionOptions: ClientAuthNone takes no credentials (credentials set: pick ClientSecretBasic, ClientSecretPost or ClientAuthBearer)")
		}
	default:
		return nil, configErr("IntrospectionOptions: ClientAuth %d is unknown", opts.ClientAuth)
	}
	if err := opts.Claims.normalize(); err != nil {
		return nil, fmt.Errorf("IntrospectionOptions: %w", err)
	}
	timeout, maxBody, err := httpBounds(opts.Timeout, opts.MaxBody)
	if err != nil {
		return nil, err
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = defaultMaxInFlight
	}
	if opts.NegativeTTL == 0 {
		opts.NegativeTTL = 30 * time.Second
	}
	if opts.NegativeCacheSize == 0 {
		opts.NegativeCacheSize = defaultCacheSize
	}
	if opts.MaxInFlight < 0 || opts.NegativeTTL < 0 || opts.NegativeTTL > time.Hour || opts.NegativeCacheSize < 0 {
		return nil, configErr("IntrospectionOptions: MaxInFlight, NegativeTTL (at most 1h) and NegativeCacheSize must not be negative")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Introspector{
		ctx: ctx, cancel: cancel,
		endpoint: opts.Endpoint, auth: opts.ClientAuth, id: opts.ClientID, secret: opts.ClientSecret,
		bearer: opts.BearerToken, claims: newClaimReader(opts.Claims),
		issuer: opts.Issuer, audience: slices.Clone(opts.Audience),
		client: noRedirectClient(opts.Client), timeout: timeout, maxBody: maxBody,
		now: opts.Now, sem: make(chan struct{}, opts.MaxInFlight),
		negTTL: opts.NegativeTTL, negSize: opts.NegativeCacheSize,
		neg: map[[32]byte]time.Time{},
	}, nil
}

func errInactive() error {
	return newError(ErrSessionRevoked, errors.New("introspection: token not active"))
}

// Close cancels the introspections in flight and makes later calls fail
// (503). Close the Introspector after the Authenticators that use it.
func (in *Introspector) Close() error {
	in.cancel()
	return nil
}

// AuthenticateOpaque introspects token.
func (in *Introspector) AuthenticateOpaque(ctx context.Context, token string) (*Session, error) {
	if in.ctx.Err() != nil {
		return nil, errors.New("introspector closed")
	}
	h := hashOpaqueToken(token)
	if in.negative(h) {
		return nil, errInactive()
	}
	// A request that arrives after the authorization server acknowledged a
	// revocation must not take the "active" of a call that began before:
	// it gets a call of its own, shared only with requests that arrived
	// while the previous call ran (freshCalls).
	b := in.fresh.do(string(h[:]), func() (s *Session, err error) {
		defer func() {
			if r := recover(); r != nil {
				s, err = nil, fmt.Errorf("introspection panicked: %v", r)
			}
		}()
		select {
		case in.sem <- struct{}{}:
		default:
			return nil, errBusy
		}
		defer func() { <-in.sem }()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.timeout)
		defer cancel()
		stop := context.AfterFunc(in.ctx, cancel) // Close ends calls in flight
		defer stop()
		s, err = in.introspect(cctx, token)
		if errors.Is(err, ErrSessionRevoked) {
			in.remember(h)
		}
		return s, err
	})
	t := time.NewTimer(in.timeout)
	defer t.Stop()
	select {
	case <-b.done:
		if b.err != nil {
			return nil, b.err
		}
		return copySession(b.v), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("introspection abandoned: %w", ctx.Err())
	case <-t.C:
		return nil, errors.New("introspection timed out")
	}
}

func (in *Introspector) introspect(ctx context.Context, token string) (*Session, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if in.auth == ClientSecretPost {
		form.Set("client_id", in.id)
		form.Set("client_secret", in.secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	switch in.auth {
	case ClientSecretBasic:
		req.SetBasicAuth(url.QueryEscape(in.id), url.QueryEscape(in.secret))
	case ClientAuthBearer:
		req.Header.Set("Authorization", "Bearer "+in.bearer)
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("introspection: %w", withoutURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, in.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("introspection: reading answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("introspection endpoint answered %d", resp.StatusCode)
	}
	if int64(len(body)) > in.maxBody {
		return nil, fmt.Errorf("introspection answer exceeds %d bytes", in.maxBody)
	}
	return in.parse(body)
}

// parse maps an introspection answer onto a Session, or refuses it.
func (in *Introspector) parse(body []byte) (*Session, error) {
	var m map[string]jsontext.Value
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, fmt.Errorf("introspection: %w", errNotJSON)
	}
	var active bool
	if err := unmarshalMember(m, "active", &active, true); err != nil {
		return nil, fmt.Errorf("introspection: %q must be a boolean: %w", "active", err)
	}
	if !active {
		return nil, errInactive() // other members are ignored (RFC 7662 section 2.2)
	}
	refuse := func(why string) (*Session, error) {
		return nil, newError(ErrSessionRevoked, errors.New("introspection: "+why))
	}
	var s Session
	var tokenType, iss string
	var exp float64
	var aud any
	for _, f := range []struct {
		name string
		v    any
	}{{"sub", &s.Subject}, {"token_type", &tokenType}, {"iss", &iss}, {"exp", &exp}, {"aud", &aud}} {
		if err := unmarshalMember(m, f.name, f.v, false); err != nil {
			return refuse(fmt.Sprintf("member %q has the wrong type", f.name))
		}
	}
	// The configured claims are read as the JWT path reads them (dotted
	// paths, a scope string or array, "scp" merged in).
	var nc namedClaims
	var scp []string
	var cnf claims // the answer's cnf (RFC 7662 section 2.2, RFC 9449 section 6.2)
	err := readObject(body, func(name []byte, d *jsontext.Decoder) error {
		if string(name) == "cnf" {
			return readCnf(d, &cnf)
		}
		if string(name) == "scp" && in.claims.names[claimScope] != "scp" {
			var err error
			scp, err = readScopes(d)
			return err
		}
		ok, err := in.claims.member(name, d, &nc)
		if !ok && err == nil {
			err = d.SkipValue()
		}
		return err
	})
	if err != nil {
		return refuse("a configured claim has the wrong type or is found twice")
	}
	s.ID, s.Roles, s.Tenant = nc.sid, nc.roles, nc.tenant
	if s.Subject == "" {
		return refuse("active answer without sub")
	}
	if s.ID != "" && !validSessionID(s.ID) {
		return refuse("sid has an unusable form")
	}
	if tokenType != "" && !strings.EqualFold(tokenType, "access_token") && !strings.EqualFold(tokenType, "bearer") {
		return refuse("token_type is not an access token")
	}
	if _, ok := m["exp"]; ok {
		s.ExpiresAt = numericTime(exp)
		if !in.now().Before(s.ExpiresAt) {
			return refuse("exp has passed")
		}
	}
	if iss != "" && in.issuer != "" && iss != in.issuer {
		return refuse("iss names another issuer")
	}
	s.Issuer = in.issuer
	if s.Issuer == "" {
		s.Issuer = iss
	}
	if aud != nil && len(in.audience) > 0 {
		var auds []string
		switch a := aud.(type) {
		case string:
			auds = []string{a}
		case []any:
			for _, x := range a {
				if str, ok := x.(string); ok {
					auds = append(auds, str)
				}
			}
		}
		if !slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(in.audience, a) }) {
			return refuse("aud names no accepted audience")
		}
	}
	// The JWT path's reader (readScopes, splitScope): a scope-token with a
	// tab, a non-breaking space or any other byte outside RFC 6749's set is
	// dropped, never split into grants, so a token grants the same through
	// either path.
	s.Scopes = mergeScopes(nc.scope, scp)
	s.claims = body
	s.cnfJKT, s.cnfX5T = cnf.cnfJKT, cnf.cnfX5T
	s.cnfOther = cnf.cnfOther
	return &s, nil
}

// unmarshalMember decodes member name of m into v; absent is an error only
// when required; JSON null counts as absent.
func unmarshalMember(m map[string]jsontext.Value, name string, v any, required bool) error {
	raw, ok := m[name]
	if !ok || raw.Kind() == 'n' {
		if required {
			return errors.New("missing")
		}
		return nil
	}
	return json.Unmarshal(raw, v)
}

func (in *Introspector) negative(h [32]byte) bool {
	if in.negTTL == 0 || in.negSize == 0 {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	until, ok := in.neg[h]
	if !ok {
		return false
	}
	if !in.now().Before(until) {
		delete(in.neg, h)
		return false
	}
	return true
}

func (in *Introspector) remember(h [32]byte) {
	if in.negTTL == 0 || in.negSize == 0 {
		return
	}
	now := in.now()
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.neg) >= in.negSize {
		for k, u := range in.neg {
			if !now.Before(u) {
				delete(in.neg, k)
			}
		}
		if len(in.neg) >= in.negSize {
			return // full of live entries: the next replay costs a call
		}
	}
	in.neg[h] = now.Add(in.negTTL)
}
