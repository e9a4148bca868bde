package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// Error is the one error type every refusal of authgate takes. It says what a
// client may know (Status, Code, Description) and keeps the reason for the
// operator (Unwrap) out of every response.
//
// Use errors.Is with the sentinels below to tell refusals apart:
//
//	if errors.Is(err, core.ErrTokenExpired) { ... }
type Error struct {
	// Status is the HTTP status code: 400, 401, 403, 500 or 503.
	Status int
	// Code is the RFC 6750 error code ("invalid_request", "invalid_token",
	// "insufficient_scope"), or "" when the request carried no credentials.
	Code string
	// Description is a fixed, generic text from authgate's own vocabulary. It
	// never contains a token, a claim value or a library error string.
	Description string
	// Scope lists the scopes a route needs, for "insufficient_scope".
	Scope []string
	// RetryAfter is the number of seconds a client should wait, for 503.
	RetryAfter int
	// StepUp is set for "insufficient_user_authentication" (RFC 9470):
	// the acr_values and max_age challenge parameters.
	StepUp *StepUp
	// ResourceMetadata is the URL of the RFC 9728 protected resource
	// metadata (Config.ProtectedResource), sent as resource_metadata in
	// every challenge; "" when not configured.
	ResourceMetadata string
	// DPoP is set when the authenticator accepts DPoP (RFC 9449): the
	// DPoP challenge to send beside (or instead of) the Bearer one.
	DPoP *DPoPChallenge

	kind    error // one of the sentinels
	cause   error // internal detail, never rendered
	viaDPoP bool  // the refusal is about DPoP: its code goes in the DPoP challenge
}

// DPoPChallenge is what the WWW-Authenticate DPoP challenge says (RFC 9449
// sections 7.1 and 8).
type DPoPChallenge struct {
	// Algs lists the proof algorithms accepted.
	Algs []string
	// Nonce, when not empty, is the server nonce the client must put in
	// its next proof; it is sent as the DPoP-Nonce header.
	Nonce string
	// Error is true when the refusal's code belongs in the DPoP challenge
	// (the request used DPoP, or must).
	Error bool
	// Bearer is true when bearer tokens are accepted too, so a Bearer
	// challenge is sent beside the DPoP one.
	Bearer bool
}

// Error returns the description, prefixed by the sentinel's text.
func (e *Error) Error() string {
	if e.cause != nil {
		return e.kind.Error() + ": " + e.cause.Error()
	}
	return e.kind.Error()
}

// Unwrap returns the sentinel and the internal cause, so that errors.Is and
// errors.As reach both.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// Sentinels for errors.Is. Each *Error unwraps to exactly one of them.
var (
	// ErrNoToken: the request carried no credentials (401, no error code).
	ErrNoToken = errors.New("authgate: no token")
	// ErrInvalidRequest: malformed credentials: two sources, repeated
	// headers, an empty bearer value (400 invalid_request).
	ErrInvalidRequest = errors.New("authgate: invalid request")
	// ErrInvalidToken: the token is malformed, forged, or fails a check (401).
	ErrInvalidToken = errors.New("authgate: invalid token")
	// ErrTokenExpired: a correctly signed token whose exp has passed (401).
	// It also unwraps to nothing else: "expired" is only said of tokens whose
	// signature was valid.
	ErrTokenExpired = errors.New("authgate: token expired")
	// ErrSessionRevoked: the token's session is revoked, expired or unknown (401).
	ErrSessionRevoked = errors.New("authgate: session revoked")
	// ErrInsufficientScope: the principal lacks a scope the route needs (403).
	ErrInsufficientScope = errors.New("authgate: insufficient scope")
	// ErrForbidden: the principal lacks a role the route needs (403).
	ErrForbidden = errors.New("authgate: forbidden")
	// ErrCrossOrigin: a cookie-authenticated unsafe request came from another
	// origin (403).
	ErrCrossOrigin = errors.New("authgate: cross-origin request")
	// ErrUnavailable: keys or the session backend could not be reached; the
	// token is not blamed (503 with Retry-After).
	ErrUnavailable = errors.New("authgate: temporarily unavailable")
	// ErrMisconfigured: a route marker ran without the middleware (500).
	ErrMisconfigured = errors.New("authgate: misconfigured route")
	// ErrInvalidDPoPProof: the DPoP proof is missing, malformed, replayed or
	// does not match the request or the token (401 invalid_dpop_proof,
	// RFC 9449 section 7.1).
	ErrInvalidDPoPProof = errors.New("authgate: invalid DPoP proof")
	// ErrUseDPoPNonce: the DPoP proof lacks the current server nonce (401
	// use_dpop_nonce with a DPoP-Nonce header, RFC 9449 section 8).
	ErrUseDPoPNonce = errors.New("authgate: DPoP nonce required")
	// ErrInsufficientUserAuthentication: the token's user authentication is
	// not the one the route requires ([StepUp]): 401
	// insufficient_user_authentication with acr_values and max_age
	// (RFC 9470 section 3).
	ErrInsufficientUserAuthentication = errors.New("authgate: insufficient user authentication")
)

