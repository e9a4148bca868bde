package adaptertest

import (
	"fmt"
	"strings"

	"github.com/authgate/authgate/core"
)

// tcase is one request and the answer every adapter must give.
type tcase struct {
	name string
	// source is the rule, advisory or document the case comes from; a case
	// named after a security catalog row gets that row's source (see
	// catalogSource) unless it says otherwise.
	source string
	method string
	path   string
	// header lines exactly as sent ("Name: value"); {token} names,
	// {origin} and {host} are replaced (see mintTokens and runner.expand).
	header []string
	// body is sent as the request body (expanded like the header lines),
	// with its Content-Length; "" sends none.
	body string
	// variant names the authenticator configuration the case runs against
	// (see variants); "" is the suite's Config.
	variant string
	want    want
}

// from sets the case's source.
func (c tcase) from(source string) tcase { c.source = source; return c }

// in runs the case against the named configuration variant.
func (c tcase) in(variant string) tcase { c.variant = variant; return c }

// withBody sends body with the request.
func (c tcase) withBody(body string) tcase { c.body = body; return c }

// variants are the authenticator configurations besides the suite's own
// (Config). Run starts one more server per variant a case names.
var variants = map[string]func(*core.Config){
	// EX-11: query-string tokens enabled (RFC 6750 section 2.3).
	"query": func(c *core.Config) { c.QueryParam = "access_token" },
	// The default MaxTokenSize (8 KiB), for tokens larger than fasthttp's
	// default 4 KiB header buffer.
	"bigtoken": func(c *core.Config) { c.MaxTokenSize = 0 },
}

// catalogSource is the source of each security catalog row the table uses
// (../shared/SECURITY-CATALOG.md).
var catalogSource = map[string]string{
	"EX-01": "RFC 6750 §3.1",
	"EX-02": "RFC 6750 §3.1",
	"EX-03": "RFC 9110 §11.1",
	"EX-04": "RFC 6750 §2.1",
	"EX-05": "RFC 6750 §3.1",
	"EX-06": "RFC 9110 §5.3",
	"EX-07": "RFC 6750 §2.1",
	"EX-08": "RFC 8725bis §3.14",
	"EX-09": "RFC 6750 §2",
	"EX-10": "RFC 6750 §2.3",
	"EX-11": "RFC 6750 §2.3",
	"EX-12": "RFC 6750 §2.2",
	"EX-13": "CVE-2025-30204",
	"EX-14": "DESIGN.md (Optional)",
	"EX-15": "net/http ServeMux (a GET pattern matches HEAD)",
	"EX-16": "router normalisation (fiber CaseSensitive/StrictRouting)",
	"EX-17": "RFC 6750 §2",
	"CK-01": "net/http CrossOriginProtection",
	"CK-02": "net/http CrossOriginProtection",
	"CK-03": "net/http CrossOriginProtection",
	"CK-04": "net/http CrossOriginProtection",
	"CK-05": "net/http CrossOriginProtection",
	"CK-06": "RFC 6750 §5.3",
	"CK-09": "RFC 6265 §4.2.2",
	"CK-12": "RFC 6265 §4.1.1",
	"OP-05": "valyala/fasthttp#471 (no recovery)",
}

// catalogID returns the catalog row a case name starts with, or "".
func catalogID(name string) string {
	if len(name) >= 5 && name[2] == '-' && name[3] >= '0' && name[3] <= '9' {
		return name[:5]
	}
	return ""
}

type checks uint8

const (
	checksAny  checks = iota // the case does not say
	checksNone               // the session checker must not be called
	checksSome               // the session checker must be called
)

