package core

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"
)

// Security event types the Shared Signals receiver acts on (CAEP 1.0 and
// RISC 1.0). Every other event type is acknowledged and ignored.
const (
	// CAEPSessionRevoked (CAEP 1.0 section 3.1): the session named by the
	// subject is revoked; a user subject (iss_sub) cuts the subject off.
	CAEPSessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	// CAEPCredentialChange (CAEP 1.0 section 3.3): a subject cutoff.
	CAEPCredentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	// RISCAccountDisabled (RISC 1.0 section 2.3): a subject cutoff.
	RISCAccountDisabled = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
	// RISCAccountPurged (RISC 1.0 section 2.2): a subject cutoff.
	RISCAccountPurged = "https://schemas.openid.net/secevent/risc/event-type/account-purged"
	// RISCSessionsRevoked (RISC 1.0 section 2.7): a subject cutoff.
	RISCSessionsRevoked = "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked"
	// RISCCredentialCompromise (RISC 1.0 section 2.1): a subject cutoff.
	RISCCredentialCompromise = "https://schemas.openid.net/secevent/risc/event-type/credential-compromise"
)

// SETContentType is the media type of a Security Event Token (RFC 8417
// section 2.3) and of a push delivery's body (RFC 8935 section 2).
const SETContentType = "application/secevent+jwt"

// Defaults and bounds of SSFOptions.
const (
	defaultSETMaxAge    = time.Hour
	maxSETMaxAge        = 7 * 24 * time.Hour
	defaultSETBodySize  = 64 << 10
	maxSETBodySize      = 1 << 20
	defaultPollInterval = 10 * time.Second
	minPollInterval     = 100 * time.Millisecond
	defaultPollEvents   = 100
	maxPollEvents       = 1000
	maxPollResponse     = 8 << 20
)

// SSFOptions configures [Authenticator.SSF], a Shared Signals Framework
// receiver.
type SSFOptions struct {
	// Issuer is the transmitter's issuer: every SET's iss must equal it
	// (RFC 8417 section 2.2), and its configuration is read at
	// Issuer + "/.well-known/ssf-configuration" (SSF 1.0 section 7.2).
	// Required.
	Issuer string
	// Audience is this receiver's stream audience: a SET's aud must contain
	// it (RFC 8417 section 2.2). Required.
	Audience string
	// JWKSURL is the transmitter's key set; default: the jwks_uri of its
	// SSF configuration. Keys are fetched, cached and rotated as an access
	// token issuer's are (Config.FetchTimeout, UnknownKeyRefresh).
	JWKSURL string
	// Algorithms are the accepted signature algorithms; default RS256,
	// ES256, EdDSA. "none" and HMAC are never accepted.
	Algorithms []string
	// PushToken, when set, is the bearer token a push delivery must carry
	// (Authorization: Bearer, compared in constant time; RFC 8935 section
	// 2 leaves the method to the deployment). Without it pushes are
	// authenticated by their signature alone.
	PushToken string
	// PollURL is the transmitter's poll endpoint (RFC 8936). When set, the
	// receiver polls it in the background until the Authenticator closes.
	PollURL string
	// PollToken is sent as Authorization: Bearer on each poll.
	PollToken string
	// PollInterval is the wait between polls that found nothing more;
	// default 10s, at least 100ms. After a failed poll the receiver waits
	// as long before retrying.
	PollInterval time.Duration
	// MaxEvents is each poll's maxEvents; default 100, at most 1000.
	MaxEvents int
	// SessionIssuer is the issuer of the access tokens whose session ids
	// the events name as opaque subjects (or a complex subject's session):
	// the revoked session is that issuer's. Default "": that session id at
	// every issuer.
	SessionIssuer string
	// SubjectIssuers maps the iss of an iss_sub subject identifier (RFC
	// 9493 section 3.2.5) to the issuer of the access tokens it names,
	// where they differ (a transmitter naming users by its organisation's
	// issuer while tokens come from an authorization server). By default
	// the iss is taken as it is. Either way it must be a configured issuer:
	// an event naming another is refused with access_denied.
	SubjectIssuers map[string]string
	// Publisher receives the revocations, as for BackchannelLogoutOptions;
	// default the first of the authenticator's revocation feeds that is a
	// RevocationPublisher. Without one they reach this instance only.
	Publisher RevocationPublisher
	// Replay remembers accepted SETs' jti (RFC 8417 section 2.2); default
	// the Publisher when it is a ReplayCache, else a bounded memory.
	Replay ReplayCache
	// MaxAge bounds how old a SET's iat may be (beyond Config.Leeway);
	// default 1h, at most 7 days. Polled SETs may wait at the transmitter:
	// raise it to the longest a stream may go unpolled.
	MaxAge time.Duration
	// MaxBodySize bounds a pushed request body and each polled SET;
	// default 64 KiB, at most 1 MiB.
	MaxBodySize int64
	// ReplaySize bounds the default in-memory jti memory; default 100000.
	ReplaySize int
	// Audit receives an AuditEvent for each revocation applied without a
	// Publisher (a Publisher's store audits its own); default slog.
	Audit AuditSink
}

