package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"time"
)

// ClientCert is a self-signed TLS client certificate, for tokens bound to
// it (RFC 8705 section 3, Issuer.CertBoundToken).
type ClientCert struct {
	// TLS is the certificate and its key, for a tls.Config's Certificates.
	TLS tls.Certificate
	// DER is the certificate.
	DER []byte
	// X5T is base64url(SHA-256(DER)), the token's cnf["x5t#S256"].
	X5T string
}

// NewClientCert makes a self-signed ECDSA P-256 client certificate for cn,
// valid for a day.
func NewClientCert(cn string) *ClientCert {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{cn},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		panic(err)
	}
	d := sha256.Sum256(der)
	return &ClientCert{TLS: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, DER: der, X5T: b64(d[:])}
}

// CertBoundToken is Token with cnf["x5t#S256"] naming c: a token bound to
// the client certificate c (RFC 8705 section 3.1).
func (i *Issuer) CertBoundToken(c *ClientCert, overrides Claims) string {
	cl := Claims{"cnf": map[string]any{"x5t#S256": c.X5T}}
	for name, v := range overrides {
		cl[name] = v
	}
	return i.Token(cl)
}
