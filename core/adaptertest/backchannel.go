package adaptertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

// RouteBackchannelLogout is the path of the back-channel logout endpoint a
// harness serves with its adapter's BackchannelLogout(env.Logout), outside
// the authentication middleware, when [Env.Logout] is not nil:
//
//	POST /backchannel-logout   BackchannelLogout(env.Logout)   no middleware
const RouteBackchannelLogout = "/backchannel-logout"

// LogoutClientID is the client id (the logout tokens' audience) of the
// suite's back-channel logout receiver.
const LogoutClientID = "conformance-client"

// runBackchannel drives the adapter's back-channel logout endpoint over
// real HTTP: each answer's status, Cache-Control and body, and that what a
// valid logout token names is then refused on every route of that server.
func runBackchannel(t *testing.T, h Harness, iss *authtest.Issuer) {
	sessions := &Sessions{}
	auth, err := core.New(context.Background(), Config(iss, sessions))
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	t.Cleanup(func() { _ = auth.Close() })
	env := &Env{Auth: auth}
	if env.Logout, err = auth.BackchannelLogout(core.BackchannelLogoutOptions{ClientID: LogoutClientID}); err != nil {
		t.Fatalf("BackchannelLogout: %v", err)
	}
	base := "http://" + h.Start(t, env)
	n := 0
	logout := func(sid, sub string, mut func(c authtest.Claims)) string {
		n++
		c := authtest.Claims{"iss": iss.URL, "aud": LogoutClientID, "iat": time.Now().Unix(), "jti": fmt.Sprintf("conf-%d", n),
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
		return iss.Sign(iss.Signer(), nil, c)
	}
	post := func(t *testing.T, method, ctype, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, base+RouteBackchannelLogout, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d (body %s)", method, resp.StatusCode, want, b)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store (Back-Channel Logout 1.0 section 2.8)", cc)
		}
		if want == http.StatusBadRequest {
			var e struct{ Error string }
			if json.Unmarshal(b, &e) != nil || e.Error != "invalid_request" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Errorf("400 body %q (%s), want JSON error invalid_request (section 2.8)", b, resp.Header.Get("Content-Type"))
			}
		}
	}
	get := func(t *testing.T, method, path, tok string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	form := func(tok string) string { return "logout_token=" + url.QueryEscape(tok) }
	const ct = "application/x-www-form-urlencoded"

	t.Run("refusals", func(t *testing.T) {
		post(t, http.MethodPost, ct, form(flipSignature(logout(SessionActive, "", nil))), http.StatusBadRequest)
		post(t, http.MethodPost, "application/json", form(logout(SessionActive, "", nil)), http.StatusBadRequest)
		post(t, http.MethodPost, ct, "logout_token=", http.StatusBadRequest)
		post(t, http.MethodPost, ct, form(logout(SessionActive, "", func(c authtest.Claims) { c["aud"] = authtest.DefaultAudience })), http.StatusBadRequest)
		post(t, http.MethodPost, ct, form(logout(SessionActive, "", func(c authtest.Claims) { c["nonce"] = "n" })), http.StatusBadRequest)
		post(t, http.MethodPost, ct, form(strings.Repeat("x", 20<<10)), http.StatusBadRequest)
		post(t, http.MethodGet, "", "", http.StatusMethodNotAllowed)
		tok := iss.Token(authtest.Claims{"sid": SessionActive})
		if st := get(t, http.MethodGet, "/me", tok); st != http.StatusOK {
			t.Fatalf("a refused logout token revoked the session: GET /me %d", st)
		}
	})
	t.Run("sid: the session is refused on every route", func(t *testing.T) {
		tok := iss.Token(authtest.Claims{"sid": SessionActive})
		if st := get(t, http.MethodGet, "/me", tok); st != http.StatusOK {
			t.Fatalf("before: GET /me %d", st)
		}
		lt := logout(SessionActive, "", nil)
		post(t, http.MethodPost, ct, form(lt), http.StatusOK)
		for _, r := range [][2]string{{"GET", "/me"}, {"POST", "/me"}, {"POST", "/transfer"}, {"GET", "/orders"}} {
			if st := get(t, r[0], r[1], tok); st != http.StatusUnauthorized {
				t.Errorf("after the logout: %s %s %d, want 401", r[0], r[1], st)
			}
		}
		post(t, http.MethodPost, ct, form(lt), http.StatusBadRequest) // section 2.6 step 6: jti replayed
	})
	t.Run("sub alone: the subject's earlier tokens are refused", func(t *testing.T) {
		old := iss.Token(authtest.Claims{"sub": "bcl-user", "sid": nil, "iat": time.Now().Add(-time.Minute).Unix()})
		if st := get(t, http.MethodGet, "/me", old); st != http.StatusOK {
			t.Fatalf("before: GET /me %d", st)
		}
		post(t, http.MethodPost, ct, form(logout("", "bcl-user", nil)), http.StatusOK)
		if st := get(t, http.MethodGet, "/me", old); st != http.StatusUnauthorized {
			t.Errorf("after the logout: GET /me %d, want 401", st)
		}
		other := iss.Token(authtest.Claims{"sub": "someone-else", "sid": nil})
		if st := get(t, http.MethodGet, "/me", other); st != http.StatusOK {
			t.Errorf("another subject: GET /me %d, want 200", st)
		}
	})
}
