package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/core"
)

// Shown when a setting is left at core's default (for the report only:
// the verdict is the Authenticator's, with its own defaults).
var (
	defaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}
	defaultLeeway     = 30 * time.Second
	defaultLifetime   = 24 * time.Hour
)

// explain verifies a token with a core.Authenticator and lists each check.
func explain(e *env, args []string) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var s settings
	s.register(fs, true)
	token := fs.String("token", "", "the token (instead of the argument or stdin)")
	nowFlag := fs.String("now", "", "judge the times as of this instant (RFC 3339), not the clock")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: authgate explain [flags] [TOKEN | -]")
		fmt.Fprintln(fs.Output(), "Verifies the token as an API configured with these settings would (core.New, then")
		fmt.Fprintln(fs.Output(), "Authenticate) and lists every check. With no TOKEN, or -, it is read from stdin.")
		fmt.Fprintln(fs.Output(), "Exit status 0 accepted, 1 refused, 2 bad usage.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagStatus(err)
	}
	if fs.NArg() > 1 || fs.NArg() == 1 && *token != "" {
		fs.Usage()
		return exitUsage
	}
	if err := s.fromEnviron(fs, e.environ); err != nil {
		fmt.Fprintln(e.stderr, "authgate explain:", err)
		return exitUsage
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			fmt.Fprintf(e.stderr, "authgate explain: -now %q: an RFC 3339 time such as 2026-12-04T15:00:00Z\n", *nowFlag)
			return exitUsage
		}
		now = t
	}
	if s.issuer == "" || s.audience == "" {
		fmt.Fprintln(e.stderr, "authgate explain: set the issuer and the audience (-issuer, -audience, or AUTHGATE_ISSUER, AUTHGATE_AUDIENCE)")
		return exitUsage
	}
	arg := *token
	if arg == "" {
		arg = fs.Arg(0)
	}
	tok, err := readToken(arg, e.stdin, e.stderr)
	if err != nil {
		fmt.Fprintln(e.stderr, "authgate explain:", err)
		return exitUsage
	}

	keys, err := s.readPublicKeys()
	if err != nil {
		fmt.Fprintln(e.stderr, "authgate explain:", err)
		return exitUsage
	}
	var logs logBuffer
	cfg := s.config(&logs)
	cfg.PublicKeys = keys
	cfg.Now = func() time.Time { return now }
	ctx, cancel := context.WithTimeout(context.Background(), 3*s.timeout)
	defer cancel()
	a, err := core.New(ctx, cfg)
	if err != nil {
		fmt.Fprintln(e.stderr, "authgate explain: authgate does not start with these settings:", err)
		if errors.Is(err, core.ErrConfig) {
			return exitUsage
		}
		return exitFail
	}
	defer a.Close()
	_, verr := a.Authenticate(ctx, bearer(tok))

	x := &explainer{s: s, tok: tok, now: now, a: a, logs: logs.String()}
	x.d, x.dErr = decodeToken(tok)
	return x.report(e, verr)
}

// bearer is the request explain hands to Authenticate: the token in an
// Authorization header, nothing else.
type bearer string

func (b bearer) Method() string   { return "GET" }
func (b bearer) Host() string     { return "authgate-explain" }
func (b bearer) RawQuery() string { return "" }
func (b bearer) Header(name string) []string {
	if name == "Authorization" {
		return []string{"Bearer " + string(b)}
	}
	return nil
}

type explainer struct {
	s    settings
	tok  string
	now  time.Time
	a    *core.Authenticator
	d    *decoded
	dErr error
	logs string // what the Authenticator logged (Warn and above)
}

// A check is one step of core's verification, in core's order (see
// core/verify.go): causes are the texts core.Cause gives when the token
// fails there; local judges the token's (unverified) contents to say why.
type check struct {
	name   string
	causes []string
	local  func(x *explainer) (ok bool, detail string)
}

