package core

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/go-json-experiment/json/jsontext"
)

// DPoP (RFC 9449): a token bound to a key the client holds, each request
// carrying a fresh proof signed with that key. authgate checks every rule of
// RFC 9449 section 4.3 itself (golang-jwt has no DPoP support; the proof is
// read with the same strict JWS reader as access tokens, its key with the
// same key policy), remembers each proof's jti for its window in a
// ReplayCache (shared by every instance when it lives in Redis), and can
// require server nonces that every instance checks without shared state.

// DPoPMode says whether DPoP-bound tokens are accepted, and whether they are
// required.
type DPoPMode uint8

// DPoP modes.
const (
	// DPoPUnset is the zero value: for Config.DPoP.Mode it means DPoPOff;
	// for IssuerConfig.DPoP it means "as Config.DPoP.Mode".
	DPoPUnset DPoPMode = iota
	// DPoPOff: the DPoP scheme is not authgate's (such a request carries no
	// credential), and a DPoP-bound token is refused.
	DPoPOff
	// DPoPAllowed: a DPoP-bound token is accepted only as "Authorization:
	// DPoP" with a valid proof; plain bearer tokens are accepted too.
	DPoPAllowed
	// DPoPRequired: every token must be DPoP-bound and come with its proof.
	DPoPRequired
)

// String returns "unset", "off", "allowed" or "required".
func (m DPoPMode) String() string {
	switch m {
	case DPoPUnset:
		return "unset"
	case DPoPOff:
		return "off"
	case DPoPAllowed:
		return "allowed"
	case DPoPRequired:
		return "required"
	}
	return "unknown"
}

// DPoPOptions configures DPoP (Config.DPoP). The zero value is off.
type DPoPOptions struct {
	// Mode is the mode of every issuer whose IssuerConfig.DPoP is unset.
	Mode DPoPMode
	// Algorithms are the proof algorithms accepted (and advertised in the
	// challenge's algs); default ES256, EdDSA, PS256, RS256. Asymmetric
	// only.
	Algorithms []string
	// MaxAge is how old a proof's iat may be; default 1 minute, at most 5.
	// A proof dated later than now + Leeway is refused too.
	MaxAge time.Duration
	// Replay remembers the proofs seen, so that each is accepted once
	// (RFC 9449 section 11.1). Default: NewMemoryReplayCache of
	// DefaultReplayCacheSize ids, for one instance; with several, a shared
	// one (a redisstore.Store is a ReplayCache), or a proof used on one
	// instance can be replayed on another within MaxAge.
	Replay ReplayCache
	// NonceSecret, when set (at least 32 bytes, the same on every instance),
	// makes proofs carry a server nonce (RFC 9449 section 8): a request
	// without a current one gets 401 use_dpop_nonce and a DPoP-Nonce
	// header, and every admitted DPoP request gets the current nonce.
	// Nonces are derived from the secret and the time: any instance with the
	// secret checks them without shared state.
	NonceSecret []byte
	// NonceLifetime is how long a nonce is accepted; default 5 minutes, in
	// [30s, 1h]. A new nonce is issued every half lifetime.
	NonceLifetime time.Duration
	// PublicOrigin is the scheme, host and port clients use to reach this
	// API ("https://api.example.com"), for checking a proof's htu behind a
	// proxy that terminates TLS or rewrites Host. Without it the origin is
	// the request's own: https when it arrived over TLS, and its Host.
	// Forwarded headers are never read.
	PublicOrigin string
}

// Defaults and bounds of DPoPOptions.
const (
	DefaultDPoPMaxAge        = time.Minute
	DefaultDPoPNonceLifetime = 5 * time.Minute
	// DefaultReplayCacheSize bounds the default in-memory ReplayCache.
	DefaultReplayCacheSize = 100_000
	maxDPoPMaxAge          = 5 * time.Minute
	maxProofSize           = 8 << 10
	maxProofJTI            = 256
)

var defaultDPoPAlgs = []string{"ES256", "EdDSA", "PS256", "RS256"}

