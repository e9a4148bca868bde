package core

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Request is the framework-neutral view of an HTTP request that adapters hand
// to the core. Implementations read from the framework's own request without
// copying; no method may be called after the request has ended.
type Request interface {
	// Method returns the request method, e.g. "GET".
	Method() string
	// Host returns the Host header (or :authority) of the request.
	Host() string
	// Header returns every value of the header field with the given
	// canonical name, one entry per field line, in order; nil when absent.
	Header(name string) []string
	// RawQuery returns the query string without the "?".
	RawQuery() string
}

// stdRequest is a Request whose framework has a *http.Request (net/http,
// gin, echo: adapter.StdRequest, the same method set). The core then hands
// it to net/http's CrossOriginProtection as it is.
type stdRequest interface {
	Request
	StdRequest() *http.Request
}

// Authenticator verifies tokens and applies the session policy. It is safe
// for concurrent use. Create one with [New] and stop it with Close.
type Authenticator struct {
	cfg     Config
	issuers map[string]*issuer // by exact "iss"
	coop    *http.CrossOriginProtection
	anon    *Principal // the stand-in stored for anonymous requests
	log     *slog.Logger

	ctx    context.Context // cancelled by Close; ends background work
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines
	once   sync.Once

	// claimNames reads Config.Claims out of a token's claims.
	claimNames claimReader
	// stepUpClaims reads ClaimNames.ACR, AMR and AuthTime (stepup.go).
	stepUpClaims claimReader

	sessions *sessionPolicy
	tokens   *tokenCache // nil when Config.TokenCache.Disabled

	dpop *dpopVerifier // nil when no issuer accepts DPoP
	// resource is Config.ProtectedResource checked and rendered
	// (resourcemeta.go); nil when not configured.
	resource *resourceMeta

	obs      Observer       // nil when nobody listens (Config.Observer)
	obsPanic rate.Sometimes // rate-limits the log of a panicking Observer
}

// New builds an Authenticator. It checks cfg, fetches the key sets (OIDC
// discovery and JWKS) within cfg.FetchTimeout each, and starts their periodic
// refresh. ctx bounds only the start-up fetches; call Close to stop the
// background work.
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	issuers, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	a := &Authenticator{
		cfg:      cfg,
		issuers:  make(map[string]*issuer, len(issuers)),
		log:      cfg.Logger,
		obs:      cfg.Observer,
		obsPanic: rate.Sometimes{First: 1, Interval: time.Minute},
	}
	a.claimNames = newClaimReader(cfg.Claims)
	a.stepUpClaims = newStepUpReader(cfg.Claims)
	if err := a.cfg.ClientCertificates.normalize(); err != nil {
		return nil, err
	}
	if cfg.DPoP.Mode > DPoPRequired {
		return nil, configErr("DPoP.Mode %d is not a DPoPMode", cfg.DPoP.Mode)
	}
	bearer, dpop := false, false
	for i := range issuers {
		ic := &issuers[i]
		if ic.DPoP > DPoPRequired {
			return nil, configErr("issuer %q: DPoP %d is not a DPoPMode", ic.Issuer, ic.DPoP)
		}
		if ic.DPoP == DPoPUnset {
			ic.DPoP = cfg.DPoP.Mode
		}
		if ic.DPoP == DPoPUnset {
			ic.DPoP = DPoPOff
		}
		dpop = dpop || ic.DPoP != DPoPOff
		bearer = bearer || ic.DPoP != DPoPRequired
	}
	if cfg.Opaque != nil && cfg.DPoP.Mode != DPoPUnset {
		// Opaque tokens of no configured issuer take Config.DPoP.Mode
		// (issuerMode): without this an opaque-only deployment ignored it.
		dpop = dpop || cfg.DPoP.Mode != DPoPOff
		bearer = bearer || cfg.DPoP.Mode != DPoPRequired
	}
	if dpop {
		if a.dpop, err = cfg.DPoP.normalize(cfg.Leeway, cfg.Now); err != nil {
			return nil, err
		}
		a.dpop.bearerAll = bearer
	} else if cfg.DPoP.NonceSecret != nil || cfg.DPoP.Replay != nil || cfg.DPoP.PublicOrigin != "" || len(cfg.DPoP.Algorithms) > 0 {
		return nil, configErr("DPoP options are set but no issuer's DPoP mode is allowed or required")
	}
	if a.resource, err = newResourceMeta(cfg.ProtectedResource, &a.cfg, a.dpop); err != nil {
		return nil, err
	}
	a.anon = &Principal{auth: a, anonymous: true}
	a.coop = http.NewCrossOriginProtection()
	for _, o := range cfg.TrustedOrigins {
		if err := a.coop.AddTrustedOrigin(o); err != nil {
			return nil, configErr("TrustedOrigins: %v", err)
		}
	}
	if a.tokens, err = newTokenCache(cfg.TokenCache); err != nil {
		return nil, err
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	fail := func(err error) (*Authenticator, error) {
		a.Close()
		return nil, err
	}
	client := newFetchClient(cfg.HTTPClient, cfg.MaxJWKSSize)
	for _, ic := range issuers {
		is, err := newIssuer(ctx, a, ic, client)
		if err != nil {
			return fail(err)
		}
		a.issuers[ic.Issuer] = is
	}
	if a.sessions, err = newSessionPolicy(a); err != nil {
		return fail(err)
	}
	return a, nil
}

