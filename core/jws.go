package core

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"io"
	"math"
	"strings"
	"sync"
	"unsafe"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"
)

// The compact JWS is parsed here rather than by jwt.Parser, because a
// recipient must check what golang-jwt leaves to its caller (RFC 7515, 7519,
// 8725): strict base64url (no padding, no spare bits), JSON that is an object
// of valid UTF-8 with no duplicate member names and exact-case names, no
// "crit" it does not understand, no JWE or nested-JWT header, NumericDates in
// range. golang-jwt's signing methods then check the signature.

var b64 = base64.RawURLEncoding.Strict()

// signing methods by alg. PS* verify with the salt length equal to the hash
// (RFC 7518 section 3.5) through values of our own, so golang-jwt's
// package-level methods are never touched.
var methods = map[string]jwt.SigningMethod{
	"RS256":   jwt.SigningMethodRS256,
	"RS384":   jwt.SigningMethodRS384,
	"RS512":   jwt.SigningMethodRS512,
	"PS256":   strictPSS(jwt.SigningMethodPS256),
	"PS384":   strictPSS(jwt.SigningMethodPS384),
	"PS512":   strictPSS(jwt.SigningMethodPS512),
	"ES256":   jwt.SigningMethodES256,
	"ES384":   jwt.SigningMethodES384,
	"ES512":   jwt.SigningMethodES512,
	"EdDSA":   jwt.SigningMethodEdDSA,
	"Ed25519": jwt.SigningMethodEdDSA,
	"HS256":   jwt.SigningMethodHS256,
	"HS384":   jwt.SigningMethodHS384,
	"HS512":   jwt.SigningMethodHS512,
}

func strictPSS(m *jwt.SigningMethodRSAPSS) jwt.SigningMethod {
	return &jwt.SigningMethodRSAPSS{
		SigningMethodRSA: m.SigningMethodRSA,
		Options:          &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash},
		VerifyOptions:    &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash},
	}
}

// jws is a decoded compact JWS. payload and sig share one buffer.
type jws struct {
	h            header
	payload, sig []byte
	signingInput string // the first two segments and their dot, as received
}

// decodeJWS checks the compact serialization of tok (three non-empty
// segments of the base64url alphabet, RFC 8725bis section 3.14), decodes the
// segments with strict base64url (RFC 7515 section 2: no padding, no spare
// bits) and parses the JOSE header. It never splits tok and allocates one
// buffer for the decoded segments.
func decodeJWS(tok string) (jws, error) {
	if !isJWTShape(tok) {
		return jws{}, invalid("token is not a compact JWS")
	}
	return decodeShaped(tok)
}

// decodeShaped is decodeJWS of a token that passed isJWTShape.
func decodeShaped(tok string) (jws, error) {
	j, hdrJSON, err := decodeSegments(tok)
	if err != nil {
		return j, err
	}
	if j.h, err = parseHeader(hdrJSON); err != nil {
		return j, newError(ErrInvalidToken, err)
	}
	return j, nil
}

// decodeSegments decodes the three segments of a token that passed
// isJWTShape, returning the header's JSON unparsed.
func decodeSegments(tok string) (j jws, hdrJSON []byte, err error) {
	d1 := strings.IndexByte(tok, '.')
	d2 := d1 + 1 + strings.IndexByte(tok[d1+1:], '.')
	// The decoder reads the token's bytes in place (it never writes to its
	// source) and writes the decoded segments into one new buffer, which
	// the principal keeps (its raw claims): nothing decoded points into
	// tok, whose memory an adapter may reuse after the request.
	src := unsafe.Slice(unsafe.StringData(tok), len(tok))
	hl, pl, sl := d1, d2-d1-1, len(tok)-d2-1
	out := make([]byte, b64.DecodedLen(hl)+b64.DecodedLen(pl)+b64.DecodedLen(sl))
	hn, err := b64.Decode(out, src[:d1])
	if err != nil {
		return j, nil, invalid("header is not canonical base64url")
	}
	hdrJSON = out[:hn:hn]
	out = out[hn:]
	pn, err := b64.Decode(out, src[d1+1:d2])
	if err != nil {
		return j, nil, invalid("payload is not canonical base64url")
	}
	j.payload = out[:pn:pn]
	out = out[pn:]
	sn, err := b64.Decode(out, src[d2+1:])
	if err != nil {
		return j, nil, invalid("signature is not canonical base64url")
	}
	j.sig = out[:sn:sn]
	j.signingInput = tok[:d2]
	return j, hdrJSON, nil
}

