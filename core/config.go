package core

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
)

// Config says whom to trust and how. The zero value of every optional field is
// the secure default; [New] refuses a Config that cannot work, with an error
// that says how to fix it.
//
// For one issuer, fill Issuer, Audience and (optionally) JWKSURL, PublicKeys
// or HMACSecret. For several, list them in Issuers; the top-level issuer
// fields, when set, count as one more entry.
type Config struct {
	// Issuer is the exact "iss" value tokens must carry, e.g.
	// "https://id.example.com/". Keys are found by OIDC discovery at
	// Issuer + "/.well-known/openid-configuration" unless JWKSURL, PublicKeys
	// or HMACSecret is given.
	Issuer string
	// Audience lists the accepted "aud" values; a token must name at least one.
	Audience []string
	// JWKSURL is the issuer's JSON Web Key Set. HTTPS, or HTTP on loopback.
	JWKSURL string
	// PublicKeys are static verification keys: PEM blocks ("PUBLIC KEY",
	// "RSA PUBLIC KEY", "CERTIFICATE") or JWK / JWK Set JSON. For offline use
	// and tests; they are never refreshed.
	PublicKeys []string
	// HMACSecret enables HS256/384/512 for this issuer only, with this secret
	// (at least 32 bytes, and not a known weak secret). HMAC cannot be mixed
	// with public keys for one issuer.
	HMACSecret []byte
	// Keyfunc is a key set the application already runs with
	// github.com/MicahParks/keyfunc/v3 (its own refresh, a Given set,
	// several URLs). authgate reads the keys its Storage() holds, applies its
	// key policy to them (the same as for a JWKS URL) and every token check
	// on top; the Keyfunc method itself is not called. The storage is re-read
	// every RefreshInterval and asked for an unknown kid (at most once per
	// UnknownKeyRefresh); refreshing it is the application's business.
	// Exclusive with JWKSURL, PublicKeys, HMACSecret and KeyStorage.
	Keyfunc keyfunc.Keyfunc
	// KeyStorage is Keyfunc for a bare github.com/MicahParks/jwkset storage.
	KeyStorage jwkset.Storage
	// Algorithms is the allow-list; default RS256, ES256, EdDSA (and HS256 when
	// HMACSecret is set). "none" is never accepted.
	Algorithms []string

	// Issuers lists further trusted issuers, each with its own keys and audiences.
	Issuers []IssuerConfig

	// Leeway is the clock skew allowed on exp, nbf and iat; default 30s, at most 5m.
	// Zero means the default; set NoLeeway for none.
	Leeway time.Duration
	// NoLeeway compares exp, nbf and iat with the clock exactly (no skew
	// allowed): a token is refused from the second its exp is reached. Leeway
	// must then be left zero.
	NoLeeway bool
	// MaxTokenLifetime caps exp - iat (or exp - now when iat is absent);
	// default 24h. It also bounds how long a revoked session id is remembered.
	MaxTokenLifetime time.Duration
	// RequireAccessTokenType enforces the RFC 9068 profile: typ must be
	// "at+jwt" (or "application/at+jwt"), and jti, client_id and iat are required.
	RequireAccessTokenType bool

	// Sources is the order in which tokens are looked for; default header,
	// then cookie, then the custom header when HeaderName is set. A request
	// that carries a token in more than one source is refused (400), unless
	// the tokens are identical.
	Sources []Source
	// CookieName is the token cookie's name; default "access_token". A name
	// with the "__Host-" prefix is read exactly as given.
	CookieName string
	// HeaderName names an extra header that carries the bare token, e.g.
	// "X-Access-Token". Off when empty.
	HeaderName string
	// QueryParam names a query parameter that carries the token, e.g.
	// "access_token". Off when empty; RFC 6750 advises against it.
	QueryParam string
	// MaxTokenSize is the largest token accepted, in bytes; default 8192.
	// Larger tokens are refused before any decoding.
	MaxTokenSize int

	// TrustedOrigins lists origins ("https://app.example.com") allowed to send
	// cookie-authenticated unsafe requests besides the request's own origin.
	TrustedOrigins []string

	// Claims names the claims authgate maps onto a Principal.
	Claims ClaimNames

	// HTTPClient is used for discovery and JWKS fetches. Its transport is
	// used; redirects are never followed and every fetch is bounded by
	// FetchTimeout and MaxJWKSSize. Default: a client on http.DefaultTransport.
	HTTPClient *http.Client
	// FetchTimeout bounds one discovery or JWKS fetch; default 5s.
	FetchTimeout time.Duration
	// RefreshInterval is how often a remote JWKS is refetched; default 10m,
	// clamped to [10s, 24h].
	RefreshInterval time.Duration
	// UnknownKeyRefresh is the least time between two refetches caused by an
	// unknown key id; default 5s. A flood of random kids costs the issuer at
	// most one fetch per interval. A token whose kid is unknown is 401 once
	// a key set fetch that began at or after its iat has run without the
	// kid; before that (a key rotated in since the last fetch, the next
	// refetch rate-limited) it is 503 with Retry-After the wait until the
	// refetch may run, so a client is never told to drop a valid token. A
	// token without iat is 401 at once, as before. iat has one-second
	// precision: a key rotated in within the second of the last fetch is
	// still answered 401 until the next refetch.
	UnknownKeyRefresh time.Duration
	// MaxJWKSSize caps a JWKS or discovery response body; default 1 MiB.
	MaxJWKSSize int64
	// AllowStartWithoutKeys lets New succeed when a JWKS cannot be fetched at
	// start; tokens are then answered 503 until keys arrive. By default New
	// fails instead.
	AllowStartWithoutKeys bool

	// Sessions checks sessions live (see SessionPolicy). Optional.
	Sessions SessionChecker
	// SessionPolicy says which routes get a live session check; default
	// PolicySensitiveOnly.
	SessionPolicy Policy
	// SessionCheck tunes the live check: timeout, cache, fail-open.
	SessionCheck SessionCheckOptions
	// TokenIntrospection makes the live check of a JWT of the top-level
	// Issuer (on the routes SessionPolicy names) introspect the token itself
	// (RFC 7662) at this Introspector's endpoint, for issuers that revoke
	// tokens where no session id shows it (RFC 7009 revocation, a client's
	// tokens deleted). An answer that is not active is 401; an endpoint that
	// is down or slow is 503. The answer is never cached (CacheTTL,
	// SensitiveCacheTTL and MaxStale apply to the session id check only):
	// each request is answered by a call that began after it arrived.
	// When Sessions is set too and the token names a session, both checks
	// must pass; otherwise introspection is the whole live check, and a
	// token without a session id is checked by it alone. Optional; entries
	// of Issuers take their own (IssuerConfig.TokenIntrospection), as a
	// token is never sent to another issuer's endpoint. The same
	// Introspector may serve as Opaque.
	TokenIntrospection *Introspector
	// Opaque authenticates tokens that are not JWTs (session tokens from a
	// store, or an introspection endpoint). Off when nil: such tokens are refused.
	Opaque OpaqueAuthenticator
	// Revocations feeds revoked session ids to this authenticator; they are
	// refused on every route with no lookup. A store that is also the
	// Sessions checker is usually its own feed.
	Revocations RevocationFeed

	// TokenCache sizes the verified-token cache: a JWT whose signature
	// verified is recognised by its exact bytes and not verified again
	// (expiry, the key's presence in the key set, the deny set and the
	// session policy are still checked on every request). On by default,
	// 10000 entries and 32 MiB at most; set Disabled to turn it off.
	TokenCache TokenCacheOptions

	// DPoP accepts sender-constrained tokens of RFC 9449, whose every
	// request carries a proof signed by the client's key; off by default
	// (a DPoP-bound token is then refused). See [DPoPOptions].
	DPoP DPoPOptions
	// ProtectedResource, when set, describes this API as an RFC 9728
	// protected resource: every challenge carries resource_metadata, and
	// Authenticator.ResourceMetadata is the document to serve. Optional.
	ProtectedResource *ProtectedResource
	// ClientCertificates says where the TLS client certificate of a
	// certificate-bound token (RFC 8705, cnf "x5t#S256") may come from besides
	// the connection itself: a header set by a TLS-terminating proxy, read
	// only from trusted proxy addresses. A certificate-bound token whose
	// certificate is not presented is refused.
	ClientCertificates ClientCertOptions

	// Realm is the realm of the WWW-Authenticate challenge; default "api".
	Realm string
	// Renderer writes refusals; default DefaultRenderer.
	Renderer Renderer
	// Logger receives authgate's logs; default slog.Default(). Tokens are
	// never logged. Refusals are logged at Debug with their reason class
	// and their cause (see [Cause]: fixed texts, never token bytes or claim
	// values); key-set and session-backend failures at Warn or Error.
	Logger *slog.Logger
	// Observer receives events for metrics and traces (see the otelauth
	// module); default none. It costs nothing when nil.
	Observer Observer
	// Now is the clock; default time.Now. For tests.
	Now func() time.Time
}

