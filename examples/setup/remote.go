package setup

import (
	"context"
	"errors"

	"github.com/authgate/authgate/core"
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

// newRedisStore connects the Redis session store.
//
// TODO(redisstore): build the store with redisstore.New(ctx, rdb,
// redisstore.Options{...}) once the redisstore module exists, and add its
// replace directive to examples/go.mod.
func newRedisStore(ctx context.Context, url string) (core.SessionStore, error) {
	return nil, errors.New("the Redis store is not wired into the examples yet (it needs the redisstore module); unset AUTHGATE_REDIS_URL to use the in-memory store")
}