// The fixed descriptions. Nothing else ever reaches a client.
const (
	descNoToken      = ""
	descInvalidReq   = "the request carries malformed or ambiguous credentials"
	descInvalidToken = "the access token is invalid"
	descExpired      = "the access token has expired"
	descRevoked      = "the session has ended"
	descScope        = "the access token lacks a required scope"
	descForbidden    = "the principal lacks a required role"
	descCrossOrigin  = "cross-origin request refused"
	descUnavailable  = "authentication is temporarily unavailable"
	descMisconfig    = "the server is misconfigured"
	descDPoPProof    = "the DPoP proof is invalid"
	descDPoPNonce    = "the resource server requires a nonce in the DPoP proof"
	descStepUp       = "a different authentication level is required"
)

func newError(kind error, cause error) *Error {
	e := &Error{kind: kind, cause: cause}
	switch kind {
	case ErrNoToken:
		e.Status = http.StatusUnauthorized
	case ErrInvalidRequest:
		e.Status, e.Code, e.Description = http.StatusBadRequest, "invalid_request", descInvalidReq
	case ErrTokenExpired:
		e.Status, e.Code, e.Description = http.StatusUnauthorized, "invalid_token", descExpired
	case ErrSessionRevoked:
		e.Status, e.Code, e.Description = http.StatusUnauthorized, "invalid_token", descRevoked
	case ErrInsufficientScope:
		e.Status, e.Code, e.Description = http.StatusForbidden, "insufficient_scope", descScope
	case ErrForbidden:
		e.Status, e.Code, e.Description = http.StatusForbidden, "insufficient_scope", descForbidden
	case ErrCrossOrigin:
		e.Status, e.Description = http.StatusForbidden, descCrossOrigin
	case ErrUnavailable:
		e.Status, e.Description, e.RetryAfter = http.StatusServiceUnavailable, descUnavailable, 5
	case ErrMisconfigured:
		e.Status, e.Description = http.StatusInternalServerError, descMisconfig
	case ErrInvalidDPoPProof:
		e.Status, e.Code, e.Description = http.StatusUnauthorized, "invalid_dpop_proof", descDPoPProof
	case ErrUseDPoPNonce:
		e.Status, e.Code, e.Description = http.StatusUnauthorized, "use_dpop_nonce", descDPoPNonce
	case ErrInsufficientUserAuthentication:
		e.Status, e.Code, e.Description = http.StatusUnauthorized, "insufficient_user_authentication", descStepUp
	default: // ErrInvalidToken and anything unexpected: refuse as an invalid token
		e.kind = ErrInvalidToken
		e.Status, e.Code, e.Description = http.StatusUnauthorized, "invalid_token", descInvalidToken
	}
	return e
}

// invalid is the common case: a token refused, with an internal cause.
func invalid(cause string) *Error { return newError(ErrInvalidToken, errors.New(cause)) }

// asError turns any error into an *Error; errors that are not authgate's own
// are refused as invalid tokens with their text kept as the hidden cause.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return newError(ErrInvalidToken, err)
}

// Response is a rendered refusal: what an adapter writes back. Adapters copy
// it to their framework's response and nothing else.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Renderer turns a refusal into a response. Config.Renderer replaces the
// default, which is [DefaultRenderer].
type Renderer func(e *Error, realm string) Response

// DefaultRenderer writes the RFC 6750 challenge and a small JSON body:
//
//	HTTP/1.1 401 Unauthorized
//	WWW-Authenticate: Bearer realm="api", error="invalid_token", error_description="the access token is invalid"
//	Cache-Control: no-store
//	Content-Type: application/json
//
//	{"error":"invalid_token","error_description":"the access token is invalid"}
func DefaultRenderer(e *Error, realm string) Response {
	h := make(http.Header, 4)
	if e.Status == http.StatusUnauthorized || e.Code != "" {
		h["Www-Authenticate"] = Challenges(realm, e)
	}
	if e.DPoP != nil && e.DPoP.Nonce != "" {
		h["Dpop-Nonce"] = []string{e.DPoP.Nonce}
	}
	if e.Status == http.StatusServiceUnavailable {
		ra := e.RetryAfter
		if ra <= 0 {
			ra = 5
		}
		h["Retry-After"] = []string{strconv.Itoa(ra)}
	}
	h["Cache-Control"] = []string{"no-store"}
	h["Content-Type"] = []string{"application/json"}
	var b strings.Builder
	b.WriteString(`{"error":`)
	code := e.Code
	if code == "" {
		switch e.Status {
		case http.StatusUnauthorized:
			code = "unauthorized"
		case http.StatusForbidden:
			code = "forbidden"
		case http.StatusServiceUnavailable:
			code = "temporarily_unavailable"
		default:
			code = "server_error"
		}
	}
	writeJSONString(&b, code)
	if e.Description != "" {
		b.WriteString(`,"error_description":`)
		writeJSONString(&b, e.Description)
	}
	b.WriteString("}\n")
	return Response{Status: e.Status, Header: h, Body: []byte(b.String())}
}

