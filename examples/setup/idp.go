package setup

import (
	"fmt"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/authgate/authgate/core"
)

// idpEnv is what the environment says about a real identity provider beyond
// its URLs: claim names, session endpoint headers, start and fail-open
// rules, the access token profile.
type idpEnv struct {
	claims           core.ClaimNames
	sessionHeader    http.Header
	sessionRule      sessionRule
	startWithoutKeys bool
	maxStale         time.Duration
	requireAT        bool
}

// idpVariables are meaningless for the development issuer, which mints its
// own tokens: setting one in development mode is a mistake worth stopping for.
var idpVariables = []string{
	"AUTHGATE_CLAIM_SID", "AUTHGATE_CLAIM_SCOPE", "AUTHGATE_CLAIM_ROLES", "AUTHGATE_CLAIM_TENANT",
	"AUTHGATE_SESSION_HEADERS", "AUTHGATE_SESSION_RULE", "AUTHGATE_ALLOW_START_WITHOUT_KEYS", "AUTHGATE_MAX_STALE", "AUTHGATE_REQUIRE_AT_JWT",
}

func idpFromEnv(env func(string) string, dev, issuer, sessionURL bool) (idpEnv, error) {
	var e idpEnv
	if dev {
		for _, name := range idpVariables {
			if env(name) != "" {
				return e, fmt.Errorf("%s is for a real identity provider: set AUTHGATE_ISSUER (or AUTHGATE_INTROSPECTION_URL) too, or unset it for the development issuer", name)
			}
		}
		return e, nil
	}
	e.claims = core.ClaimNames{
		SessionID: env("AUTHGATE_CLAIM_SID"), Scope: env("AUTHGATE_CLAIM_SCOPE"),
		Roles: env("AUTHGATE_CLAIM_ROLES"), Tenant: env("AUTHGATE_CLAIM_TENANT"),
	}
	if h := env("AUTHGATE_SESSION_HEADERS"); h != "" {
		if !sessionURL {
			return e, fmt.Errorf("AUTHGATE_SESSION_HEADERS is set but AUTHGATE_SESSION_URL is not: the headers are sent to the session endpoint only")
		}
		var err error
		if e.sessionHeader, err = parseHeaders(h); err != nil {
			return e, fmt.Errorf("AUTHGATE_SESSION_HEADERS: %w", err)
		}
	}
	if r := env("AUTHGATE_SESSION_RULE"); r != "" {
		if !sessionURL {
			return e, fmt.Errorf("AUTHGATE_SESSION_RULE is set but AUTHGATE_SESSION_URL is not: it says how the session endpoint's answer is read")
		}
		switch field, isField := strings.CutPrefix(r, "field:"); {
		case r == "nonempty-array":
			e.sessionRule.nonEmptyArray = true
		case isField && field != "":
			e.sessionRule.activeField = field
		default:
			return e, fmt.Errorf("AUTHGATE_SESSION_RULE %q: nonempty-array, or field:NAME (a boolean member such as field:active)", r)
		}
	}
	var err error
	if e.startWithoutKeys, err = flag(env, "AUTHGATE_ALLOW_START_WITHOUT_KEYS"); err != nil {
		return e, err
	}
	if e.requireAT, err = flag(env, "AUTHGATE_REQUIRE_AT_JWT"); err != nil {
		return e, err
	}
	if (e.startWithoutKeys || e.requireAT) && !issuer {
		return e, fmt.Errorf("AUTHGATE_ALLOW_START_WITHOUT_KEYS and AUTHGATE_REQUIRE_AT_JWT concern JWTs: set AUTHGATE_ISSUER too")
	}
	if v := env("AUTHGATE_MAX_STALE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return e, fmt.Errorf("AUTHGATE_MAX_STALE %q: a positive duration such as 30s or 5m", v)
		}
		if !sessionURL {
			return e, fmt.Errorf("AUTHGATE_MAX_STALE is set but AUTHGATE_SESSION_URL is not: it applies to session id checks only (introspection and local stores never fail open)")
		}
		e.maxStale = d
	}
	return e, nil
}

// sessionRule is how a 200 answer of the session endpoint is read
// (AUTHGATE_SESSION_RULE): by status alone, a non-empty JSON array, or a
// boolean member.
type sessionRule struct {
	nonEmptyArray bool
	activeField   string
}

