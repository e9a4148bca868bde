package adaptertest

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// Sender-constrained tokens over HTTP: DPoP (RFC 9449) and certificate-bound
// tokens (RFC 8705), on every adapter. A proof names the URI it was made
// for and is accepted once, so these cases are built when their server is
// up, right before they are sent; the answers are checked as the main
// table's are (status, every header, body, handler call, principal).

// DPoPNonceSecret is the nonce secret of the suite's "nonce" configuration.
var DPoPNonceSecret = []byte("adaptertest DPoP nonce secret, 32+ bytes")

// PublicOrigin is the DPoPOptions.PublicOrigin of the suite's "origin"
// configuration: the origin clients reach the API at through a proxy.
const PublicOrigin = "https://api.example.com"

// ClientCertHeader is the header a trusted proxy puts the client
// certificate in, in the suite's "certproxy" (RFC 9440) and "certpem"
// (escaped PEM) configurations.
const ClientCertHeader = "Client-Cert"

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// dpopVariants are the configurations of the sender-constrained cases.
var dpopVariants = map[string]func(*core.Config){
	"off":      func(*core.Config) {},
	"allowed":  func(c *core.Config) { c.DPoP.Mode = core.DPoPAllowed },
	"required": func(c *core.Config) { c.DPoP.Mode = core.DPoPRequired },
	"nonce": func(c *core.Config) {
		c.DPoP.Mode, c.DPoP.NonceSecret = core.DPoPAllowed, DPoPNonceSecret
	},
	"origin": func(c *core.Config) { c.DPoP.Mode, c.DPoP.PublicOrigin = core.DPoPAllowed, PublicOrigin },
	"certproxy": func(c *core.Config) {
		c.ClientCertificates = core.ClientCertOptions{Header: ClientCertHeader, Format: core.CertHeaderRFC9440, TrustedProxies: loopback}
	},
	"certpem": func(c *core.Config) {
		c.ClientCertificates = core.ClientCertOptions{Header: ClientCertHeader, Format: core.CertHeaderEscapedPEM, TrustedProxies: loopback}
	},
	"certuntrusted": func(c *core.Config) {
		c.ClientCertificates = core.ClientCertOptions{Header: ClientCertHeader, Format: core.CertHeaderRFC9440,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	},
}

// dpopAlgs is the algs of the DPoP challenge with the default algorithms.
const dpopAlgs = `algs="ES256 EdDSA PS256 RS256"`

// dpopRefusal is a refusal answered in the DPoP challenge (RFC 9449 section
// 7.1): the error in the DPoP challenge, and a bare Bearer challenge before
// it when bearer tokens are accepted too.
func dpopRefusal(status int, code, desc string, bearer bool) want {
	w := refusal(status, code, desc, "", "unauthorized")
	w.challenge = `DPoP realm="` + Realm + `"`
	if code != "" {
		w.challenge += `, error="` + code + `", error_description="` + desc + `"`
	}
	w.challenge += ", " + dpopAlgs
	if bearer {
		w.challenge = `Bearer realm="` + Realm + `"` + "\n" + w.challenge
	}
	return w
}

var (
	badProof    = dpopRefusal(401, "invalid_dpop_proof", "the DPoP proof is invalid", true)
	useNonce    = withNonce(dpopRefusal(401, "use_dpop_nonce", "the resource server requires a nonce in the DPoP proof", true))
	dpopInvalid = dpopRefusal(401, "invalid_token", "the access token is invalid", true)
	dpopBadReq  = dpopRefusal(400, "invalid_request", "the request carries malformed or ambiguous credentials", true)
)

func withNonce(w want) want { w.nonce = true; return w }

// dpopFixture holds the keys, tokens and servers of the DPoP cases.
type dpopFixture struct {
	iss             *authtest.Issuer
	es, ed, other   *authtest.DPoPKey
	bound, boundEd  string // tokens bound to es and ed
	plain           string // a bearer token
	cert, otherCert *authtest.ClientCert
	certBound       string // a token bound to cert
	// tokens bound to es that meet StepUp, and fall short of it (acr)
	stepUpMet, stepUpShort string
	addr                   map[string]string
	envs                   map[string]*Env
	sessions               map[string]*Sessions
	runners                map[string]*runner
}

// the suite's claims, so that the principal is fromHeader's
var dpopClaims = authtest.Claims{"sid": SessionActive, "scope": "profile", "roles": []string{"user"}}

func (f *dpopFixture) url(variant, path string) string { return "http://" + f.addr[variant] + path }

// proof is a valid proof of k for method and path on variant's server,
// with override applied to its claims.
func (f *dpopFixture) proof(k *authtest.DPoPKey, variant, method, path, tok string, override authtest.Claims) string {
	return k.Proof(method, f.url(variant, path), tok, override)
}

func dpopWho(k *authtest.DPoPKey) *who {
	return fromHeader.with(func(w *who) { w.binding, w.thumb = core.BindingDPoP, k.JKT })
}

func certWho(c *authtest.ClientCert) *who {
	return fromHeader.with(func(w *who) { w.binding, w.thumb = core.BindingCertificate, c.X5T })
}

// dpopCase is one request of the sender-constrained table.
type dpopCase struct {
	name, source, variant string
	method, path          string
	header                func() []string // built right before the request is sent
	// replay: the same request (same proof) is sent first and must be
	// admitted; the case's want is for the second.
	replay bool
	want   want
}

// newDPoPFixture makes the keys, certificates and tokens of the cases.
func newDPoPFixture(iss *authtest.Issuer) *dpopFixture {
	f := &dpopFixture{
		iss: iss, es: authtest.NewDPoPKey("ES256"), ed: authtest.NewDPoPKey("EdDSA"), other: authtest.NewDPoPKey("ES256"),
		cert: authtest.NewClientCert("client-1"), otherCert: authtest.NewClientCert("client-2"),
		addr: map[string]string{}, envs: map[string]*Env{}, runners: map[string]*runner{}, sessions: map[string]*Sessions{},
	}
	f.bound = iss.BoundToken(f.es, dpopClaims)
	f.boundEd = iss.BoundToken(f.ed, dpopClaims)
	f.plain = iss.Token(dpopClaims)
	f.certBound = iss.CertBoundToken(f.cert, dpopClaims)
	step := func(acr string) authtest.Claims {
		c := authtest.Claims{"acr": acr, "auth_time": time.Now().Unix() - 60}
		for k, v := range dpopClaims {
			c[k] = v
		}
		return c
	}
	f.stepUpMet = iss.BoundToken(f.es, step("urn:mfa"))
	f.stepUpShort = iss.BoundToken(f.es, step("urn:pwd"))
	return f
}

func runDPoP(t *testing.T, h Harness, iss *authtest.Issuer) {
	f := newDPoPFixture(iss)
	tokens := map[string]string{"bound": f.bound, "bounded": f.boundEd, "plain": f.plain, "certbound": f.certBound}
	for name, v := range dpopVariants {
		f.sessions[name] = &Sessions{}
		cfg := Config(iss, f.sessions[name])
		v(&cfg)
		a, err := core.New(context.Background(), cfg)
		if err != nil {
			t.Fatalf("core.New for %q: %v", name, err)
		}
		t.Cleanup(func() { _ = a.Close() })
		f.envs[name] = &Env{Auth: a}
		f.addr[name] = h.Start(t, f.envs[name])
		f.runners[name] = &runner{addr: f.addr[name], tokens: tokens}
	}
	cs := dpopCases(f)
	for _, c := range cs {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("source: %s; configuration: %q", c.source, c.variant)
				}
			}()
			env, r := f.envs[c.variant], f.runners[c.variant]
			tc := tcase{name: c.name, method: c.method, path: c.path, header: c.header()}
			if c.replay {
				resp, _, err := r.do(tc)
				if err != nil {
					t.Fatalf("first request: %v", err)
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("first use of the proof: status %d, want 200", resp.StatusCode)
				}
			}
			env.takeHits()
			before := f.sessions[c.variant].Calls()
			resp, body, err := r.do(tc)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			c.want.check(t, tc, resp, body, env.takeHits(), f.sessions[c.variant].Calls()-before)
			if name := r.echoes(resp, body); name != "" {
				t.Errorf("I5: the response echoes a piece of the %s token", name)
			}
		})
	}
	t.Run("RFC 9449 §9 nonce flow: use_dpop_nonce, then the nonce from DPoP-Nonce is accepted", func(t *testing.T) {
		dpopNonceFlow(t, f)
	})
	t.Run("RFC 8705 §3 and RFC 9449 over TLS", func(t *testing.T) {
		if h.StartTLS == nil {
			t.Skip("the harness has no StartTLS")
		}
		dpopTLS(t, h, f)
	})
}