// Close stops key refreshes, revocation feeds and sweepers, and waits for
// them to end. The Authenticator must not be used afterwards.
func (a *Authenticator) Close() error {
	a.once.Do(func() {
		a.cancel()
		if a.sessions != nil {
			a.sessions.close()
		}
		a.wg.Wait()
	})
	return nil
}

// go runs f in a background goroutine that Close waits for.
func (a *Authenticator) goBackground(f func(ctx context.Context)) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f(a.ctx)
	}()
}

// Authenticate finds the request's token, verifies it, and returns the
// principal. It makes no network call for a JWT with a known key. It refuses
// a session id that a revocation feed reported, but makes no live session
// check: the adapters' middleware and route markers (and [Require]) apply
// the session policy. Applications use their framework's adapter; Authenticate
// is for code outside one (a WebSocket upgrade, a job reading a stored
// request), with a Request such as adapter.httpRequestOf(r).
//
// A request without credentials gets an error wrapping ErrNoToken.
func (a *Authenticator) Authenticate(ctx context.Context, r Request) (*Principal, error) {
	p, err := a.authenticate(ctx, r, nil)
	if err != nil {
		a.logRefusal(ctx, err)
	}
	return p, err
}

// authenticate is Authenticate without the refusal log. With out nil the
// principal is a new Principal; otherwise (Admit) it is made inside the
// context to hand on, a child of ctx, and *out is set to that context: one
// allocation for both on the hot path. A principal that came from elsewhere
// (opaque tokens) leaves *out nil.
func (a *Authenticator) authenticate(ctx context.Context, r Request, out *context.Context) (_ *Principal, err error) {
	tok, src, err := a.extract(r)
	if err != nil {
		return nil, err
	}
	viaDPoP := a.dpop != nil && src == SourceHeader && isDPoPScheme(r.Header("Authorization"))
	if viaDPoP {
		// Every refusal of a DPoP request is answered in the DPoP challenge.
		defer func() {
			if e, ok := err.(*Error); ok {
				e.viaDPoP = true
			}
		}()
	}
	if src == SourceCookie && !safeMethod(r.Method()) {
		if err := a.checkOrigin(r); err != nil {
			return nil, err
		}
	}
	var (
		p     *Principal
		e     *tokenEntry
		v     verified
		hit   bool
		cache CacheResult
		start time.Time // of a verification, for the Observer; a cache hit is not timed
	)
	if a.tokens != nil {
		// Only JWTs that verified are cached, so a hit needs no shape check.
		e, err, hit = a.lookupToken(tok)
	}
	switch {
	case hit:
		cache = CacheHit
		if err == nil {
			// The cached principal is a template: this request gets its own
			// copy, slices included, since the per-request fields are set on
			// it below and users may keep and modify the *Principal.
			m := newPrincipal(ctx, out)
			m.copyOf(&e.p)
			p = &m.p
		}
	case isJWTShape(tok):
		if a.tokens != nil {
			cache = CacheMiss
		}
		if a.obs != nil {
			start = time.Now()
		}
		p, err = a.verifyJWT(ctx, tok, &v, out)
	case a.cfg.Opaque != nil && isOpaqueShape(tok):
		if a.obs != nil {
			start = time.Now()
		}
		// A copy: the Request's strings may point into an adapter's reused
		// buffers (fasthttp), and an opaque token goes to a store or an
		// introspection call that may outlive the request.
		p, err = a.authenticateOpaque(ctx, strings.Clone(tok))
	default:
		err = invalid("token is neither a compact JWS nor an accepted opaque token")
	}
	if err != nil {
		return nil, err
	}
	if viaDPoP || p.cnfJKT != "" || p.cnfX5T != "" || p.cnfOther || a.dpop != nil && a.issuerMode(p) == DPoPRequired {
		if err := a.checkBinding(ctx, r, tok, p, viaDPoP); err != nil {
			return nil, err
		}
	}
	// The issuer of a JWT: the cache entry's on a hit, the verification's
	// otherwise (no map lookup on the hot path).
	is := v.is
	if hit {
		is = e.is
	}
	if is != nil && is.cfg.TokenIntrospection != nil {
		t := tok // moved to the heap here, only for such issuers (a cache hit's
		// template holds none)
		p.token = &t
	}
	if err := a.sessions.denied(ctx, p); err != nil {
		return nil, err
	}
	if v.vk != nil && a.tokens != nil {
		a.addToken(tok, &v, p) // accepted: remember it (a hit leaves v empty)
	}
	p.Source = src
	p.auth = a
	if a.obs != nil {
		a.observeAuthenticated(ctx, p, cache, start)
	}
	return p, nil
}

