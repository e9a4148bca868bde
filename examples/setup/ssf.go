package setup

import (
	"context"
	"errors"
	"fmt"

	"github.com/authgate/authgate/core"
)

// ssfVariables configure the Shared Signals receiver.
var ssfVariables = []string{"AUTHGATE_SSF_ISSUER", "AUTHGATE_SSF_AUDIENCE", "AUTHGATE_SSF_PUSH_TOKEN", "AUTHGATE_SSF_POLL_URL", "AUTHGATE_SSF_POLL_TOKEN"}

// ssfFromEnv builds the Shared Signals receiver (a.SSF for push; a
// background poller with AUTHGATE_SSF_POLL_URL) when AUTHGATE_SSF_ISSUER is
// set. Its revocations go through the authenticator's feed (every instance
// sharing AUTHGATE_REDIS_URL), else to this instance only.
func (a *App) ssfFromEnv(ctx context.Context, env func(string) string, issuer bool) error {
	iss, aud := env("AUTHGATE_SSF_ISSUER"), env("AUTHGATE_SSF_AUDIENCE")
	pushToken, pollURL, pollToken := env("AUTHGATE_SSF_PUSH_TOKEN"), env("AUTHGATE_SSF_POLL_URL"), env("AUTHGATE_SSF_POLL_TOKEN")
	if iss == "" {
		for _, name := range ssfVariables[1:] {
			if env(name) != "" {
				return fmt.Errorf("%s is set but AUTHGATE_SSF_ISSUER is not: name the Shared Signals transmitter too", name)
			}
		}
		return nil
	}
	switch {
	case !issuer:
		return errors.New("AUTHGATE_SSF_ISSUER needs AUTHGATE_ISSUER: the events revoke the sessions and subjects of your issuer's tokens")
	case aud == "":
		return errors.New("AUTHGATE_SSF_ISSUER is set but AUTHGATE_SSF_AUDIENCE is not: name this stream's audience (the SETs' aud)")
	case pollURL != "" && pushToken != "":
		return errors.New("AUTHGATE_SSF_PUSH_TOKEN is set with AUTHGATE_SSF_POLL_URL: in poll mode there is no push endpoint")
	case pollURL == "" && pollToken != "":
		return errors.New("AUTHGATE_SSF_POLL_TOKEN is set but AUTHGATE_SSF_POLL_URL is not")
	}
	recv, err := a.Auth.SSF(ctx, core.SSFOptions{Issuer: iss, Audience: aud, PushToken: pushToken, PollURL: pollURL, PollToken: pollToken})
	if err != nil {
		return fmt.Errorf("AUTHGATE_SSF_ISSUER (Shared Signals): %w", err)
	}
	if pollURL != "" {
		a.Mode += ", security events polled from " + pollURL
		return nil
	}
	a.SSF = recv
	a.Mode += ", security events from " + iss + " at POST /ssf/events"
	return nil
}