// IssuerConfig describes one trusted issuer. The fields mean what the
// same-named fields of [Config] mean.
type IssuerConfig struct {
	Issuer     string
	Audience   []string
	JWKSURL    string
	PublicKeys []string
	HMACSecret []byte
	Keyfunc    keyfunc.Keyfunc
	KeyStorage jwkset.Storage
	Algorithms []string
	// Sessions overrides Config.Sessions for tokens of this issuer.
	Sessions SessionChecker
	// TokenIntrospection introspects this issuer's JWTs on the routes that
	// get a live check (see Config.TokenIntrospection). Optional.
	TokenIntrospection *Introspector
	// DPoP overrides Config.DPoP.Mode for tokens of this issuer (DPoPUnset:
	// as Config.DPoP.Mode). The issuer named by Config.Issuer always takes
	// Config.DPoP.Mode.
	DPoP DPoPMode
}

// ClaimNames names the claims read into a Principal. Empty fields take the
// defaults shown.
//
// A name may be a dotted path into nested objects: "ext.sid" reads
// {"ext":{"sid":"..."}} (Ory Hydra's layout). A member whose name is the
// whole path is taken first, so names that hold dots themselves work as
// they are ("https://example.com/roles", Auth0's namespaced claims). A claim
// found both ways fails the token. No name may be a dotted prefix of
// another, nor start with a claim authgate reads itself ("iss.x").
type ClaimNames struct {
	SessionID string // "sid"
	Scope     string // "scope" (a space-separated string or an array); "scp" is read too, and both are merged without duplicates
	Roles     string // "roles"
	Tenant    string // "tenant"
	// ACR, AMR and AuthTime are read for step-up (RFC 9470 section 6.1,
	// [StepUp]): the authentication context class, methods and time.
	ACR      string // "acr"
	AMR      string // "amr" (an array of strings)
	AuthTime string // "auth_time" (a NumericDate)
}