// dpopVerifier is the Authenticator's DPoP state; nil when no issuer uses DPoP.
type dpopVerifier struct {
	mode      DPoPMode // Config.DPoP.Mode (off when unset), for opaque tokens of no configured issuer
	algs      []string
	algsList  string // space-separated, for the challenge
	maxAge    time.Duration
	leeway    time.Duration
	replay    ReplayCache
	secret    []byte // nil: no nonces
	lifetime  time.Duration
	origin    string // normalised PublicOrigin, or ""
	bearerAll bool   // some issuer still accepts bearer tokens
	now       func() time.Time
	keys      proofKeys // parsed proof keys, by their JWK
}

// proofKey is a proof's jwk parsed for one algorithm: the public key and
// its RFC 7638 thumbprint. Immutable once made.
type proofKey struct {
	pub    any
	jkt    string
	jktErr error // no thumbprint: refused at the key binding check
}

// proofKeys is a small bounded cache of parsed proof keys, keyed by the
// algorithm and the jwk's bytes as received: a client signs every proof
// with the same key, and parsing it (JSON, the jwkset checks, the curve
// point) and hashing its thumbprint would otherwise be paid per request.
// Only the parse is cached; every proof's signature is still verified.
// Keys with private members, or that do not parse, are never cached.
type proofKeys struct {
	mu sync.Mutex
	m  map[string]*proofKey
}

// Bounds of the proof key cache: entries, and the largest jwk cached
// (an RSA 4096 public JWK is about 750 bytes).
const (
	maxProofKeys      = 1024
	maxCachedProofJWK = 2048
)

// get returns the key of jwk for alg, parsed once.
func (c *proofKeys) get(jwk []byte, alg string) (*proofKey, error) {
	id := alg + "\x00" + string(jwk)
	c.mu.Lock()
	k := c.m[id]
	c.mu.Unlock()
	if k != nil {
		return k, nil
	}
	vk, m, err := parseJWKMarshal(jwk, []string{alg})
	if err != nil || !slices.Contains(vk.algs, alg) {
		return nil, errProofJWK
	}
	if vk.private {
		return nil, errProofPrivate
	}
	k = &proofKey{pub: vk.pub}
	k.jkt, k.jktErr = thumbprint(m)
	if len(jwk) > maxCachedProofJWK {
		return k, nil
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]*proofKey)
	}
	if len(c.m) >= maxProofKeys {
		for old := range c.m { // an arbitrary entry: map order is not chosen by the client
			delete(c.m, old)
			break
		}
	}
	c.m[id] = k
	c.mu.Unlock()
	return k, nil
}

func (o *DPoPOptions) normalize(leeway time.Duration, now func() time.Time) (*dpopVerifier, error) {
	v := &dpopVerifier{mode: o.Mode, algs: o.Algorithms, maxAge: o.MaxAge, replay: o.Replay, leeway: leeway, now: now}
	if len(v.algs) == 0 {
		v.algs = defaultDPoPAlgs
	}
	for _, alg := range v.algs {
		if _, ok := methods[alg]; !ok || strings.HasPrefix(alg, "HS") {
			return nil, configErr("DPoP.Algorithms: %q is not an asymmetric JWS algorithm authgate supports", alg)
		}
	}
	v.algs = slices.Clone(v.algs)
	v.algsList = strings.Join(v.algs, " ")
	if v.maxAge == 0 {
		v.maxAge = DefaultDPoPMaxAge
	}
	if v.maxAge < time.Second || v.maxAge > maxDPoPMaxAge {
		return nil, configErr("DPoP.MaxAge %v is outside [1s, %v]", v.maxAge, maxDPoPMaxAge)
	}
	if v.replay == nil {
		v.replay = NewMemoryReplayCache(DefaultReplayCacheSize, now)
	}
	if len(o.NonceSecret) > 0 {
		if len(o.NonceSecret) < 32 {
			return nil, configErr("DPoP.NonceSecret must be at least 32 bytes")
		}
		v.secret = slices.Clone(o.NonceSecret)
		v.lifetime = o.NonceLifetime
		if v.lifetime == 0 {
			v.lifetime = DefaultDPoPNonceLifetime
		}
		if v.lifetime < 30*time.Second || v.lifetime > time.Hour {
			return nil, configErr("DPoP.NonceLifetime %v is outside [30s, 1h]", v.lifetime)
		}
	} else if o.NonceLifetime != 0 {
		return nil, configErr("DPoP.NonceLifetime is set without DPoP.NonceSecret")
	}
	if o.PublicOrigin != "" {
		u, err := url.Parse(o.PublicOrigin)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, configErr("DPoP.PublicOrigin %q must be scheme://host[:port]", o.PublicOrigin)
		}
		v.origin = normalizeOrigin(u.Scheme, u.Host)
	}
	return v, nil
}

