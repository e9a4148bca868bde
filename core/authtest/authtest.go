// Package authtest is a real token issuer for tests: it holds RSA, EC and
// Ed25519 keys, serves them as a JWKS with OIDC discovery from an
// httptest.Server, rotates them, and mints tokens with any claims, including
// malformed ones. Nothing is mocked: an Authenticator pointed at it fetches,
// parses and verifies exactly as it would in production.
//
//	iss := authtest.New(t)
//	auth, err := core.New(ctx, iss.Config())
//	tok := iss.Token(authtest.Claims{"sub": "user-1", "sid": "s-1"})
package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
)

// DefaultAudience is the audience Config accepts and Token puts in tokens.
const DefaultAudience = "test-api"

// Key is one signing key of the issuer.
type Key struct {
	// ID is the key's kid.
	ID string
	// Alg is the JWS algorithm the key signs with: RS256, PS256, ES256,
	// ES384, ES512 or EdDSA.
	Alg string
	// Private is the private key (*rsa.PrivateKey, *ecdsa.PrivateKey,
	// ed25519.PrivateKey).
	Private crypto.Signer
}

// Issuer is a running test issuer. Its methods are safe for concurrent use.
type Issuer struct {
	// URL is both the issuer identifier ("iss") and the base of its
	// discovery document.
	URL string
	// Server is the underlying HTTP server.
	Server *httptest.Server

	mu       sync.Mutex
	keys     []*Key // published, in order
	signer   *Key   // the key Token signs with
	jwksBody []byte // when set, served instead of the real JWKS
	handler  http.Handler
	now      func() time.Time
	fetches  atomic.Int64
	seq      int
}

// Option configures New.
type Option func(*Issuer)

// WithAlg makes the first key (and Token's signer) a key of alg instead of
// RS256.
func WithAlg(alg string) Option {
	return func(i *Issuer) {
		k := i.newKey(alg)
		i.keys = []*Key{k}
		i.signer = k
	}
}

// WithClock sets the clock for iat, nbf and exp defaults.
func WithClock(now func() time.Time) Option { return func(i *Issuer) { i.now = now } }

// New starts an issuer with one RS256 key, closed when t ends.
func New(t testing.TB, opts ...Option) *Issuer {
	t.Helper()
	i := &Issuer{now: time.Now}
	// Everything is set before the server starts: a request may arrive at
	// once (a client of an earlier test whose server had the same port).
	i.Server = httptest.NewUnstartedServer(http.HandlerFunc(i.serve))
	i.URL = "http://" + i.Server.Listener.Addr().String()
	for _, o := range opts {
		o(i)
	}
	if i.signer == nil {
		k := i.newKey("RS256")
		i.keys = []*Key{k}
		i.signer = k
	}
	i.Server.Start()
	t.Cleanup(i.Server.Close)
	return i
}

// Config returns a core.Config that trusts this issuer for DefaultAudience,
// finding its keys by OIDC discovery.
func (i *Issuer) Config() core.Config {
	return core.Config{Issuer: i.URL, Audience: []string{DefaultAudience}}
}

// IssuerConfig returns the same trust as Config, as a core.IssuerConfig.
func (i *Issuer) IssuerConfig() core.IssuerConfig {
	return core.IssuerConfig{Issuer: i.URL, Audience: []string{DefaultAudience}}
}

// JWKSURL is where the key set is served.
func (i *Issuer) JWKSURL() string { return i.URL + "/jwks.json" }

// Fetches counts the JWKS requests served so far.
func (i *Issuer) Fetches() int64 { return i.fetches.Load() }

func (i *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	h := i.handler
	i.mu.Unlock()
	if h != nil {
		h.ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server":
		// OIDC discovery, and RFC 8414 metadata (what an MCP client reads
		// from a protected resource's authorization_servers): the same
		// two members.
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":   i.URL,
			"jwks_uri": i.JWKSURL(),
		})
	case "/jwks.json":
		i.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(i.JWKS())
	default:
		http.NotFound(w, r)
	}
}

// SetHandler replaces the issuer's HTTP handler (for fault tests: hanging,
// huge or garbage answers); nil restores the real one.
func (i *Issuer) SetHandler(h http.Handler) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.handler = h
}

// SetJWKS serves body as the key set instead of the issuer's keys; nil
// restores the real key set.
func (i *Issuer) SetJWKS(body []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksBody = body
}

// JWKS returns the key set document served now.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.jwksBody != nil {
		return i.jwksBody
	}
	keys := make([]map[string]any, 0, len(i.keys))
	for _, k := range i.keys {
		keys = append(keys, PublicJWK(k))
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// Signer returns the key Token signs with.
func (i *Issuer) Signer() *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.signer
}

// Keys returns the published keys.
func (i *Issuer) Keys() []*Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]*Key(nil), i.keys...)
}

// Rotate publishes a new key of alg and makes it the signer; the old keys
// stay published until RemoveKey.
func (i *Issuer) Rotate(alg string) *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	k := i.newKey(alg)
	i.keys = append(i.keys, k)
	i.signer = k
	return k
}

