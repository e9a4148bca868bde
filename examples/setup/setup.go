// Package setup turns the example apps' environment into an authgate
// Authenticator and a session store, so that each example's main.go holds
// only its framework's routes. The contract:
//
//	ADDR                         listen address (default 127.0.0.1:8080)
//	AUTHGATE_ISSUER              a real issuer: its exact "iss"; with it, no dev issuer exists
//	AUTHGATE_AUDIENCE            accepted "aud" values, comma-separated (required with AUTHGATE_ISSUER)
//	AUTHGATE_JWKS_URL            the issuer's JWKS (optional: OIDC discovery from the issuer otherwise)
//	AUTHGATE_SESSION_URL         live session checks over HTTP: a URL template containing {sid}
//	                             (and optionally {sub}); AUTHGATE_SESSION_HEADERS="Name: value; …"
//	                             adds headers; AUTHGATE_SESSION_RULE=nonempty-array or
//	                             field:active reads the answer; AUTHGATE_MAX_STALE=30s lets a session confirmed
//	                             that recently through while the endpoint is down
//	AUTHGATE_INTROSPECTION_URL   RFC 7662: opaque tokens introspected on every request; with
//	                             AUTHGATE_ISSUER, JWTs verified locally and introspected on
//	                             sensitive routes (besides AUTHGATE_SESSION_URL when set)
//	AUTHGATE_CLIENT_ID/_SECRET     introspection with these client credentials (both unset: no
//	                               client authentication); AUTHGATE_ISSUER and AUTHGATE_AUDIENCE,
//	                               when set, must match each answer. With AUTHGATE_ISSUER (JWTs),
//	                               AUTHGATE_CLIENT_ID is the audience of back-channel logout
//	                               tokens, received at POST /backchannel-logout
//	AUTHGATE_CLAIM_SID/_SCOPE/_ROLES/_TENANT  claim names (dotted paths: ext.sid)
//	AUTHGATE_ALLOW_START_WITHOUT_KEYS=1  start while the issuer's keys cannot be fetched
//	AUTHGATE_REQUIRE_AT_JWT=1    RFC 9068 access tokens only
//	AUTHGATE_REDIS_URL           sessions in Redis; beside AUTHGATE_SESSION_URL or
//	                             AUTHGATE_INTROSPECTION_URL, the revocation bus alone
//	AUTHGATE_SSF_ISSUER/_AUDIENCE  a Shared Signals transmitter and this stream's audience:
//	                             its events are received at POST /ssf/events (with
//	                             AUTHGATE_SSF_PUSH_TOKEN, pushes must carry it as a bearer
//	                             token), or polled from AUTHGATE_SSF_POLL_URL (with
//	                             AUTHGATE_SSF_POLL_TOKEN)
//	AUTHGATE_ADMIN_ADDR          serve the authenticator's status (JSON) at /status on this
//	                             internal address (see App.ServeAdmin); never the public one
//	OTEL_EXPORTER_OTLP_ENDPOINT  export metrics and traces (package otelauth) over OTLP/HTTP
//	AUTHGATE_METRICS=stdout      otherwise print the metrics to stdout, every
//	                             AUTHGATE_METRICS_INTERVAL (default 60s) and at exit
//	AUTHGATE_DEV_ALLOW_REMOTE=1  let development mode listen on a non-loopback ADDR
//	AUTHGATE_DPOP                off (default), allowed (DPoP-bound tokens need their proof,
//	                             bearer tokens still pass) or required (every protected
//	                             route needs DPoP); with AUTHGATE_REDIS_URL, proofs are
//	                             remembered in Redis, so a replay is refused on every instance
//	AUTHGATE_PUBLIC_ORIGIN       the origin clients use (https://api.example.com), for the
//	                             proofs' htu behind a proxy; forwarded headers are never read
//
// The one list of these variables is [Variables]; [Environ] refuses an
// AUTHGATE_* variable that is not in it, so that a typo (AUTHGATE_ISUER)
// stops the app instead of starting development mode.
//
// At most one of AUTHGATE_SESSION_URL and AUTHGATE_INTROSPECTION_URL may be
// set, except that with AUTHGATE_ISSUER they combine; AUTHGATE_REDIS_URL
// beside either makes Redis the revocation bus alone.
// With none of the session variables set, sessions live in memory
// (core.MemoryStore). With no issuer (neither AUTHGATE_ISSUER nor
// AUTHGATE_INTROSPECTION_URL), the app runs in development mode: a built-in
// issuer (package devissuer) mints tokens at POST /dev/login and serves a
// try-it page at GET /.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/examples/devissuer"
)

