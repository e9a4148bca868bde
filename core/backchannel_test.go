package core_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storetest"
)

const bclClient = "bcl-client"

// bclEnv is an authenticator with a MemoryStore as its feed and publisher,
// and its back-channel logout receiver.
type bclEnv struct {
	*sessEnv
	store *core.MemoryStore
	recv  *core.BackchannelLogout
	n     int
}

func newBCLEnv(t *testing.T, o core.BackchannelLogoutOptions) *bclEnv {
	t.Helper()
	store := core.NewMemoryStore(core.StoreOptions{Audit: &storetest.AuditRecorder{}})
	t.Cleanup(func() { store.Close() })
	e := &bclEnv{sessEnv: newSessEnv(t, func(c *core.Config) { c.Revocations = store }), store: store}
	if o.ClientID == "" {
		o.ClientID = bclClient
	}
	r, err := e.auth.BackchannelLogout(o)
	if err != nil {
		t.Fatal(err)
	}
	e.recv = r
	return e
}

// claims returns a valid logout token's claims, as Ory Hydra v2.3.0 sends
// them (no exp), naming sid.
func (e *bclEnv) claims(sid string) map[string]any {
	e.n++
	c := map[string]any{
		"iss": e.iss.URL, "aud": []string{bclClient}, "iat": e.clock.Now().Unix(),
		"jti": fmt.Sprintf("lt-%d", e.n), "sub": "alice",
		"events": map[string]any{core.BackchannelLogoutEvent: map[string]any{}},
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

func (e *bclEnv) sign(header map[string]any, c map[string]any) string {
	return e.iss.Sign(e.iss.Signer(), header, authtest.Claims(c))
}

// post sends body as a form POST and returns the response.
func (e *bclEnv) post(body string) core.Response {
	return e.recv.Receive(context.Background(), "POST", "application/x-www-form-urlencoded", strings.NewReader(body))
}

func form(tok string) string { return "logout_token=" + url.QueryEscape(tok) }

func checkBCLResponse(t *testing.T, name string, resp core.Response, status int) {
	t.Helper()
	if resp.Status != status {
		t.Errorf("%s: status %d, want %d (body %s)", name, resp.Status, status, resp.Body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store (section 2.8)", name, cc)
	}
	if status == http.StatusBadRequest {
		var b struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(resp.Body, &b); err != nil || b.Error != "invalid_request" {
			t.Errorf("%s: body %s, want {\"error\":\"invalid_request\"} (section 2.8)", name, resp.Body)
		}
		if strings.Contains(string(resp.Body), "section") {
			t.Errorf("%s: the body leaks the cause: %s", name, resp.Body)
		}
	}
}

// TestBackchannelLogoutConformance breaks every rule of a logout token and
// of the request that carries it once (OpenID Connect Back-Channel Logout
// 1.0), and checks that each is refused with 400 invalid_request and
// Cache-Control: no-store, and that nothing was revoked.
func TestBackchannelLogoutConformance(t *testing.T) {
	e := newBCLEnv(t, core.BackchannelLogoutOptions{})
	other := authtest.New(t) // a stranger's keys
	victim := e.token("victim-sid")
	type tc struct {
		name string
		body func() string
	}
	tok := func(header map[string]any, mut func(c map[string]any)) func() string {
		return func() string {
			c := e.claims("victim-sid")
			if mut != nil {
				mut(c)
			}
			return form(e.sign(header, c))
		}
	}
	b64 := base64.RawURLEncoding.EncodeToString
	cases := []tc{
		// Section 2.5: a form POST with one logout_token.
		{"2.5 no logout_token", func() string { return "token=x" }},
		{"2.5 logout_token twice", func() string { v := tok(nil, nil)(); return v + "&" + v }},
		{"2.5 body over MaxBodySize", func() string { return form(strings.Repeat("a", 17<<10)) }},
		{"2.5 not a JWT", func() string { return form("not-a-jwt") }},
		// Section 2.6 step 1: encrypted tokens are not supported here.
		{"2.6.1 five-part JWE", func() string { return form("a.b.c.d.e") }},
		// Section 2.6 step 2: signature, alg, iss, aud, iat, exp as for ID tokens.
		{"2.6.2 signed by another key", func() string {
			return form(other.Sign(other.Signer(), nil, authtest.Claims(e.claims("victim-sid"))))
		}},
		{"2.6.2 signature tampered", func() string {
			t := e.sign(nil, e.claims("victim-sid"))
			return form(t[:len(t)-4] + "AAAA")
		}},
		{"2.4 alg none", func() string {
			c, _ := json.Marshal(e.claims("victim-sid"))
			return form(b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64(c) + ".")
		}},
		{"2.6.2 alg HS256 keyed with the public key", func() string {
			c, _ := json.Marshal(e.claims("victim-sid"))
			der, _ := x509.MarshalPKIXPublicKey(e.iss.Signer().Private.Public())
			input := b64([]byte(`{"alg":"HS256","typ":"JWT","kid":"`+e.iss.Signer().ID+`"}`)) + "." + b64(c)
			m := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
			m.Write([]byte(input))
			return form(input + "." + b64(m.Sum(nil)))
		}},
		{"2.6.2 alg outside the allow-list (PS256)", func() string {
			k := e.iss.AddKey("PS256")
			return form(e.iss.Sign(k, nil, authtest.Claims(e.claims("victim-sid"))))
		}},
		{"2.6.2 iss of no configured issuer", tok(nil, func(c map[string]any) { c["iss"] = "https://evil.example/" })},
		{"2.6.2 no iss", tok(nil, func(c map[string]any) { delete(c, "iss") })},
		{"2.6.2 aud without our client id", tok(nil, func(c map[string]any) { c["aud"] = []string{"another-client"} })},
		{"2.6.2 aud is the API's access-token audience", tok(nil, func(c map[string]any) { c["aud"] = authtest.DefaultAudience })},
		{"2.6.2 no aud", tok(nil, func(c map[string]any) { delete(c, "aud") })},
		{"2.4 no iat", tok(nil, func(c map[string]any) { delete(c, "iat") })},
		{"2.6.2 iat in the future", tok(nil, func(c map[string]any) { c["iat"] = e.clock.Now().Add(10 * time.Minute).Unix() })},
		{"2.6.2 iat older than MaxAge", tok(nil, func(c map[string]any) { c["iat"] = e.clock.Now().Add(-10 * time.Minute).Unix() })},
		{"2.6.2 iat not a number", tok(nil, func(c map[string]any) { c["iat"] = "now" })},
		{"2.6.2 exp in the past", tok(nil, func(c map[string]any) { c["exp"] = e.clock.Now().Add(-5 * time.Minute).Unix() })},
		{"2.4 no jti", tok(nil, func(c map[string]any) { delete(c, "jti") })},
		{"2.4 empty jti", tok(nil, func(c map[string]any) { c["jti"] = "" })},
		// Section 2.6 step 3: sub, sid or both.
		{"2.6.3 neither sub nor sid", tok(nil, func(c map[string]any) { delete(c, "sub"); delete(c, "sid") })},
		{"2.6.3 sub and sid empty", tok(nil, func(c map[string]any) { c["sub"] = ""; c["sid"] = "" })},
		{"2.4 sid not a string", tok(nil, func(c map[string]any) { c["sid"] = 7 })},
		// Section 2.6 step 4: events with the back-channel logout member, a JSON object.
		{"2.6.4 no events", tok(nil, func(c map[string]any) { delete(c, "events") })},
		{"2.6.4 events without the logout member", tok(nil, func(c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
		})},
		{"2.6.4 events as an array (pre-1.0 drafts)", tok(nil, func(c map[string]any) { c["events"] = []string{core.BackchannelLogoutEvent} })},
		{"2.4 event value not a JSON object", tok(nil, func(c map[string]any) { c["events"] = map[string]any{core.BackchannelLogoutEvent: "yes"} })},
		// Section 2.6 step 5: no nonce.
		{"2.6.5 nonce present", tok(nil, func(c map[string]any) { c["nonce"] = "n-0S6_WzA2Mj" })},
		{"2.6.5 nonce null", tok(nil, func(c map[string]any) { c["nonce"] = nil })},
		// Section 2.4: explicit typing; no other kind of JWT.
		{"2.4 typ at+jwt (an access token)", tok(map[string]any{"typ": "at+jwt"}, nil)},
		{"2.4 typ secevent+jwt", tok(map[string]any{"typ": "secevent+jwt"}, nil)},
		// A member given twice is read two ways by two parsers.
		{"duplicate sid member", func() string {
			c, _ := json.Marshal(e.claims("other-sid"))
			dup := strings.Replace(string(c), `"sid":"other-sid"`, `"sid":"other-sid","sid":"victim-sid"`, 1)
			return form(authtest.SignRaw(e.iss.Signer(), []byte(`{"alg":"RS256","typ":"JWT","kid":"`+e.iss.Signer().ID+`"}`), []byte(dup)))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkBCLResponse(t, c.name, e.post(c.body()), http.StatusBadRequest)
		})
	}
	if _, err := e.do(context.Background(), victim, false); err != nil {
		t.Fatalf("a refused logout token revoked the session: %v", err)
	}
	t.Run("2.5 not a form", func(t *testing.T) {
		resp := e.recv.Receive(context.Background(), "POST", "application/json", strings.NewReader(tok(nil, nil)()))
		checkBCLResponse(t, "json body", resp, http.StatusBadRequest)
	})
	t.Run("2.5 not POST", func(t *testing.T) {
		resp := e.recv.Receive(context.Background(), "GET", "", nil)
		checkBCLResponse(t, "GET", resp, http.StatusMethodNotAllowed)
	})
	t.Run("2.6.6 jti replayed", func(t *testing.T) {
		body := tok(nil, func(c map[string]any) { c["sid"] = "replay-sid" })()
		checkBCLResponse(t, "first", e.post(body), http.StatusOK)
		checkBCLResponse(t, "replay", e.post(body), http.StatusBadRequest)
	})
}

// TestBackchannelLogoutApplies: a valid logout token revokes its session
// (sid) or its subject (sub alone: sessions and a cutoff at iat), and
// typ logout+jwt is required only when configured.
func TestBackchannelLogoutApplies(t *testing.T) {
	ctx := context.Background()
	t.Run("sid revokes the session on every route", func(t *testing.T) {
		e := newBCLEnv(t, core.BackchannelLogoutOptions{})
		tok := e.token("sess-9")
		if _, err := e.do(ctx, tok, false); err != nil {
			t.Fatal(err)
		}
		checkBCLResponse(t, "logout", e.post(form(e.sign(nil, e.claims("sess-9")))), http.StatusOK)
		if _, err := e.do(ctx, tok, false); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatalf("after the logout: %v, want revoked", err)
		}
		if _, err := e.do(ctx, e.token("sess-10"), false); err != nil {
			t.Fatalf("another session: %v", err)
		}
	})
	t.Run("sub alone: every session and a cutoff at iat", func(t *testing.T) {
		e := newBCLEnv(t, core.BackchannelLogoutOptions{})
		s, _, err := e.store.Create(ctx, core.SessionParams{Subject: "alice", Issuer: e.iss.URL})
		if err != nil {
			t.Fatal(err)
		}
		noSID := e.cutToken("alice", "", e.clock.Now().Add(-time.Minute))
		if _, err := e.do(ctx, noSID, false); err != nil {
			t.Fatal(err)
		}
		checkBCLResponse(t, "logout", e.post(form(e.sign(nil, e.claims("")))), http.StatusOK)
		if _, err := e.do(ctx, noSID, false); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatalf("a token without sid, issued before: %v, want revoked", err)
		}
		if _, err := e.store.Get(ctx, s.ID); !errors.Is(err, core.ErrSessionRevoked) {
			t.Fatalf("the subject's store session: %v, want ended", err)
		}
		e.clock.Advance(2 * time.Second)
		if _, err := e.do(ctx, e.cutToken("alice", "", e.clock.Now()), false); err != nil {
			t.Fatalf("a token issued after the logout: %v", err)
		}
	})
	t.Run("typ", func(t *testing.T) {
		e := newBCLEnv(t, core.BackchannelLogoutOptions{})
		for _, typ := range []any{"JWT", "logout+jwt", "application/logout+jwt", nil} {
			checkBCLResponse(t, fmt.Sprint(typ), e.post(form(e.sign(map[string]any{"typ": typ}, e.claims("s-typ")))), http.StatusOK)
		}
		strict := newBCLEnv(t, core.BackchannelLogoutOptions{RequireLogoutType: true})
		checkBCLResponse(t, "JWT, required logout+jwt", strict.post(form(strict.sign(nil, strict.claims("s-typ")))), http.StatusBadRequest)
		checkBCLResponse(t, "logout+jwt", strict.post(form(strict.sign(map[string]any{"typ": "logout+jwt"}, strict.claims("s-typ")))), http.StatusOK)
	})
	t.Run("aud as a string, exp in the future", func(t *testing.T) {
		e := newBCLEnv(t, core.BackchannelLogoutOptions{})
		c := e.claims("s-aud")
		c["aud"] = bclClient
		c["exp"] = e.clock.Now().Add(time.Minute).Unix()
		checkBCLResponse(t, "logout", e.post(form(e.sign(nil, c))), http.StatusOK)
	})
	t.Run("a refused token does not use up its jti", func(t *testing.T) {
		e := newBCLEnv(t, core.BackchannelLogoutOptions{})
		c := e.claims("s-jti")
		c["aud"] = "someone-else"
		checkBCLResponse(t, "forged", e.post(form(e.sign(nil, c))), http.StatusBadRequest)
		c["aud"] = bclClient
		checkBCLResponse(t, "real", e.post(form(e.sign(nil, c))), http.StatusOK)
	})
}

// failingPublisher fails while fail is set. A receiver's background poll
// may call it while the test sets it: setFail and published lock.
type failingPublisher struct {
	mu   sync.Mutex
	fail bool
	got  []core.Revocation
}

func (f *failingPublisher) PublishRevocation(_ context.Context, r core.Revocation, _ ...core.RevokeOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("bus down")
	}
	f.got = append(f.got, r)
	return nil
}