// admit is the global middleware's whole decision for one request: it
// authenticates, applies the session PolicyAlways, and returns the context
// to hand on, carrying the principal. With optional set, a request without
// credentials is admitted anonymously (a bad token is still refused).
//
// Adapters call it as adapter.Admit, and on error write adapter.Render of it.
func (a *Authenticator) admit(ctx context.Context, r Request, optional bool) (context.Context, error) {
	var out context.Context
	p, err := a.authenticate(ctx, r, &out)
	if err != nil {
		if optional && errors.Is(err, ErrNoToken) {
			return context.WithValue(ctx, ctxKey{}, a.anon), nil
		}
		a.logRefusal(ctx, err)
		return ctx, err
	}
	if a.cfg.SessionPolicy == PolicyAlways {
		if err := a.sessions.gate(ctx, p, false); err != nil {
			a.logRefusal(ctx, err)
			return ctx, err
		}
	}
	if out == nil {
		out = context.WithValue(ctx, ctxKey{}, p)
	}
	return out, nil
}

// Requirements are what a route asks beyond authentication. Adapters build
// them from their per-route markers.
type Requirements struct {
	// Sensitive asks for a live session check (unless the policy is Never).
	Sensitive bool
	// Scopes must all be granted.
	Scopes []string
	// Roles: the principal must hold at least one.
	Roles []string
	// DPoP asks for a DPoP-bound token presented with its proof (RFC 9449),
	// even where the issuer's mode also accepts bearer tokens.
	DPoP bool
	// StepUp asks for a strong or recent enough user authentication
	// (RFC 9470); its zero value asks for nothing.
	StepUp StepUp
}