type want struct {
	status       int
	challenge    string // exact WWW-Authenticate; "" means absent
	cacheControl string // "" means absent
	retryAfter   string // "" means absent
	contentType  string
	body         string
	route        string // the handler that must run; "" means none
	who          *who   // the principal it must see; nil means anonymous
	checks       checks
	notServed    bool // EX-16: any of 401, 404, 400 or a redirect, and no handler
	// redirectEcho: the framework may redirect the request before any
	// middleware runs and repeat its query (a query token) in the answer;
	// logged, not failed (SECURITY.md, "does not guarantee").
	redirectEcho bool
	// refusedRaw: bytes some servers refuse themselves (net/http answers
	// 400 to control characters in a field value before any handler runs);
	// either that 400 or authgate's 401 invalid_token, and no handler.
	refusedRaw bool
	// nonce: the response carries a DPoP-Nonce header (RFC 9449 section 8);
	// without it the header must be absent.
	nonce bool
}

// The refusals, written once. Every 401 carries a challenge (OP-03); every
// 503 carries Retry-After; refusals are never cached.
func refusal(status int, code, desc, scope, errName string) want {
	w := want{status: status, cacheControl: "no-store", contentType: "application/json", checks: checksNone}
	if status == 401 || code != "" {
		w.challenge = `Bearer realm="` + Realm + `"`
		if code != "" {
			w.challenge += `, error="` + code + `", error_description="` + desc + `"`
			if scope != "" {
				w.challenge += `, scope="` + scope + `"`
			}
		}
	}
	if status == 503 {
		w.retryAfter = "5"
	}
	if code == "" {
		code = errName
	}
	w.body = `{"error":"` + code + `"`
	if desc != "" {
		w.body += `,"error_description":"` + desc + `"`
	}
	w.body += "}\n"
	return w
}

var (
	noToken        = refusal(401, "", "", "", "unauthorized")
	invalidToken   = refusal(401, "invalid_token", "the access token is invalid", "", "")
	expiredToken   = refusal(401, "invalid_token", "the access token has expired", "", "")
	sessionEnded   = withChecks(refusal(401, "invalid_token", "the session has ended", "", ""), checksAny)
	invalidRequest = refusal(400, "invalid_request", "the request carries malformed or ambiguous credentials", "", "")
	scopeDenied    = refusal(403, "insufficient_scope", "the access token lacks a required scope", Scope, "")
	roleDenied     = refusal(403, "insufficient_scope", "the principal lacks a required role", "", "")
	crossOrigin    = refusal(403, "", "cross-origin request refused", "", "forbidden")
	unavailable    = withChecks(refusal(503, "", "authentication is temporarily unavailable", "", "temporarily_unavailable"), checksSome)
	misconfigured  = withChecks(func() want {
		w := refusal(500, "", "the server is misconfigured", "", "server_error")
		w.challenge = ""
		return w
	}(), checksNone)
	notServed  = want{notServed: true}
	refusedRaw = want{refusedRaw: true}
)

func withChecks(w want, c checks) want { w.checks = c; return w }

// served: the handler of route ran and saw p (nil: anonymous).
func served(route string, p *who) want {
	w := want{status: 200, contentType: ContentType, route: route, who: p, checks: checksNone}
	if p == nil {
		w.body = "route=" + route + " anonymous\n"
	} else {
		w.body = fmt.Sprintf("route=%s sub=%s sid=%s source=%s checked=%t scopes=%s roles=%s\n",
			route, p.sub, p.sid, p.source, p.checked, strings.Join(p.scopes, ","), strings.Join(p.roles, ","))
	}
	if p != nil && p.checked {
		w.checks = checksSome
	}
	return w
}

// The principals of the suite's tokens.
func user(src core.Source) *who {
	return &who{sub: "user-1", sid: SessionActive, source: src, scopes: []string{"profile"}, roles: []string{"user"}}
}

func (w *who) with(f func(*who)) *who { c := *w; f(&c); return &c }

var (
	fromHeader = user(core.SourceHeader)
	fromCookie = user(core.SourceCookie)
	fromCustom = user(core.SourceCustomHeader)
	fromQuery  = user(core.SourceQuery)
	checked    = fromHeader.with(func(w *who) { w.checked = true })
	scoped     = fromHeader.with(func(w *who) { w.scopes = []string{"orders:read", "profile"} })
	admin      = fromHeader.with(func(w *who) { w.roles = []string{"admin"} })
)

