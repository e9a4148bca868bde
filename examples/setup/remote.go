package setup

import (
	"context"
	"errors"

	"github.com/authgate/authgate/core"
)

// newHTTPSessionChecker asks a session endpoint about each session:
// GET the template with {sid} replaced; 200 active, 404/410 revoked.
func newHTTPSessionChecker(template string) (core.SessionChecker, error) {
	return nil, errors.New("the HTTP session checker is not available yet in this build of core")
}

// introspector is what RFC 7662 introspection gives the authenticator.
type introspector interface {
	core.SessionChecker
	core.OpaqueAuthenticator
}

// newIntrospector checks tokens at an RFC 7662 endpoint with client credentials.
func newIntrospector(url, clientID, clientSecret string) (introspector, error) {
	return nil, errors.New("RFC 7662 introspection is not available yet in this build of core")
}

// newRedisStore connects the Redis session store.
//
// TODO(redisstore): wire redisstore.New(ctx, rdb, redisstore.Options{...})
// once the redisstore module exists.
func newRedisStore(ctx context.Context, url string) (core.SessionStore, error) {
	return nil, errors.New("the Redis store is not wired into the examples yet (module redisstore); unset AUTHGATE_REDIS_URL to use the in-memory store")
}