// setFail sets fail, and with reset forgets what was published.
func (f *failingPublisher) setFail(fail, reset bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fail
	if reset {
		f.got = nil
	}
}

// published returns what was published so far.
func (f *failingPublisher) published() []core.Revocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// TestBackchannelLogoutUnavailable: a revocation that cannot be published
// is 503 (the identity provider retries), and the retry is not refused as
// a replay.
func TestBackchannelLogoutUnavailable(t *testing.T) {
	pub := &failingPublisher{fail: true}
	e := newBCLEnv(t, core.BackchannelLogoutOptions{Publisher: pub})
	body := form(e.sign(nil, e.claims("s-down")))
	checkBCLResponse(t, "bus down", e.post(body), http.StatusServiceUnavailable)
	pub.setFail(false, false)
	checkBCLResponse(t, "retry", e.post(body), http.StatusOK)
	if got := pub.published(); len(got) != 1 || got[0].SessionID != "s-down" || got[0].Issuer != e.iss.URL {
		t.Fatalf("published %+v", got)
	}
}

// TestBackchannelLogoutOptions: New-time checks.
func TestBackchannelLogoutOptions(t *testing.T) {
	e := newSessEnv(t, nil)
	for name, o := range map[string]core.BackchannelLogoutOptions{
		"no client id":     {},
		"unknown issuer":   {ClientID: "c", Issuers: []string{"https://nobody/"}},
		"MaxAge too large": {ClientID: "c", MaxAge: 2 * time.Hour},
		"body too small":   {ClientID: "c", MaxBodySize: 10},
	} {
		if _, err := e.auth.BackchannelLogout(o); !errors.Is(err, core.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}