// DefaultAddr is the listen address when ADDR is unset.
const DefaultAddr = "127.0.0.1:8080"

// ErrRemoteSessions is returned by Logout when sessions are kept by a remote
// service (AUTHGATE_SESSION_URL, AUTHGATE_INTROSPECTION_URL, or a real
// issuer without a session variable): logging out is that service's job.
var ErrRemoteSessions = errors.New("sessions are kept by a remote service; log out there")

// App is an example app's authentication, built from the environment.
type App struct {
	// Auth verifies tokens; hand it to the framework's middleware.
	Auth *core.Authenticator
	// Addr is the listen address.
	Addr string
	// Dev is the development issuer, nil when a real issuer is configured.
	// Serve Dev.Page() at GET / and Dev.Login() at POST /dev/login only when
	// it is not nil.
	Dev *devissuer.Issuer
	// Mode describes the configuration in a few words, for the start banner.
	Mode string

	// AdminURL is where ServeAdmin serves the status, once it does.
	AdminURL string
	// BackchannelLogout is the OpenID Connect back-channel logout receiver, served at
	// POST /backchannel-logout outside the middleware; nil unless
	// AUTHGATE_ISSUER and AUTHGATE_CLIENT_ID (the logout tokens' audience)
	// are set. Its revocations go through the store's feed (every instance
	// sharing AUTHGATE_REDIS_URL), else to this instance only.
	BackchannelLogout *core.BackchannelLogout
	// TransferStepUp is what POST /transfer requires of the user's
	// authentication besides a live session (AUTHGATE_TRANSFER_ACR,
	// AUTHGATE_TRANSFER_MAX_AGE); its zero value asks for nothing.
	TransferStepUp core.StepUp

	// SSF is the Shared Signals push receiver, served at POST /ssf/events
	// outside the middleware; nil unless AUTHGATE_SSF_ISSUER and
	// AUTHGATE_SSF_AUDIENCE are set without AUTHGATE_SSF_POLL_URL (with it,
	// the receiver polls the transmitter and no push endpoint exists).
	SSF *core.SSF

	store        core.SessionStore // the local store (memory, Redis); nil when sessions are remote
	bus          core.SessionStore // AUTHGATE_REDIS_URL beside remote sessions: the revocation feed and publisher only
	loopback     bool              // listening on a loopback address: cookies without Secure
	adminAddr    string            // AUTHGATE_ADMIN_ADDR
	tel          *telemetry        // nil without OTEL_EXPORTER_OTLP_ENDPOINT or AUTHGATE_METRICS
	noLogout     bool              // the store holds none of the issuer's sessions: Logout refuses
	steps        []step            // what the banner proposes to try, and what each answers
	dpopRequired bool              // AUTHGATE_DPOP=required: the banner's bearer walk would be refused

	introspector *core.Introspector // AUTHGATE_INTROSPECTION_URL; closed with the app

	streams streams // GET /events and GET /ws, ended by EndStreams (stream.go)
}

// Store values that can be closed.
type closer interface{ Close() error }