// Errors of the proof checks: fixed texts, for Cause.
var (
	errProofMissing   = errors.New("DPoP-bound token without a DPoP proof")
	errProofRepeated  = errors.New("more than one DPoP header")
	errProofTooLarge  = errors.New("DPoP proof larger than its limit")
	errProofShape     = errors.New("DPoP proof is not a compact JWS")
	errProofTyp       = errors.New("DPoP proof typ is not dpop+jwt")
	errProofAlg       = errors.New("DPoP proof alg not allowed")
	errProofJWK       = errors.New("DPoP proof jwk missing or unusable")
	errProofPrivate   = errors.New("DPoP proof jwk holds private key material")
	errProofSignature = errors.New("DPoP proof signature does not verify")
	errProofClaims    = errors.New("DPoP proof claims missing or malformed")
	errProofHTM       = errors.New("DPoP proof htm does not match the request method")
	errProofHTU       = errors.New("DPoP proof htu does not match the request URI")
	errProofIat       = errors.New("DPoP proof iat outside the accepted window")
	errProofAth       = errors.New("DPoP proof ath does not match the access token")
	errProofKey       = errors.New("DPoP proof key does not match the token's cnf.jkt")
	errProofReplayed  = errors.New("DPoP proof replayed")
	errProofNonce     = errors.New("DPoP proof without a current server nonce")
	errProofNoURI     = errors.New("DPoP needs the request path: the adapter does not provide it")
	errDPoPUnbound    = errors.New("DPoP scheme with a token not bound to a key")
	errDPoPDowngrade  = errors.New("DPoP-bound token presented as bearer")
	errDPoPRequired   = errors.New("DPoP required and the token is not DPoP-bound")
	errDPoPOff        = errors.New("DPoP not enabled for the token's issuer")
)

// proof is a parsed DPoP proof.
type proof struct {
	j                    jws
	jwk                  []byte // the header's jwk, as received
	jti, htm, htu, ath   string
	nonce                string
	iat                  float64
	hasIat, hasJTI, hasM bool
	hasU                 bool
}