func cases() []tcase {
	c := func(name, method, path string, want want, header ...string) tcase {
		return tcase{name: name, source: catalogSource[catalogID(name)], method: method, path: path, header: header, want: want}
	}
	const (
		GET  = "GET"
		POST = "POST"
		HEAD = "HEAD"
	)
	bearer := "Authorization: Bearer {good}"
	cookie := "Cookie: access_token={good}"
	return []tcase{
		// Extraction (EX).
		c("EX-01 no credentials on a protected route get 401 without error code", GET, "/me", noToken),
		c("valid bearer token in the Authorization header is admitted", GET, "/me", served(RouteMe, fromHeader), bearer).from("positive control"),
		c("valid token in the access_token cookie is admitted", GET, "/me", served(RouteMe, fromCookie), cookie).from("positive control"),
		c("valid token in the custom header X-Access-Token is admitted", GET, "/me", served(RouteMe, fromCustom), "X-Access-Token: {good}").from("positive control"),
		c("EX-03 scheme bearer in lower case is admitted", GET, "/me", served(RouteMe, fromHeader), "Authorization: bearer {good}"),
		c("EX-03 scheme BEARER in upper case is admitted", GET, "/me", served(RouteMe, fromHeader), "Authorization: BEARER {good}"),
		c("EX-03 scheme bEaReR in mixed case is admitted", GET, "/me", served(RouteMe, fromHeader), "Authorization: bEaReR {good}"),
		c("EX-02 Basic credentials are no credentials", GET, "/me", noToken, "Authorization: Basic dXNlcjpwYXNz"),
		c("EX-02 DPoP scheme is no credential", GET, "/me", noToken, "Authorization: DPoP {good}"),
		c("EX-02 Basic header with a valid cookie: the cookie decides", GET, "/me", served(RouteMe, fromCookie), "Authorization: Basic dXNlcjpwYXNz", cookie),
		c("EX-04 two spaces after Bearer are refused", GET, "/me", invalidRequest, "Authorization: Bearer  {good}"),
		c("EX-04 a tab after Bearer is refused", GET, "/me", invalidRequest, "Authorization: Bearer\t{good}"),
		c("EX-04 no separator after Bearer is refused", GET, "/me", invalidRequest, "Authorization: Bearer{good}"),
		c("EX-04 leading whitespace of the field value is not part of it", GET, "/me", served(RouteMe, fromHeader), "Authorization:   Bearer {good}"),
		c("EX-04 trailing whitespace of the field value is not part of it", GET, "/me", served(RouteMe, fromHeader), "Authorization: Bearer {good} \t"),
		c("EX-04 a second word after the token is refused", GET, "/me", invalidRequest, "Authorization: Bearer {good} extra"),
		c("EX-05 Bearer with no credential is refused", GET, "/me", invalidRequest, "Authorization: Bearer"),
		c("EX-05 Bearer and a space with no credential is refused", GET, "/me", invalidRequest, "Authorization: Bearer "),
		c("EX-05 Bearer and two spaces with no credential is refused", GET, "/me", invalidRequest, "Authorization: Bearer  "),
		c("EX-06 the same token in two Authorization lines is refused", GET, "/me", invalidRequest, bearer, bearer),
		c("EX-06 two different tokens in two Authorization lines are refused", GET, "/me", invalidRequest, "Authorization: Bearer {other}", bearer),
		c("EX-06 an empty Authorization line beside a bearer line is refused", GET, "/me", invalidRequest, "Authorization:", bearer),
		c("EX-06 a bearer line followed by a blank Authorization line is refused", GET, "/me", invalidRequest, bearer, "Authorization:   "),
		c("EX-17 an empty custom header line beside a token is refused", GET, "/me", invalidRequest, "X-Access-Token:", "X-Access-Token: {good}"),
		c("EX-07 two bearer credentials in one line are refused", GET, "/me", invalidRequest, "Authorization: Bearer {good}, Bearer {other}"),
		c("EX-07 two tokens joined by a comma are an invalid token", GET, "/me", invalidToken, "Authorization: Bearer {good},{other}"),
		c("EX-07 two tokens joined by a semicolon are an invalid token", GET, "/me", invalidToken, "Authorization: Bearer {good};{other}"),
		c("EX-09 different tokens in header and cookie are refused", GET, "/me", invalidRequest, "Authorization: Bearer {good}", "Cookie: access_token={other}"),
		c("EX-09 the same token in header and cookie is admitted from the header", GET, "/me", served(RouteMe, fromHeader), bearer, cookie),
		c("EX-10 a token in the query string is ignored", GET, "/me?access_token={good}", noToken),
		c("EX-13 a header token over MaxTokenSize is refused before parsing", GET, "/me", invalidToken, "Authorization: Bearer {oversize}"),
		c("EX-13 a cookie token over MaxTokenSize is refused before parsing", GET, "/me", invalidToken, "Cookie: access_token={oversize}"),
		c("EX-17 the custom header repeated is refused", GET, "/me", invalidRequest, "X-Access-Token: {good}", "X-Access-Token: {good}"),
		c("EX-17 the custom header and Authorization with different tokens are refused", GET, "/me", invalidRequest, bearer, "X-Access-Token: {other}"),
		c("EX-17 the custom header and Authorization with the same token are refused", GET, "/me", invalidRequest, bearer, "X-Access-Token: {good}"),
		c("EX-17 the custom header and the cookie with the same token are refused", GET, "/me", invalidRequest, cookie, "X-Access-Token: {good}"),

		c("header names are case-insensitive: authorization", GET, "/me", served(RouteMe, fromHeader), "authorization: Bearer {good}").from("RFC 9110 §5.1 (field names are case-insensitive)"),
		c("header names are case-insensitive: AUTHORIZATION", GET, "/me", served(RouteMe, fromHeader), "AUTHORIZATION: Bearer {good}").from("RFC 9110 §5.1 (field names are case-insensitive)"),
		c("EX-08 a double quote in the token is refused by the charset gate", GET, "/me", invalidToken, `Authorization: Bearer "{good}"`),
		c("EX-08 a brace in the token is refused by the charset gate", GET, "/me", invalidToken, "Authorization: Bearer {{good}"),
		c("EX-08 a percent-encoded dot in the token is refused", GET, "/me", invalidToken, "Authorization: Bearer {good}%2E"),
		c("EX-08 a plus in the token is refused", GET, "/me", invalidToken, "Authorization: Bearer +{good}"),
		c("EX-08 a slash in the token is refused", GET, "/me", invalidToken, "Authorization: Bearer {good}/"),
		c("EX-08 an inner equals sign in the token is refused", GET, "/me", invalidToken, "Authorization: Bearer {good}=x"),
		c("EX-08 a NUL in the token is refused", GET, "/me", refusedRaw, "Authorization: Bearer {good}\x00x"),
		c("EX-08 a DEL in the token is refused", GET, "/me", refusedRaw, "Authorization: Bearer {good}\x7fx"),
		c("EX-08 a non-ASCII byte in the token is refused", GET, "/me", refusedRaw, "Authorization: Bearer {good}\xc3\xa9"),

		// Verification.
		c("a malformed token is invalid", GET, "/me", invalidToken, "Authorization: Bearer {malformed}").from("RFC 7519 §7.2"),
		c("a token with alg none and no signature is invalid", GET, "/me", invalidToken, "Authorization: Bearer {algnone}").from("RFC 8725 §2.1"),
		c("a token with a changed signature is invalid", GET, "/me", invalidToken, "Authorization: Bearer {tampered}").from("RFC 7515 §5.2"),
		c("a token signed by an unpublished key under a known kid is invalid", GET, "/me", invalidToken, "Authorization: Bearer {forged}").from("RFC 7515 §5.2"),
		c("an expired token is refused as expired", GET, "/me", expiredToken, "Authorization: Bearer {expired}").from("RFC 7519 §4.1.4"),
		c("a token for another audience is invalid", GET, "/me", invalidToken, "Authorization: Bearer {wrongaud}").from("RFC 8725 §3.9"),
		c("a token from an untrusted issuer is invalid", GET, "/me", invalidToken, "Authorization: Bearer {wrongiss}").from("RFC 8725 §3.8"),
		c("an expired token in the cookie is refused as expired", GET, "/me", expiredToken, "Cookie: access_token={expired}").from("RFC 7519 §4.1.4"),

		// Scopes and roles.
		c("a token with the required scope is admitted", GET, "/orders", served(RouteOrders, scoped), "Authorization: Bearer {scoped}").from("positive control"),
		c("a token without the required scope gets 403 naming the scope", GET, "/orders", scopeDenied, bearer).from("RFC 6750 §3.1"),
		c("no token on a scoped route gets 401, not 403", GET, "/orders", noToken).from("RFC 6750 §3.1"),
		c("EX-15 HEAD on a scoped GET route without the scope gets 403", HEAD, "/orders", scopeDenied, bearer),
		c("a principal with the required role is admitted", GET, "/admin", served(RouteAdmin, admin), "Authorization: Bearer {admin}").from("positive control"),
		c("a principal without the required role gets 403", GET, "/admin", roleDenied, bearer).from("docs/frameworks.md (RequireRoles)"),
		c("a route marker without the middleware answers 500", GET, "/misconfigured", misconfigured, "Authorization: Bearer {scoped}").from("docs/frameworks.md (a route marker without the middleware)"),

		// Optional and public routes.
		c("EX-14 optional route without credentials runs anonymously", GET, "/optional", served(RouteOptional, nil)),
		c("EX-14 optional route with a valid token sees the principal", GET, "/optional", served(RouteOptional, fromHeader), bearer),
		c("EX-14 optional route with an expired token is refused", GET, "/optional", expiredToken, "Authorization: Bearer {expired}"),
		c("EX-14 optional route with a malformed token is refused", GET, "/optional", invalidToken, "Authorization: Bearer {malformed}"),
		c("EX-14 optional route with an empty bearer credential is refused", GET, "/optional", invalidRequest, "Authorization: Bearer "),
		c("a public route needs no token", GET, "/healthz", served(RoutePublic, nil)).from("positive control"),
		c("a public route ignores a bad token", GET, "/healthz", served(RoutePublic, nil), "Authorization: Bearer {malformed}").from("docs/frameworks.md (public routes)"),

		// Sensitive routes: the live session check.
		c("sensitive route with an active session runs after a live check", POST, "/transfer", served(RouteTransfer, checked), bearer).from("DESIGN.md (session policy)"),
		c("a live check on one request does not mark the next request's principal checked", GET, "/me", served(RouteMe, fromHeader), bearer).from("DESIGN.md (session policy)"),
		c("sensitive route with a revoked session gets 401", POST, "/transfer", sessionEnded, "Authorization: Bearer {revoked}").from("DESIGN.md (session policy)"),
		c("sensitive route when the session backend is down gets 503 with Retry-After", POST, "/transfer", unavailable, "Authorization: Bearer {down}").from("DESIGN.md (session policy, fail closed)"),
		c("OP-05 a panicking session checker is answered 503 and the server lives on", POST, "/transfer", unavailable, "Authorization: Bearer {panic}"),
		c("a cookie token on a same-origin POST to a sensitive route is checked live", POST, "/transfer",
			served(RouteTransfer, fromCookie.with(func(w *who) { w.checked = true })), cookie, "Sec-Fetch-Site: same-origin").from("DESIGN.md (session policy)"),
		c("sensitive route with a token without sid gets 401", POST, "/transfer", withChecks(invalidToken, checksNone), "Authorization: Bearer {nosid}").from("DESIGN.md (session policy)"),
		c("sensitive route with an expired token makes no session check", POST, "/transfer", expiredToken, "Authorization: Bearer {expired}").from("DESIGN.md (session policy)"),
		c("sensitive GET route with an active session", GET, "/account", served(RouteAccount, checked), bearer).from("DESIGN.md (session policy)"),
		c("EX-15 HEAD on a sensitive GET route with a revoked session gets 401", HEAD, "/account", sessionEnded, "Authorization: Bearer {revoked}"),
		c("EX-15 HEAD on a sensitive GET route with an active session is checked live", HEAD, "/account", served(RouteAccount, checked), bearer),
		c("a non-sensitive route with a revoked session's token makes no session check", GET, "/me",
			served(RouteMe, fromHeader.with(func(w *who) { w.sid = SessionRevoked })), "Authorization: Bearer {revoked}").from("DESIGN.md (session policy)"),

		// Cookie tokens and cross-origin requests (CK).
		c("CK-01 cookie token on a cross-site POST is refused", POST, "/me", crossOrigin, cookie, "Sec-Fetch-Site: cross-site"),
		c("CK-01 cookie token on a cross-site POST to a sensitive route makes no session check", POST, "/transfer", crossOrigin, cookie, "Sec-Fetch-Site: cross-site"),
		c("CK-02 cookie token on a same-site POST is refused", POST, "/me", crossOrigin, cookie, "Sec-Fetch-Site: same-site"),
		c("CK-03 cookie token with a foreign Origin is refused", POST, "/me", crossOrigin, cookie, "Origin: https://evil.example"),
		c("CK-03 cookie token with Origin null is refused", POST, "/me", crossOrigin, cookie, "Origin: null"),
		c("CK-03 cookie token with Origin equal to Host is admitted", POST, "/me", served(RouteMePost, fromCookie), cookie, "Origin: {origin}"),
		c("CK-03 cookie token with neither Sec-Fetch-Site nor Origin is admitted", POST, "/me", served(RouteMePost, fromCookie), cookie),
		c("CK-03 absolute-form request line: its host, not the Host header, is compared with Origin", POST, "http://evil.example/me", crossOrigin, cookie, "Origin: {origin}"),
		c("CK-03 absolute-form request line naming the same host is admitted", POST, "http://{host}/me", served(RouteMePost, fromCookie), cookie, "Origin: {origin}"),
		c("CK-04 cookie token with Sec-Fetch-Site same-origin is admitted", POST, "/me", served(RouteMePost, fromCookie), cookie, "Sec-Fetch-Site: same-origin"),
		c("CK-04 cookie token with Sec-Fetch-Site none is admitted", POST, "/me", served(RouteMePost, fromCookie), cookie, "Sec-Fetch-Site: none"),
		c("CK-05 cookie token on a cross-site GET is admitted", GET, "/me", served(RouteMe, fromCookie), cookie, "Sec-Fetch-Site: cross-site"),
		c("CK-06 bearer header on a cross-site POST gets no origin check", POST, "/me", served(RouteMePost, fromHeader), bearer, "Sec-Fetch-Site: cross-site", "Origin: https://evil.example"),
		c("CK-09 the token cookie twice in one Cookie line is refused", GET, "/me", invalidRequest, "Cookie: access_token={good}; access_token={other}"),
		c("CK-09 the token cookie in two Cookie lines is refused", GET, "/me", invalidRequest, cookie, "Cookie: access_token={other}"),
		c("CK-09 the same token cookie twice is refused too", GET, "/me", invalidRequest, "Cookie: access_token={good}; access_token={good}"),
		c("CK-12 a quoted cookie value is unquoted", GET, "/me", served(RouteMe, fromCookie), `Cookie: access_token="{good}"`),
		c("CK-12 other cookies around the token cookie are ignored", GET, "/me", served(RouteMe, fromCookie), "Cookie: theme=dark; access_token={good}; lang=en"),

		// EX-16: path variants never reach a protected handler unauthenticated.
		c("EX-16 /healthz/../me", GET, "/healthz/../me", notServed),
		c("EX-16 //me", GET, "//me", notServed),
		c("EX-16 /me/", GET, "/me/", notServed),
		c("EX-16 /ME", GET, "/ME", notServed),
		c("EX-16 /%2e%2e/me", GET, "/%2e%2e/me", notServed),
		c("EX-16 /healthz%2F..%2Fme", GET, "/healthz%2F..%2Fme", notServed),
		c("EX-16 /me;x", GET, "/me;x", notServed),
		c("EX-16 /healthz/..%2Fadmin", GET, "/healthz/..%2Fadmin", notServed),
		c("EX-16 /./transfer by POST", POST, "/./transfer", notServed),

		// RFC 6750 request rules (issue 9 attack suite).
		c("EX-08 base64 padding after the token is refused by the charset gate", GET, "/me", invalidToken, "Authorization: Bearer {good}=="),
		c("EX-08 a tilde in the token is refused by the charset gate", GET, "/me", invalidToken, "Authorization: Bearer {good}~"),
		c("EX-12 an access_token in a form body is no credential", POST, "/me", noToken,
			"Content-Type: application/x-www-form-urlencoded").withBody("access_token={good}"),
		c("EX-12 a header token with a form body is admitted", POST, "/me", served(RouteMePost, fromHeader),
			bearer, "Content-Type: application/x-www-form-urlencoded").withBody("access_token={other}"),
		c("RFC 6750 §3 HEAD without credentials gets the challenge and no body", HEAD, "/account", noToken).from("RFC 6750 §3"),
		c("whitespace between the field name and the colon is never taken as Authorization", GET, "/me", refusedRaw, "Authorization : Bearer {good}").from("RFC 9112 §5.1"),

		// EX-11: query-string tokens enabled (Config.QueryParam). A response
		// to a request admitted on a query token must not be cached (RFC 6750
		// section 2.3); adapter.SetHeaders and one line per adapter.
		c("a valid token just under the default MaxTokenSize is admitted from the header", GET, "/me", served(RouteMe, fromHeader), "Authorization: Bearer {big}").in("bigtoken").from("docs/frameworks.md (fiber and big headers)"),
		c("a valid token just under the default MaxTokenSize is admitted from the cookie", GET, "/me", served(RouteMe, fromCookie), "Cookie: access_token={big}").in("bigtoken").from("docs/frameworks.md (fiber and big headers)"),
		c("a valid token just under the default MaxTokenSize in both header and cookie is admitted", GET, "/me", served(RouteMe, fromHeader), "Authorization: Bearer {big}", "Cookie: theme=dark; access_token={big}").in("bigtoken").from("docs/frameworks.md (fiber and big headers)"),
		c("EX-11 a query token, when enabled, is admitted with Cache-Control: no-store", GET, "/me?access_token={good}", noStore(served(RouteMe, fromQuery))).in("query"),
		c("EX-11 a query token on an optional route is admitted with Cache-Control: no-store", GET, "/optional?access_token={good}", noStore(served(RouteOptional, fromQuery))).in("query"),
		c("EX-11 a query token on a sensitive route is checked live and not cached", GET, "/account?access_token={good}",
			noStore(served(RouteAccount, fromQuery.with(func(w *who) { w.checked = true })))).in("query"),
		c("EX-11 a header token with query tokens enabled gets no Cache-Control", GET, "/me", served(RouteMe, fromHeader), bearer).in("query"),
		c("EX-11 a cookie token with query tokens enabled gets no Cache-Control", GET, "/me", served(RouteMe, fromCookie), cookie).in("query"),
		c("EX-11 query and header with different tokens are refused", GET, "/me?access_token={good}", invalidRequest, "Authorization: Bearer {other}").in("query"),
		c("EX-11 query and header with the same token are refused (RFC 6750 §2: one method)", GET, "/me?access_token={good}", invalidRequest, bearer).in("query"),
		c("EX-11 query and cookie with the same token are refused", GET, "/me?access_token={good}", invalidRequest, cookie).in("query"),
		c("EX-11 the query parameter twice is refused", GET, "/me?access_token={good}&access_token={good}", invalidRequest).in("query"),
		c("EX-11 an empty query parameter is refused", GET, "/me?access_token=", invalidRequest).in("query"),
		c("EX-11 an expired query token is refused as expired", GET, "/me?access_token={expired}", expiredToken).in("query"),
		c("EX-11 a forged query token is invalid", GET, "/me?access_token={forged}", invalidToken).in("query"),
		c("EX-11 a query token under another parameter name is ignored", GET, "/me?token={good}", noToken).in("query"),
		c("EX-11 a fragment in the request-target is not part of a valid token", GET, "/me?access_token={good}#frag", invalidToken).in("query").from("RFC 9112 §3.2"),
		c("EX-16 //me with a query token never reaches the handler", GET, "//me?access_token={forged}", redirectMayEcho(notServed)).in("query"),
		c("EX-16 /me/ with a query token never reaches the handler", GET, "/me/?access_token={forged}", redirectMayEcho(notServed)).in("query"),
		c("EX-16 /healthz/../me with a query token never reaches the handler", GET, "/healthz/../me?access_token={forged}", redirectMayEcho(notServed)).in("query"),

		// RFC 8725 and advisories against Go JOSE/JWT libraries, over HTTP.
		c("a token MACed with HS256 keyed by the public key is invalid", GET, "/me", invalidToken, "Authorization: Bearer {hsconfusion}").from("RFC 8725 §3.1"),
		c("a token carrying its own key in a jwk header is invalid", GET, "/me", invalidToken, "Authorization: Bearer {jwkheader}").from("RFC 8725 §3.10"),
		c("a token with an unknown crit extension is invalid", GET, "/me", invalidToken, "Authorization: Bearer {crit}").from("RFC 7515 §4.1.11"),
		c("a token typed dpop+jwt is invalid", GET, "/me", invalidToken, "Authorization: Bearer {dpop}").from("RFC 8725 §3.11"),
		c("a token with invalid UTF-8 in its claims is invalid", GET, "/me", invalidToken, "Authorization: Bearer {badutf}").from("RFC 8725 §3.7"),
		c("a token with a duplicate sub claim is invalid", GET, "/me", invalidToken, "Authorization: Bearer {dupsub}").from("RFC 7519 §4"),
		c("CVE-2025-30204 a dot flood inside MaxTokenSize is an invalid token", GET, "/me", invalidToken, "Authorization: Bearer {dots}").from("CVE-2025-30204"),
		c("CVE-2025-30204 a dot flood over MaxTokenSize is an invalid token", GET, "/me", invalidToken, "Authorization: Bearer {dotsover}").from("CVE-2025-30204"),
		c("CVE-2024-51744 an expired token with a bad signature is invalid, not expired", GET, "/me", invalidToken, "Authorization: Bearer {expiredforged}").from("CVE-2024-51744"),
		c("CVE-2024-28122 a compact JWE with zip DEF is an invalid token", GET, "/me", invalidToken, "Authorization: Bearer {jwezip}").from("CVE-2024-28122"),
		c("CVE-2023-49290 a PBES2 JWE with a huge p2c is an invalid token", GET, "/me", invalidToken, "Authorization: Bearer {pbes}").from("CVE-2023-49290"),
		c("CVE-2024-21664 a JSON-serialized JWS without protected header is an invalid token", GET, "/me", invalidToken, "Authorization: Bearer {jsonjws}").from("CVE-2024-21664"),
		c("CVE-2020-26160 aud [] is an invalid token", GET, "/me", invalidToken, "Authorization: Bearer {audempty}").from("CVE-2020-26160"),
	}
}

// redirectMayEcho is w for a path a framework may redirect, query included.
func redirectMayEcho(w want) want { w.redirectEcho = true; return w }

// noStore is w with the Cache-Control: no-store a query-token response carries.
func noStore(w want) want { w.cacheControl = "no-store"; return w }
