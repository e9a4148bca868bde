package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/authgate/authgate/core"
)

// settings are the parts of a core.Config that check-issuer and explain
// take from flags or, for the flags not given, from the examples'
// environment variables (configVariables).
type settings struct {
	issuer, audience, jwksURL, algorithms string
	publicKeys                            string // a file: Config.PublicKeys
	claimSID, claimScope, claimRoles      string
	claimTenant                           string
	requireAT, noLeeway                   bool
	leeway, maxLifetime, timeout          time.Duration
	maxTokenSize                          int
}

// maxTimeout bounds -timeout: core refuses a FetchTimeout over a minute.
const maxTimeout = time.Minute

func (s *settings) register(fs *flag.FlagSet, tokenFlags bool) {
	fs.StringVar(&s.issuer, "issuer", "", "the issuer: its exact \"iss\" (env AUTHGATE_ISSUER)")
	fs.StringVar(&s.jwksURL, "jwks-url", "", "the issuer's JWKS; default: OIDC discovery from the issuer (env AUTHGATE_JWKS_URL)")
	fs.StringVar(&s.algorithms, "algorithms", "", "the allow-list, comma-separated; default RS256,ES256,EdDSA (Config.Algorithms)")
	fs.DurationVar(&s.timeout, "timeout", 5*time.Second, "bound of each HTTP request, at most 1m (Config.FetchTimeout)")
	if !tokenFlags {
		return
	}
	fs.StringVar(&s.audience, "audience", "", "accepted \"aud\" values, comma-separated (env AUTHGATE_AUDIENCE)")
	fs.StringVar(&s.publicKeys, "public-keys", "", "a file of static keys (PEM, or JWK / JWK Set JSON) instead of fetching any (Config.PublicKeys)")
	fs.DurationVar(&s.leeway, "leeway", 0, "clock skew allowed on exp, nbf and iat; default 30s (Config.Leeway)")
	fs.BoolVar(&s.noLeeway, "no-leeway", false, "no clock skew at all (Config.NoLeeway)")
	fs.DurationVar(&s.maxLifetime, "max-lifetime", 0, "largest exp - iat; default 24h (Config.MaxTokenLifetime)")
	fs.IntVar(&s.maxTokenSize, "max-token-size", 0, "largest token in bytes; default 8192 (Config.MaxTokenSize)")
	fs.BoolVar(&s.requireAT, "require-at-jwt", false, "require RFC 9068 access tokens (env AUTHGATE_REQUIRE_AT_JWT)")
	fs.StringVar(&s.claimSID, "claim-sid", "", "claim holding the session id (env AUTHGATE_CLAIM_SID)")
	fs.StringVar(&s.claimScope, "claim-scope", "", "claim holding the scopes (env AUTHGATE_CLAIM_SCOPE)")
	fs.StringVar(&s.claimRoles, "claim-roles", "", "claim holding the roles (env AUTHGATE_CLAIM_ROLES)")
	fs.StringVar(&s.claimTenant, "claim-tenant", "", "claim holding the tenant (env AUTHGATE_CLAIM_TENANT)")
}

// fromEnviron fills every setting whose flag was not given from its
// environment variable. It fails on an unknown AUTHGATE_* variable.
func (s *settings) fromEnviron(fs *flag.FlagSet, environ []string) error {
	vars, err := readEnviron(environ)
	if err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, value := range vars {
		fl := configVariables[name]
		if given[fl] || fs.Lookup(fl) == nil {
			continue
		}
		if fl == "require-at-jwt" {
			b, err := parseBool(name, value)
			if err != nil {
				return err
			}
			s.requireAT = b
			continue
		}
		if err := fs.Set(fl, value); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
	}
	if s.timeout <= 0 || s.timeout > maxTimeout {
		return fmt.Errorf("-timeout %v: between 0 and %v", s.timeout, maxTimeout)
	}
	return nil
}

// maxKeyFile bounds a -public-keys file (core's default MaxJWKSSize).
const maxKeyFile = 1 << 20

// readPublicKeys returns the contents of the -public-keys file, if any.
func (s *settings) readPublicKeys() ([]string, error) {
	if s.publicKeys == "" {
		return nil, nil
	}
	f, err := os.Open(s.publicKeys)
	if err != nil {
		return nil, fmt.Errorf("-public-keys: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("-public-keys: %v", err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("-public-keys: %s is larger than %d bytes", s.publicKeys, maxKeyFile)
	}
	return []string{string(b)}, nil
}

// config is the core.Config of the settings: one issuer, nothing else
// (no sessions, no cache), logs to log.
func (s *settings) config(log io.Writer) core.Config {
	cfg := core.Config{
		Issuer:                 s.issuer,
		Audience:               splitList(s.audience),
		JWKSURL:                s.jwksURL,
		Algorithms:             splitList(s.algorithms),
		Leeway:                 s.leeway,
		NoLeeway:               s.noLeeway,
		MaxTokenLifetime:       s.maxLifetime,
		MaxTokenSize:           s.maxTokenSize,
		RequireAccessTokenType: s.requireAT,
		Claims: core.ClaimNames{
			SessionID: s.claimSID, Scope: s.claimScope, Roles: s.claimRoles, Tenant: s.claimTenant,
		},
		FetchTimeout: s.timeout,
		TokenCache:   core.TokenCacheOptions{Disabled: true},
		Logger:       slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: dropTime})),
	}
	return cfg
}

// dropTime removes the time of a log record: the lines are printed as part
// of a report.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// logBuffer collects the Authenticator's log lines; its refresh goroutine
// may write while the report reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was logged so far.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
