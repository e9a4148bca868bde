package core_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// TestConfigRefused pins OP-06, KS-07, KS-18 and AL-12: New refuses every
// unsafe or unworkable configuration with an error wrapping ErrConfig whose
// text names what to fix. No network is involved: each config fails before
// any fetch.
func TestConfigRefused(t *testing.T) {
	ecKey := &authtest.Key{ID: "e", Alg: "ES256", Private: authtest.GenerateKey("ES256")}
	edKey := &authtest.Key{ID: "d", Alg: "EdDSA", Private: authtest.GenerateKey("EdDSA")}
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakDER, _ := x509.MarshalPKIXPublicKey(&weakRSA.PublicKey)
	weakPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: weakDER}))
	privDER, _ := x509.MarshalPKCS8PrivateKey(ecKey.Private)
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	privJWK := authtest.PublicJWK(ecKey)
	privJWK["d"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	privJWKJSON, _ := json.Marshal(privJWK)
	octJWK := `{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"}`
	good := "Zx8Qm3Vt7Lp2Wr9Kd4Hs6Ny1Bc5Fj0Ga8Ue3Io7Py"

	base := func() core.Config {
		return core.Config{Issuer: "https://id.example.com", Audience: []string{"api"}, PublicKeys: []string{authtest.PublicPEM(ecKey)}}
	}
	hmacCfg := func(secret string) core.Config {
		return core.Config{Issuer: "https://id.example.com", Audience: []string{"api"}, HMACSecret: []byte(secret)}
	}
	with := func(f func(*core.Config)) core.Config {
		c := base()
		f(&c)
		return c
	}
	cases := []struct {
		name string
		cfg  core.Config
		says string // a word of the error that tells what to fix
	}{
		{"OP-06 no issuer at all", core.Config{}, "Issuer"},
		{"OP-06 issuer without Audience (auth0/go-jwt-middleware #183)", with(func(c *core.Config) { c.Audience = nil }), "Audience"},
		{"OP-06 empty audience string", with(func(c *core.Config) { c.Audience = []string{""} }), "Audience"},
		{"OP-06 Audience without Issuer", core.Config{Audience: []string{"api"}, PublicKeys: base().PublicKeys}, "Issuer"},
		{"OP-06 none in the allow-list (RFC 8725 3.1)", with(func(c *core.Config) { c.Algorithms = []string{"ES256", "none"} }), "none"},
		{"OP-06 None in the allow-list", with(func(c *core.Config) { c.Algorithms = []string{"None"} }), "none"},
		{"OP-06 unsupported algorithm", with(func(c *core.Config) { c.Algorithms = []string{"RS1"} }), "unsupported"},
		{"OP-06 lower-case algorithm name", with(func(c *core.Config) { c.Algorithms = []string{"es256"} }), "unsupported"},
		{"OP-06 HS256 mixed with RS256 for one issuer (RFC 8725 3.1)", with(func(c *core.Config) { c.Algorithms = []string{"RS256", "HS256"} }), "mixed"},
		{"OP-06 HS256 without a secret", with(func(c *core.Config) { c.Algorithms = []string{"HS256"} }), "HMACSecret"},
		{"OP-06 HMACSecret beside PublicKeys", with(func(c *core.Config) { c.HMACSecret = []byte(good) }), "HMACSecret"},
		{"OP-06 HMACSecret with an asymmetric allow-list", func() core.Config { c := hmacCfg(good); c.Algorithms = []string{"RS256"}; return c }(), "HMACSecret"},
		{"AL-12 empty HMAC secret is not HMAC: no keys, no https issuer", core.Config{Issuer: "http://id.example.com", Audience: []string{"api"}, HMACSecret: []byte{}}, "https"},
		{"AL-12 secret shorter than 32 bytes (RFC 7518 3.2)", hmacCfg("0123456789abcdefghijklmnopqrstu"), "32"},
		{"AL-12 one-byte secret", hmacCfg("1"), "32"},
		{"AL-12 HS512 with a 42-byte secret (RFC 7518 3.2: at least the hash size)", func() core.Config { c := hmacCfg(good); c.Algorithms = []string{"HS512"}; return c }(), "64"},
		{"AL-12 HS384 with a 42-byte secret", func() core.Config { c := hmacCfg(good); c.Algorithms = []string{"HS256", "HS384"}; return c }(), "48"},
		{"AL-12 listed weak secret padded to length", hmacCfg("your-256-bit-secret-your-256-bit"), "weak"},
		{"AL-12 'secret' repeated", hmacCfg("secretsecretsecretsecretsecretse"), "secret"},
		{"AL-12 low-variety secret", hmacCfg(strings.Repeat("ab", 20)), "random"},
		{"KS-18 a PEM public key given as HMAC secret (CVE-2023-48223)", hmacCfg(authtest.PublicPEM(ecKey)), "PEM"},
		{"KS-18 a JWK given as HMAC secret", hmacCfg(`{"kty":"EC","crv":"P-256","x":"abcdefabcdefabcdef","y":"abc"}`), "JWK"},
		{"OP-06 Leeway above 5m", with(func(c *core.Config) { c.Leeway = 6 * time.Minute }), "Leeway"},
		{"OP-06 negative Leeway", with(func(c *core.Config) { c.Leeway = -time.Second }), "Leeway"},
		{"OP-06 MaxTokenSize absurdly large", with(func(c *core.Config) { c.MaxTokenSize = 1 << 30 }), "MaxTokenSize"},
		{"OP-06 MaxTokenSize too small to hold a JWT", with(func(c *core.Config) { c.MaxTokenSize = 100 }), "MaxTokenSize"},
		{"OP-06 negative MaxTokenSize", with(func(c *core.Config) { c.MaxTokenSize = -1 }), "MaxTokenSize"},
		{"OP-06 negative FetchTimeout", with(func(c *core.Config) { c.FetchTimeout = -time.Second }), "FetchTimeout"},
		{"OP-06 FetchTimeout above a minute", with(func(c *core.Config) { c.FetchTimeout = 2 * time.Minute }), "FetchTimeout"},
		{"OP-06 UnknownKeyRefresh below 1s (HD-04)", with(func(c *core.Config) { c.UnknownKeyRefresh = time.Millisecond }), "UnknownKeyRefresh"},
		{"OP-06 MaxJWKSSize below 1 KiB", with(func(c *core.Config) { c.MaxJWKSSize = 10 }), "MaxJWKSSize"},
		{"OP-06 MaxJWKSSize above 64 MiB", with(func(c *core.Config) { c.MaxJWKSSize = 1 << 30 }), "MaxJWKSSize"},
		{"OP-06 MaxTokenLifetime above 30 days", with(func(c *core.Config) { c.MaxTokenLifetime = 1000 * time.Hour }), "MaxTokenLifetime"},
		{"OP-06 MaxTokenLifetime below a minute", with(func(c *core.Config) { c.MaxTokenLifetime = time.Second }), "MaxTokenLifetime"},
		{"KS-07 JWKSURL over plain http to a public host (RFC 8725 3.8)", with(func(c *core.Config) { c.PublicKeys = nil; c.JWKSURL = "http://id.example.com/jwks" }), "https"},
		{"KS-07 discovery on a plain http issuer", with(func(c *core.Config) { c.PublicKeys = nil; c.Issuer = "http://id.example.com" }), "https"},
		{"KS-07 JWKSURL with a file scheme", with(func(c *core.Config) { c.PublicKeys = nil; c.JWKSURL = "file:///etc/jwks.json" }), "https"},
		{"KS-07 JWKSURL with userinfo", with(func(c *core.Config) { c.PublicKeys = nil; c.JWKSURL = "https://user:pw@id.example.com/jwks" }), "URL"},
		{"KS-07 relative JWKSURL", with(func(c *core.Config) { c.PublicKeys = nil; c.JWKSURL = "/jwks.json" }), "URL"},
		{"OP-06 issuer listed twice", with(func(c *core.Config) {
			c.Issuers = []core.IssuerConfig{{Issuer: c.Issuer, Audience: []string{"b"}, PublicKeys: c.PublicKeys}}
		}), "twice"},
		{"OP-06 second issuer without audience", with(func(c *core.Config) {
			c.Issuers = []core.IssuerConfig{{Issuer: "https://other.example.com", PublicKeys: c.PublicKeys}}
		}), "Audience"},
		{"KS-18 a private key PEM where a public key is expected", with(func(c *core.Config) { c.PublicKeys = []string{privPEM} }), "PRIVATE KEY"},
		{"KS-18 a JWK with private members", with(func(c *core.Config) { c.PublicKeys = []string{string(privJWKJSON)} }), "private"},
		{"KS-18 an oct JWK as a public key", with(func(c *core.Config) { c.PublicKeys = []string{octJWK} }), "oct"},
		{"KS-18 a 1024-bit RSA key (RFC 7518 3.3)", with(func(c *core.Config) { c.PublicKeys = []string{weakPEM}; c.Algorithms = []string{"RS256"} }), "2048"},
		{"KS-18 a key that fits no allowed algorithm", with(func(c *core.Config) {
			c.PublicKeys = []string{authtest.PublicPEM(edKey)}
			c.Algorithms = []string{"ES256"}
		}), "algorithm"},
		{"KS-18 two kid-less keys for one algorithm (AL-05: tokens could name neither)", with(func(c *core.Config) {
			c.PublicKeys = []string{authtest.PublicPEM(ecKey), authtest.PublicPEM(&authtest.Key{Alg: "ES256", Private: authtest.GenerateKey("ES256")})}
		}), "kid"},
		{"KS-18 PEM followed by garbage", with(func(c *core.Config) { c.PublicKeys = []string{authtest.PublicPEM(ecKey) + "garbage"} }), "trailing"},
		{"KS-18 neither PEM nor JWK", with(func(c *core.Config) { c.PublicKeys = []string{"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"} }), "neither"},
		{"KS-18 truncated PEM", with(func(c *core.Config) { c.PublicKeys = []string{authtest.PublicPEM(ecKey)[:60]} }), "PublicKeys"},
		{"KS-18 a JWK Set holding an unusable key", with(func(c *core.Config) { c.PublicKeys = []string{`{"keys":[` + octJWK + `]}`} }), "oct"},
		{"invalid cookie name", with(func(c *core.Config) { c.CookieName = "a b" }), "CookieName"},
		{"HeaderName Authorization", with(func(c *core.Config) { c.HeaderName = "authorization" }), "HeaderName"},
		{"invalid header name", with(func(c *core.Config) { c.HeaderName = "X:Token" }), "HeaderName"},
		{"unknown source", with(func(c *core.Config) { c.Sources = []core.Source{9} }), "Sources"},
		{"repeated source", with(func(c *core.Config) { c.Sources = []core.Source{core.SourceHeader, core.SourceHeader} }), "Sources"},
		{"SourceCustomHeader without HeaderName", with(func(c *core.Config) { c.Sources = []core.Source{core.SourceCustomHeader} }), "HeaderName"},
		{"SourceQuery without QueryParam", with(func(c *core.Config) { c.Sources = []core.Source{core.SourceQuery} }), "QueryParam"},
		{"trusted origin with a path", with(func(c *core.Config) { c.TrustedOrigins = []string{"https://app.example.com/x"} }), "TrustedOrigins"},
		{"claim name that is a registered claim", with(func(c *core.Config) { c.Claims.SessionID = "sub" }), "SessionID"},
		{"two claim names alike", with(func(c *core.Config) { c.Claims.Roles = "groups"; c.Claims.Tenant = "groups" }), "groups"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := core.New(context.Background(), tc.cfg)
			if err == nil {
				a.Close()
				t.Fatal("New accepted the config")
			}
			if !errors.Is(err, core.ErrConfig) {
				t.Fatalf("error %v does not wrap ErrConfig", err)
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.says)) {
				t.Fatalf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

// TestConfigAccepted shows the positive side: safe configurations work,
// including every static key form of KS-18.
func TestConfigAccepted(t *testing.T) {
	ecKey := &authtest.Key{ID: "e", Alg: "ES256", Private: authtest.GenerateKey("ES256")}
	rsaKey := &authtest.Key{ID: "r", Alg: "RS256", Private: authtest.GenerateKey("RS256")}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issuer"}, NotBefore: time.Unix(1_600_000_000, 0), NotAfter: time.Unix(4_000_000_000, 0)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, ecKey.Private.Public(), ecKey.Private)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}))
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsaKey.Private.Public().(*rsa.PublicKey))}))
	jwkJSON, _ := json.Marshal(authtest.PublicJWK(rsaKey))
	setJSON, _ := json.Marshal(map[string]any{"keys": []any{authtest.PublicJWK(ecKey)}})
	for name, keys := range map[string][]string{
		"KS-18 SPKI PEM":                    {authtest.PublicPEM(ecKey)},
		"KS-18 PKCS#1 PEM":                  {pkcs1},
		"KS-18 certificate PEM":             {certPEM},
		"KS-18 several PEM blocks in one":   {authtest.PublicPEM(ecKey) + pkcs1},
		"KS-18 JWK JSON":                    {string(jwkJSON)},
		"KS-18 JWK Set JSON":                {string(setJSON)},
		"KS-18 PEM with surrounding spaces": {"\n  " + authtest.PublicPEM(ecKey) + "\n\n"},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := core.New(context.Background(), core.Config{Issuer: "https://id.example.com", Audience: []string{"api"}, PublicKeys: keys})
			if err != nil {
				t.Fatal(err)
			}
			a.Close()
		})
	}
	t.Run("HMAC with a strong secret", func(t *testing.T) {
		a, err := core.New(context.Background(), core.Config{Issuer: "https://id.example.com", Audience: []string{"api"},
			HMACSecret: []byte("Zx8Qm3Vt7Lp2Wr9Kd4Hs6Ny1Bc5Fj0Ga8Ue3Io7PyQe5Rt2Yu8Io1Pa4Sd7Fg0Hj3Kl"), Algorithms: []string{"HS256", "HS512"}})
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
	})
}
