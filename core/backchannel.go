package core

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"
)

// BackchannelLogoutEvent is the event member a logout token must carry
// (OpenID Connect Back-Channel Logout 1.0 section 2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// Defaults and bounds of BackchannelLogoutOptions.
const (
	defaultLogoutMaxAge   = 2 * time.Minute
	maxLogoutMaxAge       = time.Hour
	defaultLogoutBodySize = 16 << 10
	maxLogoutBodySize     = 1 << 20
	defaultReplaySize     = 100000
	maxJTILen             = 256
)

// BackchannelLogoutOptions configures [Authenticator.BackchannelLogout].
type BackchannelLogoutOptions struct {
	// ClientID is this API's client id at the identity provider: a logout
	// token's aud must contain it (section 2.6, step 2). Required.
	ClientID string
	// Issuers limits the configured issuers whose logout tokens are
	// accepted; default every configured issuer. Keys, algorithms and iss
	// are the issuer's own, as for access tokens.
	Issuers []string
	// Publisher receives the revocations, so that they reach every
	// instance through its feed. Default: the first of the authenticator's
	// revocation feeds (Config.Revocations, Sessions, Opaque) that is a
	// RevocationPublisher (MemoryStore, the Redis store). Without one the
	// revocations reach this instance's deny set only.
	Publisher RevocationPublisher
	// Replay remembers the jti of accepted logout tokens, to refuse a
	// replay (section 2.6, step 6). Default: Publisher when it is a
	// ReplayCache (the Redis store: shared by every instance), else a
	// bounded memory of this instance's own (a token replayed to another
	// instance is then applied again there: the same revocation, so no
	// harm beyond the work).
	Replay ReplayCache
	// RequireLogoutType refuses logout tokens whose typ header is not
	// "logout+jwt" (section 2.4, explicit typing). By default typ may also
	// be absent or "JWT" (Ory Hydra v2.3.0 sends "JWT"); any other typ is
	// refused, so that no other kind of JWT is taken for a logout token.
	RequireLogoutType bool
	// MaxAge bounds how old a logout token's iat may be (section 2.6, step
	// 2: iat within a bounded window), beyond Config.Leeway; default 2m,
	// at most 1h. A token without exp (Hydra sends none) is accepted for
	// no longer, and its jti is remembered that long.
	MaxAge time.Duration
	// MaxBodySize bounds the request body; default 16 KiB, at most 1 MiB.
	MaxBodySize int64
	// ReplaySize bounds the default in-memory jti memory; default 100000.
	// When it is full of live entries, logout requests are answered 503
	// (the sender retries) rather than accepted unremembered.
	ReplaySize int
}

// ReplayCache remembers ids of accepted one-time tokens (logout tokens,
// security events) to refuse replays. The Redis store implements it, shared
// by every instance; [NewMemoryReplayCache] is per process.
type ReplayCache interface {
	// FirstUse records key until until and reports whether it was not
	// recorded already. An error means it cannot tell (the caller answers
	// 503).
	FirstUse(ctx context.Context, key string, until time.Time) (bool, error)
	// Forget removes key, for a token whose revocation could not be
	// applied, so that the sender's retry is not refused as a replay.
	Forget(ctx context.Context, key string) error
}

// BackchannelLogout is an OpenID Connect Back-Channel Logout 1.0 receiver
// (the RP side): it verifies a logout token with the keys and rules of
// the issuer that signed it and revokes what it names, on every route of
// every instance that shares the Publisher's feed. A logout token with a
// sid revokes that session; one with only a sub revokes every session of
// the subject (when the Publisher is a SessionStore) and adds a subject
// cutoff at the token's iat, so that JWTs naming no session are refused too.
//
// Mount it at the URL registered as the client's backchannel_logout_uri,
// outside the authentication middleware (the identity provider sends no
// access token), with an adapter's BackchannelLogout or as an
// http.Handler. It is safe for concurrent use.
type BackchannelLogout struct {
	a       *Authenticator
	opts    BackchannelLogoutOptions
	algs    []string // union of the accepted issuers' algorithms
	issuers map[string]*issuer
	pub     RevocationPublisher // nil: this instance's deny set only
	replay  ReplayCache
}