// normalize fills the defaults and checks the names.
func (n *ClaimNames) normalize() error {
	if n.SessionID == "" {
		n.SessionID = "sid"
	}
	if n.Scope == "" {
		n.Scope = "scope"
	}
	if n.Roles == "" {
		n.Roles = "roles"
	}
	if n.Tenant == "" {
		n.Tenant = "tenant"
	}
	n.stepUpDefaults()
	return checkClaimNames(n)
}

// Defaults and bounds.
// DefaultMaxTokenSize is Config.MaxTokenSize when it is zero: the largest
// token accepted, in bytes. Servers with a fixed header buffer (fasthttp,
// hence fiber) must make room for it: see fiberauth.ReadBufferSize.
const DefaultMaxTokenSize = 8 << 10

const (
	defaultLeeway       = 30 * time.Second
	maxLeeway           = 5 * time.Minute
	defaultLifetime     = 24 * time.Hour
	defaultMaxTokenSize = DefaultMaxTokenSize
	maxMaxTokenSize     = 64 << 10
	defaultFetchTimeout = 5 * time.Second
	defaultRefresh      = 10 * time.Minute
	minRefresh          = 10 * time.Second
	maxRefresh          = 24 * time.Hour
	defaultUnknownKID   = 5 * time.Second
	defaultMaxJWKSSize  = 1 << 20
	minHMACSecret       = 32
)

var defaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// supportedAlgs are the algorithms authgate can verify.
var supportedAlgs = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA", "Ed25519",
	"HS256", "HS384", "HS512",
}

// hmacKeySize is the least HMAC key size of alg (RFC 7518 section 3.2).
func hmacKeySize(alg string) int {
	switch alg {
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return minHMACSecret
}

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("authgate: invalid config")

func configErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// normalize fills defaults and checks everything that can be checked without
// the network.
func (c *Config) normalize() ([]IssuerConfig, error) {
	if c.NoLeeway {
		if c.Leeway != 0 {
			return nil, configErr("NoLeeway is set and Leeway is %v; set one of them", c.Leeway)
		}
	} else if c.Leeway == 0 {
		c.Leeway = defaultLeeway
	}
	if c.Leeway < 0 || c.Leeway > maxLeeway {
		return nil, configErr("Leeway %v is outside [0, %v]; clocks that far apart need fixing, not tolerating", c.Leeway, maxLeeway)
	}
	if c.MaxTokenLifetime == 0 {
		c.MaxTokenLifetime = defaultLifetime
	}
	if c.MaxTokenLifetime < time.Minute || c.MaxTokenLifetime > 30*24*time.Hour {
		return nil, configErr("MaxTokenLifetime %v is outside [1m, 720h]", c.MaxTokenLifetime)
	}
	if c.MaxTokenSize == 0 {
		c.MaxTokenSize = defaultMaxTokenSize
	}
	if c.MaxTokenSize < 256 || c.MaxTokenSize > maxMaxTokenSize {
		return nil, configErr("MaxTokenSize %d is outside [256, %d]", c.MaxTokenSize, maxMaxTokenSize)
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = defaultFetchTimeout
	}
	if c.FetchTimeout < 0 || c.FetchTimeout > time.Minute {
		return nil, configErr("FetchTimeout %v is outside (0, 1m]", c.FetchTimeout)
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = defaultRefresh
	}
	c.RefreshInterval = min(max(c.RefreshInterval, minRefresh), maxRefresh)
	if c.UnknownKeyRefresh == 0 {
		c.UnknownKeyRefresh = defaultUnknownKID
	}
	if c.UnknownKeyRefresh < time.Second {
		return nil, configErr("UnknownKeyRefresh %v is below 1s: a flood of unknown kids would hammer the issuer", c.UnknownKeyRefresh)
	}
	if c.MaxJWKSSize == 0 {
		c.MaxJWKSSize = defaultMaxJWKSSize
	}
	if c.MaxJWKSSize < 1<<10 || c.MaxJWKSSize > 64<<20 {
		return nil, configErr("MaxJWKSSize %d is outside [1 KiB, 64 MiB]", c.MaxJWKSSize)
	}
	if c.CookieName == "" {
		c.CookieName = "access_token"
	}
	if !validToken(c.CookieName) {
		return nil, configErr("CookieName %q is not a valid cookie name", c.CookieName)
	}
	if c.HeaderName != "" && !validToken(c.HeaderName) {
		return nil, configErr("HeaderName %q is not a valid header name", c.HeaderName)
	}
	if strings.EqualFold(c.HeaderName, "Authorization") || strings.EqualFold(c.HeaderName, "Cookie") {
		return nil, configErr("HeaderName must not be %q; that source is built in", c.HeaderName)
	}
	if c.HeaderName != "" {
		// Adapters look headers up by canonical name; canonicalise once here.
		c.HeaderName = textproto.CanonicalMIMEHeaderKey(c.HeaderName)
	}
	if len(c.Sources) == 0 {
		c.Sources = []Source{SourceHeader, SourceCookie}
		if c.HeaderName != "" {
			c.Sources = append(c.Sources, SourceCustomHeader)
		}
		if c.QueryParam != "" {
			c.Sources = append(c.Sources, SourceQuery)
		}
	}
	for i, s := range c.Sources {
		if s < SourceHeader || s > SourceQuery || slices.Contains(c.Sources[:i], s) {
			return nil, configErr("Sources holds an unknown or repeated source %d", s)
		}
		if s == SourceCustomHeader && c.HeaderName == "" {
			return nil, configErr("Sources lists SourceCustomHeader but HeaderName is empty")
		}
		if s == SourceQuery && c.QueryParam == "" {
			return nil, configErr("Sources lists SourceQuery but QueryParam is empty")
		}
	}
	for _, o := range c.TrustedOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, configErr("TrustedOrigins entry %q is not of the form scheme://host[:port]", o)
		}
	}
	if err := c.Claims.normalize(); err != nil {
		return nil, err
	}
	if c.SessionPolicy > PolicyAlways {
		return nil, configErr("SessionPolicy %d is unknown", c.SessionPolicy)
	}
	if c.Realm == "" {
		c.Realm = "api"
	}
	if c.Renderer == nil {
		c.Renderer = DefaultRenderer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}

	issuers := slices.Clone(c.Issuers)
	if c.Issuer != "" || len(c.Audience) > 0 || c.JWKSURL != "" || len(c.PublicKeys) > 0 || len(c.HMACSecret) > 0 || c.Keyfunc != nil || c.KeyStorage != nil {
		issuers = append([]IssuerConfig{{
			Issuer: c.Issuer, Audience: c.Audience, JWKSURL: c.JWKSURL,
			PublicKeys: c.PublicKeys, HMACSecret: c.HMACSecret, Algorithms: c.Algorithms,
			Keyfunc: c.Keyfunc, KeyStorage: c.KeyStorage, TokenIntrospection: c.TokenIntrospection,
		}}, issuers...)
	} else if c.TokenIntrospection != nil {
		return nil, configErr("TokenIntrospection is set but Issuer is not: it introspects the JWTs of the top-level Issuer (entries of Issuers take IssuerConfig.TokenIntrospection)")
	}
	if len(issuers) == 0 && c.Opaque == nil {
		return nil, configErr("no issuer: set Issuer and Audience (or Issuers, or Opaque for opaque tokens only)")
	}
	seen := map[string]bool{}
	for i := range issuers {
		ic := &issuers[i]
		if ic.Issuer == "" {
			return nil, configErr("an issuer has no Issuer: tokens must name who issued them")
		}
		if seen[ic.Issuer] {
			return nil, configErr("issuer %q is listed twice", ic.Issuer)
		}
		seen[ic.Issuer] = true
		if len(ic.Audience) == 0 || slices.Contains(ic.Audience, "") {
			return nil, configErr("issuer %q has no Audience (or an empty one): without it a token minted for another API would be accepted", ic.Issuer)
		}
		if err := checkAlgorithms(ic); err != nil {
			return nil, err
		}
		sources := 0
		for _, has := range []bool{ic.JWKSURL != "", len(ic.PublicKeys) > 0, len(ic.HMACSecret) > 0} {
			if has {
				sources++
			}
		}
		if len(ic.HMACSecret) > 0 && sources > 1 {
			return nil, configErr("issuer %q mixes HMACSecret with public keys; an issuer uses one or the other", ic.Issuer)
		}
		if given := ic.Keyfunc != nil || ic.KeyStorage != nil; given && (sources > 0 || ic.Keyfunc != nil && ic.KeyStorage != nil) {
			return nil, configErr("issuer %q: Keyfunc or KeyStorage is the issuer's one key source; set it alone", ic.Issuer)
		} else if given {
			sources++
		}
		if ic.JWKSURL != "" {
			if err := checkFetchURL(ic.JWKSURL); err != nil {
				return nil, configErr("issuer %q JWKSURL: %v", ic.Issuer, err)
			}
		}
		if sources == 0 {
			if err := checkFetchURL(ic.Issuer); err != nil {
				return nil, configErr("issuer %q: no JWKSURL, PublicKeys or HMACSecret, and discovery needs an https issuer URL: %v", ic.Issuer, err)
			}
		}
		if len(ic.HMACSecret) > 0 {
			if err := checkHMACSecret(ic.HMACSecret); err != nil {
				return nil, configErr("issuer %q: %v", ic.Issuer, err)
			}
			// RFC 7518 section 3.2: a key of at least the hash's size.
			for _, alg := range ic.Algorithms {
				if need := hmacKeySize(alg); len(ic.HMACSecret) < need {
					return nil, configErr("issuer %q: %s needs an HMACSecret of at least %d bytes, not %d (RFC 7518 section 3.2)", ic.Issuer, alg, need, len(ic.HMACSecret))
				}
			}
		}
	}
	return issuers, nil
}

