package storekit_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storekit"
)

func TestIDsAndTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := storekit.NewSessionID()
		if !storekit.ValidSessionID(id) || seen[id] {
			t.Fatalf("NewSessionID %q: valid=%v, repeated=%v", id, storekit.ValidSessionID(id), seen[id])
		}
		seen[id] = true
	}
	for _, bad := range []string{"", ".", "a..b", "a/b", "a b", strings.Repeat("a", core.MaxSessionIDLen+1), "é"} {
		if storekit.ValidSessionID(bad) {
			t.Errorf("ValidSessionID(%q) = true", bad)
		}
	}
	tok, hash := storekit.NewOpaqueToken()
	if len(tok) != 43 || storekit.HashOpaqueToken(tok) != hash || storekit.HashOpaqueToken(tok+"x") == hash {
		t.Fatalf("NewOpaqueToken: %q and its hash disagree with HashOpaqueToken", tok)
	}
}

func TestRevokeOptionsAndDefaults(t *testing.T) {
	o := storekit.RevokeOptions(core.WithActor("admin-1"), nil, core.WithReason("password reset"))
	if o.Actor != "admin-1" || o.Reason != "password reset" {
		t.Fatalf("RevokeOptions = %+v", o)
	}
	d := storekit.StoreDefaults(core.StoreOptions{IdleTimeout: -1, MaxSessions: -3})
	if d.IdleTimeout != 0 || d.MaxSessions != 0 || d.AbsoluteTimeout != core.DefaultAbsoluteTimeout || d.TouchInterval <= 0 {
		t.Fatalf("StoreDefaults = %+v", d)
	}
}

func TestCheckRevocation(t *testing.T) {
	for _, c := range []struct {
		r  core.Revocation
		ok bool
	}{
		{core.Revocation{SessionID: "s-1"}, true},
		{core.Revocation{SessionID: "a/b"}, false},
		{core.Revocation{Cutoff: true, Subject: "u-1"}, true},
		{core.Revocation{Cutoff: true}, false},
		{core.Revocation{Cutoff: true, Subject: "u-1", SessionID: "s-1"}, false},
		{core.Revocation{SessionID: "s-1", Subject: strings.Repeat("u", 5000)}, false},
	} {
		err := storekit.CheckRevocation(c.r)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, core.ErrRevocationInvalid)) {
			t.Errorf("CheckRevocation(%+v) = %v, want ok=%v", c.r, err, c.ok)
		}
	}
}
