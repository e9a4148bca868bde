package setup

import (
	"context"
	"errors"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/redisstore"
	"github.com/redis/go-redis/v9"
)

// newHTTPSessionChecker asks a session endpoint about each session: GET the
// template with {sid} replaced; 200 active, 404/410 revoked, anything else
// "cannot tell" (503, fail closed).
func newHTTPSessionChecker(template string) (core.SessionChecker, error) {
	return core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: template})
}

// newIntrospector checks opaque tokens at an RFC 7662 endpoint with client
// credentials, on every request. issuer and audience, when set, must match
// the answer's iss and aud.
func newIntrospector(endpoint, clientID, clientSecret, issuer string, audience []string) (*core.Introspector, error) {
	return core.NewIntrospector(core.IntrospectionOptions{
		Endpoint: endpoint, ClientID: clientID, ClientSecret: clientSecret, Issuer: issuer, Audience: audience,
	})
}

// newRedisStore connects the Redis session store. A redis:// or rediss://
// URL, e.g. redis://127.0.0.1:6379/0; New pings Redis, so a wrong address
// fails at start.
func newRedisStore(ctx context.Context, url string, opts core.StoreOptions) (core.SessionStore, error) {
	ro, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
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
