package setup

import (
	"fmt"
	"sort"
	"strings"
)

// Variable is one environment variable the example apps read.
type Variable struct {
	// Name is the variable's exact name.
	Name string
	// Meaning says what it does, in a line.
	Meaning string
}

// Variables is every environment variable the example apps read, one line
// each: add a variable here and Environ accepts it. An AUTHGATE_* variable
// that is not in this table stops the app (a typo must not fall back to
// development mode).
var Variables = []Variable{
	{"ADDR", "listen address (default 127.0.0.1:8080)"},
	{"AUTHGATE_ISSUER", "a real issuer: its exact \"iss\"; with it, no development issuer exists"},
	{"AUTHGATE_AUDIENCE", "accepted \"aud\" values, comma-separated (required with AUTHGATE_ISSUER)"},
	{"AUTHGATE_JWKS_URL", "the issuer's JWKS (default: OIDC discovery from the issuer)"},
	{"AUTHGATE_SESSION_URL", "live session checks over HTTP: a URL template containing {sid} (and optionally {sub})"},
	{"AUTHGATE_SESSION_RULE", "how a 200 of AUTHGATE_SESSION_URL is read: nonempty-array (alive when a non-empty JSON array), or field:NAME (a boolean member)"},
	{"AUTHGATE_SESSION_HEADERS", "headers for AUTHGATE_SESSION_URL: \"Name: value\" pairs separated by \";\""},
	{"AUTHGATE_INTROSPECTION_URL", "RFC 7662: opaque tokens introspected on every request; with AUTHGATE_ISSUER, JWTs introspected on sensitive routes"},
	{"AUTHGATE_CLIENT_ID", "client id for AUTHGATE_INTROSPECTION_URL (client_secret_basic; unset with the secret: no client authentication); with AUTHGATE_ISSUER, the audience of back-channel logout tokens (POST /backchannel-logout)"},
	{"AUTHGATE_CLIENT_SECRET", "client secret for AUTHGATE_INTROSPECTION_URL"},
	{"AUTHGATE_CLAIM_SID", "claim holding the session id (default sid; a dotted path such as ext.sid reaches into objects)"},
	{"AUTHGATE_CLAIM_SCOPE", "claim holding the scopes (default scope; scp is read too)"},
	{"AUTHGATE_CLAIM_ROLES", "claim holding the roles (default roles)"},
	{"AUTHGATE_CLAIM_TENANT", "claim holding the tenant (default tenant)"},
	{"AUTHGATE_ALLOW_START_WITHOUT_KEYS", "\"1\": start even when the issuer's keys cannot be fetched (tokens are 503 until they can)"},
	{"AUTHGATE_MAX_STALE", "fail-open for session id checks: accept a session confirmed within this duration (e.g. 30s) while the checker is down"},
	{"AUTHGATE_REQUIRE_AT_JWT", "\"1\": require RFC 9068 access tokens (typ at+jwt; jti, client_id, iat)"},
	{"AUTHGATE_TRANSFER_ACR", "POST /transfer also requires one of these acr values, comma-separated (RFC 9470 step-up: else 401 insufficient_user_authentication)"},
	{"AUTHGATE_TRANSFER_MAX_AGE", "POST /transfer also requires an auth_time no older than this duration (e.g. 5m; a token without auth_time is refused)"},
	{"AUTHGATE_RESOURCE", "RFC 9728: this API's resource identifier (an https URL); serves the protected resource metadata at /.well-known/oauth-protected-resource (+ the resource's path) and names it in every challenge (resource_metadata)"},
	{"AUTHGATE_AUTHORIZATION_SERVERS", "with AUTHGATE_RESOURCE: the authorization servers of the metadata, comma-separated (default: AUTHGATE_ISSUER; the development issuer, urn:authgate:dev-issuer, is no URL, so set it there)"},
	{"AUTHGATE_REDIS_URL", "sessions in Redis (redis://host:6379/0); beside AUTHGATE_SESSION_URL or AUTHGATE_INTROSPECTION_URL, the revocation bus alone (back-channel logouts and security events reach every instance)"},
	{"AUTHGATE_SSF_ISSUER", "a Shared Signals transmitter's issuer (with AUTHGATE_ISSUER): its security events are received at POST /ssf/events, or polled"},
	{"AUTHGATE_SSF_AUDIENCE", "this stream's audience: the aud of the transmitter's SETs (required with AUTHGATE_SSF_ISSUER)"},
	{"AUTHGATE_SSF_PUSH_TOKEN", "the bearer token the transmitter's pushes to POST /ssf/events must carry"},
	{"AUTHGATE_SSF_POLL_URL", "poll the transmitter's RFC 8936 endpoint instead of receiving pushes"},
	{"AUTHGATE_SSF_POLL_TOKEN", "the bearer token sent on each poll of AUTHGATE_SSF_POLL_URL"},
	{"AUTHGATE_ADMIN_ADDR", "serve the authenticator's status at /status on this internal address"},
	{"AUTHGATE_METRICS", "\"stdout\": print metrics to stdout (telemetry builds only: -tags otel)"},
	{"AUTHGATE_METRICS_INTERVAL", "how often metrics are exported (default 60s)"},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "export metrics and traces over OTLP/HTTP (telemetry builds only: -tags otel)"},
	{"AUTHGATE_DPOP", "DPoP (RFC 9449): off (default), allowed (DPoP-bound tokens need their proof, bearer tokens still pass) or required (every protected route needs DPoP)"},
	{"AUTHGATE_PUBLIC_ORIGIN", "the origin clients reach the API at (https://api.example.com), for DPoP proofs' htu behind a proxy; forwarded headers are never read"},
	{"AUTHGATE_DEV_ALLOW_REMOTE", "\"1\": let development mode listen on a non-loopback ADDR (anyone who reaches it can log in as anyone)"},
}

