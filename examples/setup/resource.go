package setup

import (
	"errors"

	"github.com/authgate/authgate/core"
)

// resourceFromEnv reads the RFC 9728 protected resource of the app:
// AUTHGATE_RESOURCE and AUTHGATE_AUTHORIZATION_SERVERS (default: the
// configured issuer; the development issuer is no URL, so core refuses it). nil when AUTHGATE_RESOURCE is unset.
func resourceFromEnv(env func(string) string, issuer string) (*core.ProtectedResource, error) {
	res, servers := env("AUTHGATE_RESOURCE"), splitList(env("AUTHGATE_AUTHORIZATION_SERVERS"))
	if res == "" {
		if len(servers) > 0 {
			return nil, errors.New("AUTHGATE_AUTHORIZATION_SERVERS is set but AUTHGATE_RESOURCE is not: the servers are named in the resource's metadata")
		}
		return nil, nil
	}
	if len(servers) == 0 && issuer != "" {
		servers = []string{issuer}
	}
	return &core.ProtectedResource{Resource: res, AuthorizationServers: servers}, nil
}
