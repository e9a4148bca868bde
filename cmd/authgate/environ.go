package main

import (
	"fmt"
	"sort"
	"strings"
)

// exampleVariables are the AUTHGATE_* variables of the example apps
// (examples/setup, Variables), by exact name; TestEnvironmentNamesAreTheExamples
// keeps the two lists equal. check-issuer and explain read the few that
// concern them (see configVariables) and refuse any other AUTHGATE_* name, as
// the examples do: a typo must not silently change what is checked.
var exampleVariables = []string{
	"AUTHGATE_ISSUER",
	"AUTHGATE_AUDIENCE",
	"AUTHGATE_JWKS_URL",
	"AUTHGATE_SESSION_URL",
	"AUTHGATE_SESSION_RULE",
	"AUTHGATE_SESSION_HEADERS",
	"AUTHGATE_INTROSPECTION_URL",
	"AUTHGATE_CLIENT_ID",
	"AUTHGATE_CLIENT_SECRET",
	"AUTHGATE_CLAIM_SID",
	"AUTHGATE_CLAIM_SCOPE",
	"AUTHGATE_CLAIM_ROLES",
	"AUTHGATE_CLAIM_TENANT",
	"AUTHGATE_ALLOW_START_WITHOUT_KEYS",
	"AUTHGATE_MAX_STALE",
	"AUTHGATE_REQUIRE_AT_JWT",
	"AUTHGATE_TRANSFER_ACR",
	"AUTHGATE_TRANSFER_MAX_AGE",
	"AUTHGATE_RESOURCE",
	"AUTHGATE_AUTHORIZATION_SERVERS",
	"AUTHGATE_REDIS_URL",
	"AUTHGATE_SSF_ISSUER",
	"AUTHGATE_SSF_AUDIENCE",
	"AUTHGATE_SSF_PUSH_TOKEN",
	"AUTHGATE_SSF_POLL_URL",
	"AUTHGATE_SSF_POLL_TOKEN",
	"AUTHGATE_ADMIN_ADDR",
	"AUTHGATE_METRICS",
	"AUTHGATE_METRICS_INTERVAL",
	"AUTHGATE_DPOP",
	"AUTHGATE_PUBLIC_ORIGIN",
	"AUTHGATE_DEV_ALLOW_REMOTE",
}

// configVariables are the variables check-issuer and explain read, with the
// flag that overrides each (a flag given on the command line wins).
var configVariables = map[string]string{
	"AUTHGATE_ISSUER":         "issuer",
	"AUTHGATE_AUDIENCE":       "audience",
	"AUTHGATE_JWKS_URL":       "jwks-url",
	"AUTHGATE_CLAIM_SID":      "claim-sid",
	"AUTHGATE_CLAIM_SCOPE":    "claim-scope",
	"AUTHGATE_CLAIM_ROLES":    "claim-roles",
	"AUTHGATE_CLAIM_TENANT":   "claim-tenant",
	"AUTHGATE_REQUIRE_AT_JWT": "require-at-jwt",
}

// readEnviron returns the AUTHGATE_* variables of environ that the command
// reads. An AUTHGATE_* name the examples do not know is an error (with the
// nearest known name); a known one that the command does not read is
// ignored, and a known one set to an empty value counts as unset.
func readEnviron(environ []string) (map[string]string, error) {
	known := map[string]bool{}
	for _, n := range exampleVariables {
		known[n] = true
	}
	out := map[string]string{}
	var problems []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(strings.ToUpper(name), "AUTHGATE_") {
			continue
		}
		if !known[name] {
			msg := "unknown variable " + name
			if near, d := nearest(strings.ToUpper(name)); d <= max(2, len(near)/4) {
				msg += ": did you mean " + near + "?"
			}
			problems = append(problems, msg)
			continue
		}
		if _, used := configVariables[name]; used && strings.TrimSpace(value) != "" {
			out[name] = value
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("environment: %s (the variables are the example apps': see docs/cli.md)", strings.Join(problems, "; "))
	}
	return out, nil
}

// nearest returns the known variable closest to name and its edit distance.
func nearest(name string) (string, int) {
	best, bestD := "", -1
	for _, v := range exampleVariables {
		if d := distance(name, v); bestD < 0 || d < bestD {
			best, bestD = v, d
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

// splitList splits a comma-separated list, dropping empty entries (as the
// examples read AUTHGATE_AUDIENCE).
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseBool reads a boolean variable as the examples do: 1 or true, 0 or false.
func parseBool(name, v string) (bool, error) {
	switch {
	case v == "1" || strings.EqualFold(v, "true"):
		return true, nil
	case v == "0" || strings.EqualFold(v, "false"):
		return false, nil
	}
	return false, fmt.Errorf("%s %q: 1 or 0", name, v)
}