// BackchannelLogout returns the back-channel logout receiver of a.
func (a *Authenticator) BackchannelLogout(o BackchannelLogoutOptions) (*BackchannelLogout, error) {
	if o.ClientID == "" {
		return nil, configErr("BackchannelLogoutOptions.ClientID is empty: a logout token's aud must name this client")
	}
	if o.MaxAge == 0 {
		o.MaxAge = defaultLogoutMaxAge
	}
	if o.MaxAge < 0 || o.MaxAge > maxLogoutMaxAge {
		return nil, configErr("BackchannelLogoutOptions.MaxAge %v is outside (0, %v]", o.MaxAge, maxLogoutMaxAge)
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = defaultLogoutBodySize
	}
	if o.MaxBodySize < 1<<10 || o.MaxBodySize > maxLogoutBodySize {
		return nil, configErr("BackchannelLogoutOptions.MaxBodySize %d is outside [1 KiB, 1 MiB]", o.MaxBodySize)
	}
	if o.ReplaySize == 0 {
		o.ReplaySize = defaultReplaySize
	}
	if o.ReplaySize < 1 {
		return nil, configErr("BackchannelLogoutOptions.ReplaySize must be positive")
	}
	b := &BackchannelLogout{a: a, opts: o, issuers: map[string]*issuer{}, pub: o.Publisher, replay: o.Replay}
	names := o.Issuers
	if len(names) == 0 {
		for iss := range a.issuers {
			names = append(names, iss)
		}
	}
	for _, n := range names {
		is := a.issuers[n]
		if is == nil {
			return nil, configErr("BackchannelLogoutOptions.Issuers names %q, which is not a configured issuer", n)
		}
		b.issuers[n] = is
		for _, alg := range is.cfg.Algorithms {
			if !slices.Contains(b.algs, alg) {
				b.algs = append(b.algs, alg)
			}
		}
	}
	if len(b.issuers) == 0 {
		return nil, configErr("back-channel logout needs a configured issuer")
	}
	if b.pub == nil {
		for _, f := range revocationFeeds(&a.cfg) {
			if p, ok := f.(RevocationPublisher); ok {
				b.pub = p
				break
			}
		}
	}
	if b.replay == nil {
		if rc, ok := b.pub.(ReplayCache); ok {
			b.replay = rc
		} else {
			b.replay = NewMemoryReplayCache(o.ReplaySize, a.cfg.Now)
		}
	}
	return b, nil
}

// ServeHTTP handles one back-channel logout request (net/http).
func (b *BackchannelLogout) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.Receive(r.Context(), r.Method, r.Header.Get("Content-Type"), r.Body).Write(w)
}

// Receive handles one back-channel logout request, given its method,
// Content-Type and body as the adapter read them, and returns the response
// to write: 200 once the revocation is applied (section 2.8), 400 with
// {"error":"invalid_request"} for a request or logout token that fails
// validation (sections 2.6, 2.8), 405 for a method other than POST, 503
// when the revocation could not be applied or the jti memory cannot tell
// (the identity provider may retry). Every response carries Cache-Control:
// no-store. The cause of a refusal is logged at Debug (fixed texts, never
// the token); the body says only which class of request failed.
func (b *BackchannelLogout) Receive(ctx context.Context, method, contentType string, body io.Reader) Response {
	if method != http.MethodPost {
		resp := logoutResponse(http.StatusMethodNotAllowed, `{"error":"invalid_request","error_description":"use POST"}`)
		resp.Header.Set("Allow", http.MethodPost)
		return resp
	}
	tok, cause := b.readToken(contentType, body)
	if cause != "" {
		return b.refuse(ctx, "request: "+cause, descLogoutRequest)
	}
	lt, cause := b.verify(ctx, tok)
	if cause == causeKeysUnavailable {
		return b.unavailable(ctx, "verifying the logout token", errors.New(cause))
	}
	if cause != "" {
		return b.refuse(ctx, "logout token: "+cause, descLogoutToken)
	}
	key := lt.iss + "\x00" + lt.jti
	first, err := b.replay.FirstUse(ctx, "bcl\x00"+key, lt.until)
	if err != nil {
		return b.unavailable(ctx, "jti memory", err)
	}
	if !first {
		return b.refuse(ctx, "logout token: jti replayed (section 2.6, step 6)", descLogoutToken)
	}
	if err := b.apply(ctx, lt); err != nil {
		_ = b.replay.Forget(ctx, "bcl\x00"+key)
		return b.unavailable(ctx, "applying the revocation", err)
	}
	return logoutResponse(http.StatusOK, "")
}

