package setup

import (
	"context"
	"errors"
	"net/http"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/redisstore"
	"github.com/redis/go-redis/v9"
)

// newHTTPSessionChecker asks a session endpoint about each session: GET the
// template with {sid} (and {sub}) replaced, with header; 200 active (or,
// with a rule, what the rule reads in the answer), 404/410 revoked,
// anything else "cannot tell" (503, fail closed).
func newHTTPSessionChecker(template string, header http.Header, rule sessionRule) (core.SessionChecker, error) {
	return core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: template, Header: header,
		NonEmptyArray: rule.nonEmptyArray, ActiveField: rule.activeField})
}

// newIntrospector asks an RFC 7662 endpoint about tokens, authenticated with
// client_secret_basic, or with no client authentication when both the id
// and the secret are unset (an endpoint only this API can reach, such as
// Ory Hydra's admin port). issuer and audience, when set, must match the
// answer's iss and aud; claims name the members read, as for a JWT.
func newIntrospector(endpoint, clientID, clientSecret, issuer string, audience []string, claims core.ClaimNames) (*core.Introspector, error) {
	o := core.IntrospectionOptions{
		Endpoint: endpoint, ClientID: clientID, ClientSecret: clientSecret, Issuer: issuer, Audience: audience, Claims: claims,
	}
	switch {
	case clientID == "" && clientSecret == "":
		o.ClientAuth = core.ClientAuthNone
	case clientID == "" || clientSecret == "":
		return nil, errors.New("set both AUTHGATE_CLIENT_ID and AUTHGATE_CLIENT_SECRET, or neither (no client authentication)")
	}
	return core.NewIntrospector(o)
}

// newRedisStore connects the Redis session store. A redis:// or rediss://
// URL, e.g. redis://127.0.0.1:6379/0; New pings Redis, so a wrong address
// fails at start.
func newRedisStore(ctx context.Context, url string, opts core.StoreOptions) (core.SessionStore, error) {
	ro, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	ro.ContextTimeoutEnabled = true // calls end at their context's deadline: live checks run on the request's goroutine
	rdb := redis.NewClient(ro)
	s, err := redisstore.New(ctx, rdb, redisstore.Options{
		IdleTimeout: opts.IdleTimeout, AbsoluteTimeout: opts.AbsoluteTimeout,
		MaxSessions: opts.MaxSessions, EvictOldest: opts.EvictOldest,
	})
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return redisStore{s, rdb}, nil
}

// redisStore closes the client it made along with the store.
type redisStore struct {
	*redisstore.Store
	rdb *redis.Client
}

func (r redisStore) Close() error { return errors.Join(r.Store.Close(), r.rdb.Close()) }
