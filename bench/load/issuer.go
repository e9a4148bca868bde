package load

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audience is the audience every token of the load runs names and every
// server accepts.
const Audience = "load-api"

// Issuer is a local RS256 token issuer (2048-bit key) serving its JWKS on
// loopback. core/authtest has one too, but it needs a testing.TB; the load
// generator is a command, so this is the few lines it needs: a key, a JWKS
// document and golang-jwt to sign.
type Issuer struct {
	// URL is the issuer identifier ("iss") and the base of JWKSURL.
	URL string

	key  *rsa.PrivateKey
	kid  string
	srv  *http.Server
	jwks []byte
}

// NewIssuer generates a key and serves its JWKS on a free loopback port
// until Close.
func NewIssuer() (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	i := &Issuer{URL: "http://" + ln.Addr().String(), key: key, kid: "load-1"}
	b64 := base64.RawURLEncoding.EncodeToString
	i.jwks, err = json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": i.kid,
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(i.jwks)
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": i.URL, "jwks_uri": i.JWKSURL()})
	})
	i.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = i.srv.Serve(ln) }()
	return i, nil
}

// JWKSURL is where the key set is served.
func (i *Issuer) JWKSURL() string { return i.URL + "/jwks.json" }

// Close stops serving the key set.
func (i *Issuer) Close() error { return i.srv.Close() }

// Token signs a token for subject sub and session sid, valid from iat for
// life (a negative life makes an expired token), with the claims shape of
// the microbenchmarks: iss, aud, sub, sid, jti, iat, exp, scope, roles.
func (i *Issuer) Token(sub, sid, jti string, iat time.Time, life time.Duration) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":   i.URL,
		"aud":   Audience,
		"sub":   sub,
		"sid":   sid,
		"jti":   jti,
		"iat":   iat.Unix(),
		"exp":   iat.Add(life).Unix(),
		"scope": "orders:read orders:write",
		"roles": []string{"user"},
	})
	t.Header["kid"] = i.kid
	return t.SignedString(i.key)
}

// mint signs n tokens, spec(k) giving the k-th one's sub, sid and jti, on
// every core the process may use.
func (i *Issuer) mint(n int, spec func(k int) (sub, sid, jti string), iat time.Time, life time.Duration) ([]string, error) {
	out := make([]string, n)
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for k := w; k < n; k += len(errs) {
				sub, sid, jti := spec(k)
				if out[k], errs[w] = i.Token(sub, sid, jti, iat, life); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("minting tokens: %w", err)
		}
	}
	return out, nil
}