// verifySignature checks j's signature with key under j's alg. The caller
// has checked the alg against the allow-list and bound the key to it.
func verifySignature(j *jws, key any) error {
	var err error
	switch j.h.alg {
	case "RS256":
		err = verifyPKCS1v15(crypto.SHA256, j.signingInput, j.sig, key)
	case "RS384":
		err = verifyPKCS1v15(crypto.SHA384, j.signingInput, j.sig, key)
	case "RS512":
		err = verifyPKCS1v15(crypto.SHA512, j.signingInput, j.sig, key)
	default:
		m, ok := methods[j.h.alg]
		if !ok {
			return invalid("unsupported alg")
		}
		err = m.Verify(j.signingInput, j.sig, key)
	}
	if err != nil {
		return invalid("signature does not verify")
	}
	return nil
}

// verifyPKCS1v15 is what golang-jwt's SigningMethodRSA.Verify does (the key
// must be an *rsa.PublicKey; rsa.VerifyPKCS1v15 of the digest of the
// signing input), without its copy of the signing input and its hash
// object: the digest is computed in place, on the stack.
func verifyPKCS1v15(h crypto.Hash, signingInput string, sig []byte, key any) error {
	pub, ok := key.(*rsa.PublicKey)
	if !ok || pub == nil {
		return errors.New("RSA verify expects *rsa.PublicKey")
	}
	in := unsafe.Slice(unsafe.StringData(signingInput), len(signingInput)) // read only
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(in)
		return rsa.VerifyPKCS1v15(pub, h, d[:], sig)
	case crypto.SHA384:
		d := sha512.Sum384(in)
		return rsa.VerifyPKCS1v15(pub, h, d[:], sig)
	case crypto.SHA512:
		d := sha512.Sum512(in)
		return rsa.VerifyPKCS1v15(pub, h, d[:], sig)
	}
	return errors.New("unsupported hash")
}

// header is the part of the JOSE header authgate reads.
type header struct {
	alg, kid, typ string
	hasKID        bool
}

var (
	errHeader = errors.New("malformed JOSE header")
	errClaims = errors.New("malformed claims")
)

// decoders are pooled: a jsontext.Decoder costs a few allocations to make.
type jsonReader struct {
	buf bytes.Reader
	dec *jsontext.Decoder
}

var decoderPool = sync.Pool{New: func() any {
	r := &jsonReader{}
	r.dec = jsontext.NewDecoder(&r.buf)
	return r
}}

func getDecoder(b []byte) *jsonReader {
	r := decoderPool.Get().(*jsonReader)
	r.buf.Reset(b)
	r.dec.Reset(&r.buf)
	return r
}

func putDecoder(r *jsonReader) {
	r.buf.Reset(nil)
	r.dec.Reset(&r.buf)
	decoderPool.Put(r)
}