const (
	descLogoutRequest = "the request is not a valid back-channel logout request"
	descLogoutToken   = "the logout token is invalid"
)

func logoutResponse(status int, body string) Response {
	h := http.Header{"Cache-Control": {"no-store"}}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	return Response{Status: status, Header: h, Body: []byte(body)}
}

func (b *BackchannelLogout) refuse(ctx context.Context, cause, desc string) Response {
	b.a.log.LogAttrs(ctx, slog.LevelDebug, "authgate: back-channel logout refused", slog.String("cause", cause))
	return logoutResponse(http.StatusBadRequest, `{"error":"invalid_request","error_description":"`+desc+`"}`)
}

func (b *BackchannelLogout) unavailable(ctx context.Context, what string, err error) Response {
	b.a.log.LogAttrs(ctx, slog.LevelWarn, "authgate: back-channel logout could not be applied; answering 503 so that the identity provider retries",
		slog.String("step", what), slog.String("error", errorText(err)))
	return logoutResponse(http.StatusServiceUnavailable, `{"error":"temporarily_unavailable"}`)
}

// readToken reads the logout_token form field (section 2.5): a form body
// within MaxBodySize, exactly one logout_token, within MaxTokenSize.
func (b *BackchannelLogout) readToken(contentType string, body io.Reader) (string, string) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return "", "Content-Type is not application/x-www-form-urlencoded (section 2.5)"
	}
	if body == nil {
		return "", "no body"
	}
	raw, err := io.ReadAll(io.LimitReader(body, b.opts.MaxBodySize+1))
	if err != nil {
		return "", "body could not be read"
	}
	if int64(len(raw)) > b.opts.MaxBodySize {
		return "", "body larger than MaxBodySize"
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return "", "body is not a valid form"
	}
	v := form["logout_token"]
	switch {
	case len(v) == 0:
		return "", "no logout_token parameter (section 2.5)"
	case len(v) > 1:
		return "", "logout_token given more than once"
	case len(v[0]) > b.a.cfg.MaxTokenSize:
		return "", "logout_token larger than MaxTokenSize"
	}
	return v[0], ""
}

// logoutToken is a validated logout token.
type logoutToken struct {
	iss, sub, sid, jti string
	iat                time.Time
	until              time.Time // how long its jti must be remembered
}

// logoutClaims are the members of a logout token's claims set read for
// validation (section 2.4). They are decoded strictly: a member named
// twice, invalid UTF-8 or a wrong type fails the token.
type logoutClaims struct {
	Iss    *string                   `json:"iss"`
	Sub    *string                   `json:"sub"`
	Aud    jsontext.Value            `json:"aud"`
	Iat    *float64                  `json:"iat"`
	Exp    *float64                  `json:"exp"`
	Nbf    *float64                  `json:"nbf"`
	Jti    *string                   `json:"jti"`
	Sid    *string                   `json:"sid"`
	Nonce  jsontext.Value            `json:"nonce"`
	Events map[string]jsontext.Value `json:"events"`
}