// SSF is a Shared Signals Framework 1.0 receiver: it verifies Security Event
// Tokens (RFC 8417) from one transmitter, delivered by push (RFC 8935, see
// [SSF.Push]) or fetched by poll (RFC 8936, SSFOptions.PollURL), and
// applies the CAEP and RISC events that revoke access through the same
// path as back-channel logout: a session revoked, or a subject cutoff
// published to every instance that shares the Publisher's feed. An event
// is acknowledged (202, or ack) only once applied; when it cannot be
// applied the push is answered 503 and a polled SET is left unacknowledged,
// so that the transmitter delivers it again.
//
// Mount the push endpoint outside the authentication middleware, with an
// adapter's SSFPush or as an http.Handler. It is safe for concurrent use.
type SSF struct {
	a       *Authenticator
	opts    SSFOptions
	is      *issuer // the transmitter's keys
	algs    []string
	pub     RevocationPublisher
	replay  ReplayCache
	push    [32]byte // sha256 of "Bearer " + PushToken
	hasPush bool
	client  *http.Client
	audit   AuditSink

	pollMu sync.Mutex // one poll at a time
	poll   pollState
}

// SSF returns a Shared Signals receiver for the transmitter o.Issuer. It
// reads the transmitter's configuration and keys now (ctx bounds that),
// and with o.PollURL starts polling in the background.
func (a *Authenticator) SSF(ctx context.Context, o SSFOptions) (*SSF, error) {
	if o.Issuer == "" || o.Audience == "" {
		return nil, configErr("SSFOptions.Issuer and Audience are required")
	}
	if err := checkFetchURL(o.Issuer); err != nil {
		return nil, configErr("SSFOptions.Issuer: %v", err)
	}
	if o.MaxAge == 0 {
		o.MaxAge = defaultSETMaxAge
	}
	if o.MaxAge < 0 || o.MaxAge > maxSETMaxAge {
		return nil, configErr("SSFOptions.MaxAge %v is outside (0, %v]", o.MaxAge, maxSETMaxAge)
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = defaultSETBodySize
	}
	if o.MaxBodySize < 1<<10 || o.MaxBodySize > maxSETBodySize {
		return nil, configErr("SSFOptions.MaxBodySize %d is outside [1 KiB, 1 MiB]", o.MaxBodySize)
	}
	if o.ReplaySize == 0 {
		o.ReplaySize = defaultReplaySize
	}
	if o.ReplaySize < 1 {
		return nil, configErr("SSFOptions.ReplaySize must be positive")
	}
	if o.PollInterval == 0 {
		o.PollInterval = defaultPollInterval
	}
	if o.PollInterval < minPollInterval {
		return nil, configErr("SSFOptions.PollInterval %v is below %v", o.PollInterval, minPollInterval)
	}
	if o.MaxEvents == 0 {
		o.MaxEvents = defaultPollEvents
	}
	if o.MaxEvents < 1 || o.MaxEvents > maxPollEvents {
		return nil, configErr("SSFOptions.MaxEvents %d is outside [1, %d]", o.MaxEvents, maxPollEvents)
	}
	if o.PollURL != "" {
		if err := checkFetchURL(o.PollURL); err != nil {
			return nil, configErr("SSFOptions.PollURL: %v", err)
		}
	} else if o.PollToken != "" {
		return nil, configErr("SSFOptions.PollToken is set but PollURL is not")
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = slices.Clone(defaultAlgorithms)
	}
	for _, alg := range o.Algorithms {
		if alg == "none" || strings.HasPrefix(alg, "HS") {
			return nil, configErr("SSFOptions.Algorithms: %q is not accepted for security events", alg)
		}
	}
	for from, to := range o.SubjectIssuers {
		if a.issuers[to] == nil {
			return nil, configErr("SSFOptions.SubjectIssuers maps %q to %q, which is not a configured issuer", from, to)
		}
	}
	s := &SSF{a: a, opts: o, algs: o.Algorithms, pub: o.Publisher, replay: o.Replay, audit: o.Audit,
		client: newFetchClient(a.cfg.HTTPClient, a.cfg.MaxJWKSSize),
		poll:   pollState{ack: map[string]bool{}, errs: map[string]setRefusal{}}}
	if o.PushToken != "" {
		s.push, s.hasPush = sha256.Sum256([]byte("Bearer "+o.PushToken)), true
	}
	if s.audit == nil {
		s.audit = NewSlogAudit(a.log)
	}
	if s.pub == nil {
		for _, f := range revocationFeeds(&a.cfg) {
			if p, ok := f.(RevocationPublisher); ok {
				s.pub = p
				break
			}
		}
	}
	if s.replay == nil {
		if rc, ok := s.pub.(ReplayCache); ok {
			s.replay = rc
		} else {
			s.replay = NewMemoryReplayCache(o.ReplaySize, a.cfg.Now)
		}
	}
	jwks := o.JWKSURL
	if jwks == "" {
		var err error
		if jwks, err = s.discover(ctx); err != nil {
			return nil, err
		}
	} else if err := checkFetchURL(jwks); err != nil {
		return nil, configErr("SSFOptions.JWKSURL: %v", err)
	}
	is, err := newIssuer(ctx, a, IssuerConfig{Issuer: o.Issuer, JWKSURL: jwks, Algorithms: o.Algorithms}, s.client)
	if err != nil {
		return nil, fmt.Errorf("authgate: SSF transmitter keys: %w", err)
	}
	s.is = is
	if o.PollURL != "" {
		a.goBackground(s.pollLoop)
	}
	return s, nil
}

