package setup

import (
	"fmt"
	"time"

	"github.com/authgate/authgate/core"
)

// stepUpFromEnv reads the step-up requirement of POST /transfer:
// AUTHGATE_TRANSFER_ACR (acceptable acr values, comma-separated) and
// AUTHGATE_TRANSFER_MAX_AGE (the longest time since the user's
// authentication, a duration). Unset, the route asks for neither.
func stepUpFromEnv(env func(string) string) (core.StepUp, error) {
	var s core.StepUp
	s.ACR = splitList(env("AUTHGATE_TRANSFER_ACR"))
	for _, v := range s.ACR {
		for i := 0; i < len(v); i++ {
			if v[i] <= 0x20 || v[i] >= 0x7f || v[i] == '"' || v[i] == '\\' {
				return s, fmt.Errorf("AUTHGATE_TRANSFER_ACR %q: acr values are printable ASCII without spaces or quotes, separated by commas", v)
			}
		}
	}
	if v := env("AUTHGATE_TRANSFER_MAX_AGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return s, fmt.Errorf("AUTHGATE_TRANSFER_MAX_AGE %q: a duration of at least 1s, such as 5m", v)
		}
		s.MaxAge = d
	}
	return s, nil
}
