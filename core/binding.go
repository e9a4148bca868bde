package core

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
)

// Sender-constrained tokens: a token whose cnf claim binds it to a DPoP key
// (RFC 9449, "jkt") or to a TLS client certificate (RFC 8705, "x5t#S256") is
// accepted only from a request that proves possession. checkBinding makes
// that decision for every token, from the verified-token cache too.

// Binding says how a principal's token was bound to its sender.
type Binding uint8

// Bindings.
const (
	// BindingNone: a bearer token; whoever holds it may use it.
	BindingNone Binding = iota
	// BindingDPoP: bound to a DPoP key, and this request's proof was signed
	// with it (Principal.Thumbprint is the key's RFC 7638 thumbprint).
	BindingDPoP
	// BindingCertificate: bound to a TLS client certificate, which this
	// request presented (Principal.Thumbprint is its SHA-256, base64url).
	BindingCertificate
)

// String returns "none", "dpop" or "certificate".
func (b Binding) String() string {
	switch b {
	case BindingNone:
		return "none"
	case BindingDPoP:
		return "dpop"
	case BindingCertificate:
		return "certificate"
	}
	return "unknown"
}

// connRequest is a Request whose framework has no *http.Request (fiber):
// what DPoP's htu check and certificate-bound tokens need beyond Request
// (adapter.ConnRequest, the same method set). For a stdRequest the core
// reads the same from the *http.Request.
type connRequest interface {
	Request
	// Path returns the path of the request target as received
	// (percent-encoded), without the query.
	Path() string
	// TLS returns the connection's TLS state, or nil over plain HTTP.
	TLS() *tls.ConnectionState
	// RemoteAddr returns the address of the peer, "host:port".
	RemoteAddr() string
}

// CertHeaderFormat is how a proxy encodes the client certificate in a header.
type CertHeaderFormat uint8

// Certificate header formats.
const (
	// CertHeaderRFC9440 is RFC 9440's Client-Cert: the DER certificate as a
	// structured-field byte sequence, ":<base64>:".
	CertHeaderRFC9440 CertHeaderFormat = iota + 1
	// CertHeaderEscapedPEM is a URL-escaped PEM certificate (nginx's
	// $ssl_client_escaped_cert, Envoy's and HAProxy's equivalents).
	CertHeaderEscapedPEM
)

// ClientCertOptions configures where a certificate-bound token's client
// certificate may come from (Config.ClientCertificates). The TLS connection
// itself is always used; a header is read only when Header, Format and
// TrustedProxies are all set, and only on requests whose peer address is in
// TrustedProxies.
type ClientCertOptions struct {
	// Header is the header the proxy sets, e.g. "Client-Cert".
	Header string
	// Format is the header's encoding.
	Format CertHeaderFormat
	// TrustedProxies are the addresses of the proxies allowed to set Header.
	TrustedProxies []netip.Prefix
}

func (o *ClientCertOptions) normalize() error {
	set := o.Header != "" || o.Format != 0 || len(o.TrustedProxies) > 0
	if !set {
		return nil
	}
	if o.Header == "" || o.Format == 0 || len(o.TrustedProxies) == 0 {
		return configErr("ClientCertificates: Header, Format and TrustedProxies must be set together")
	}
	if o.Format != CertHeaderRFC9440 && o.Format != CertHeaderEscapedPEM {
		return configErr("ClientCertificates.Format %d is not a known format", o.Format)
	}
	o.Header = textproto.CanonicalMIMEHeaderKey(o.Header)
	for _, p := range o.TrustedProxies {
		if !p.IsValid() {
			return configErr("ClientCertificates.TrustedProxies holds an invalid prefix")
		}
	}
	return nil
}

// maxCertHeader bounds a certificate header (a certificate chain is not
// accepted, one certificate is a few KiB).
const maxCertHeader = 16 << 10

var (
	errCertMissing  = errors.New("certificate-bound token without a client certificate")
	errCertMismatch = errors.New("client certificate does not match the token's cnf x5t#S256")
	errCnfUnknown   = errors.New("cnf names a confirmation method authgate cannot check")
)

// connInfo is what the binding checks read of the request's connection.
type connInfo struct {
	scheme, host, path string
	tls                *tls.ConnectionState
	remote             string
	ok                 bool // the adapter provides it
}

func requestConn(r Request) connInfo {
	if s, ok := r.(stdRequest); ok {
		hr := s.StdRequest()
		ci := connInfo{host: hr.Host, tls: hr.TLS, remote: hr.RemoteAddr, scheme: "http", ok: true}
		if hr.URL != nil {
			ci.path = hr.URL.EscapedPath()
		}
		if hr.TLS != nil {
			ci.scheme = "https"
		}
		return ci
	}
	if c, ok := r.(connRequest); ok {
		ci := connInfo{host: c.Host(), path: c.Path(), tls: c.TLS(), remote: c.RemoteAddr(), scheme: "http", ok: true}
		if ci.tls != nil {
			ci.scheme = "https"
		}
		return ci
	}
	return connInfo{}
}

// isDPoPScheme reports whether the Authorization field that extract took a
// token from (so one well-formed line) has the scheme DPoP.
func isDPoPScheme(vals []string) bool {
	return len(vals) == 1 && hasDPoPPrefix(trimOWS(vals[0]))
}