// bearerChallenge returns the value of the WWW-Authenticate header for e
// (RFC 6750 section 3): the realm, and the error attributes when the request
// carried credentials.
func bearerChallenge(realm string, e *Error) string {
	var b strings.Builder
	b.WriteString("Bearer realm=")
	writeQuoted(&b, realm)
	if e.Code != "" {
		b.WriteString(", error=")
		writeQuoted(&b, e.Code)
		if e.Description != "" {
			b.WriteString(", error_description=")
			writeQuoted(&b, e.Description)
		}
		if len(e.Scope) > 0 {
			b.WriteString(", scope=")
			writeQuoted(&b, strings.Join(e.Scope, " "))
		}
		writeStepUp(&b, e.StepUp)
	}
	writeResourceMetadata(&b, e.ResourceMetadata)
	return b.String()
}

// Challenges returns every WWW-Authenticate value for e: the Bearer
// challenge (see [bearerChallenge]), and with DPoP on the DPoP challenge (RFC 9449
// section 7.1: realm, algs, and the error attributes when the refusal is
// about DPoP), without the Bearer one when only DPoP is accepted.
func Challenges(realm string, e *Error) []string {
	if e.DPoP == nil {
		return []string{bearerChallenge(realm, e)}
	}
	var b strings.Builder
	b.WriteString("DPoP realm=")
	writeQuoted(&b, realm)
	withErr := e.DPoP.Error || !e.DPoP.Bearer
	if withErr && e.Code != "" {
		b.WriteString(", error=")
		writeQuoted(&b, e.Code)
		if e.Description != "" {
			b.WriteString(", error_description=")
			writeQuoted(&b, e.Description)
		}
		writeStepUp(&b, e.StepUp)
	}
	if len(e.DPoP.Algs) > 0 {
		b.WriteString(", algs=")
		writeQuoted(&b, strings.Join(e.DPoP.Algs, " "))
	}
	writeResourceMetadata(&b, e.ResourceMetadata)
	if !e.DPoP.Bearer {
		return []string{b.String()}
	}
	bearer := *e
	if withErr {
		bearer.Code, bearer.Description, bearer.Scope, bearer.StepUp = "", "", nil, nil // the error is the DPoP challenge's
	}
	return []string{bearerChallenge(realm, &bearer), b.String()}
}

// writeQuoted writes an RFC 9110 quoted-string; characters outside the
// printable ASCII range are dropped rather than escaped.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// writeJSONString writes s as a JSON string of printable ASCII.
func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// Cause returns why authgate refused err, in words safe for an operator's
// log: authgate's own fixed texts ("aud names no accepted audience", "unknown
// kid", "token larger than MaxTokenSize", ...), joined with ": " where one
// wraps another. It never returns token bytes or claim values: an error that
// is not a fixed text (a JSON decoder's, a session backend's, one made by
// fmt.Errorf) is named by its Go type instead of its text, since such texts
// may quote the input; the standard context errors keep their text. It
// returns "" for an error with no cause (a request without credentials, a
// missing scope) and for nil.
//
// The Debug log of every refusal carries it as "cause", an [Observer] gets
// it in Event.Cause, and a [Renderer] can call it on the *Error it renders.
func Cause(err error) string {
	if e, ok := err.(*Error); ok { // the usual case: no errors.As, which allocates
		err = e.cause
	} else if e := (*Error)(nil); errors.As(err, &e) {
		err = e.cause
	}
	if err == nil {
		return ""
	}
	if fixedText(err) {
		return err.Error() // the common case, without allocating
	}
	var b strings.Builder
	writeCause(&b, err, 0)
	return b.String()
}

// maxCauseDepth bounds the walk of a cause's wrapped errors.
const maxCauseDepth = 8

func writeCause(b *strings.Builder, err error, depth int) {
	if err == nil {
		return
	}
	if depth >= maxCauseDepth {
		b.WriteString("...")
		return
	}
	sep := func() {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
	}
	switch x := err.(type) {
	case *Error:
		sep()
		b.WriteString(reasonOfKind(x.kind))
		writeCause(b, x.cause, depth+1)
		return
	case interface{ Unwrap() []error }: // errors.Join: each part in order
		for _, part := range x.Unwrap() {
			writeCause(b, part, depth+1)
		}
		return
	}
	switch {
	case fixedText(err):
		sep()
		b.WriteString(err.Error())
	case err == context.Canceled || err == context.DeadlineExceeded:
		sep()
		b.WriteString(err.Error())
	default:
		sep()
		fmt.Fprintf(b, "(%T)", err)
		if inner := errors.Unwrap(err); inner != nil {
			writeCause(b, inner, depth+1)
		}
	}
}

// fixedText reports whether err is a plain errors.New value, whose text is
// fixed where it is made (authgate's own causes and sentinels are), rather
// than one that may carry input.
func fixedText(err error) bool {
	return reflect.TypeOf(err) == errorStringType
}

var errorStringType = reflect.TypeOf(errors.New(""))