func checks() []check {
	return []check{
		{"size", []string{"token larger than MaxTokenSize"}, (*explainer).size},
		{"format", []string{"token is not a compact JWS", "token is neither a compact JWS", "header is not canonical base64url",
			"payload is not canonical base64url", "signature is not canonical base64url", "malformed JOSE header",
			"empty bearer credential", "malformed Authorization whitespace"}, (*explainer).format},
		{"typ", []string{"typ is not at+jwt", "typ names another kind of JWT"}, (*explainer).typ},
		{"claims", []string{"malformed claims", "a configured claim is found twice"}, (*explainer).claims},
		{"iss", []string{"no iss claim", "iss names no configured issuer"}, (*explainer).iss},
		{"alg", []string{"alg not allowed for this issuer"}, (*explainer).alg},
		{"kid", []string{"no key fits the token's kid and alg", "unknown kid"}, (*explainer).kid},
		{"signature", []string{"signature does not verify", "unsupported alg"}, nil},
		{"exp", []string{"no exp claim"}, (*explainer).exp},
		{"nbf", []string{"token not valid yet (nbf)"}, (*explainer).nbf},
		{"iat", []string{"token issued in the future (iat)"}, (*explainer).iat},
		{"lifetime", []string{"token lifetime exceeds MaxTokenLifetime", "token names a session but has no iat"}, (*explainer).lifetime},
		{"aud", []string{"no aud claim", "aud names no accepted audience"}, (*explainer).aud},
		{"sub", []string{"no sub claim"}, (*explainer).sub},
		{"not a SET", []string{"security event token presented as access token"}, (*explainer).notSET},
		{"RFC 9068", []string{"RFC 9068 claims missing"}, (*explainer).rfc9068},
		{"binding", []string{"DPoP", "certificate-bound", "cnf ", "client certificate"}, (*explainer).binding},
	}
}

// failedAt is the index of the check core refused the token at: -1 when it
// was accepted, len(checks) when the cause is not one this tool knows.
func failedAt(cs []check, err error) int {
	if err == nil {
		return -1
	}
	if errors.Is(err, core.ErrTokenExpired) {
		return slices.IndexFunc(cs, func(c check) bool { return c.name == "exp" })
	}
	if errors.Is(err, core.ErrUnavailable) {
		return slices.IndexFunc(cs, func(c check) bool { return c.name == "kid" })
	}
	cause := core.Cause(err)
	for i, c := range cs {
		for _, p := range c.causes {
			if strings.HasPrefix(cause, p) {
				return i
			}
		}
	}
	return len(cs)
}

// sentinels name a refusal's class.
var sentinels = []error{core.ErrNoToken, core.ErrInvalidRequest, core.ErrInvalidToken, core.ErrTokenExpired,
	core.ErrSessionRevoked, core.ErrUnavailable, core.ErrInvalidDPoPProof, core.ErrUseDPoPNonce}

func (x *explainer) report(e *env, verr error) int {
	w := e.stdout
	pf := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	keys := "OIDC discovery"
	switch {
	case x.s.publicKeys != "":
		keys = x.s.publicKeys + " (-public-keys)"
	case x.s.jwksURL != "":
		keys = x.s.jwksURL
	}
	pf("config      issuer %q, audience %s, keys from %s\n", x.s.issuer, quoteList(splitList(x.s.audience)), keys)
	pf("            algorithms %s, leeway %s, max lifetime %s, max size %d\n",
		strings.Join(x.algorithms(), ","), x.leeway(), x.maxLifetime(), x.maxSize())
	pf("now         %s\n", at(x.now))
	for _, l := range strings.Split(strings.TrimSpace(x.logs), "\n") {
		if l != "" {
			pf("log         %s\n", l)
		}
	}
	if x.d != nil {
		alg, _ := str(x.d.h, "alg")
		kid, hasKid := str(x.d.h, "kid")
		if !hasKid {
			kid = "(none)"
		} else {
			kid = fmt.Sprintf("%q", kid)
		}
		pf("token       %d bytes, alg %q, kid %s\n", len(x.tok), alg, kid)
	} else {
		pf("token       %d bytes, not a JWT\n", len(x.tok))
	}
	pf("\nchecks, in authgate's order (it stops at the first failure):\n")
	cs := checks()
	fail := failedAt(cs, verr)
	cause := core.Cause(verr)
	// passed: authgate got past check i (all of them when it accepted; none
	// known when its cause is not one this tool knows).
	passed := func(i int) bool { return fail < 0 || fail < len(cs) && i < fail }
	unverified := false
	for i, c := range cs {
		if x.d == nil && c.name != "size" && c.name != "format" {
			if i > fail || fail == len(cs) {
				pf("  (...)   not judged: the token is not a JWT\n")
				break
			}
			continue
		}
		ok, detail := true, ""
		if c.local != nil {
			ok, detail = c.local(x)
		}
		if c.name == "signature" {
			switch {
			case passed(i):
				detail = "verified with the issuer's key"
			case i == fail:
				detail = "does not verify with the key the token names"
			default:
				ok, detail = false, "not checked"
			}
		}
		if c.name == "RFC 9068" && !x.s.requireAT && i != fail {
			continue // not asked for
		}
		switch {
		case passed(i):
			pf("  ok      %-10s %s\n", c.name, detail)
		case i == fail:
			why := cause
			if why == "" || errors.Is(verr, core.ErrTokenExpired) {
				why = sentinelText(verr)
			}
			if detail != "" {
				why += "; " + detail
			}
			pf("  FAILED  %-10s %s\n", c.name, why)
		default:
			unverified = true
			mark := "(ok)"
			if !ok {
				mark = "(fail)"
			}
			pf("  %-7s %-10s %s\n", mark, c.name, detail)
		}
	}
	if fail == len(cs) {
		pf("  FAILED  %-10s %s\n", "authgate", cause)
	}
	switch {
	case unverified && fail == len(cs):
		pf("  (...) judged on the token's unverified contents: explain does not know which check authgate's cause names\n")
	case unverified:
		pf("  (...) judged on the token's unverified contents: authgate stopped before them\n")
	}
	pf("\n")
	if verr == nil {
		pf("verdict     ACCEPTED\n")
		return exitOK
	}
	var ae *core.Error
	status := ""
	if errors.As(verr, &ae) {
		status = fmt.Sprintf("%d %s: ", ae.Status, ae.Code)
	}
	msg := sentinelText(verr)
	if cause != "" {
		msg += ": " + cause
	}
	pf("verdict     REFUSED (%s%s)\n", status, msg)
	return exitFail
}