// registeredClaims are read by the verifier itself; a configured claim name
// may not reuse one (it would never be read, silently).
var registeredClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "cnf", "events"}

func checkClaimNames(n *ClaimNames) error {
	names := []struct{ field, name string }{
		{"SessionID", n.SessionID}, {"Scope", n.Scope}, {"Roles", n.Roles}, {"Tenant", n.Tenant},
		{"ACR", n.ACR}, {"AMR", n.AMR}, {"AuthTime", n.AuthTime},
	}
	for i, f := range names {
		if slices.Contains(registeredClaims, f.name) || f.name == "scp" && f.field != "Scope" {
			return configErr("Claims.%s %q is a claim authgate reads itself; pick another name", f.field, f.name)
		}
		if strings.HasPrefix(f.name, ".") || strings.HasSuffix(f.name, ".") || strings.Contains(f.name, "..") {
			return configErr("Claims.%s %q: a dotted path has an empty segment", f.field, f.name)
		}
		for _, r := range append(registeredClaims, "scp") {
			if strings.HasPrefix(f.name, r+".") {
				return configErr("Claims.%s %q is below %q, a claim authgate reads itself", f.field, f.name, r)
			}
		}
		for _, g := range names[:i] {
			if g.name == f.name {
				return configErr("Claims.%s and Claims.%s both name %q", g.field, f.field, f.name)
			}
			// One value cannot be read as two claims: the decoder streams.
			if strings.HasPrefix(f.name, g.name+".") || strings.HasPrefix(g.name, f.name+".") {
				return configErr("Claims.%s %q and Claims.%s %q: one is a path below the other", g.field, g.name, f.field, f.name)
			}
		}
	}
	return nil
}