// verify checks the logout token as section 2.6 says, and returns what it
// names, or the cause of its refusal.
func (b *BackchannelLogout) verify(ctx context.Context, tok string) (*logoutToken, string) {
	if strings.Count(tok, ".") != 2 {
		return nil, "not a compact JWS (an encrypted logout token is not supported)"
	}
	var is *issuer
	var typ string
	parser := jwt.NewParser(jwt.WithValidMethods(b.algs), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(tok, jwt.MapClaims{}, func(t *jwt.Token) (any, error) {
		typ, _ = t.Header["typ"].(string)
		iss, _ := t.Claims.(jwt.MapClaims)["iss"].(string)
		is = b.issuers[iss]
		if is == nil {
			return nil, errLogoutIssuer
		}
		alg := t.Method.Alg()
		if !slices.Contains(is.cfg.Algorithms, alg) {
			return nil, errLogoutAlg
		}
		kid, hasKID := t.Header["kid"].(string)
		if _, present := t.Header["kid"]; present && !hasKID {
			return nil, errLogoutKID
		}
		iat, hasIat := t.Claims.(jwt.MapClaims)["iat"].(float64) // for the rotation rule of an unknown kid
		vk, err := is.key(ctx, header{alg: alg, kid: kid, typ: typ, hasKID: hasKID}, iat, hasIat)
		if err != nil {
			return nil, err
		}
		return vk.pub, nil
	})
	switch {
	case errors.Is(err, errLogoutIssuer):
		return nil, "iss names no issuer accepted for logout (section 2.6, step 2)"
	case errors.Is(err, errLogoutAlg):
		return nil, "alg not allowed for this issuer (section 2.6, step 2)"
	case errors.Is(err, ErrUnavailable):
		return nil, causeKeysUnavailable
	case err != nil:
		return nil, "signature, alg or key: " + jwtCause(err)
	}
	if err := checkLogoutTyp(typ, b.opts.RequireLogoutType); err != "" {
		return nil, err
	}
	// The signature verified: read the claims again, strictly.
	payload, derr := base64.RawURLEncoding.Strict().DecodeString(strings.Split(tok, ".")[1])
	if derr != nil {
		return nil, "payload is not base64url"
	}
	var c logoutClaims
	if err := strictUnmarshal(payload, &c); err != nil {
		return nil, "claims are not a valid JSON object of the expected types"
	}
	now := b.a.cfg.Now()
	leeway := b.a.cfg.Leeway
	lt := &logoutToken{iss: *c.Iss}
	// Section 2.6, step 2: aud contains our client id.
	if !audienceHas(c.Aud, b.opts.ClientID) {
		return nil, "aud does not contain the client id (section 2.6, step 2)"
	}
	// Section 2.4: iat REQUIRED; section 2.6, step 2: within a window.
	if c.Iat == nil {
		return nil, "no iat (section 2.4)"
	}
	lt.iat = numericTime(*c.Iat)
	if lt.iat.After(now.Add(leeway)) {
		return nil, "iat in the future (section 2.6, step 2)"
	}
	if lt.iat.Before(now.Add(-b.opts.MaxAge - leeway)) {
		return nil, "iat older than MaxAge (section 2.6, step 2)"
	}
	lt.until = lt.iat.Add(b.opts.MaxAge + 2*leeway)
	// Section 2.4: exp; validated when present (Hydra sends none: the
	// window on iat bounds the token instead).
	if c.Exp != nil {
		exp := numericTime(*c.Exp)
		if !now.Before(exp.Add(leeway)) {
			return nil, "expired (section 2.6, step 2)"
		}
	}
	if c.Nbf != nil && now.Add(leeway).Before(numericTime(*c.Nbf)) {
		return nil, "not valid yet (nbf)"
	}
	// Section 2.4: jti REQUIRED.
	if c.Jti == nil || *c.Jti == "" || len(*c.Jti) > maxJTILen {
		return nil, "no jti, or an empty or oversized one (section 2.4)"
	}
	lt.jti = *c.Jti
	// Section 2.6, step 4: events holds the back-channel logout member,
	// whose value is a JSON object (section 2.4).
	ev, ok := c.Events[BackchannelLogoutEvent]
	if !ok {
		return nil, "events has no back-channel logout member (section 2.6, step 4)"
	}
	if ev.Kind() != '{' {
		return nil, "the back-channel logout event is not a JSON object (section 2.4)"
	}
	// Section 2.6, step 5: no nonce.
	if c.Nonce != nil {
		return nil, "nonce present (section 2.6, step 5)"
	}
	// Section 2.6, step 3: sub, sid or both.
	if c.Sub != nil {
		lt.sub = *c.Sub
	}
	if c.Sid != nil {
		lt.sid = *c.Sid
	}
	if lt.sub == "" && lt.sid == "" {
		return nil, "neither sub nor sid (section 2.6, step 3)"
	}
	if lt.sid != "" && !validSessionID(lt.sid) {
		return nil, "sid has an unusable form"
	}
	if len(lt.sub) > 4096 {
		return nil, "sub too long"
	}
	return lt, ""
}

// causeKeysUnavailable: the issuer's keys cannot be fetched (503, not 400).
const causeKeysUnavailable = "the issuer's keys are unavailable"

var (
	errLogoutIssuer = errors.New("iss names no accepted issuer")
	errLogoutAlg    = errors.New("alg not allowed")
	errLogoutKID    = errors.New("kid is not a string")
)

// jwtCause names the class of a golang-jwt parse error, without its text.
func jwtCause(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "no key or alg not allowed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature invalid"
	case errors.Is(err, ErrUnavailable):
		return "keys unavailable"
	}
	return "refused"
}