// parseProof reads a DPoP proof strictly: the JWS reader of access tokens
// (canonical base64url, JSON objects without duplicate members, no crit or
// JWE parameters), then the proof's own header (typ, alg, jwk) and claims.
func parseProof(s string) (*proof, error) {
	if len(s) > maxProofSize {
		return nil, errProofTooLarge
	}
	if !isJWTShape(s) {
		return nil, errProofShape
	}
	p := &proof{}
	var hdr []byte
	var err error
	p.j, hdr, err = decodeSegments(s)
	if err != nil {
		return nil, errors.Join(errProofShape, err)
	}
	var typ string
	var hasAlg bool
	err = readObject(hdr, func(name []byte, d *jsontext.Decoder) error {
		var err error
		switch string(name) {
		case "typ":
			typ, err = readString(d)
		case "alg":
			p.j.h.alg, err = readInterned(d, internAlg)
			hasAlg = true
		case "jwk":
			if d.PeekKind() != '{' {
				return errProofJWK
			}
			var v jsontext.Value
			if v, err = d.ReadValue(); err == nil {
				p.jwk = slices.Clone(v)
			}
		default:
			if refusedHeaderParams[string(name)] {
				return errors.New("refused header parameter")
			}
			err = d.SkipValue()
		}
		return err
	})
	if err != nil {
		return nil, errors.Join(errProofShape, errHeader, err)
	}
	if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), "dpop+jwt") {
		return nil, errProofTyp
	}
	if !hasAlg || p.j.h.alg == "" {
		return nil, errProofAlg
	}
	if p.jwk == nil {
		return nil, errProofJWK
	}
	err = readObject(p.j.payload, func(name []byte, d *jsontext.Decoder) error {
		var err error
		switch string(name) {
		case "jti":
			p.jti, err = readString(d)
			p.hasJTI = true
		case "htm":
			p.htm, err = readString(d)
			p.hasM = true
		case "htu":
			p.htu, err = readString(d)
			p.hasU = true
		case "iat":
			p.iat, err = readNumericDate(d)
			p.hasIat = true
		case "ath":
			p.ath, err = readString(d)
		case "nonce":
			p.nonce, err = readString(d)
		default:
			err = d.SkipValue()
		}
		return err
	})
	if err != nil {
		return nil, errors.Join(errProofClaims, err)
	}
	if !p.hasJTI || p.jti == "" || len(p.jti) > maxProofJTI || !p.hasM || !p.hasU || !p.hasIat {
		return nil, errProofClaims
	}
	return p, nil
}

// proofRequest is what the proof is checked against.
type proofRequest struct {
	method, uri string // uri: normalised scheme://host/path
	token       string // the access token, for ath
	jkt         string // the token's cnf.jkt
}

// check verifies p for req (RFC 9449 section 4.3, in its order) and returns
// the key's thumbprint. The replay check is made by the caller, last.
func (v *dpopVerifier) check(p *proof, req proofRequest) (until time.Time, err error) {
	if !slices.Contains(v.algs, p.j.h.alg) { // 5: asymmetric, allowed
		return until, errProofAlg
	}
	k, err := v.keys.get(p.jwk, p.j.h.alg)
	if err != nil { // 7: public key only (errProofPrivate), or no usable key
		return until, err
	}
	if err := verifySignature(&p.j, k.pub); err != nil { // 6
		return until, errProofSignature
	}
	if p.htm != req.method { // 8
		return until, errProofHTM
	}
	if u, ok := normalizeHTU(p.htu); !ok || u != req.uri { // 9
		return until, errProofHTU
	}
	now := v.now()
	if v.secret != nil && !v.validNonce(p.nonce, now) { // 10
		return until, errProofNonce
	}
	iat := numericTime(p.iat) // 11
	if iat.After(now.Add(v.leeway)) || iat.Before(now.Add(-v.maxAge-v.leeway)) {
		return until, errProofIat
	}
	if p.ath == "" || !hmac.Equal([]byte(p.ath), []byte(tokenHash(req.token))) { // 12: ath
		return until, errProofAth
	}
	if k.jktErr != nil {
		return until, errProofJWK
	}
	if !hmac.Equal([]byte(k.jkt), []byte(req.jkt)) { // 12: the key the token is bound to
		return until, errProofKey
	}
	return iat.Add(v.maxAge + 2*v.leeway), nil
}

// replayKey is the ReplayCache key of a proof: its jti, scoped to the key
// that signed it (two clients may pick the same jti).
func replayKey(jkt, jti string) string {
	h := sha256.New()
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	return b64.EncodeToString(h.Sum(nil))
}

// tokenHash is base64url(SHA-256(token)), the proof's ath (RFC 9449 section 4.2).
func tokenHash(tok string) string {
	d := sha256.Sum256([]byte(tok))
	return b64.EncodeToString(d[:])
}

// nonceAt returns the nonce issued for the half-lifetime window holding t.
func (v *dpopVerifier) nonceAt(t time.Time) string {
	step := int64(v.lifetime / 2 / time.Second)
	start := t.Unix() / step * step
	return v.makeNonce(start)
}

