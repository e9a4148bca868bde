package core

import (
	"errors"
	"strings"
)

// Token extraction. The rules are the same for every adapter, because every
// adapter hands over raw header values and the core alone decides:
//
//   - Authorization: exactly one field line; scheme "Bearer" in any case;
//     exactly one SP between scheme and token (strict whitespace: RFC 6750's
//     1*SP narrowed to one, HTAB refused); nothing after the token. Other
//     schemes (Basic, ...) are not ours and count as no credential. With
//     DPoP on (Config.DPoP), the scheme "DPoP" is read by the same rules
//     (RFC 9449 section 7.1); with it off, DPoP is another scheme.
//   - Cookie: every Cookie field line is parsed; the configured name must
//     occur once (twice is cookie tossing: 400). Surrounding DQUOTEs are
//     removed (RFC 6265 cookie-value). An empty value counts as absent.
//   - Custom header: one field line, trimmed of OWS, not empty.
//   - Query: one occurrence of the parameter, only when enabled.
//   - A token in two sources is refused with 400, except the same token in
//     the Authorization header and the cookie.
//   - Every value is size-gated before anything else looks at it.

var (
	errEmptyCredential = errors.New("empty bearer credential")
	errRepeated        = errors.New("credential source repeated")
	errWhitespace      = errors.New("malformed Authorization whitespace")
	errTwoSources      = errors.New("token in two sources")
	errTooLarge        = errors.New("token larger than MaxTokenSize")
)

// extract returns the request's token and where it came from.
func (a *Authenticator) extract(r Request) (string, Source, error) {
	var (
		tok string
		src Source
	)
	for _, s := range a.cfg.Sources {
		t, err := a.extractFrom(r, s)
		if err != nil {
			return "", 0, err
		}
		if t == "" {
			continue
		}
		if tok == "" {
			tok, src = t, s
			continue
		}
		// RFC 6750 section 2: a client MUST NOT use more than one method.
		// The one tolerance (catalog EX-09): a browser app that sends its
		// session cookie and the same token in Authorization.
		if t != tok || !headerAndCookie(src, s) {
			return "", 0, newError(ErrInvalidRequest, errTwoSources)
		}
	}
	if tok == "" {
		return "", 0, newError(ErrNoToken, nil)
	}
	return tok, src, nil
}

// headerAndCookie reports whether sources a and b are the Authorization
// header and the cookie, in either order.
func headerAndCookie(a, b Source) bool {
	return a == SourceHeader && b == SourceCookie || a == SourceCookie && b == SourceHeader
}

func (a *Authenticator) extractFrom(r Request, s Source) (string, error) {
	switch s {
	case SourceHeader:
		return a.bearer(r.Header("Authorization"))
	case SourceCookie:
		return a.cookie(r.Header("Cookie"))
	case SourceCustomHeader:
		return a.customHeader(r.Header(a.cfg.HeaderName))
	case SourceQuery:
		return a.query(r.RawQuery())
	}
	return "", nil
}

func (a *Authenticator) gate(tok string) error {
	if len(tok) > a.cfg.MaxTokenSize {
		return newError(ErrInvalidToken, errTooLarge)
	}
	return nil
}

// bearer parses the Authorization field lines.
func (a *Authenticator) bearer(vals []string) (string, error) {
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", newError(ErrInvalidRequest, errRepeated)
	}
	v := trimOWS(vals[0])
	// The gate allows for the scheme and its space.
	if len(v) > a.cfg.MaxTokenSize+len("Bearer ") {
		if hasBearerPrefix(v) || a.dpop != nil && hasDPoPPrefix(v) {
			return "", newError(ErrInvalidToken, errTooLarge)
		}
		return "", nil
	}
	var rest string
	switch {
	case hasBearerPrefix(v):
		rest = v[len("Bearer"):]
	case a.dpop != nil && hasDPoPPrefix(v):
		rest = v[len("DPoP"):]
	default:
		return "", nil // another scheme: not our credential
	}
	if rest == "" {
		return "", newError(ErrInvalidRequest, errEmptyCredential)
	}
	if rest[0] != ' ' {
		if rest[0] == '\t' {
			return "", newError(ErrInvalidRequest, errWhitespace)
		}
		// "Bearerxyz": no separator. Scheme names are tokens, so this is
		// neither Bearer nor a well-formed other scheme.
		return "", newError(ErrInvalidRequest, errWhitespace)
	}
	tok := rest[1:]
	if tok == "" {
		return "", newError(ErrInvalidRequest, errEmptyCredential)
	}
	if strings.IndexByte(tok, ' ') >= 0 || strings.IndexByte(tok, '\t') >= 0 { // IndexByte is vectorised; IndexAny is not
		return "", newError(ErrInvalidRequest, errWhitespace)
	}
	return tok, a.gate(tok)
}

// hasBearerPrefix reports whether v starts with the scheme "Bearer" in any
// case, followed by nothing, whitespace, or (malformed) anything else that is
// not a scheme-name character.
func hasBearerPrefix(v string) bool {
	if len(v) < 6 || !strings.EqualFold(v[:6], "Bearer") {
		return false
	}
	if len(v) == 6 {
		return true
	}
	c := v[6]
	// "Bearerfoo" is treated as a malformed Bearer credential, not as a
	// scheme named "Bearerfoo": refusing is the safe reading.
	return c == ' ' || c == '\t' || !isTchar(c) || isB64tokenChar(c)
}