// readObject walks a top-level JSON object and calls member for each name
// with the decoder positioned at its value; member must consume the value.
// The name is only valid during the call (it points into the decoder's
// buffer; a name with escapes is unquoted into a new one). The decoder
// rejects invalid UTF-8, duplicate names and trailing data.
func readObject(b []byte, member func(name []byte, d *jsontext.Decoder) error) error {
	r := getDecoder(b)
	defer putDecoder(r)
	d := r.dec
	if err := walkObject(d, member); err != nil {
		return err
	}
	if _, err := d.ReadToken(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// walkObject is readObject of the object at d's position (top-level or
// nested): it reads up to and including the closing brace.
func walkObject(d *jsontext.Decoder, member func(name []byte, d *jsontext.Decoder) error) error {
	t, err := d.ReadToken()
	if err != nil || t.Kind() != '{' {
		return errors.New("not a JSON object")
	}
	for d.PeekKind() != '}' {
		// ReadValue, not ReadToken: a token's String would copy the name.
		v, err := d.ReadValue() // a name: validated, duplicates refused
		if err != nil {
			return err
		}
		name := v[1 : len(v)-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			if name, err = jsontext.AppendUnquote(nil, v); err != nil {
				return err
			}
		}
		if err := member(name, d); err != nil {
			return err
		}
	}
	_, err = d.ReadToken()
	return err
}

func readString(d *jsontext.Decoder) (string, error) {
	if d.PeekKind() != '"' {
		return "", errors.New("not a string")
	}
	t, err := d.ReadToken()
	if err != nil {
		return "", err
	}
	return t.String(), nil
}

// readInterned reads a string like readString, but returns the matching
// string of known without allocating when there is one (alg, typ and iss
// almost always take one of a few values).
func readInterned(d *jsontext.Decoder, known func(b []byte) (string, bool)) (string, error) {
	if d.PeekKind() != '"' {
		return "", errors.New("not a string")
	}
	v, err := d.ReadValue() // validated: UTF-8, escapes
	if err != nil {
		return "", err
	}
	raw := v[1 : len(v)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		if raw, err = jsontext.AppendUnquote(nil, v); err != nil {
			return "", err
		}
	}
	if s, ok := known(raw); ok {
		return s, nil
	}
	return string(raw), nil
}

func internList(list []string) func([]byte) (string, bool) {
	return func(b []byte) (string, bool) {
		for _, s := range list {
			if string(b) == s {
				return s, true
			}
		}
		return "", false
	}
}

var (
	internAlg = internList(supportedAlgs)
	internTyp = internList([]string{"JWT", "at+jwt", "application/at+jwt", "JOSE"})
)

// readStrings reads a string or an array of strings.
func readStrings(d *jsontext.Decoder) ([]string, error) {
	switch d.PeekKind() {
	case '"':
		s, err := readString(d)
		return []string{s}, err
	case '[':
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		var out []string
		for d.PeekKind() != ']' {
			s, err := readString(d)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		_, err := d.ReadToken()
		return out, err
	}
	return nil, errors.New("not a string or array of strings")
}

// maxNumericDate bounds NumericDates to values every platform converts
// exactly (2^53 seconds is far beyond any real date).
const maxNumericDate = 1 << 53

// readNumericDate reads a JSON number that is a valid NumericDate.
func readNumericDate(d *jsontext.Decoder) (float64, error) {
	if d.PeekKind() != '0' {
		return 0, errors.New("NumericDate is not a number")
	}
	t, err := d.ReadToken()
	if err != nil {
		return 0, err
	}
	f, err := t.Float()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f >= maxNumericDate {
		return 0, errors.New("NumericDate out of range")
	}
	return f, nil
}

// JOSE header parameters that make a token something authgate does not
// accept: extensions it cannot honour, JWE, nested JWTs, unencoded payloads.
var refusedHeaderParams = map[string]bool{
	"crit": true, "b64": true, "cty": true,
	"enc": true, "zip": true, "epk": true, "apu": true, "apv": true,
	"iv": true, "tag": true, "p2s": true, "p2c": true,
}

func parseHeader(b []byte) (header, error) {
	var h header
	var hasAlg bool
	err := readObject(b, func(name []byte, d *jsontext.Decoder) error {
		var err error
		switch string(name) {
		case "alg":
			h.alg, err = readInterned(d, internAlg)
			hasAlg = true
		case "kid":
			h.kid, err = readString(d)
			h.hasKID = true
			if err == nil && h.kid == "" {
				err = errors.New("empty kid")
			}
		case "typ":
			h.typ, err = readInterned(d, internTyp)
		default:
			if refusedHeaderParams[string(name)] {
				return errors.New("refused header parameter")
			}
			err = d.SkipValue()
		}
		return err
	})
	if err != nil {
		return h, errors.Join(errHeader, err)
	}
	if !hasAlg || h.alg == "" {
		return h, errors.Join(errHeader, errors.New("no alg"))
	}
	return h, nil
}

// checkTyp applies RFC 9068 / RFC 8725 section 3.11. With the profile on,
// typ must be at+jwt. Either way, a typ naming another kind of JWT (DPoP
// proof, security event, logout token, ...) is refused.
func checkTyp(typ string, requireAT bool) error {
	var t string
	if isASCII(typ) {
		t = typ // compared case-insensitively below, without a lower-cased copy
		if len(t) >= len("application/") && strings.EqualFold(t[:len("application/")], "application/") {
			t = t[len("application/"):]
		}
	} else {
		t = strings.TrimPrefix(strings.ToLower(typ), "application/")
	}
	if requireAT {
		if !strings.EqualFold(t, "at+jwt") {
			return errors.New("typ is not at+jwt")
		}
		return nil
	}
	// Another kind of JWT from the same issuer (RFC 8725 3.11): judged on the
	// media type alone, without parameters (RFC 7515 4.1.9, RFC 2045) or
	// surrounding whitespace, so "dpop+jwt ", "application/secevent+jwt; x=y"
	// and SD-JWTs ("dc+sd-jwt") are refused too.
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	t = strings.Trim(t, " \t")
	if len(t) >= len("application/") && strings.EqualFold(t[:len("application/")], "application/") {
		t = t[len("application/"):]
	}
	if (hasSuffixFold(t, "+jwt") || hasSuffixFold(t, "+sd-jwt")) && !strings.EqualFold(t, "at+jwt") {
		return errors.New("typ names another kind of JWT")
	}
	return nil
}

// hasSuffixFold is strings.HasSuffix under ASCII case folding.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// claims are the registered and configured claims authgate reads.
type claims struct {
	namedClaims                       // sid, tenant, scope, roles (ClaimNames)
	iss, sub, jti, clientID           string
	aud, scp                          []string
	exp, nbf, iat                     float64
	hasExp, hasNbf, hasIat, hasAud    bool
	hasCnf, hasEvents, hasSub, hasIss bool
	// cnf (RFC 7800): the confirmation methods authgate can check, the
	// DPoP key's thumbprint (RFC 9449 section 6.1) and the client
	// certificate's (RFC 8705 section 3.1); any other member leaves the
	// token unconfirmable.
	cnfJKT, cnfX5T string
	cnfOther       bool
}

func (a *Authenticator) parseClaims(b []byte) (claims, error) {
	var c claims
	err := readObject(b, func(name []byte, d *jsontext.Decoder) error {
		var err error
		switch string(name) {
		case "iss":
			c.iss, err = readInterned(d, a.internIssuer)
			c.hasIss = true
		case "sub":
			c.sub, err = readString(d)
			c.hasSub = true
		case "aud":
			c.aud, err = readStrings(d)
			c.hasAud = true
		case "exp":
			c.exp, err = readNumericDate(d)
			c.hasExp = true
		case "nbf":
			c.nbf, err = readNumericDate(d)
			c.hasNbf = true
		case "iat":
			c.iat, err = readNumericDate(d)
			c.hasIat = true
		case "jti":
			c.jti, err = readString(d)
		case "client_id":
			c.clientID, err = readString(d)
		case "cnf":
			err = readCnf(d, &c)
		case "events":
			c.hasEvents = true
			err = d.SkipValue()
		case "scp":
			c.scp, err = readScopes(d)
		default:
			var ok bool
			if ok, err = a.claimNames.member(name, d, &c.namedClaims); !ok && err == nil {
				err = d.SkipValue()
			}
		}
		return err
	})
	if err != nil {
		return c, errors.Join(errClaims, err)
	}
	return c, nil
}

// readCnf reads the cnf claim: an object whose "jkt" and "x5t#S256" are
// non-empty strings; any other member, another shape, or a cnf with neither
// marks the token as bound in a way authgate cannot confirm (c.cnfOther), so
// it is refused.
func readCnf(d *jsontext.Decoder, c *claims) error {
	c.hasCnf = true
	if d.PeekKind() != '{' {
		c.cnfOther = true
		return d.SkipValue()
	}
	err := walkObject(d, func(name []byte, d *jsontext.Decoder) error {
		var err error
		switch string(name) {
		case "jkt":
			c.cnfJKT, err = readString(d)
			if err == nil && (c.cnfJKT == "" || len(c.cnfJKT) > maxThumbprintLen) {
				c.cnfJKT, c.cnfOther = "", true
			}
		case "x5t#S256":
			c.cnfX5T, err = readString(d)
			if err == nil && (c.cnfX5T == "" || len(c.cnfX5T) > maxThumbprintLen) {
				c.cnfX5T, c.cnfOther = "", true
			}
		default:
			c.cnfOther = true
			err = d.SkipValue()
		}
		return err
	})
	if c.cnfJKT == "" && c.cnfX5T == "" {
		c.cnfOther = true
	}
	return err
}

// maxThumbprintLen bounds a cnf thumbprint: a SHA-256 digest in base64url is
// 43 characters.
const maxThumbprintLen = 64

// readScopes reads a scope claim: a space-delimited string (RFC 8693
// section 4.2; also Azure AD's "scp") or an array of strings (RFC 9068
// section 2.2.3.1 allows either for "scp"); any other shape grants nothing.
func readScopes(d *jsontext.Decoder) ([]string, error) {
	if d.PeekKind() != '"' {
		return readLenientStrings(d)
	}
	s, err := readString(d)
	if err != nil {
		return nil, err
	}
	return splitScope(s), nil
}

// splitScope splits a space-delimited scope string (RFC 6749 section 3.3,
// RFC 8693 section 4.2): separators are SP only, and a scope-token holding
// anything outside %x21 / %x23-5B / %x5D-7E (a tab, a newline, a quote, a
// backslash, non-ASCII) is dropped rather than split into grants.
func splitScope(s string) []string {
	n := 0
	for rest := s; rest != ""; {
		var tok string
		tok, rest, _ = strings.Cut(rest, " ")
		if tok != "" && validScopeToken(tok) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for s != "" {
		var tok string
		tok, s, _ = strings.Cut(s, " ")
		if tok != "" && validScopeToken(tok) {
			out = append(out, tok)
		}
	}
	return out
}

func validScopeToken(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// internIssuer returns the configured issuer name equal to b.
func (a *Authenticator) internIssuer(b []byte) (string, bool) {
	if is := a.issuers[string(b)]; is != nil {
		return is.cfg.Issuer, true
	}
	return "", false
}

// readLenientStrings reads a string or an array of strings; a value of any
// other shape grants nothing (nil) instead of failing the token, so that a
// malformed scope or roles claim yields 403, never 500. Invalid JSON still
// fails. One pass: the rest of an array with a non-string is skipped.
func readLenientStrings(d *jsontext.Decoder) ([]string, error) {
	switch d.PeekKind() {
	case '"':
		s, err := readString(d)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	case '[':
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		var out []string
		lenient := false // an element was not a string: the claim grants nothing
		for d.PeekKind() != ']' {
			if !lenient && d.PeekKind() == '"' {
				s, err := readString(d)
				if err != nil {
					return nil, err
				}
				out = append(out, s)
				continue
			}
			lenient = true
			if err := d.SkipValue(); err != nil {
				return nil, err
			}
		}
		if _, err := d.ReadToken(); err != nil {
			return nil, err
		}
		if lenient {
			return nil, nil
		}
		return out, nil
	}
	return nil, d.SkipValue()
}

// strictUnmarshal decodes JSON with json v2's defaults: exact-case names, no
// duplicate names, valid UTF-8 only.
func strictUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