func (v *dpopVerifier) makeNonce(start int64) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(start))
	mac := hmac.New(sha256.New, v.secret)
	mac.Write([]byte("authgate DPoP nonce v1\x00"))
	mac.Write(b[:8])
	copy(b[8:], mac.Sum(nil))
	return b64.EncodeToString(b[:])
}

// validNonce reports whether n is a nonce of this secret issued within its
// lifetime (and not in the future beyond the leeway).
func (v *dpopVerifier) validNonce(n string, now time.Time) bool {
	b, err := b64.DecodeString(n)
	if err != nil || len(b) != 24 {
		return false
	}
	start := int64(binary.BigEndian.Uint64(b[:8]))
	if !hmac.Equal([]byte(v.makeNonce(start)), []byte(n)) {
		return false
	}
	t := time.Unix(start, 0)
	return !t.After(now.Add(v.leeway)) && now.Sub(t) < v.lifetime
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of the
// public key m: its required members in lexicographic order, no whitespace.
// The members are base64url strings already checked by the key parser, so
// they need no escaping.
func thumbprint(m jwkset.JWKMarshal) (string, error) {
	var s string
	switch m.KTY {
	case jwkset.KtyEC:
		s = `{"crv":"` + string(m.CRV) + `","kty":"EC","x":"` + m.X + `","y":"` + m.Y + `"}`
	case jwkset.KtyOKP:
		s = `{"crv":"` + string(m.CRV) + `","kty":"OKP","x":"` + m.X + `"}`
	case jwkset.KtyRSA:
		s = `{"e":"` + m.E + `","kty":"RSA","n":"` + m.N + `"}`
	default:
		return "", fmt.Errorf("no thumbprint for kty %q", string(m.KTY))
	}
	if !isB64URL(m.X) || !isB64URL(m.Y) || !isB64URL(m.N) || !isB64URL(m.E) || !isB64URL(string(m.CRV)) {
		return "", errors.New("JWK member with characters outside base64url")
	}
	d := sha256.Sum256([]byte(s))
	return b64.EncodeToString(d[:]), nil
}

// isB64URL reports whether s holds only base64url characters (or is empty);
// a curve name ("P-256", "Ed25519") passes too.
func isB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// normalizeHTU returns the scheme, host and path of an absolute http(s) URI,
// normalised as RFC 9449 section 4.3 asks (RFC 3986 sections 6.2.2 and
// 6.2.3: case, percent-encoding, dot segments, default port, empty path),
// without query and fragment.
func normalizeHTU(s string) (string, bool) {
	if len(s) > 8<<10 {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil || u.Opaque != "" || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	path, ok := normalizePath(u.EscapedPath())
	if !ok {
		return "", false
	}
	return normalizeOrigin(scheme, u.Host) + path, true
}

// requestURI is normalizeHTU of the URI the request was sent to: origin is
// the configured public origin, or the request's own.
func requestURI(origin, scheme, host, path string) (string, bool) {
	if origin == "" {
		if host == "" {
			return "", false
		}
		origin = normalizeOrigin(scheme, host)
	}
	p, ok := normalizePath(path)
	if !ok {
		return "", false
	}
	return origin + p, true
}

// normalizeOrigin lower-cases scheme and host and drops the default port.
func normalizeOrigin(scheme, host string) string {
	host = strings.ToLower(host)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = host[:len(host)-4]
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = host[:len(host)-3]
	}
	return scheme + "://" + host
}

// normalizePath decodes percent-encoded unreserved characters, upper-cases
// the other escapes' hex digits, removes dot segments and makes "" "/".
func normalizePath(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	if p[0] != '/' || strings.ContainsAny(p, "?#") {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", false
		}
		d := unhex(p[i+1])<<4 | unhex(p[i+2])
		if isUnreserved(d) {
			b.WriteByte(d)
		} else {
			b.WriteByte('%')
			b.WriteByte(upperHex(p[i+1]))
			b.WriteByte(upperHex(p[i+2]))
		}
		i += 2
	}
	return removeDotSegments(b.String()), true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is RFC 3986 section 5.2.4 for an absolute path.
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		return p
	}
	var out []string
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		switch s {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}
