package flowtest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// logoutClient is the client id the back-channel logout flows configure
// (AUTHGATE_CLIENT_ID): the logout tokens' audience.
const logoutClient = "orders-client"

var logoutSeq int

// logoutForm is a POST /backchannel-logout body: a logout token of iss
// naming sid and/or sub, as Ory Hydra sends it (typ JWT, no exp).
func logoutForm(iss *authtest.Issuer, sid, sub string, mut func(authtest.Claims)) url.Values {
	logoutSeq++
	c := authtest.Claims{"iss": iss.URL, "aud": []string{logoutClient}, "iat": time.Now().Unix(),
		"jti":    fmt.Sprintf("flow-%d-%d", time.Now().UnixNano(), logoutSeq),
		"events": map[string]any{core.BackchannelLogoutEvent: map[string]any{}}}
	if sid != "" {
		c["sid"] = sid
	}
	if sub != "" {
		c["sub"] = sub
	}
	if mut != nil {
		mut(c)
	}
	return url.Values{"logout_token": {iss.Sign(iss.Signer(), nil, c)}}
}

// BackchannelLogout runs POST /backchannel-logout of the app with a real
// issuer and AUTHGATE_CLIENT_ID: a logout token's sid is refused on /me at
// once, a sub-only logout refuses the subject's earlier tokens, a bad
// logout token is 400 invalid_request, every answer is no-store; without
// AUTHGATE_CLIENT_ID the route does not exist. With redis-server, two
// instances share AUTHGATE_REDIS_URL and a logout received by one is
// refused on /me at the other.
func BackchannelLogout(t *testing.T, run Run) {
	iss := authtest.New(t)
	env := map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience, "AUTHGATE_CLIENT_ID": logoutClient}
	post := func(t *testing.T, app *App, form url.Values, want int) Resp {
		t.Helper()
		r := app.Expect(t, Req{Method: "POST", Path: "/backchannel-logout", Form: form}, want)
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		return r
	}
	t.Run("one instance", func(t *testing.T) {
		app := Start(t, run, env)
		tok := iss.Token(authtest.Claims{"sid": "hydra-login-1"})
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200)
		r := post(t, app, logoutForm(iss, "hydra-login-1", "", func(c authtest.Claims) { c["aud"] = authtest.DefaultAudience }), 400)
		if m := r.JSON(t); m["error"] != "invalid_request" {
			t.Fatalf("400 body %v", m)
		}
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 200)
		post(t, app, logoutForm(iss, "hydra-login-1", "user-1", nil), 200)
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 401)

		old := iss.Token(authtest.Claims{"sub": "bob", "sid": nil, "iat": time.Now().Add(-time.Minute).Unix()})
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: old}, 200)
		post(t, app, logoutForm(iss, "", "bob", nil), 200)
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: old}, 401)
		if !strings.Contains(app.Output(), "back-channel logout") {
			t.Errorf("the banner's mode does not say back-channel logout is on:\n%s", app.Output())
		}
	})
	t.Run("no AUTHGATE_CLIENT_ID: no endpoint", func(t *testing.T) {
		app := Start(t, run, map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience})
		if r := app.Do(t, Req{Method: "POST", Path: "/backchannel-logout", Form: logoutForm(iss, "s-x", "", nil)}); r.Status == 200 {
			t.Fatal("POST /backchannel-logout answered 200 without AUTHGATE_CLIENT_ID")
		}
	})
	t.Run("two instances on one Redis", func(t *testing.T) {
		addr := StartRedis(t)
		renv := map[string]string{"AUTHGATE_REDIS_URL": "redis://" + addr + "/2"}
		for k, v := range env {
			renv[k] = v
		}
		a, b := Start(t, run, renv), Start(t, run, renv)
		tok := iss.Token(authtest.Claims{"sid": "hydra-login-2"})
		for _, app := range []*App{a, b} {
			// Until an instance's Redis feed has caught up, every request is
			// checked live, and Redis holds no session of the issuer's: 401.
			for deadline := time.Now().Add(10 * time.Second); app.Do(t, Req{Method: "GET", Path: "/me", Bearer: tok}).Status != 200; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("an instance never accepted the token on /me")
				}
			}
		}
		form := logoutForm(iss, "hydra-login-2", "", nil)
		post(t, a, form, 200)
		a.Expect(t, Req{Method: "GET", Path: "/me", Bearer: tok}, 401)
		for deadline := time.Now().Add(20 * time.Second); b.Do(t, Req{Method: "GET", Path: "/me", Bearer: tok}).Status != 401; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("instance B still accepts the token after the logout received by A")
			}
		}
		post(t, b, form, 400) // the jti memory is shared through Redis: a replay to another instance is refused
	})
}