func checkAlgorithms(ic *IssuerConfig) error {
	if len(ic.Algorithms) == 0 {
		ic.Algorithms = slices.Clone(defaultAlgorithms)
		if len(ic.HMACSecret) > 0 {
			ic.Algorithms = []string{"HS256"}
		}
	}
	hs, asym := false, false
	for _, a := range ic.Algorithms {
		if strings.EqualFold(a, "none") {
			return configErr("issuer %q: the algorithm \"none\" is never allowed", ic.Issuer)
		}
		if !slices.Contains(supportedAlgs, a) {
			return configErr("issuer %q: unsupported algorithm %q (supported: %s)", ic.Issuer, a, strings.Join(supportedAlgs, ", "))
		}
		if strings.HasPrefix(a, "HS") {
			hs = true
		} else {
			asym = true
		}
	}
	if hs && asym {
		return configErr("issuer %q: HS* algorithms cannot be mixed with asymmetric ones (RFC 8725 section 3.1)", ic.Issuer)
	}
	if hs && len(ic.HMACSecret) == 0 {
		return configErr("issuer %q: HS* algorithms need HMACSecret", ic.Issuer)
	}
	if asym && len(ic.HMACSecret) > 0 {
		return configErr("issuer %q: HMACSecret is set but Algorithms lists asymmetric algorithms", ic.Issuer)
	}
	return nil
}

// checkFetchURL allows https anywhere and http only to loopback addresses.
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q is plain http; keys must come over https (http is allowed on loopback only)", raw)
	}
	return fmt.Errorf("%q: scheme must be https", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validToken reports whether s is an RFC 9110 token (header or cookie name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}