// checkLogoutTyp applies section 2.4's explicit typing: "logout+jwt" (or
// "application/logout+jwt") always; absent or "JWT" unless required.
func checkLogoutTyp(typ string, require bool) string {
	t := strings.ToLower(typ)
	t = strings.TrimPrefix(t, "application/")
	switch {
	case t == "logout+jwt":
		return ""
	case require:
		return "typ is not logout+jwt (section 2.4; RequireLogoutType)"
	case typ == "" || t == "jwt":
		return ""
	}
	return "typ names another kind of JWT (section 2.4)"
}

// audienceHas reports whether aud (a string or an array of strings)
// contains want.
func audienceHas(aud jsontext.Value, want string) bool {
	if len(aud) == 0 {
		return false
	}
	var one string
	if strictUnmarshal(aud, &one) == nil {
		return one == want
	}
	var many []string
	if strictUnmarshal(aud, &many) == nil {
		return slices.Contains(many, want)
	}
	return false
}

// apply revokes what lt names (section 2.7): its session, or every session
// of its subject and a subject cutoff at its iat.
func (b *BackchannelLogout) apply(ctx context.Context, lt *logoutToken) error {
	now := b.a.cfg.Now()
	reason, actor := WithReason("back-channel logout"), WithActor(lt.iss)
	if lt.sid != "" {
		return b.publish(ctx, Revocation{SessionID: lt.sid, Subject: lt.sub, Issuer: lt.iss, At: now}, reason, actor)
	}
	if st, ok := b.pub.(SessionStore); ok {
		if _, err := st.RevokeSubject(ctx, lt.sub, reason, actor); err != nil {
			return err
		}
	}
	return b.publish(ctx, Revocation{Cutoff: true, Subject: lt.sub, Issuer: lt.iss, At: lt.iat}, reason, actor)
}

// publish hands r to the Publisher, or without one to this instance's
// deny set.
func (b *BackchannelLogout) publish(ctx context.Context, r Revocation, opts ...RevokeOption) error {
	return publishRevocation(ctx, b.a, b.pub, r, opts...)
}

// publishRevocation hands r to pub, or when pub is nil to a's deny set
// alone (logged): the one path of the receivers' revocations.
func publishRevocation(ctx context.Context, a *Authenticator, pub RevocationPublisher, r Revocation, opts ...RevokeOption) error {
	if pub != nil {
		return pub.PublishRevocation(ctx, r, opts...)
	}
	a.sessions.revoke(r)
	o := newRevokeOptions(opts...)
	a.log.LogAttrs(ctx, slog.LevelInfo, "authgate: revocation applied to this instance only (no RevocationPublisher configured)",
		slog.String("session_id", r.SessionID), slog.String("subject", r.Subject), slog.String("issuer", r.Issuer),
		slog.Bool("cutoff", r.Cutoff), slog.String("reason", o.Reason))
	return nil
}

// memReplay is the in-memory ReplayCache.
type memReplay struct {
	mu   sync.Mutex
	m    map[string]time.Time
	size int
	now  func() time.Time
}

// NewMemoryReplayCache returns a ReplayCache in this process's memory,
// holding at most size live keys (when full, FirstUse fails rather than
// forget a live one). now is the clock (nil: time.Now).
func NewMemoryReplayCache(size int, now func() time.Time) ReplayCache {
	if now == nil {
		now = time.Now
	}
	return &memReplay{m: map[string]time.Time{}, size: max(size, 1), now: now}
}

func (r *memReplay) FirstUse(_ context.Context, key string, until time.Time) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if u, ok := r.m[key]; ok && now.Before(u) {
		return false, nil
	}
	if len(r.m) >= r.size {
		for k, u := range r.m {
			if !now.Before(u) {
				delete(r.m, k)
			}
		}
	}
	if len(r.m) >= r.size {
		return false, newError(ErrUnavailable, fmt.Errorf("replay memory full (%d live ids)", r.size))
	}
	r.m[key] = until
	return true, nil
}

func (r *memReplay) Forget(_ context.Context, key string) error {
	r.mu.Lock()
	delete(r.m, key)
	r.mu.Unlock()
	return nil
}
