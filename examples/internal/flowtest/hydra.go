package flowtest

import (
	"testing"
	"time"

	"github.com/authgate/authgate/idptest"
)

// Hydra walks the example app against a real identity provider, Ory Hydra
// (idptest builds it once; without a C compiler or the module proxy it
// skips, and under CI=true it fails), configured only through the variables
// docs/identity-providers.md gives: AUTHGATE_ISSUER, AUTHGATE_AUDIENCE,
// AUTHGATE_INTROSPECTION_URL (hydra's admin endpoint, no client
// credentials) and AUTHGATE_CLAIM_SID=ext.sid. It checks the
// authorization-code flow with a session id and client_credentials on /me
// and on the sensitive /transfer (introspected), an RFC 7009 revoke refused
// at the next /transfer, a key rotated in at hydra picked up without a
// restart, hydra down (503 with Retry-After on /transfer, /me from the
// cached keys) and recovery once hydra is back.
func Hydra(t *testing.T, run Run) {
	h := idptest.Start(t, idptest.Options{Persistent: true}) // Restart keeps clients, keys and tokens
	c := h.CreateClient(idptest.ClientSpec{Audience: []string{"orders-api"}})
	app := Start(t, run, map[string]string{
		"AUTHGATE_ISSUER":            h.Issuer,
		"AUTHGATE_AUDIENCE":          "orders-api",
		"AUTHGATE_INTROSPECTION_URL": h.IntrospectionURL(),
		"AUTHGATE_CLAIM_SID":         "ext.sid",
	})
	login := func(sub string) idptest.Tokens {
		t.Helper()
		return h.AuthorizationCode(c, idptest.Login{Subject: sub, Scope: []string{"openid", "offline_access", "read"}, Audience: []string{"orders-api"}})
	}

	alice := login("alice")
	me := app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: alice.AccessToken}, 200).JSON(t)
	if me["sub"] != "alice" || me["sid"] != alice.LoginSessionID || alice.LoginSessionID == "" {
		t.Fatalf("/me = %v, want sub alice and sid %q (hydra's ext.sid)", me, alice.LoginSessionID)
	}
	tr := app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: alice.AccessToken}, 200).JSON(t)
	if tr["session_checked_live"] != true {
		t.Fatalf("/transfer = %v: the token was not checked live", tr)
	}
	svc := h.ClientCredentials(c, "read", "orders-api")
	app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: svc.AccessToken}, 200)
	app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: svc.AccessToken}, 200)

	h.Revoke(c, alice.AccessToken) // RFC 7009 at hydra's public endpoint
	app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: alice.AccessToken}, 401)
	app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: alice.AccessToken}, 200) // no feed from hydra: until exp

	kid := h.RotateKeys()
	bob := login("bob")
	if got := idptest.JWTHeader(bob.AccessToken)["kid"]; got != kid {
		t.Fatalf("hydra signed with kid %v after the rotation, want %s", got, kid)
	}
	// The first unknown kid's refetch may run at once (UnknownKeyRefresh
	// has not been spent): admitted without a restart.
	app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: bob.AccessToken}, 200)

	h.Stop()
	r := app.Expect(t, Req{Method: "POST", Path: "/transfer", Bearer: bob.AccessToken}, 503)
	if r.Header.Get("Retry-After") == "" {
		t.Error("hydra down: 503 without Retry-After")
	}
	app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: bob.AccessToken}, 200) // cached keys
	h.Restart()
	// Recovery by itself: poll (bounded, no assertion on time).
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := app.Do(t, Req{Method: "POST", Path: "/transfer", Bearer: bob.AccessToken})
		if resp.Status == 200 {
			break
		}
		if resp.Status != 503 || time.Now().After(deadline) {
			t.Fatalf("after hydra came back: /transfer %d, want 503 until it answers, then 200", resp.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