func sentinelText(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return strings.TrimPrefix(s.Error(), "authgate: ")
		}
	}
	return "refused"
}

func (x *explainer) algorithms() []string {
	if a := splitList(x.s.algorithms); len(a) > 0 {
		return a
	}
	return defaultAlgorithms
}

func (x *explainer) leeway() time.Duration {
	switch {
	case x.s.noLeeway:
		return 0
	case x.s.leeway == 0:
		return defaultLeeway
	}
	return x.s.leeway
}

func (x *explainer) maxLifetime() time.Duration {
	if x.s.maxLifetime == 0 {
		return defaultLifetime
	}
	return x.s.maxLifetime
}

func (x *explainer) maxSize() int {
	if x.s.maxTokenSize == 0 {
		return core.DefaultMaxTokenSize
	}
	return x.s.maxTokenSize
}

func (x *explainer) size() (bool, string) {
	return len(x.tok) <= x.maxSize(), fmt.Sprintf("%d bytes (at most %d)", len(x.tok), x.maxSize())
}

func (x *explainer) format() (bool, string) {
	if x.dErr != nil {
		return false, x.dErr.Error()
	}
	return true, fmt.Sprintf("compact JWS: header %d bytes, payload %d bytes, signature %d bytes (not shown)",
		len(x.d.header), len(x.d.payload), x.d.sigLen)
}

func (x *explainer) typ() (bool, string) {
	typ, has := str(x.d.h, "typ")
	t := strings.TrimPrefix(strings.ToLower(typ), "application/")
	if x.s.requireAT {
		return t == "at+jwt", fmt.Sprintf("typ %s (at+jwt required: -require-at-jwt)", quoteOrAbsent(typ, has))
	}
	if i := strings.IndexByte(t, ';'); i >= 0 {
		t = t[:i]
	}
	t = strings.TrimSpace(t)
	other := (strings.HasSuffix(t, "+jwt") || strings.HasSuffix(t, "+sd-jwt")) && t != "at+jwt"
	if other {
		return false, fmt.Sprintf("typ %s: another kind of JWT, not an access token (RFC 8725 section 3.11)", quoteOrAbsent(typ, has))
	}
	return true, fmt.Sprintf("typ %s", quoteOrAbsent(typ, has))
}

func (x *explainer) claims() (bool, string) {
	if x.d.cErr != nil {
		return false, "the payload is " + x.d.cErr.Error()
	}
	return true, fmt.Sprintf("a JSON object of %d claims", len(x.d.c))
}

func (x *explainer) iss() (bool, string) {
	iss, has := str(x.d.c, "iss")
	if !has {
		return false, "no iss claim"
	}
	if iss != x.s.issuer {
		return false, fmt.Sprintf("iss %q is not the configured issuer %q (compared exactly)", iss, x.s.issuer)
	}
	return true, fmt.Sprintf("iss %q", iss)
}

func (x *explainer) alg() (bool, string) {
	alg, _ := str(x.d.h, "alg")
	if !slices.Contains(x.algorithms(), alg) {
		return false, fmt.Sprintf("alg %q is not in the allow-list %s", alg, strings.Join(x.algorithms(), ","))
	}
	return true, fmt.Sprintf("alg %q allowed", alg)
}

func (x *explainer) kid() (bool, string) {
	var inService []string
	for _, st := range x.a.Status().Issuers {
		if st.Issuer == x.s.issuer {
			inService = st.KeyIDs
		}
	}
	kid, has := str(x.d.h, "kid")
	if !has {
		ok := slices.Contains(inService, "")
		return ok, fmt.Sprintf("no kid: needs the one key without a kid that fits the alg (keys in service: %s)", kidList(inService))
	}
	if slices.Contains(inService, kid) {
		return true, fmt.Sprintf("kid %q is a key in service", kid)
	}
	return false, fmt.Sprintf("kid %q is not among the key(s) in service: %s", kid, kidList(inService))
}