func dpopCases(f *dpopFixture) []dpopCase {
	const (
		GET  = "GET"
		POST = "POST"
	)
	a := "allowed"
	sec := func(n int) string { return "RFC 9449 §4.3 (check " + strconv.Itoa(n) + ")" }
	// authz and proof for the ES256 key on GET /me of variant v, the proof's claims overridden.
	dp := func(v string, override authtest.Claims) func() []string {
		return func() []string {
			return []string{"Authorization: DPoP " + f.bound, "DPoP: " + f.proof(f.es, v, GET, "/me", f.bound, override)}
		}
	}
	// a proof with header changes, signed by signer.
	signed := func(signer *authtest.DPoPKey, hdr map[string]any) func() []string {
		return func() []string {
			return []string{"Authorization: DPoP " + f.bound,
				"DPoP: " + signer.SignProof(hdr, authtest.ProofClaims(GET, f.url(a, "/me"), f.bound))}
		}
	}
	lines := func(l ...string) func() []string { return func() []string { return l } }
	withD := map[string]any{}
	for k, v := range f.es.JWK {
		withD[k] = v
	}
	withD["d"] = "AAAA"
	now := time.Now()
	flipped := func() []string {
		p := f.proof(f.es, a, GET, "/me", f.bound, nil)
		return []string{"Authorization: DPoP " + f.bound, "DPoP: " + flipSignature(p)}
	}
	rfc9440 := func(c *authtest.ClientCert) string {
		return ClientCertHeader + ": :" + base64.StdEncoding.EncodeToString(c.DER) + ":"
	}
	escapedPEM := url.QueryEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.cert.DER})))

	return []dpopCase{
		// RFC 9449 section 4.3, each check broken once.
		{name: "a valid DPoP proof with its ES256-bound token is admitted", source: "RFC 9449 §7.1", variant: a, method: GET, path: "/me",
			header: dp(a, nil), want: served(RouteMe, dpopWho(f.es))},
		{name: "a valid DPoP proof with its EdDSA-bound token is admitted", source: "RFC 9449 §7.1", variant: a, method: GET, path: "/me",
			header: func() []string {
				return []string{"Authorization: DPoP " + f.boundEd, "DPoP: " + f.proof(f.ed, a, GET, "/me", f.boundEd, nil)}
			}, want: served(RouteMe, dpopWho(f.ed))},
		{name: "the DPoP scheme is case-insensitive", source: "RFC 9110 §11.1", variant: a, method: GET, path: "/me",
			header: func() []string {
				return []string{"Authorization: dpop " + f.bound, "DPoP: " + f.proof(f.es, a, GET, "/me", f.bound, nil)}
			}, want: served(RouteMe, dpopWho(f.es))},
		{name: "two DPoP header lines are refused with 400", source: sec(1), variant: a, method: GET, path: "/me",
			header: func() []string {
				return []string{"Authorization: DPoP " + f.bound, "DPoP: " + f.proof(f.es, a, GET, "/me", f.bound, nil),
					"DPoP: " + f.proof(f.es, a, GET, "/me", f.bound, nil)}
			}, want: dpopBadReq},
		{name: "a DPoP-bound token under the DPoP scheme without a proof is refused", source: sec(1), variant: a, method: GET, path: "/me",
			header: lines("Authorization: DPoP " + f.bound), want: badProof},
		{name: "a proof that is not a JWT is refused", source: sec(2), variant: a, method: GET, path: "/me",
			header: lines("Authorization: DPoP "+f.bound, "DPoP: not-a-jwt"), want: badProof},
		{name: "an empty DPoP header is refused", source: sec(2), variant: a, method: GET, path: "/me",
			header: lines("Authorization: DPoP "+f.bound, "DPoP:"), want: badProof},
		{name: "a proof without jti is refused", source: sec(3), variant: a, method: GET, path: "/me", header: dp(a, authtest.Claims{"jti": nil}), want: badProof},
		{name: "a proof without htm is refused", source: sec(3), variant: a, method: GET, path: "/me", header: dp(a, authtest.Claims{"htm": nil}), want: badProof},
		{name: "a proof without htu is refused", source: sec(3), variant: a, method: GET, path: "/me", header: dp(a, authtest.Claims{"htu": nil}), want: badProof},
		{name: "a proof without iat is refused", source: sec(3), variant: a, method: GET, path: "/me", header: dp(a, authtest.Claims{"iat": nil}), want: badProof},
		{name: "a proof with a jti over 256 bytes is refused", source: sec(3), variant: a, method: GET, path: "/me",
			header: dp(a, authtest.Claims{"jti": strings.Repeat("j", 300)}), want: badProof},
		{name: "a proof typed JWT is refused", source: sec(4), variant: a, method: GET, path: "/me", header: signed(f.es, map[string]any{"typ": "JWT"}), want: badProof},
		{name: "a proof without typ is refused", source: sec(4), variant: a, method: GET, path: "/me", header: signed(f.es, map[string]any{"typ": nil}), want: badProof},
		{name: "a proof with alg none is refused", source: sec(5), variant: a, method: GET, path: "/me",
			header: func() []string {
				p := f.es.SignProof(map[string]any{"alg": "none"}, authtest.ProofClaims(GET, f.url(a, "/me"), f.bound))
				return []string{"Authorization: DPoP " + f.bound, "DPoP: " + p[:strings.LastIndexByte(p, '.')+1]}
			}, want: badProof},
		{name: "a proof with the symmetric alg HS256 is refused", source: sec(5), variant: a, method: GET, path: "/me",
			header: signed(f.es, map[string]any{"alg": "HS256"}), want: badProof},
		{name: "a proof with a changed signature is refused", source: sec(6), variant: a, method: GET, path: "/me", header: flipped, want: badProof},
		{name: "a proof signed by another key than its jwk is refused", source: sec(6), variant: a, method: GET, path: "/me",
			header: signed(f.other, map[string]any{"jwk": f.es.JWK}), want: badProof},
		{name: "a proof without jwk is refused", source: sec(6), variant: a, method: GET, path: "/me", header: signed(f.es, map[string]any{"jwk": nil}), want: badProof},
		{name: "a proof whose jwk holds the private key is refused", source: sec(7), variant: a, method: GET, path: "/me",
			header: signed(f.es, map[string]any{"jwk": withD}), want: badProof},
		{name: "a proof for POST on a GET is refused", source: sec(8), variant: a, method: GET, path: "/me", header: dp(a, authtest.Claims{"htm": "POST"}), want: badProof},
		{name: "a proof with htm in lower case is refused", source: sec(8), variant: a, method: GET, path: "/me", header: dp(a, authtest.Claims{"htm": "get"}), want: badProof},
		{name: "a proof for a POST is admitted on that POST", source: sec(8), variant: a, method: POST, path: "/me",
			header: func() []string {
				return []string{"Authorization: DPoP " + f.bound, "DPoP: " + f.proof(f.es, a, POST, "/me", f.bound, nil)}
			}, want: served(RouteMePost, dpopWho(f.es))},
		{name: "a proof for another path is refused", source: sec(9), variant: a, method: GET, path: "/me",
			header: dp(a, authtest.Claims{"htu": f.url(a, "/admin")}), want: badProof},
		{name: "a proof for another host is refused", source: sec(9), variant: a, method: GET, path: "/me",
			header: dp(a, authtest.Claims{"htu": "http://evil.example/me"}), want: badProof},
		{name: "a proof for https on a plain-HTTP request is refused", source: sec(9), variant: a, method: GET, path: "/me",
			header: dp(a, authtest.Claims{"htu": "https://" + f.addr[a] + "/me"}), want: badProof},
		{name: "a proof with a relative htu is refused", source: sec(9), variant: a, method: GET, path: "/me",
			header: dp(a, authtest.Claims{"htu": "/me"}), want: badProof},
		{name: "a proof's htu query and fragment are ignored", source: sec(9), variant: a, method: GET, path: "/me?page=2",
			header: dp(a, authtest.Claims{"htu": f.url(a, "/me?other=1#frag")}), want: served(RouteMe, dpopWho(f.es))},
		{name: "a proof's htu is compared after normalisation (case, percent-encoding, dot segments)", source: sec(9) + ", RFC 3986 §6.2.2", variant: a, method: GET, path: "/me",
			header: dp(a, authtest.Claims{"htu": "HTTP://" + strings.ToUpper(f.addr[a]) + "/x/../%6De"}), want: served(RouteMe, dpopWho(f.es))},
		{name: "an absolute-form request line: htu is checked against its URI", source: sec(9) + ", RFC 9112 §3.2.2", variant: a, method: GET, path: "http://{host}/me",
			header: dp(a, nil), want: served(RouteMe, dpopWho(f.es))},
		{name: "X-Forwarded-Host and X-Forwarded-Proto are not read for htu", source: sec(9) + " (docs/dpop.md, proxies)", variant: a, method: GET, path: "/me",
			header: func() []string {
				return append(dp(a, authtest.Claims{"htu": "https://api.example.com/me"})(), "X-Forwarded-Host: api.example.com", "X-Forwarded-Proto: https")
			}, want: badProof},
		{name: "behind a proxy, htu is checked against the configured public origin", source: sec(9) + " (DPoPOptions.PublicOrigin)", variant: "origin", method: GET, path: "/me",
			header: dp("origin", authtest.Claims{"htu": PublicOrigin + "/me"}), want: served(RouteMe, dpopWho(f.es))},
		{name: "behind a proxy, a proof for the backend's own address is refused", source: sec(9) + " (DPoPOptions.PublicOrigin)", variant: "origin", method: GET, path: "/me",
			header: dp("origin", nil), want: badProof},
		{name: "behind a proxy, X-Forwarded-Host naming another origin changes nothing", source: sec(9) + " (DPoPOptions.PublicOrigin)", variant: "origin", method: GET, path: "/me",
			header: func() []string {
				return append(dp("origin", authtest.Claims{"htu": "https://evil.example/me"})(), "X-Forwarded-Host: evil.example", "X-Forwarded-Proto: https")
			}, want: badProof},
		{name: "with nonces on, a proof without a nonce gets use_dpop_nonce and a DPoP-Nonce", source: sec(10) + ", RFC 9449 §9", variant: "nonce", method: GET, path: "/me",
			header: dp("nonce", nil), want: useNonce},
		{name: "with nonces on, a proof with a forged nonce gets use_dpop_nonce", source: sec(10) + ", RFC 9449 §9", variant: "nonce", method: GET, path: "/me",
			header: dp("nonce", authtest.Claims{"nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}), want: useNonce},
		{name: "a proof made ten minutes ago is refused", source: sec(11) + ", RFC 9449 §11.1", variant: a, method: GET, path: "/me",
			header: dp(a, authtest.Claims{"iat": now.Add(-10 * time.Minute).Unix()}), want: badProof},
		{name: "a proof dated ten minutes ahead is refused", source: sec(11), variant: a, method: GET, path: "/me",
			header: dp(a, authtest.Claims{"iat": now.Add(10 * time.Minute).Unix()}), want: badProof},
		{name: "a proof without ath is refused", source: sec(12), variant: a, method: GET, path: "/me", header: dp(a, authtest.Claims{"ath": nil}), want: badProof},
		{name: "a proof whose ath is another token's hash is refused", source: sec(12), variant: a, method: GET, path: "/me",
			header: dp(a, authtest.Claims{"ath": "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"}), want: badProof},
		{name: "a valid proof by a key the token is not bound to is refused", source: sec(12), variant: a, method: GET, path: "/me",
			header: func() []string {
				return []string{"Authorization: DPoP " + f.bound, "DPoP: " + f.proof(f.other, a, GET, "/me", f.bound, nil)}
			}, want: badProof},

		// Replay (section 11.1).
		{name: "a proof used twice is refused the second time", source: "RFC 9449 §11.1", variant: a, method: GET, path: "/me",
			header: dp(a, nil), replay: true, want: badProof},

		// Downgrade and the scheme (section 7).
		{name: "a DPoP-bound token presented as Bearer is refused", source: "RFC 9449 §7.2", variant: a, method: GET, path: "/me",
			header: lines("Authorization: Bearer " + f.bound), want: dpopInvalid},
		{name: "a DPoP-bound token presented as Bearer with a valid proof is refused", source: "RFC 9449 §7.2", variant: a, method: GET, path: "/me",
			header: func() []string {
				return []string{"Authorization: Bearer " + f.bound, "DPoP: " + f.proof(f.es, a, GET, "/me", f.bound, nil)}
			}, want: dpopInvalid},
		{name: "a DPoP-bound token in the cookie is refused", source: "RFC 9449 §7.2", variant: a, method: GET, path: "/me",
			header: lines("Cookie: access_token=" + f.bound), want: dpopInvalid},
		{name: "an unbound token under the DPoP scheme is refused", source: "RFC 9449 §7.1", variant: a, method: GET, path: "/me",
			header: func() []string {
				return []string{"Authorization: DPoP " + f.plain, "DPoP: " + f.proof(f.es, a, GET, "/me", f.plain, nil)}
			}, want: dpopInvalid},
		{name: "with DPoP allowed, a plain bearer token still passes", source: "RFC 9449 §7.2", variant: a, method: GET, path: "/me",
			header: lines("Authorization: Bearer " + f.plain), want: served(RouteMe, fromHeader)},
		{name: "with DPoP allowed, no credentials get both challenges", source: "RFC 9449 §7.1", variant: a, method: GET, path: "/me",
			header: lines(), want: dpopRefusal(401, "", "", true)},
		{name: "with DPoP off, a DPoP-bound token is refused", source: "RFC 9449 §7.2", variant: "off", method: GET, path: "/me",
			header: lines("Authorization: Bearer " + f.bound), want: invalidToken},

		// Required mode and the route marker.
		{name: "with DPoP required, a bearer token is refused in the DPoP challenge alone", source: "RFC 9449 §7.1", variant: "required", method: GET, path: "/me",
			header: lines("Authorization: Bearer " + f.plain), want: dpopRefusal(401, "invalid_token", "the access token is invalid", false)},
		{name: "with DPoP required, no credentials get the DPoP challenge alone", source: "RFC 9449 §7.1", variant: "required", method: GET, path: "/me",
			header: lines(), want: dpopRefusal(401, "", "", false)},
		{name: "with DPoP required, a valid DPoP request is admitted", source: "RFC 9449 §7.1", variant: "required", method: GET, path: "/me",
			header: dp("required", nil), want: served(RouteMe, dpopWho(f.es))},
		{name: "a RequireDPoP route refuses a bearer token", source: "RFC 9449 §7.1 (RequireDPoP)", variant: a, method: GET, path: "/dpop",
			header: lines("Authorization: Bearer " + f.plain), want: dpopInvalid},
		{name: "a RequireDPoP route admits a DPoP request", source: "RFC 9449 §7.1 (RequireDPoP)", variant: a, method: GET, path: "/dpop",
			header: func() []string {
				return []string{"Authorization: DPoP " + f.bound, "DPoP: " + f.proof(f.es, a, GET, "/dpop", f.bound, nil)}
			}, want: served(RouteDPoP, dpopWho(f.es))},
		{name: "a RequireDPoP route with DPoP off refuses a bearer token", source: "RFC 9449 §7.1 (RequireDPoP)", variant: "off", method: GET, path: "/dpop",
			header: lines("Authorization: Bearer " + f.plain), want: invalidToken},

		// Certificate-bound tokens through a trusted proxy (RFC 8705 section 3, RFC 9440).
		{name: "a certificate-bound token with its certificate from a trusted proxy (RFC 9440) is admitted", source: "RFC 8705 §3.1, RFC 9440 §2", variant: "certproxy", method: GET, path: "/me",
			header: lines("Authorization: Bearer "+f.certBound, rfc9440(f.cert)), want: served(RouteMe, certWho(f.cert))},
		{name: "a certificate-bound token with its certificate as escaped PEM from a trusted proxy is admitted", source: "RFC 8705 §3.1", variant: "certpem", method: GET, path: "/me",
			header: lines("Authorization: Bearer "+f.certBound, ClientCertHeader+": "+escapedPEM), want: served(RouteMe, certWho(f.cert))},
		{name: "a certificate-bound token with another certificate is refused", source: "RFC 8705 §3", variant: "certproxy", method: GET, path: "/me",
			header: lines("Authorization: Bearer "+f.certBound, rfc9440(f.otherCert)), want: invalidToken},
		{name: "a certificate-bound token without a certificate is refused", source: "RFC 8705 §3", variant: "certproxy", method: GET, path: "/me",
			header: lines("Authorization: Bearer " + f.certBound), want: invalidToken},
		{name: "a certificate header in the wrong format is refused", source: "RFC 9440 §2", variant: "certproxy", method: GET, path: "/me",
			header: lines("Authorization: Bearer "+f.certBound, ClientCertHeader+": "+escapedPEM), want: invalidToken},
		{name: "the certificate header repeated is refused", source: "RFC 9440 §2", variant: "certproxy", method: GET, path: "/me",
			header: lines("Authorization: Bearer "+f.certBound, rfc9440(f.cert), rfc9440(f.cert)), want: invalidToken},
		{name: "a certificate header from a peer that is no trusted proxy is not read", source: "RFC 9440 §4", variant: "certuntrusted", method: GET, path: "/me",
			header: lines("Authorization: Bearer "+f.certBound, rfc9440(f.cert)), want: invalidToken},
		{name: "a certificate-bound token is refused where no certificate source is configured", source: "RFC 8705 §3", variant: "off", method: GET, path: "/me",
			header: lines("Authorization: Bearer "+f.certBound, rfc9440(f.cert)), want: invalidToken},
		{name: "with a trusted proxy configured, a bearer token needs no certificate", source: "RFC 8705 §3", variant: "certproxy", method: GET, path: "/me",
			header: lines("Authorization: Bearer " + f.plain), want: served(RouteMe, fromHeader)},

		// Step-up through a real DPoP request: the proof is checked as on
		// any route, and a token that falls short is told so in the DPoP
		// challenge, with the step-up parameters (RFC 9470 §3 names no
		// scheme: the one the request used).
		{name: "step-up met by a DPoP-bound token with its proof", source: "RFC 9470 §3, RFC 9449 §7", variant: a, method: GET, path: "/step-up",
			header: func() []string {
				return []string{"Authorization: DPoP " + f.stepUpMet, "DPoP: " + f.proof(f.es, a, GET, "/step-up", f.stepUpMet, nil)}
			}, want: served(RouteStepUp, dpopWho(f.es).with(func(w *who) { w.checked = true }))},
		{name: "step-up short through a DPoP-bound token: insufficient_user_authentication in the DPoP challenge", source: "RFC 9470 §3, RFC 9449 §7.1", variant: a, method: GET, path: "/step-up",
			header: func() []string {
				return []string{"Authorization: DPoP " + f.stepUpShort, "DPoP: " + f.proof(f.es, a, GET, "/step-up", f.stepUpShort, nil)}
			}, want: dpopStepUpShort},
		{name: "step-up met, but the proof is for another route: the proof is refused first", source: "RFC 9449 §4.3 (check 9)", variant: a, method: GET, path: "/step-up",
			header: func() []string {
				return []string{"Authorization: DPoP " + f.stepUpMet, "DPoP: " + f.proof(f.es, a, GET, "/me", f.stepUpMet, nil)}
			}, want: badProof},
		{name: "step-up met, but the DPoP-bound token is sent as a bearer token", source: "RFC 9449 §7.2", variant: a, method: GET, path: "/step-up",
			header: lines("Authorization: Bearer " + f.stepUpMet), want: dpopInvalid},
	}
}

// dpopStepUpShort is stepUpShort in the DPoP challenge (bearer tokens are
// accepted too, so a bare Bearer challenge comes first).
var dpopStepUpShort = func() want {
	w := dpopRefusal(401, "insufficient_user_authentication", "a different authentication level is required", true)
	w.challenge = strings.Replace(w.challenge, ", "+dpopAlgs, `, acr_values="urn:mfa urn:hwk", max_age="300", `+dpopAlgs, 1)
	return w
}()

// dpopNonceFlow: the client's first proof has no nonce and is refused with
// use_dpop_nonce and a DPoP-Nonce header; the retry with that nonce is
// admitted and the answer carries a DPoP-Nonce for the next proof.
func dpopNonceFlow(t *testing.T, f *dpopFixture) {
	r, env := f.runners["nonce"], f.envs["nonce"]
	mk := func(nonce string) tcase {
		var over authtest.Claims
		if nonce != "" {
			over = authtest.Claims{"nonce": nonce}
		}
		return tcase{name: "nonce", method: "GET", path: "/me", header: []string{
			"Authorization: DPoP " + f.bound, "DPoP: " + f.proof(f.es, "nonce", "GET", "/me", f.bound, over)}}
	}
	env.takeHits()
	c := mk("")
	resp, body, err := r.do(c)
	if err != nil {
		t.Fatal(err)
	}
	useNonce.check(t, c, resp, body, env.takeHits(), 0)
	nonce := resp.Header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("no DPoP-Nonce on use_dpop_nonce")
	}
	c = mk(nonce)
	resp, body, err = r.do(c)
	if err != nil {
		t.Fatal(err)
	}
	withNonce(served(RouteMe, dpopWho(f.es))).check(t, c, resp, body, env.takeHits(), 0)
	// The nonce the success carries is accepted too.
	c = mk(resp.Header.Get("DPoP-Nonce"))
	resp, body, err = r.do(c)
	if err != nil {
		t.Fatal(err)
	}
	withNonce(served(RouteMe, dpopWho(f.es))).check(t, c, resp, body, env.takeHits(), 0)
	// A bearer token admitted with nonces on gets no DPoP-Nonce.
	c = tcase{name: "bearer", method: "GET", path: "/me", header: []string{"Authorization: Bearer " + f.plain}}
	resp, body, err = r.do(c)
	if err != nil {
		t.Fatal(err)
	}
	served(RouteMe, fromHeader).check(t, c, resp, body, env.takeHits(), 0)
}

// dpopTLS serves the routes over TLS and sends real client certificates:
// a certificate-bound token passes with its certificate only, and a DPoP
// proof's htu is https.
func dpopTLS(t *testing.T, h Harness, f *dpopFixture) {
	cfg := Config(f.iss, &Sessions{})
	cfg.DPoP.Mode = core.DPoPAllowed
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	env := &Env{Auth: a}
	server := authtest.NewClientCert("127.0.0.1")
	addr := h.StartTLS(t, env, &tls.Config{Certificates: []tls.Certificate{server.TLS}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12})
	base := "https://" + addr
	send := func(t *testing.T, cert *authtest.ClientCert, header ...string) (int, []hit) {
		t.Helper()
		tc := &tls.Config{InsecureSkipVerify: true} // the suite's own self-signed server
		if cert != nil {
			tc.Certificates = []tls.Certificate{cert.TLS}
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
		defer client.CloseIdleConnections()
		req, _ := http.NewRequest("GET", base+"/me", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		env.takeHits()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, env.takeHits()
	}
	t.Run("a certificate-bound token with its TLS client certificate is admitted", func(t *testing.T) {
		st, hits := send(t, f.cert, "Authorization", "Bearer "+f.certBound)
		if st != 200 || len(hits) != 1 {
			t.Fatalf("status %d, %d handler calls; want 200 and one", st, len(hits))
		}
		certWho(f.cert).check(t, hits[0].seen)
	})
	t.Run("a certificate-bound token with another TLS client certificate is refused", func(t *testing.T) {
		if st, hits := send(t, f.otherCert, "Authorization", "Bearer "+f.certBound); st != 401 || len(hits) != 0 {
			t.Fatalf("status %d, %d handler calls; want 401 and none", st, len(hits))
		}
	})
	t.Run("a certificate-bound token without a TLS client certificate is refused", func(t *testing.T) {
		if st, hits := send(t, nil, "Authorization", "Bearer "+f.certBound); st != 401 || len(hits) != 0 {
			t.Fatalf("status %d, %d handler calls; want 401 and none", st, len(hits))
		}
	})
	t.Run("a certificate header is not read when no trusted proxy is configured", func(t *testing.T) {
		hdr := "Bearer " + f.certBound
		if st, hits := send(t, nil, "Authorization", hdr, ClientCertHeader, ":"+base64.StdEncoding.EncodeToString(f.cert.DER)+":"); st != 401 || len(hits) != 0 {
			t.Fatalf("status %d, %d handler calls; want 401 and none", st, len(hits))
		}
	})
	t.Run("over TLS a DPoP proof's htu is https", func(t *testing.T) {
		st, hits := send(t, nil, "Authorization", "DPoP "+f.bound, "DPoP", f.es.Proof("GET", base+"/me", f.bound, nil))
		if st != 200 || len(hits) != 1 {
			t.Fatalf("status %d, %d handler calls; want 200 and one", st, len(hits))
		}
		dpopWho(f.es).check(t, hits[0].seen)
		if st, _ := send(t, nil, "Authorization", "DPoP "+f.bound, "DPoP", f.es.Proof("GET", "http://"+addr+"/me", f.bound, nil)); st != 401 {
			t.Fatalf("htu http:// over TLS: status %d, want 401", st)
		}
	})
}