// hasDPoPPrefix is hasBearerPrefix for the scheme "DPoP".
func hasDPoPPrefix(v string) bool {
	if len(v) < 4 || !strings.EqualFold(v[:4], "DPoP") {
		return false
	}
	if len(v) == 4 {
		return true
	}
	c := v[4]
	return c == ' ' || c == '\t' || !isTchar(c) || isB64tokenChar(c)
}

// cookie finds the token cookie in every Cookie field line.
func (a *Authenticator) cookie(lines []string) (string, error) {
	name := a.cfg.CookieName
	var found string
	n := 0
	// Every line is scanned whatever its size (the server's header limit
	// bounds it; the scan does not allocate): other cookies of the site may
	// be large, and only the token cookie's own value is size-gated.
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = trimOWS(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			n++
			if n > 1 {
				return "", newError(ErrInvalidRequest, errRepeated)
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			found = v
		}
	}
	if found == "" {
		return "", nil
	}
	return found, a.gate(found)
}

func (a *Authenticator) customHeader(vals []string) (string, error) {
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", newError(ErrInvalidRequest, errRepeated)
	}
	v := trimOWS(vals[0])
	if v == "" {
		return "", newError(ErrInvalidRequest, errEmptyCredential)
	}
	return v, a.gate(v)
}

// query finds the token parameter in the raw query. The value is used as it
// is (a JWT or an opaque token needs no percent-decoding); one that would need
// decoding fails the token's charset gate.
func (a *Authenticator) query(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	name := a.cfg.QueryParam
	var found string
	n := 0
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(part, "=")
		if k != name {
			continue
		}
		n++
		if n > 1 {
			return "", newError(ErrInvalidRequest, errRepeated)
		}
		if v == "" {
			return "", newError(ErrInvalidRequest, errEmptyCredential)
		}
		found = v
	}
	if found == "" {
		return "", nil
	}
	return found, a.gate(found)
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func isTchar(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte("()<>@,;:\\\"/[]?={}", c) < 0
}

func isB64tokenChar(c byte) bool {
	return isBase64URLChar(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '='
}

func isBase64URLChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// isJWTShape reports whether tok has the shape of a compact JWS: three
// non-empty base64url segments (RFC 8725bis section 3.14: nothing but
// letters, digits, '-', '_' and the two dots). It does not allocate.
func isJWTShape(tok string) bool {
	// Every token's bytes pass here: the dots are found with the vectorised
	// IndexByte, and each segment is checked by a branch-free table scan.
	d1 := strings.IndexByte(tok, '.')
	if d1 <= 0 {
		return false
	}
	rest := tok[d1+1:]
	d2 := strings.IndexByte(rest, '.')
	if d2 <= 0 || d2 == len(rest)-1 || strings.IndexByte(rest[d2+1:], '.') >= 0 {
		return false
	}
	return isBase64URL(tok[:d1]) && isBase64URL(rest[:d2]) && isBase64URL(rest[d2+1:])
}

// base64URLAlphabet marks the base64url characters (read-only).
var base64URLAlphabet = func() (t [256]uint8) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = 1
	}
	return t
}()

// isBase64URL reports whether s holds base64url characters only.
func isBase64URL(s string) bool {
	ok := uint8(1)
	for i := 0; i < len(s); i++ {
		ok &= base64URLAlphabet[s[i]]
	}
	return ok == 1
}

// isOpaqueShape reports whether tok, which is not of JWT shape, may be an
// opaque token: 16 or more characters of RFC 6750's b64token (letters,
// digits, - . _ ~ + /, then any '=' padding) with at most one dot, so
// formats with a prefix or one dot reach the opaque authenticator (Ory
// Hydra's "ory_at_X.Y"). Two or more dots are the structure of a JWS or a
// JWE, broken or not (a segment missing, one too many), and one dot after
// a first segment that is base64url of "{" (as every JOSE header is) is a
// JWS without its signature: those are never opaque (FM-01: a JWE or a
// malformed JWT is never sent to the opaque lookup).
func isOpaqueShape(tok string) bool {
	if len(tok) < 16 {
		return false
	}
	dots, i := 0, 0
	for ; i < len(tok) && tok[i] != '='; i++ {
		c := tok[i]
		switch {
		case isBase64URLChar(c), c == '~', c == '+', c == '/':
		case c == '.':
			dots++
		default:
			return false
		}
	}
	for ; i < len(tok); i++ {
		if tok[i] != '=' {
			return false
		}
	}
	return dots == 0 || dots == 1 && !startsWithBrace(tok)
}

// startsWithBrace reports whether the base64url text s begins with the
// encoding of a '{' byte: 'e' (011110) then a character whose value has the
// top bits 11 (w-z, 0-9, - or _), giving 01111011.
func startsWithBrace(s string) bool {
	if len(s) < 2 || s[0] != 'e' {
		return false
	}
	c := s[1]
	return 'w' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
