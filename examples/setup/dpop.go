package setup

import (
	"fmt"

	"github.com/authgate/authgate/core"
)

// dpopFromEnv reads AUTHGATE_DPOP (off, allowed, required) and
// AUTHGATE_PUBLIC_ORIGIN (the origin clients reach the API at, for the
// proofs' htu behind a proxy). With replay set (the Redis store), every
// instance shares one record of the proofs seen.
func dpopFromEnv(env func(string) string, dev bool, replay core.ReplayCache) (core.DPoPOptions, string, error) {
	var o core.DPoPOptions
	origin := env("AUTHGATE_PUBLIC_ORIGIN")
	switch v := env("AUTHGATE_DPOP"); v {
	case "", "off":
		if origin != "" {
			return o, "", fmt.Errorf("AUTHGATE_PUBLIC_ORIGIN is set but AUTHGATE_DPOP is not allowed or required: the origin is only used to check DPoP proofs")
		}
		return o, "", nil
	case "allowed":
		o.Mode = core.DPoPAllowed
	case "required":
		if dev {
			return o, "", fmt.Errorf("AUTHGATE_DPOP=required refuses every token of the development issuer, which mints bearer tokens only: use allowed, or a real issuer (AUTHGATE_ISSUER)")
		}
		o.Mode = core.DPoPRequired
	default:
		return o, "", fmt.Errorf("AUTHGATE_DPOP %q: off, allowed or required", v)
	}
	o.PublicOrigin = origin
	o.Replay = replay
	mode := "DPoP " + o.Mode.String()
	if origin != "" {
		mode += " (htu at " + origin + ")"
	}
	if replay != nil {
		mode += ", proofs' replay record in Redis"
	}
	return o, mode, nil
}
