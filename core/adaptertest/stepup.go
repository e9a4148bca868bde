package adaptertest

import (
	"context"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// RouteStepUp is GET /step-up: Sensitive and RequireStepUp([StepUp])
// together, the step-up marker first.
const RouteStepUp = "step-up"

// StepUp is what RouteStepUp requires (RFC 9470): an acr of "urn:mfa" or
// "urn:hwk", and an auth_time at most five minutes old.
var StepUp = core.StepUp{ACR: []string{"urn:mfa", "urn:hwk"}, MaxAge: 5 * time.Minute}

// stepUpShort is the refusal of a token that falls short of StepUp
// (RFC 9470 section 3): no handler runs and no session is checked.
var stepUpShort = refusal(401, "insufficient_user_authentication", "a different authentication level is required", "", "")

func init() {
	stepUpShort.challenge += `, acr_values="urn:mfa urn:hwk", max_age="300"`
}

// runStepUp sends RouteStepUp a token for each way to fall short of
// StepUp, and one that meets it.
func runStepUp(t *testing.T, h Harness, iss *authtest.Issuer) {
	sessions := &Sessions{}
	auth, err := core.New(context.Background(), Config(iss, sessions))
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	env := &Env{Auth: auth}
	r := &runner{addr: h.Start(t, env)}
	now := time.Now().Unix()
	base := authtest.Claims{"sid": SessionActive, "scope": "profile", "roles": []string{"user"}}
	tok := func(over authtest.Claims) string {
		c := authtest.Claims{}
		for k, v := range base {
			c[k] = v
		}
		for k, v := range over {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return iss.Token(c)
	}
	for _, c := range []struct {
		name   string
		claims authtest.Claims
		want   want
	}{
		{"meets acr_values and max_age", authtest.Claims{"acr": "urn:hwk", "auth_time": now - 60, "amr": []string{"hwk"}}, served(RouteStepUp, checked)},
		{"acr not among acr_values", authtest.Claims{"acr": "urn:pwd", "auth_time": now - 60}, stepUpShort},
		{"no acr", authtest.Claims{"auth_time": now - 60}, stepUpShort},
		{"acr of the wrong type", authtest.Claims{"acr": []string{"urn:mfa"}, "auth_time": now - 60}, stepUpShort},
		{"auth_time older than max_age", authtest.Claims{"acr": "urn:mfa", "auth_time": now - 301}, stepUpShort},
		{"no auth_time while max_age is required", authtest.Claims{"acr": "urn:mfa"}, stepUpShort},
		{"auth_time in the future", authtest.Claims{"acr": "urn:mfa", "auth_time": now + 3600}, stepUpShort},
		{"auth_time not a number", authtest.Claims{"acr": "urn:mfa", "auth_time": "yesterday"}, stepUpShort},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := tcase{name: "step-up: " + c.name, source: "RFC 9470 §3, §6.1", method: "GET", path: "/step-up",
				header: []string{"Authorization: Bearer " + tok(c.claims)}, want: c.want}
			env.takeHits()
			before := sessions.Calls()
			resp, body, err := r.do(tc)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			c.want.check(t, tc, resp, body, env.takeHits(), sessions.Calls()-before)
		})
	}
}