func (x *explainer) exp() (bool, string) {
	f, ok := number(x.d.c, "exp")
	if !ok {
		return false, "no exp claim (a NumericDate)"
	}
	t := numericDate(f)
	lw := x.leeway()
	if x.now.Before(t) {
		return true, fmt.Sprintf("expires %s at %s", relative(t, x.now), at(t))
	}
	if x.now.Before(t.Add(lw)) {
		return true, fmt.Sprintf("expired %s ago at %s, within the leeway of %s", human(x.now.Sub(t)), at(t), lw)
	}
	return false, fmt.Sprintf("expired %s ago at %s (leeway %s)", human(x.now.Sub(t)), at(t), lw)
}

func (x *explainer) nbf() (bool, string) {
	f, ok := number(x.d.c, "nbf")
	if !ok {
		return true, "absent (optional)"
	}
	t := numericDate(f)
	if x.now.Add(x.leeway()).Before(t) {
		return false, fmt.Sprintf("not valid before %s (%s; leeway %s)", at(t), relative(t, x.now), x.leeway())
	}
	return true, fmt.Sprintf("valid since %s (%s)", at(t), relative(t, x.now))
}

func (x *explainer) iat() (bool, string) {
	f, ok := number(x.d.c, "iat")
	if !ok {
		return true, "absent"
	}
	t := numericDate(f)
	if x.now.Add(x.leeway()).Before(t) {
		return false, fmt.Sprintf("issued in the future, at %s (%s; leeway %s)", at(t), relative(t, x.now), x.leeway())
	}
	return true, fmt.Sprintf("issued %s at %s", relative(t, x.now), at(t))
}

func (x *explainer) lifetime() (bool, string) {
	exp, ok := number(x.d.c, "exp")
	if !ok {
		return false, "no exp"
	}
	iat, hasIat := number(x.d.c, "iat")
	sidName := x.s.claimSID
	if sidName == "" {
		sidName = "sid"
	}
	if !hasIat {
		if _, hasSid := x.d.c[sidName]; hasSid {
			return false, fmt.Sprintf("the token names a session (%s) but has no iat: its lifetime cannot be bounded", sidName)
		}
		iat = float64(x.now.UnixNano()) / 1e9
	}
	life := numericDate(exp).Sub(numericDate(iat))
	from := "exp - iat"
	if !hasIat {
		from = "exp - now (no iat)"
	}
	detail := fmt.Sprintf("%s = %s (at most %s)", from, human(life), x.maxLifetime())
	return life <= x.maxLifetime()+x.leeway(), detail
}

func (x *explainer) aud() (bool, string) {
	aud, ok := stringList(x.d.c, "aud")
	accepted := splitList(x.s.audience)
	if !ok || len(aud) == 0 {
		return false, fmt.Sprintf("no aud claim (accepted: %s)", quoteList(accepted))
	}
	match := slices.ContainsFunc(aud, func(a string) bool { return a != "" && slices.Contains(accepted, a) })
	if !match {
		return false, fmt.Sprintf("aud %s names none of the accepted audiences %s", quoteList(aud), quoteList(accepted))
	}
	return true, fmt.Sprintf("aud %s (accepted: %s)", quoteList(aud), quoteList(accepted))
}

func (x *explainer) sub() (bool, string) {
	if s, ok := str(x.d.c, "sub"); ok && s != "" {
		return true, "present (not shown)"
	}
	return false, "no sub claim, or an empty one"
}

func (x *explainer) notSET() (bool, string) {
	if _, ok := x.d.c["events"]; ok {
		return false, "the token has an events claim: a security event token, never an access token"
	}
	return true, "no events claim"
}

func (x *explainer) rfc9068() (bool, string) {
	var missing []string
	for _, n := range []string{"jti", "client_id", "iat"} {
		if _, ok := x.d.c[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return false, "missing: " + strings.Join(missing, ", ")
	}
	return true, "jti, client_id and iat present"
}

func (x *explainer) binding() (bool, string) {
	if _, ok := x.d.c["cnf"]; ok {
		return false, "the token has a cnf claim: it is sender-constrained (DPoP or mTLS), and explain presents no proof or client certificate"
	}
	return true, "no cnf claim: a bearer token"
}

func quoteOrAbsent(s string, has bool) string {
	if !has {
		return "absent"
	}
	return fmt.Sprintf("%q", s)
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, " ") + "]"
}
