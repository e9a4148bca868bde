package idptest

import "testing"

func TestSmoke(t *testing.T) {
	h := Start(t, Options{})
	c := h.CreateClient(ClientSpec{Audience: []string{"orders-api"}})
	tok := h.ClientCredentials(c, "read", "orders-api")
	t.Log(JWTHeader(tok.AccessToken), JWTClaims(tok.AccessToken), h.Issuer)
	at := h.AuthorizationCode(c, Login{Subject: "alice", Scope: []string{"openid", "offline_access", "read"}, Audience: []string{"orders-api"}})
	t.Log(JWTClaims(at.AccessToken), at.LoginSessionID, len(at.RefreshToken))
	t.Log(h.Introspect(at.AccessToken))
}