// checkBinding applies the token's cnf and its issuer's DPoP mode to the
// request: a bound token needs its proof (DPoP) or its certificate, a DPoP
// request needs a DPoP-bound token, and DPoPRequired refuses every token
// that is not DPoP-bound. On success it sets p.Binding and p.Thumbprint.
func (a *Authenticator) checkBinding(ctx context.Context, r Request, tok string, p *Principal, viaDPoP bool) error {
	mode := a.issuerMode(p)
	if p.cnfOther {
		return invalid(errCnfUnknown.Error())
	}
	if p.cnfX5T != "" {
		if err := a.checkCertificate(r, p.cnfX5T); err != nil {
			return err
		}
		p.Binding, p.Thumbprint = BindingCertificate, p.cnfX5T
	}
	switch {
	case p.cnfJKT != "":
		if mode == DPoPOff || a.dpop == nil {
			return newError(ErrInvalidToken, errDPoPOff)
		}
		if !viaDPoP {
			return dpopError(ErrInvalidToken, errDPoPDowngrade)
		}
		if err := a.checkProof(ctx, r, tok, p.cnfJKT); err != nil {
			return err
		}
		p.Binding, p.Thumbprint = BindingDPoP, p.cnfJKT
	case viaDPoP:
		return dpopError(ErrInvalidToken, errDPoPUnbound)
	case mode == DPoPRequired:
		return dpopError(ErrInvalidToken, errDPoPRequired)
	}
	return nil
}

// dpopError is a refusal whose challenge is the DPoP one.
func dpopError(kind, cause error) *Error {
	e := newError(kind, cause)
	e.viaDPoP = true
	return e
}

// checkProof verifies the request's DPoP proof for the token bound to jkt,
// and records it as used.
func (a *Authenticator) checkProof(ctx context.Context, r Request, tok, jkt string) error {
	hs := r.Header("Dpop")
	switch len(hs) {
	case 0:
		return dpopError(ErrInvalidDPoPProof, errProofMissing)
	case 1:
	default:
		return dpopError(ErrInvalidRequest, errProofRepeated)
	}
	ci := requestConn(r)
	if !ci.ok {
		return newError(ErrMisconfigured, errProofNoURI)
	}
	uri, ok := requestURI(a.dpop.origin, ci.scheme, ci.host, ci.path)
	if !ok {
		return dpopError(ErrInvalidDPoPProof, errProofHTU)
	}
	pr, err := parseProof(trimOWS(hs[0]))
	if err != nil {
		return dpopError(ErrInvalidDPoPProof, err)
	}
	until, err := a.dpop.check(pr, proofRequest{method: r.Method(), uri: uri, token: tok, jkt: jkt})
	if err != nil {
		if err == errProofNonce {
			return dpopError(ErrUseDPoPNonce, err)
		}
		return dpopError(ErrInvalidDPoPProof, err)
	}
	// Last, so that only proofs that passed every other check take room.
	first, err := a.dpop.replay.FirstUse(ctx, "dpop:"+replayKey(jkt, pr.jti), until)
	if err != nil {
		return dpopError(ErrUnavailable, errors.Join(errors.New("DPoP replay cache unavailable"), err))
	}
	if !first {
		return dpopError(ErrInvalidDPoPProof, errProofReplayed)
	}
	return nil
}

// checkCertificate compares the request's client certificate with x5t.
func (a *Authenticator) checkCertificate(r Request, x5t string) error {
	ci := requestConn(r)
	var der []byte
	if ci.tls != nil && len(ci.tls.PeerCertificates) > 0 {
		der = ci.tls.PeerCertificates[0].Raw
	} else if o := a.cfg.ClientCertificates; o.Header != "" && ci.ok && a.trustedProxy(ci.remote) {
		var err error
		if der, err = certFromHeader(r.Header(o.Header), o.Format); err != nil {
			return newError(ErrInvalidToken, err)
		}
	}
	if der == nil {
		return newError(ErrInvalidToken, errCertMissing)
	}
	d := sha256.Sum256(der)
	if !hmac.Equal([]byte(base64.RawURLEncoding.EncodeToString(d[:])), []byte(x5t)) {
		return newError(ErrInvalidToken, errCertMismatch)
	}
	return nil
}

func (a *Authenticator) trustedProxy(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.cfg.ClientCertificates.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// certFromHeader decodes one certificate from a proxy's header; a header
// that is absent yields nil, one that is malformed an error.
func certFromHeader(vals []string, f CertHeaderFormat) ([]byte, error) {
	switch len(vals) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, errors.New("client certificate header repeated")
	}
	v := trimOWS(vals[0])
	if v == "" {
		return nil, nil
	}
	if len(v) > maxCertHeader {
		return nil, errors.New("client certificate header too large")
	}
	var der []byte
	switch f {
	case CertHeaderRFC9440:
		if len(v) < 2 || v[0] != ':' || v[len(v)-1] != ':' {
			return nil, errors.New("client certificate header is not a byte sequence")
		}
		b, err := base64.StdEncoding.Strict().DecodeString(v[1 : len(v)-1])
		if err != nil {
			return nil, errors.New("client certificate header is not base64")
		}
		der = b
	case CertHeaderEscapedPEM:
		s, err := url.QueryUnescape(v)
		if err != nil {
			return nil, errors.New("client certificate header is not URL-escaped")
		}
		blk, rest := pem.Decode([]byte(s))
		if blk == nil || blk.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) > 0 {
			return nil, errors.New("client certificate header is not one PEM certificate")
		}
		der = blk.Bytes
	}
	if _, err := x509.ParseCertificate(der); err != nil {
		return nil, errors.New("client certificate header holds no certificate")
	}
	return der, nil
}