// flag reads a yes/no variable: 1/true, 0/false or unset.
func flag(env func(string) string, name string) (bool, error) {
	switch v := env(name); {
	case v == "":
		return false, nil
	case isTrue(v):
		return true, nil
	case v == "0" || strings.EqualFold(v, "false"):
		return false, nil
	default:
		return false, fmt.Errorf("%s %q: 1 or 0", name, v)
	}
}

// parseHeaders reads "Name: value" pairs separated by ";". Names must be
// header tokens; values may hold no control characters. A value holding
// ";" cannot be given this way.
func parseHeaders(s string) (http.Header, error) {
	h := http.Header{}
	for _, pair := range strings.Split(s, ";") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		name, value, ok := strings.Cut(pair, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return nil, fmt.Errorf("%q is not of the form \"Name: value\"", strings.TrimSpace(pair))
		}
		if !headerToken(name) {
			return nil, fmt.Errorf("%q is not a header name", name)
		}
		if strings.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return nil, fmt.Errorf("the value of %s holds a control character", name)
		}
		switch textproto.CanonicalMIMEHeaderKey(name) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection":
			return nil, fmt.Errorf("%s cannot be set", name)
		}
		h.Add(name, value)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("no header in %q", s)
	}
	return h, nil
}

func headerToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return s != ""
}

// joinMode joins two parts of the mode line.
func joinMode(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// step is one line of the banner's walk: a request and what it answers in
// this mode (and why), or, with then set, something to do at the identity
// provider before the next requests. The banner prints the walk and the
// example tests run it (flowtest.BannerWalk), so it says what happens.
type step struct {
	method, path string
	status       int    // 0: the dev walk, which the process test checks
	note         string // after the status
	then         string // an action outside the app, in words
}

// tries is the walk the banner proposes, per mode.
func tries(dev, issuer, sessionURL, introspect, redis, noLogout bool) []step {
	me, transfer, admin, logout := step{method: "GET", path: "/me"}, step{method: "POST", path: "/transfer"}, step{method: "GET", path: "/admin"}, step{method: "POST", path: "/logout"}
	if dev {
		// Printed as the README shows it; examples/*/TestProcess runs it.
		after, every := transfer, me
		after.note, every.note = "now 401: the session has ended", "401 too: the revocation reached every route"
		return []step{me, transfer, admin, logout, after, every}
	}
	with := func(s step, status int, note string) step { s.status, s.note = status, note; return s }
	admin = with(admin, 200, "with the role admin in the token, else 403")
	var walk []step
	switch {
	case redis:
		return []step{
			with(me, 200, "verified locally with your issuer's keys"),
			with(transfer, 200, "its session is looked up in Redis, where your login service must keep it (else 401)"),
			admin,
			with(logout, 200, "revokes that session in Redis"),
			with(transfer, 401, "the session has ended"),
			with(me, 401, "the revocation reached every route through the Redis feed"),
		}
	case !issuer: // opaque tokens, introspected on every request
		return []step{
			with(me, 200, "introspected live on every request"),
			with(transfer, 200, "introspected live"),
			admin,
			with(logout, 501, "log out at your issuer"),
			{then: "revoke the token at your issuer (RFC 7009)"},
			with(me, 401, "introspection says it is no longer active"),
			with(transfer, 401, "the same on every route"),
		}
	case noLogout:
		return []step{
			with(me, 200, "verified locally with your issuer's keys"),
			with(transfer, 401, "no live session check is configured: set AUTHGATE_INTROSPECTION_URL or AUTHGATE_SESSION_URL"),
			admin,
			with(logout, 501, "log out at your issuer"),
		}
	}
	var checks []string
	if sessionURL {
		checks = append(checks, "its session is checked at AUTHGATE_SESSION_URL")
	}
	if introspect {
		checks = append(checks, "the token is introspected at AUTHGATE_INTROSPECTION_URL")
	}
	revoke := "revoke the token at your issuer (RFC 7009)"
	switch {
	case sessionURL && introspect:
		revoke = "revoke the token (RFC 7009) or end its session at your issuer"
	case sessionURL:
		revoke = "end the token's session at your issuer"
	}
	walk = append(walk,
		with(me, 200, "verified locally with your issuer's keys"),
		with(transfer, 200, "sensitive: "+strings.Join(checks, ", and ")),
		admin,
		with(logout, 501, "log out at your issuer"),
		step{then: revoke},
		with(transfer, 401, "the live check says it has ended"),
		with(me, 200, "until it expires: JWTs are verified locally, and your issuer sends no revocations"),
	)
	return walk
}