// prefix is the namespace the apps own: every variable in it must be known.
const prefix = "AUTHGATE_"

// Environ checks the process environment (os.Environ() in main) against
// [Variables] and returns the lookup to hand to [FromEnv]. It fails, naming
// the variable, when an AUTHGATE_* variable is unknown (with the nearest
// known name: "did you mean AUTHGATE_ISSUER?"), when a variable outside that
// namespace is so close to a known name that it is surely a typo of it
// (AUTHGATEISSUER), and when a known AUTHGATE_* variable is set to an empty
// value (set it, or unset it: an empty AUTHGATE_ISSUER would otherwise mean
// development mode).
func Environ(environ []string) (func(string) string, error) {
	known := make(map[string]bool, len(Variables))
	for _, v := range Variables {
		known[v.Name] = true
	}
	vars := make(map[string]string, len(environ))
	var problems []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		vars[name] = value
		upper := strings.ToUpper(name)
		switch {
		case known[name]:
			if strings.HasPrefix(name, prefix) && strings.TrimSpace(value) == "" {
				problems = append(problems, fmt.Sprintf("%s is set but empty: set a value or unset it", name))
			}
		case strings.HasPrefix(upper, prefix):
			problems = append(problems, unknown(name))
		default:
			if near, d := nearest(upper); d > 0 && d <= 2 && strings.HasPrefix(near, prefix) && len(upper) >= len(prefix) {
				problems = append(problems, unknown(name))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("environment: %s (known variables: see package setup, Variables)", strings.Join(problems, "; "))
	}
	return func(k string) string { return vars[k] }, nil
}

// unknown describes an unknown variable, with the nearest known name when
// there is a plausible one.
func unknown(name string) string {
	msg := "unknown variable " + name
	if near, d := nearest(strings.ToUpper(name)); d <= max(2, len(near)/4) {
		msg += ": did you mean " + near + "?"
	}
	return msg
}

// nearest returns the known variable closest to name (already upper-cased)
// and its edit distance.
func nearest(name string) (string, int) {
	best, bestD := "", -1
	for _, v := range Variables {
		if d := distance(name, v.Name); bestD < 0 || d < bestD {
			best, bestD = v.Name, d
		}
	}
	return best, bestD
}

// distance is the Levenshtein distance of a and b (bytes: the names are ASCII).
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
