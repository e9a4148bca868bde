package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
)

// TestNoLeeway pins catalog row CL-02's "leeway 0" case (RFC 7519 4.1.4: the
// current time MUST be before exp): with Config.NoLeeway a token is refused
// from the very second its exp is reached, nbf and iat in the future by one
// second are refused, and a verified-token cache hit is judged the same way.
func TestNoLeeway(t *testing.T) {
	iss := startIssuer(t, "ES256")
	var nowNs atomic.Int64
	nowNs.Store(fixedNow.UnixNano())
	clk := func() time.Time { return time.Unix(0, nowNs.Load()) }
	now := fixedNow.Unix()
	sign := func(over map[string]string) string {
		return raw(iss.Signer(), defHdr(iss), claimSet(iss, over))
	}
	n := func(v int64) string { return fmt.Sprint(v) }

	strict := iss.Config()
	strict.NoLeeway = true
	strict.Now = clk
	a := startAuth(t, strict)
	lenient := iss.Config()
	lenient.Now = clk
	d := startAuth(t, lenient)

	cases := []struct {
		name         string
		tok          string
		strict, dflt error
	}{
		{"exp = now", sign(map[string]string{"exp": n(now)}), core.ErrTokenExpired, nil},
		{"exp = now - 1", sign(map[string]string{"exp": n(now - 1)}), core.ErrTokenExpired, nil},
		{"exp = now + 1", sign(map[string]string{"exp": n(now + 1)}), nil, nil},
		{"nbf = now + 1", sign(map[string]string{"nbf": n(now + 1)}), core.ErrInvalidToken, nil},
		{"nbf = now", sign(map[string]string{"nbf": n(now)}), nil, nil},
		{"iat = now + 1", sign(map[string]string{"iat": n(now + 1)}), core.ErrInvalidToken, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, side := range []struct {
				name string
				a    *core.Authenticator
				want error
			}{{"NoLeeway", a, tc.strict}, {"default leeway", d, tc.dflt}} {
				_, err := side.a.Authenticate(context.Background(), bearerReq(tc.tok))
				if tc := side.want; tc == nil && err != nil || tc != nil && !errors.Is(err, tc) {
					t.Errorf("%s: got %v, want %v", side.name, err, side.want)
				}
			}
		})
	}

	// A token accepted (and cached) one second before its exp is refused on
	// the cache hit at exp exactly.
	tok := sign(map[string]string{"exp": n(now + 1)})
	if _, err := a.Authenticate(context.Background(), bearerReq(tok)); err != nil {
		t.Fatalf("fresh: %v", err)
	}
	if _, err := a.Authenticate(context.Background(), bearerReq(tok)); err != nil {
		t.Fatalf("cache hit before exp: %v", err)
	}
	nowNs.Store(time.Unix(now+1, 0).UnixNano())
	if _, err := a.Authenticate(context.Background(), bearerReq(tok)); !errors.Is(err, core.ErrTokenExpired) {
		t.Fatalf("cache hit at exp: got %v, want ErrTokenExpired", err)
	}
	if _, err := d.Authenticate(context.Background(), bearerReq(tok)); err != nil {
		t.Fatalf("default leeway at exp: %v", err)
	}
}

// TestNoLeewayConfig: NoLeeway with a Leeway is ambiguous and refused by New.
func TestNoLeewayConfig(t *testing.T) {
	iss := startIssuer(t, "ES256")
	cfg := iss.Config()
	cfg.NoLeeway = true
	cfg.Leeway = time.Second
	if _, err := core.New(context.Background(), cfg); !errors.Is(err, core.ErrConfig) {
		t.Fatalf("New: got %v, want ErrConfig", err)
	}
}
