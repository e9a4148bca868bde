package core_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// OP-02: every refusal is explainable: its cause (a fixed text of authgate,
// or a Go type name) is logged at Debug and handed to the Observer, and
// neither ever holds the token, a token segment or a claim value.
func TestRefusalCauseIsLoggedWithoutTokenOrClaimValues(t *testing.T) {
	iss := authtest.New(t)
	var logs bytes.Buffer
	rec := &recorder{}
	a := newAuth(t, iss, func(c *core.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Observer = rec
		c.MaxTokenSize = 1024
	})
	now := time.Now()
	k := iss.Signer()
	cases := []struct {
		name, tok, reason, cause string
	}{
		{"wrong audience", iss.Token(authtest.Claims{"aud": "SECRET-AUD-1"}), "invalid_token", "aud names no accepted audience"},
		{"unknown issuer", iss.Token(authtest.Claims{"iss": "https://SECRET-ISS-2.example/"}), "invalid_token", "iss names no configured issuer"},
		{"unknown kid", iss.Sign(k, map[string]any{"kid": "SECRET-KID-3"}, iss.Defaults()), "invalid_token", "unknown kid"},
		{"not yet valid", iss.Token(authtest.Claims{"nbf": now.Add(time.Hour).Unix(), "sub": "SECRET-SUB-4"}), "invalid_token", "token not valid yet (nbf)"},
		{"duplicate claim named by the attacker", authtest.SignRaw(k,
			[]byte(`{"alg":"`+k.Alg+`","kid":"`+k.ID+`"}`),
			[]byte(`{"SECRET-NAME-5":1,"SECRET-NAME-5":2}`)), "invalid_token", "malformed claims: (*jsontext.SyntacticError): duplicate object member name"},
		{"too large", strings.Repeat("SECRET6", 200), "invalid_token", "token larger than MaxTokenSize"},
		{"expired: the class says it all", iss.Token(authtest.Claims{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(), "sub": "SECRET-SUB-7"}), "token_expired", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			rec.mu.Lock()
			rec.events = nil
			rec.mu.Unlock()
			_, err := adapter.Admit(a, context.Background(), bearer(c.tok), false)
			if err == nil {
				t.Fatal("admitted")
			}
			if got := core.Cause(err); got != c.cause {
				t.Errorf("Cause = %q, want %q (error %v)", got, c.cause, err)
			}
			out := logs.String()
			want := fmt.Sprintf(`"reason":%q,"cause":%q`, c.reason, c.cause)
			if !strings.Contains(out, `"level":"DEBUG"`) || !strings.Contains(out, want) {
				t.Errorf("debug log lacks %s:\n%s", want, out)
			}
			var evs []core.Event
			rec.mu.Lock()
			for _, ev := range rec.events {
				if ev.Kind == core.EventRefused {
					evs = append(evs, ev)
				}
			}
			rec.mu.Unlock()
			if len(evs) != 1 || evs[0].Kind != core.EventRefused || evs[0].Cause != c.cause || evs[0].Class != c.reason {
				t.Errorf("events %+v, want one refusal with cause %q", evs, c.cause)
			}
			secrets := append(strings.Split(c.tok, "."), "SECRET", "user-1", "session-1")
			for _, s := range secrets {
				if s != "" && (strings.Contains(out, s) || len(evs) == 1 && strings.Contains(evs[0].Cause, s)) {
					t.Errorf("log or event holds %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestCauseNamesForeignErrorsByTypeOnly(t *testing.T) {
	secret := "SECRET-sid-42"
	foreign := fmt.Errorf("lookup of %s failed: %w", secret, context.DeadlineExceeded)
	joined := errors.Join(errors.New("fixed text"), foreign)
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("plain"), "plain"},
		{foreign, "(*fmt.wrapError): context deadline exceeded"},
		{joined, "fixed text: (*fmt.wrapError): context deadline exceeded"},
	} {
		if got := core.Cause(c.err); got != c.want || strings.Contains(got, secret) {
			t.Errorf("Cause(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