// FromEnv builds the App from getenv (os.Getenv in main). ctx bounds the
// start-up fetch of the issuer's keys.
func FromEnv(ctx context.Context, getenv func(string) string) (*App, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	a := &App{Addr: env("ADDR")}
	if a.Addr == "" {
		a.Addr = DefaultAddr
	}
	host, _, err := net.SplitHostPort(a.Addr)
	if err != nil {
		return nil, fmt.Errorf("ADDR %q: %v", a.Addr, err)
	}
	a.loopback = isLoopback(host)
	a.adminAddr = env("AUTHGATE_ADMIN_ADDR")

	issuer, jwks, introspect := env("AUTHGATE_ISSUER"), env("AUTHGATE_JWKS_URL"), env("AUTHGATE_INTROSPECTION_URL")
	audience := splitList(env("AUTHGATE_AUDIENCE"))
	sessionURL, redisURL := env("AUTHGATE_SESSION_URL"), env("AUTHGATE_REDIS_URL")
	set := 0
	for _, v := range []string{sessionURL, introspect, redisURL} {
		if v != "" {
			set++
		}
	}
	// With a real issuer, a session endpoint and introspection combine:
	// both are asked on sensitive routes. Beside either, AUTHGATE_REDIS_URL
	// is the revocation bus alone: the receivers' revocations reach every
	// instance through it, and sessions stay where they are checked.
	bus := redisURL != "" && (sessionURL != "" || introspect != "")
	if remote := set - btoi(redisURL != ""); remote > 1 && !(issuer != "" && sessionURL != "" && introspect != "") {
		return nil, errors.New("set at most one of AUTHGATE_SESSION_URL, AUTHGATE_INTROSPECTION_URL (with AUTHGATE_ISSUER, AUTHGATE_SESSION_URL and AUTHGATE_INTROSPECTION_URL may be combined)")
	}
	if issuer == "" && (jwks != "" || (len(audience) > 0 && introspect == "")) {
		return nil, errors.New("AUTHGATE_AUDIENCE or AUTHGATE_JWKS_URL is set but AUTHGATE_ISSUER is not: set AUTHGATE_ISSUER too (or unset both for the development issuer)")
	}
	if issuer != "" && len(audience) == 0 {
		return nil, errors.New("AUTHGATE_ISSUER is set but AUTHGATE_AUDIENCE is not: name the audience (aud) this API accepts")
	}
	dev := issuer == "" && introspect == ""
	if dev && sessionURL != "" {
		return nil, errors.New("AUTHGATE_SESSION_URL needs AUTHGATE_ISSUER: the development issuer keeps its sessions in the app's own store")
	}
	if v := env("AUTHGATE_DEV_ALLOW_REMOTE"); v != "" && !isTrue(v) && v != "0" && !strings.EqualFold(v, "false") {
		return nil, fmt.Errorf("AUTHGATE_DEV_ALLOW_REMOTE %q: 1 or 0", v)
	}
	if dev && !a.loopback && !isTrue(env("AUTHGATE_DEV_ALLOW_REMOTE")) {
		return nil, fmt.Errorf("development mode refuses ADDR %q, which is not a loopback address: anyone who reaches /dev/login there can log in as anyone. "+
			"Set AUTHGATE_ISSUER (and AUTHGATE_AUDIENCE) for a real issuer, listen on 127.0.0.1, or set AUTHGATE_DEV_ALLOW_REMOTE=1 if that is really what you want", a.Addr)
	}
	idp, err := idpFromEnv(env, dev, issuer != "", sessionURL != "")
	if err != nil {
		return nil, err
	}
	if a.TransferStepUp, err = stepUpFromEnv(env); err != nil {
		return nil, err
	}

	cfg := core.Config{Claims: idp.claims, AllowStartWithoutKeys: idp.startWithoutKeys, RequireAccessTokenType: idp.requireAT}
	cfg.SessionCheck.MaxStale = idp.maxStale
	var sessions string
	storeOpts := core.StoreOptions{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 8 * time.Hour, MaxSessions: 10, EvictOldest: true}
	if sessionURL != "" {
		checker, err := newHTTPSessionChecker(sessionURL, idp.sessionHeader, idp.sessionRule)
		if err != nil {
			return nil, fmt.Errorf("AUTHGATE_SESSION_URL: %w", err)
		}
		cfg.Sessions = checker
		sessions = "sessions checked at " + sessionURL
	}
	if introspect != "" {
		in, err := newIntrospector(introspect, env("AUTHGATE_CLIENT_ID"), getenv("AUTHGATE_CLIENT_SECRET"), issuer, audience, idp.claims)
		if err != nil {
			return nil, fmt.Errorf("AUTHGATE_INTROSPECTION_URL (with AUTHGATE_CLIENT_ID, AUTHGATE_CLIENT_SECRET): %w", err)
		}
		a.introspector = in
		cfg.Opaque = in // every opaque token is introspected live, on every request
		if issuer != "" {
			cfg.TokenIntrospection = in // and JWTs on the routes that get a live check
			sessions = joinMode(sessions, "tokens introspected at "+introspect+" (JWTs on sensitive routes, opaque tokens on every route)")
		} else {
			sessions = "opaque tokens introspected at " + introspect
		}
	}
	switch {
	case bus:
		store, err := newRedisStore(ctx, redisURL, storeOpts)
		if err != nil {
			return nil, fmt.Errorf("AUTHGATE_REDIS_URL: %w", err)
		}
		a.bus = store
		cfg.Revocations = store // its feed: what any instance's receivers publish is refused here
		sessions = joinMode(sessions, "revocations shared through Redis")
	case sessionURL != "" || introspect != "":
	case redisURL != "":
		store, err := newRedisStore(ctx, redisURL, storeOpts)
		if err != nil {
			return nil, fmt.Errorf("AUTHGATE_REDIS_URL: %w", err)
		}
		a.store = store
		sessions = "sessions in Redis"
	case dev:
		a.store = core.NewMemoryStore(storeOpts)
		sessions = "sessions in memory"
	default:
		// A real issuer and no session variable: an empty store, so that
		// sensitive routes refuse every token (no live check can confirm
		// the issuer's sessions), and no logout (the store holds none).
		a.store = core.NewMemoryStore(storeOpts)
		a.noLogout = true
		sessions = "no live session check (sensitive routes refuse every token)"
	}
	if a.store != nil {
		cfg.Sessions = a.store // also its revocation feed: a revoked sid is refused on every route at once
	}
	fail := func(err error) (*App, error) {
		_ = a.Close()
		return nil, err
	}

	if dev {
		d, err := devissuer.New(devissuer.Options{Sessions: a.store, InsecureCookie: a.loopback})
		if err != nil {
			return fail(err)
		}
		a.Dev = d
		dc := d.Config()
		cfg.Issuer, cfg.Audience, cfg.PublicKeys, cfg.Algorithms = dc.Issuer, dc.Audience, dc.PublicKeys, dc.Algorithms
		cfg.RequireAccessTokenType = dc.RequireAccessTokenType
		a.Mode = "development issuer, " + sessions
	} else if issuer == "" {
		a.Mode = sessions // the audience, if set, is checked on each introspection answer
	} else {
		cfg.Issuer = issuer     // the exact "iss" of your tokens
		cfg.Audience = audience // the "aud" values this API accepts
		cfg.JWKSURL = jwks      // "": OIDC discovery from the issuer
		a.Mode = "issuer " + issuer + ", " + sessions
	}
	a.steps = tries(dev, issuer != "", sessionURL != "", introspect != "", redisURL != "" && !bus, a.noLogout)
	var replay core.ReplayCache
	if redisURL != "" {
		// a redisstore.Store, as the session store or the bus alone: shared
		// by every instance
		if replay, _ = a.store.(core.ReplayCache); replay == nil {
			replay, _ = a.bus.(core.ReplayCache)
		}
	}
	dpopMode := ""
	if cfg.DPoP, dpopMode, err = dpopFromEnv(env, dev, replay); err != nil {
		return fail(err)
	}
	if dpopMode != "" {
		a.Mode += ", " + dpopMode
	}
	a.dpopRequired = cfg.DPoP.Mode == core.DPoPRequired
	if a.tel, err = newTelemetry(ctx, env, os.Stdout); err != nil {
		return fail(err)
	}
	cfg.Observer = a.tel.coreObserver() // nil without telemetry: nothing is measured
	if cfg.ProtectedResource, err = resourceFromEnv(env, cfg.Issuer); err != nil {
		return fail(err)
	}
	if a.Auth, err = core.New(ctx, cfg); err != nil {
		if strings.Contains(err.Error(), "ProtectedResource") {
			err = fmt.Errorf("AUTHGATE_RESOURCE, AUTHGATE_AUTHORIZATION_SERVERS: %w", err)
		}
		if strings.Contains(err.Error(), "AllowStartWithoutKeys") {
			err = fmt.Errorf("%w; in the examples: AUTHGATE_ALLOW_START_WITHOUT_KEYS=1", err)
		}
		return fail(err)
	}
	a.tel.watch(a.Auth) // gauges read a.Auth.Status() at each collection
	if clientID := env("AUTHGATE_CLIENT_ID"); issuer != "" && introspect == "" && clientID != "" {
		// The identity provider's logouts reach every route: POST /backchannel-logout.
		if a.BackchannelLogout, err = a.Auth.BackchannelLogout(core.BackchannelLogoutOptions{ClientID: clientID}); err != nil {
			return fail(fmt.Errorf("AUTHGATE_CLIENT_ID (back-channel logout): %w", err))
		}
		a.Mode += ", back-channel logout for client " + clientID
	}
	if err := a.ssfFromEnv(ctx, env, issuer != ""); err != nil {
		return fail(err)
	}
	return a, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Close stops the authenticator and the store.
func (a *App) Close() error {
	var errs []error
	if a.Auth != nil {
		errs = append(errs, a.Auth.Close())
	}
	if c, ok := a.store.(closer); ok {
		errs = append(errs, c.Close())
	}
	if c, ok := a.bus.(closer); ok {
		errs = append(errs, c.Close())
	}
	if a.introspector != nil {
		errs = append(errs, a.introspector.Close())
	}
	errs = append(errs, a.tel.close()) // flushes the last metrics
	return errors.Join(errs...)
}

// Logout revokes the caller's session, or with everywhere every session of
// the caller's subject, and returns how many sessions ended. It fails with
// ErrRemoteSessions when sessions are not kept locally.
func (a *App) Logout(ctx context.Context, p *core.Principal, everywhere bool) (int, error) {
	if a.store == nil || a.noLogout {
		return 0, ErrRemoteSessions
	}
	if everywhere {
		return a.store.RevokeSubject(ctx, p.Subject, core.WithReason("user logged out everywhere"), core.WithActor(p.Subject))
	}
	if p.SessionID == "" {
		return 0, nil
	}
	err := a.store.Revoke(ctx, p.SessionID, core.WithReason("user logged out"), core.WithActor(p.Subject))
	if errors.Is(err, core.ErrSessionRevoked) {
		return 0, nil // ended meanwhile: the caller is logged out either way
	}
	if err != nil {
		return 0, err
	}
	return 1, nil
}

// ExpiredCookie returns the Set-Cookie that removes the token cookie, for
// POST /logout. Its attributes match the cookie the login set.
func (a *App) ExpiredCookie() *http.Cookie {
	return &http.Cookie{Name: devissuer.CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: !a.loopback, SameSite: http.SameSiteStrictMode}
}

// Me is the body of GET /me.
func Me(p *core.Principal) map[string]any {
	return map[string]any{
		"sub": p.Subject, "sid": p.SessionID, "scopes": nonNil(p.Scopes), "roles": nonNil(p.Roles),
		"iss": p.Issuer, "exp": p.ExpiresAt.Unix(), "token_from": p.Source.String(),
	}
}

// Transfer is the body of POST /transfer. A real handler would move money
// here; the example only reports that the sensitive route ran.
func Transfer(p *core.Principal) map[string]any {
	return map[string]any{"transferred": true, "sub": p.Subject, "session_checked_live": p.SessionChecked}
}

// Admin is the body of GET /admin.
func Admin(p *core.Principal) map[string]any {
	return map[string]any{"admin": true, "sub": p.Subject}
}

// Error is a small JSON error body.
func Error(msg string) map[string]any { return map[string]any{"error": msg} }

// Banner writes the start-up message: where the app listens and the exact
// commands to try it.
func (a *App) Banner(w io.Writer, framework, baseURL string) {
	fmt.Fprintf(w, "authgate example (%s) listening on %s\nmode: %s\n", framework, baseURL, a.Mode)
	if a.Dev != nil {
		fmt.Fprintf(w, "\n*** DEVELOPMENT MODE: anyone who can reach this server can log in as anyone. ***\n")
		fmt.Fprintf(w, "*** Not for production: set AUTHGATE_ISSUER and AUTHGATE_AUDIENCE for a real issuer. ***\n")
	}
	if a.tel != nil {
		fmt.Fprintf(w, "telemetry: %s\n", a.tel.mode)
	}
	if a.AdminURL != "" {
		fmt.Fprintf(w, "status (admin port, keep it private): %s\n", a.AdminURL)
	}
	fmt.Fprintln(w)
	if a.Dev != nil {
		fmt.Fprintf(w, "Open %s/ in a browser, or try:\n\n", baseURL)
		fmt.Fprintf(w, "  TOKEN=$(curl -s -H 'Accept: text/plain' -d subject=alice -d roles=admin %s/dev/login)\n", baseURL)
	} else {
		fmt.Fprintf(w, "Try it with an access token from your issuer:\n\n  TOKEN=<access token>\n")
	}
	if a.dpopRequired {
		fmt.Fprintf(w, "DPoP required (AUTHGATE_DPOP=required): every protected route refuses bearer tokens (401).\n"+
			"Send \"Authorization: DPoP $TOKEN\" with a DPoP proof of the token's key in the \"DPoP\" header: see docs/dpop.md.\n\n")
		return
	}
	for _, st := range a.steps {
		if st.then != "" {
			fmt.Fprintf(w, "\nThen %s, and:\n\n", st.then)
			continue
		}
		method := ""
		if st.method != "GET" {
			method = "-X " + st.method + " "
		}
		fmt.Fprintf(w, "  curl -i %s-H \"Authorization: Bearer $TOKEN\" %s%s", method, baseURL, st.path)
		switch {
		case st.status != 0:
			fmt.Fprintf(w, "   # %d: %s", st.status, st.note)
		case st.note != "":
			fmt.Fprintf(w, "   # %s", st.note)
		}
		fmt.Fprintln(w)
	}
	if a.Dev != nil {
		fmt.Fprintf(w, "\nDevelopment mode: anyone who can reach %s/dev/login can log in as anyone.\n", baseURL)
		if !a.loopback {
			fmt.Fprintf(w, "Not on loopback: the token cookie is Secure, so the browser page needs HTTPS; the curl commands work as they are.\n")
		}
	}
	fmt.Fprintln(w)
}

// URL returns the base URL of a listener's address.
func URL(addr net.Addr) string { return "http://" + addr.String() }

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// isTrue reports whether a yes/no variable says yes.
func isTrue(v string) bool { return v == "1" || strings.EqualFold(v, "true") }

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