// discover reads the transmitter's configuration (SSF 1.0 section 7): its
// issuer must be o.Issuer, its jwks_uri https (or http on loopback, for a
// loopback http issuer).
func (s *SSF) discover(ctx context.Context) (string, error) {
	probe := &issuer{a: s.a, client: s.client}
	u := strings.TrimSuffix(s.opts.Issuer, "/") + "/.well-known/ssf-configuration"
	body, err := probe.fetch(ctx, u)
	if err != nil {
		return "", fmt.Errorf("authgate: SSF configuration %s: %w", u, err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := strictUnmarshal(body, &doc); err != nil {
		return "", configErr("SSF configuration %s is not valid JSON", u)
	}
	if doc.Issuer != s.opts.Issuer {
		return "", configErr("SSF configuration %s names issuer %q, not %q (SSF 1.0 section 7.1)", u, doc.Issuer, s.opts.Issuer)
	}
	if doc.JWKSURI == "" {
		return "", configErr("SSF configuration %s has no jwks_uri: set SSFOptions.JWKSURL", u)
	}
	if err := checkDiscoveredURL(s.opts.Issuer, doc.JWKSURI); err != nil {
		return "", configErr("SSF configuration %s: jwks_uri: %v", u, err)
	}
	return doc.JWKSURI, nil
}

// RFC 8935 section 2.4 error codes (also RFC 8936's setErrs).
const (
	setErrRequest  = "invalid_request"
	setErrKey      = "invalid_key"
	setErrIssuer   = "invalid_issuer"
	setErrAudience = "invalid_audience"
	setErrAuth     = "authentication_failed"
	setErrDenied   = "access_denied"
)

// setDescriptions are the fixed descriptions of each error code: the
// answer says which class of check failed, never how.
var setDescriptions = map[string]string{
	setErrRequest:  "the request or the SET is invalid",
	setErrKey:      "the SET's signature or key is not accepted",
	setErrIssuer:   "the SET's issuer is not accepted",
	setErrAudience: "the SET's audience is not accepted",
	setErrAuth:     "the request could not be authenticated",
	setErrDenied:   "the transmitter may not send this SET",
}

// setRefusal is why a SET was refused: an RFC 8935 error code and the
// operator's cause (logged at Debug).
type setRefusal struct{ code, cause string }

// errSETUnavailable marks a SET that could not be judged or applied now
// (keys, jti memory or the store unavailable): 503, or no ack.
var errSETUnavailable = errors.New("authgate: security event could not be processed now")

// ServeHTTP handles one push delivery (net/http).
func (s *SSF) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.Push(r.Context(), r.Method, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Body).Write(w)
}

// Push handles one push delivery (RFC 8935), given its method, Content-Type,
// Authorization and body as the adapter read them, and returns the
// response to write: 202 once every event is applied (section 2.2); 400
// with {"err":...,"description":...} (section 2.3) and an error code of
// section 2.4 for a refused request or SET; 405 for a method other than
// POST; 503 when the SET cannot be judged or applied now (the transmitter
// retries). Every response carries Cache-Control: no-store. The cause of a
// refusal is logged at Debug; the body names only its class.
func (s *SSF) Push(ctx context.Context, method, contentType, authorization string, body io.Reader) Response {
	if method != http.MethodPost {
		resp := setResponse(http.StatusMethodNotAllowed, setErrRequest)
		resp.Header.Set("Allow", http.MethodPost)
		return resp
	}
	if s.hasPush {
		// RFC 9110 section 11.1: the scheme is case-insensitive. Both sides
		// are hashed, so that the comparison takes the same time whatever
		// the length of what was sent.
		cred := authorization
		if len(cred) > 7 && strings.EqualFold(cred[:7], "Bearer ") {
			cred = "Bearer " + cred[7:]
		}
		got := sha256.Sum256([]byte(cred))
		if subtle.ConstantTimeCompare(got[:], s.push[:]) != 1 {
			cause := "wrong push authorization"
			if authorization == "" {
				cause = "no Authorization header (SSFOptions.PushToken is set)"
			}
			return s.refuse(ctx, setRefusal{setErrAuth, cause})
		}
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != SETContentType {
		return s.refuse(ctx, setRefusal{setErrRequest, "Content-Type is not application/secevent+jwt (RFC 8935 section 2)"})
	}
	if body == nil {
		return s.refuse(ctx, setRefusal{setErrRequest, "no body"})
	}
	raw, err := io.ReadAll(io.LimitReader(body, s.opts.MaxBodySize+1))
	if err != nil {
		return s.refuse(ctx, setRefusal{setErrRequest, "body could not be read"})
	}
	if int64(len(raw)) > s.opts.MaxBodySize {
		return s.refuse(ctx, setRefusal{setErrRequest, "body larger than MaxBodySize"})
	}
	switch ref, err := s.process(ctx, strings.TrimSpace(string(raw)), "", false); {
	case err != nil:
		return s.unavailable(ctx, err)
	case ref != nil:
		return s.refuse(ctx, *ref)
	}
	return setResponse(http.StatusAccepted, "")
}

func setResponse(status int, code string) Response {
	h := http.Header{"Cache-Control": {"no-store"}}
	var body []byte
	if code != "" {
		h.Set("Content-Type", "application/json")
		body = []byte(`{"err":"` + code + `","description":"` + setDescriptions[code] + `"}`)
	}
	return Response{Status: status, Header: h, Body: body}
}

func (s *SSF) refuse(ctx context.Context, r setRefusal) Response {
	s.a.log.LogAttrs(ctx, slog.LevelDebug, "authgate: security event refused", slog.String("err", r.code), slog.String("cause", r.cause))
	return setResponse(http.StatusBadRequest, r.code)
}

func (s *SSF) unavailable(ctx context.Context, err error) Response {
	s.a.log.LogAttrs(ctx, slog.LevelWarn, "authgate: security event could not be applied; answering 503 so that the transmitter retries",
		slog.String("error", errorText(err)))
	resp := setResponse(http.StatusServiceUnavailable, "")
	resp.Header.Set("Retry-After", "1")
	return resp
}

// process verifies tok and applies its events. It returns a refusal, or an
// error when the SET could not be judged or applied now. wantJTI, when not
// empty, is the jti the poll response filed the SET under. A replayed jti
// is refused, unless polled (then it is applied again).
func (s *SSF) process(ctx context.Context, tok, wantJTI string, polled bool) (*setRefusal, error) {
	set, ref := s.verify(ctx, tok)
	if ref != nil {
		if ref.code == "" {
			return nil, fmt.Errorf("%w: %s", errSETUnavailable, ref.cause)
		}
		return ref, nil
	}
	if wantJTI != "" && set.jti != wantJTI {
		return &setRefusal{setErrRequest, "the poll response files the SET under another jti (RFC 8936 section 2.4)"}, nil
	}
	key := "ssf\x00" + set.iss + "\x00" + set.jti
	first, err := s.replay.FirstUse(ctx, key, set.until)
	if err != nil {
		return nil, fmt.Errorf("%w: jti memory: %w", errSETUnavailable, err)
	}
	if !first && !polled {
		return &setRefusal{setErrRequest, "jti replayed (RFC 8417 section 2.2)"}, nil
	}
	// A polled SET seen before is delivered again because its ack was lost,
	// or because applying it failed (and forgetting its jti may have
	// failed too): it is applied again (revocations are idempotent) rather
	// than acknowledged unapplied.
	for _, act := range set.actions {
		if err := s.apply(ctx, set, act); err != nil {
			_ = s.replay.Forget(ctx, key)
			return nil, fmt.Errorf("%w: applying %s: %w", errSETUnavailable, act.event, err)
		}
	}
	for _, ev := range set.ignored {
		s.a.log.LogAttrs(ctx, slog.LevelDebug, "authgate: security event acknowledged and ignored (not a revocation)",
			slog.String("event", ev), slog.String("jti", set.jti))
	}
	return nil, nil
}

// securityEvent is a verified SET and what it asks for.
type securityEvent struct {
	iss, jti string
	iat      time.Time
	until    time.Time // how long its jti is remembered
	actions  []setAction
	ignored  []string // event types acknowledged without effect
}

// setAction is one revocation a SET's event asks for: a session, or a
// cutoff of the subject at the event's time.
type setAction struct {
	event     string
	sessionID string // a session of opts.SessionIssuer
	issuer    string // the token issuer of subject
	subject   string
	at        time.Time
}

// setClaims are the SET members read for validation (RFC 8417 section
// 2.2; SSF 1.0 section 4), decoded strictly.
type setClaims struct {
	Iss    *string                   `json:"iss"`
	Aud    jsontext.Value            `json:"aud"`
	Iat    *float64                  `json:"iat"`
	Exp    *float64                  `json:"exp"`
	Nbf    *float64                  `json:"nbf"`
	Jti    *string                   `json:"jti"`
	Toe    *float64                  `json:"toe"`
	SubID  jsontext.Value            `json:"sub_id"`
	Events map[string]jsontext.Value `json:"events"`
}

// eventPayload is what an event's object may carry: the subject of
// pre-SSF 1.0 CAEP and RISC events, and CAEP's event_timestamp.
type eventPayload struct {
	Subject        jsontext.Value `json:"subject"`
	EventTimestamp *float64       `json:"event_timestamp"`
}

// subjectID is an RFC 9493 subject identifier, or an SSF 1.0 complex one.
type subjectID struct {
	Format  string         `json:"format"`
	Iss     string         `json:"iss"`
	Sub     string         `json:"sub"`
	ID      string         `json:"id"`
	User    jsontext.Value `json:"user"`
	Session jsontext.Value `json:"session"`
}

// revokingEvents are the event types that revoke; the rest are ignored.
var revokingEvents = map[string]bool{
	CAEPSessionRevoked: true, CAEPCredentialChange: true,
	RISCAccountDisabled: true, RISCAccountPurged: true, RISCSessionsRevoked: true, RISCCredentialCompromise: true,
}

// maxSETEvents bounds the events of one SET (SSF 1.0 sends one).
const maxSETEvents = 16

// verify checks tok as RFC 8417 and SSF 1.0 say and maps its events. A
// refusal with an empty code means the keys are unavailable.
func (s *SSF) verify(ctx context.Context, tok string) (*securityEvent, *setRefusal) {
	ev, cause, code := s.verifySET(ctx, tok)
	if cause != "" {
		return nil, &setRefusal{code, cause}
	}
	return ev, nil
}

func (s *SSF) verifySET(ctx context.Context, tok string) (*securityEvent, string, string) {
	if len(tok) > int(s.opts.MaxBodySize) {
		return nil, "SET larger than MaxBodySize", setErrRequest
	}
	if strings.Count(tok, ".") != 2 {
		return nil, "not a compact JWS (an encrypted SET is not supported)", setErrRequest
	}
	var typ string
	parser := jwt.NewParser(jwt.WithValidMethods(s.algs), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(tok, jwt.MapClaims{}, func(t *jwt.Token) (any, error) {
		typ, _ = t.Header["typ"].(string)
		if iss, _ := t.Claims.(jwt.MapClaims)["iss"].(string); iss != s.opts.Issuer {
			return nil, errSETIssuer
		}
		kid, hasKID := t.Header["kid"].(string)
		if _, present := t.Header["kid"]; present && !hasKID {
			return nil, errLogoutKID
		}
		iat, hasIat := t.Claims.(jwt.MapClaims)["iat"].(float64)
		vk, err := s.is.key(ctx, header{alg: t.Method.Alg(), kid: kid, typ: typ, hasKID: hasKID}, iat, hasIat)
		if err != nil {
			return nil, err
		}
		return vk.pub, nil
	})
	switch {
	case errors.Is(err, errSETIssuer):
		return nil, "iss is not the transmitter (RFC 8417 section 2.2)", setErrIssuer
	case errors.Is(err, ErrUnavailable):
		return nil, causeKeysUnavailable, ""
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, "malformed JWS", setErrRequest
	case err != nil:
		return nil, "signature, alg or key: " + jwtCause(err), setErrKey
	}
	// RFC 8417 section 2.3: explicit typing; absent is accepted.
	if t := strings.TrimPrefix(strings.ToLower(typ), "application/"); typ != "" && t != "secevent+jwt" {
		return nil, "typ is not secevent+jwt (RFC 8417 section 2.3)", setErrRequest
	}
	payload, derr := base64.RawURLEncoding.Strict().DecodeString(strings.Split(tok, ".")[1])
	if derr != nil {
		return nil, "payload is not base64url", setErrRequest
	}
	var c setClaims
	if err := strictUnmarshal(payload, &c); err != nil {
		return nil, "claims are not a valid JSON object of the expected types", setErrRequest
	}
	now, leeway := s.a.cfg.Now(), s.a.cfg.Leeway
	if !audienceHas(c.Aud, s.opts.Audience) {
		return nil, "aud does not contain the stream audience (RFC 8417 section 2.2)", setErrAudience
	}
	if c.Iat == nil {
		return nil, "no iat (RFC 8417 section 2.2)", setErrRequest
	}
	ev := &securityEvent{iss: *c.Iss, iat: numericTime(*c.Iat)}
	if ev.iat.After(now.Add(leeway)) {
		return nil, "iat in the future", setErrRequest
	}
	if ev.iat.Before(now.Add(-s.opts.MaxAge - leeway)) {
		return nil, "iat older than MaxAge", setErrRequest
	}
	ev.until = ev.iat.Add(s.opts.MaxAge + 2*leeway)
	if c.Exp != nil && !now.Before(numericTime(*c.Exp).Add(leeway)) {
		return nil, "expired (exp)", setErrRequest
	}
	if c.Nbf != nil && now.Add(leeway).Before(numericTime(*c.Nbf)) {
		return nil, "not valid yet (nbf)", setErrRequest
	}
	if c.Jti == nil || *c.Jti == "" || len(*c.Jti) > maxJTILen {
		return nil, "no jti, or an empty or oversized one (RFC 8417 section 2.2)", setErrRequest
	}
	ev.jti = *c.Jti
	if len(c.Events) == 0 {
		return nil, "no events (RFC 8417 section 2.2)", setErrRequest
	}
	if len(c.Events) > maxSETEvents {
		return nil, "too many events", setErrRequest
	}
	for typ, raw := range c.Events {
		if raw.Kind() != '{' {
			return nil, "an event's payload is not a JSON object (RFC 8417 section 2.2)", setErrRequest
		}
		if !revokingEvents[typ] {
			ev.ignored = append(ev.ignored, typ)
			continue
		}
		var p eventPayload
		if err := strictUnmarshal(raw, &p); err != nil {
			return nil, "an event's payload has members of the wrong type", setErrRequest
		}
		subj := c.SubID // SSF 1.0 section 4.1: the subject is sub_id
		if len(subj) == 0 {
			subj = p.Subject // earlier CAEP and RISC drafts: in the event
		}
		if len(subj) == 0 {
			return nil, "a revoking event names no subject (SSF 1.0 section 4.1)", setErrRequest
		}
		at := ev.iat
		switch {
		case p.EventTimestamp != nil:
			at = numericTime(*p.EventTimestamp)
		case c.Toe != nil:
			at = numericTime(*c.Toe)
		}
		if at.After(now) {
			at = now
		}
		act, cause, code := s.mapSubject(typ, subj, at)
		if cause != "" {
			return nil, cause, code
		}
		ev.actions = append(ev.actions, act)
	}
	slices.Sort(ev.ignored)
	return ev, "", ""
}

var errSETIssuer = errors.New("iss is not the transmitter")

// mapSubject maps an event's subject to what is revoked: for
// session-revoked, an opaque session id (or a complex subject's session)
// revokes that session; otherwise an iss_sub subject (or a complex
// subject's user) is cut off at at.
func (s *SSF) mapSubject(event string, raw jsontext.Value, at time.Time) (setAction, string, string) {
	act := setAction{event: event, at: at}
	var sub subjectID
	if err := strictUnmarshal(raw, &sub); err != nil {
		return act, "the subject is not a subject identifier object (RFC 9493)", setErrRequest
	}
	if sub.Format == "complex" {
		var sess, user subjectID
		if len(sub.Session) > 0 && strictUnmarshal(sub.Session, &sess) != nil ||
			len(sub.User) > 0 && strictUnmarshal(sub.User, &user) != nil {
			return act, "a complex subject's part is not a subject identifier (SSF 1.0 section 3.2)", setErrRequest
		}
		switch {
		case event == CAEPSessionRevoked && sess.Format == "opaque":
			sub = sess
		case user.Format == "iss_sub":
			sub = user
		default:
			return act, "a complex subject without an opaque session or an iss_sub user", setErrRequest
		}
	}
	switch {
	case sub.Format == "opaque" && event == CAEPSessionRevoked:
		if !validSessionID(sub.ID) {
			return act, "an opaque subject's id is not a usable session id", setErrRequest
		}
		act.sessionID = sub.ID
		return act, "", ""
	case sub.Format == "iss_sub":
		if sub.Iss == "" || sub.Sub == "" || len(sub.Sub) > 4096 {
			return act, "an iss_sub subject without iss or sub (RFC 9493 section 3.2.5)", setErrRequest
		}
		iss := sub.Iss
		if to, ok := s.opts.SubjectIssuers[iss]; ok {
			iss = to
		}
		if s.a.issuers[iss] == nil {
			return act, "an iss_sub subject of an issuer that is not configured", setErrDenied
		}
		act.issuer, act.subject = iss, sub.Sub
		return act, "", ""
	}
	return act, "a subject format that names no session or iss_sub subject (" + truncate(sub.Format, 32) + ")", setErrRequest
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// apply revokes what act names, as back-channel logout does: the session,
// or every session of the subject (when the Publisher is a SessionStore)
// and a cutoff at the event's time.
func (s *SSF) apply(ctx context.Context, ev *securityEvent, act setAction) error {
	opts := []RevokeOption{WithReason("security event " + act.event), WithActor(ev.iss)}
	var r Revocation
	if act.sessionID != "" {
		r = Revocation{SessionID: act.sessionID, Issuer: s.opts.SessionIssuer, At: s.a.cfg.Now()}
	} else {
		if st, ok := s.pub.(SessionStore); ok {
			if _, err := st.RevokeSubject(ctx, act.subject, opts...); err != nil {
				return err
			}
		}
		r = Revocation{Cutoff: true, Subject: act.subject, Issuer: act.issuer, At: act.at}
	}
	if err := publishRevocation(ctx, s.a, s.pub, r, opts...); err != nil {
		return err
	}
	if s.pub == nil {
		o := newRevokeOptions(opts...)
		s.audit.Revoked(ctx, AuditEvent{SessionID: r.SessionID, Subject: r.Subject, Issuer: r.Issuer, At: r.At,
			Reason: o.Reason, Actor: o.Actor, Cutoff: r.Cutoff})
	}
	s.a.log.LogAttrs(ctx, slog.LevelInfo, "authgate: security event applied",
		slog.String("event", act.event), slog.String("jti", ev.jti), slog.String("transmitter", ev.iss),
		slog.String("session_id", r.SessionID), slog.String("subject", r.Subject), slog.Bool("cutoff", r.Cutoff))
	return nil
}