// AddKey publishes a new key of alg without making it the signer.
func (i *Issuer) AddKey(alg string) *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	k := i.newKey(alg)
	i.keys = append(i.keys, k)
	return k
}

// RemoveKey stops publishing the key with id kid.
func (i *Issuer) RemoveKey(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := i.keys[:0]
	for _, k := range i.keys {
		if k.ID != kid {
			out = append(out, k)
		}
	}
	i.keys = out
}

// newKey generates a key; callers hold mu (or own i exclusively).
func (i *Issuer) newKey(alg string) *Key {
	i.seq++
	k := &Key{ID: fmt.Sprintf("key-%d-%s", i.seq, alg), Alg: alg, Private: GenerateKey(alg)}
	return k
}

// GenerateKey makes a fresh private key fit for alg.
func GenerateKey(alg string) crypto.Signer {
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA", "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("authtest: unsupported alg " + alg)
	}
	if err != nil {
		panic(err)
	}
	return k
}

// PublicJWK returns the public JWK of k, with kid, alg and use "sig".
func PublicJWK(k *Key) map[string]any {
	m := map[string]any{"kid": k.ID, "alg": k.Alg, "use": "sig"}
	switch p := k.Private.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(p.N.Bytes())
		m["e"] = b64(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		m["kty"] = "EC"
		size := (p.Curve.Params().BitSize + 7) / 8
		m["crv"] = p.Curve.Params().Name
		m["x"] = b64(p.X.FillBytes(make([]byte, size)))
		m["y"] = b64(p.Y.FillBytes(make([]byte, size)))
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64(p)
	}
	return m
}

// PublicPEM returns the PEM "PUBLIC KEY" block of k.
func PublicPEM(k *Key) string {
	der, err := x509.MarshalPKIXPublicKey(k.Private.Public())
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Claims are token claims. In Token, they are laid over the defaults; a nil
// value removes a default claim.
type Claims map[string]any

// Defaults returns the claims Token starts from: iss, aud, sub "user-1",
// sid "session-1", jti, iat now, exp in five minutes.
func (i *Issuer) Defaults() Claims {
	now := i.now()
	i.mu.Lock()
	i.seq++
	jti := fmt.Sprintf("jti-%d", i.seq)
	i.mu.Unlock()
	return Claims{
		"iss": i.URL,
		"aud": DefaultAudience,
		"sub": "user-1",
		"sid": "session-1",
		"jti": jti,
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
	}
}

// Token mints a token signed by the current signer: the defaults with
// overrides laid over them.
func (i *Issuer) Token(overrides Claims) string {
	c := i.Defaults()
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return i.Sign(i.Signer(), nil, c)
}

// Sign signs claims with k. header adds to (or, with nil values, removes
// from) the default header {"alg": k.Alg, "typ": "JWT", "kid": k.ID}.
func (i *Issuer) Sign(k *Key, header map[string]any, claims Claims) string {
	h := map[string]any{"alg": k.Alg, "typ": "JWT", "kid": k.ID}
	for name, v := range header {
		if v == nil {
			delete(h, name)
		} else {
			h[name] = v
		}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		panic(err)
	}
	cb, err := json.Marshal(map[string]any(claims))
	if err != nil {
		panic(err)
	}
	return SignRaw(k, hb, cb)
}

// SignRaw signs the exact header and payload bytes with k, under the alg of
// the header if it names one k can make, else k.Alg. Use it to build tokens
// with duplicate names, odd numbers or invalid UTF-8 that a JSON encoder would
// not produce.
func SignRaw(k *Key, headerJSON, payloadJSON []byte) string {
	alg := k.Alg
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(headerJSON, &h) == nil && h.Alg != "" {
		alg = h.Alg
	}
	input := b64(headerJSON) + "." + b64(payloadJSON)
	return input + "." + b64(SignBytes(k.Private, alg, []byte(input)))
}

// SignBytes signs data with key under alg; it panics when they do not fit.
// RSA-PSS uses a salt as long as the hash.
func SignBytes(key crypto.Signer, alg string, data []byte) []byte {
	var h crypto.Hash
	switch alg[2:] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	}
	digest := func() []byte {
		switch h {
		case crypto.SHA256:
			s := sha256.Sum256(data)
			return s[:]
		case crypto.SHA384:
			s := sha512.Sum384(data)
			return s[:]
		default:
			s := sha512.Sum512(data)
			return s[:]
		}
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		var (
			sig []byte
			err error
		)
		if alg[0] == 'P' {
			sig, err = rsa.SignPSS(rand.Reader, k, h, digest(), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest())
		}
		if err != nil {
			panic(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest())
		if err != nil {
			panic(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	case ed25519.PrivateKey:
		return ed25519.Sign(k, data)
	}
	panic(fmt.Sprintf("authtest: cannot sign %s with %T", alg, key))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