// Require checks a route's requirements against the principal the middleware
// put in ctx. It fails with ErrMisconfigured when no middleware ran, with
// ErrNoToken for an anonymous request, and otherwise as the checks say. The
// live session check of a Sensitive route happens here.
func Require(ctx context.Context, req Requirements) error {
	err := require(ctx, req)
	if e, ok := err.(*Error); ok {
		if p := principalState(ctx); p != nil && p.Binding == BindingDPoP {
			e.viaDPoP = true // the client uses DPoP: answer in its challenge
		}
	}
	return err
}

func require(ctx context.Context, req Requirements) error {
	p := principalState(ctx)
	if p == nil {
		return newError(ErrMisconfigured, errors.New("route requirements checked without the authgate middleware"))
	}
	if p.anonymous {
		return newError(ErrNoToken, nil)
	}
	if p.auth == nil {
		return newError(ErrMisconfigured, errors.New("principal was not made by an Authenticator"))
	}
	a := p.auth
	for _, s := range req.Scopes {
		if !p.HasScope(s) {
			e := newError(ErrInsufficientScope, nil)
			e.Scope = req.Scopes
			a.logRefusal(ctx, e)
			return e
		}
	}
	if len(req.Roles) > 0 {
		ok := false
		for _, r := range req.Roles {
			if p.HasRole(r) {
				ok = true
				break
			}
		}
		if !ok {
			e := newError(ErrForbidden, nil)
			a.logRefusal(ctx, e)
			return e
		}
	}
	if req.DPoP && p.Binding != BindingDPoP {
		e := dpopError(ErrInvalidToken, errDPoPRequired)
		a.logRefusal(ctx, e)
		return e
	}
	if err := a.checkStepUp(p, req.StepUp); err != nil {
		a.logRefusal(ctx, err)
		return err
	}
	if req.Sensitive {
		if err := a.sessions.gate(ctx, p, true); err != nil {
			a.logRefusal(ctx, err)
			return err
		}
	}
	return nil
}

// MaxTokenSize returns the largest token a accepts, in bytes
// (Config.MaxTokenSize after defaults), for sizing a server's header buffers.
func (a *Authenticator) MaxTokenSize() int { return a.cfg.MaxTokenSize }

// Render turns an error from Admit or Require into the response to write,
// with this authenticator's realm and renderer.
func (a *Authenticator) render(err error) Response {
	e := asError(err)
	if a.dpop != nil {
		c := *e
		c.DPoP = &DPoPChallenge{Algs: a.dpop.algs, Error: e.viaDPoP, Bearer: a.dpop.bearerAll}
		if a.dpop.secret != nil && (e.viaDPoP || e.Status == http.StatusUnauthorized) {
			c.DPoP.Nonce = a.dpop.nonceAt(a.cfg.Now())
		}
		e = &c
	}
	if a.resource != nil {
		c := *e
		c.ResourceMetadata = a.resource.url
		e = &c
	}
	return a.cfg.Renderer(e, a.cfg.Realm)
}

// issuerMode is the DPoP mode that applies to p's token.
func (a *Authenticator) issuerMode(p *Principal) DPoPMode {
	if is := a.issuers[p.Issuer]; is != nil {
		return is.cfg.DPoP
	}
	if a.dpop != nil && a.dpop.mode != DPoPUnset {
		return a.dpop.mode
	}
	return DPoPOff
}

// renderContext renders an error of [Require] with the renderer of the
// authenticator that admitted the request in ctx (the defaults when none
// did).
func renderContext(ctx context.Context, err error) Response {
	if p := principalState(ctx); p != nil && p.auth != nil {
		return p.auth.render(err)
	}
	return DefaultRenderer(asError(err), "api")
}

// logRefusal logs a refusal at Debug (its reason class, never the token)
// and reports it to the Observer (see refused in observer.go).
func (a *Authenticator) logRefusal(ctx context.Context, err error) {
	a.refused(ctx, err)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
