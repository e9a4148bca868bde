package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// The step-up claims are read through ClaimNames, dotted paths included,
// and a principal's Authentication gives them.
func TestStepUpClaimNames(t *testing.T) {
	iss := authtest.New(t)
	a := newAuth(t, iss, func(c *core.Config) {
		c.Claims = core.ClaimNames{ACR: "ext.acr", AMR: "ext.amr", AuthTime: "ext.at"}
	})
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	tok := iss.Token(authtest.Claims{"acr": "urn:pwd", "ext": map[string]any{"acr": "urn:mfa", "amr": []string{"otp", "pwd"}, "at": at.Unix()}})
	ctx, err := adapter.Admit(a, context.Background(), bearer(tok), false)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := core.PrincipalFrom(ctx)
	au, err := p.Authentication()
	if err != nil || au.ACR != "urn:mfa" || strings.Join(au.AMR, ",") != "otp,pwd" || !au.AuthTime.Equal(at) {
		t.Fatalf("%+v, %v", au, err)
	}
	if err := core.Require(ctx, core.Requirements{StepUp: core.StepUp{ACR: []string{"urn:mfa"}, MaxAge: time.Hour}}); err != nil {
		t.Fatalf("meets the requirement: %v", err)
	}
	// The top-level acr is not the configured one.
	err = core.Require(ctx, core.Requirements{StepUp: core.StepUp{ACR: []string{"urn:pwd"}}})
	if !errors.Is(err, core.ErrInsufficientUserAuthentication) {
		t.Fatalf("got %v", err)
	}
}

// The claim names are checked like the others.
func TestStepUpClaimNamesChecked(t *testing.T) {
	iss := authtest.New(t)
	for _, n := range []core.ClaimNames{{ACR: "sid"}, {AuthTime: "exp"}, {AMR: "roles"}, {ACR: "x", AMR: "x.y"}} {
		cfg := iss.Config()
		cfg.Claims = n
		if a, err := core.New(context.Background(), cfg); err == nil {
			a.Close()
			t.Errorf("%+v accepted", n)
		}
	}
}

// The refusal renders RFC 9470's challenge; with DPoP the parameters go
// where the error code goes.
func TestStepUpChallenge(t *testing.T) {
	iss := authtest.New(t)
	a := newAuth(t, iss)
	ctx, err := adapter.Admit(a, context.Background(), bearer(iss.Token(authtest.Claims{"acr": "urn:pwd"})), false)
	if err != nil {
		t.Fatal(err)
	}
	err = core.Require(ctx, core.Requirements{StepUp: core.StepUp{ACR: []string{"urn:mfa", "urn:hwk"}, MaxAge: 90 * time.Second}})
	resp := adapter.RenderContext(ctx, err)
	want := `Bearer realm="api", error="insufficient_user_authentication", error_description="a different authentication level is required", acr_values="urn:mfa urn:hwk", max_age="90"`
	if resp.Status != 401 || resp.Header.Get("Www-Authenticate") != want {
		t.Fatalf("%d %q", resp.Status, resp.Header.Get("Www-Authenticate"))
	}
	if strings.Contains(string(resp.Body), "urn:pwd") || strings.Contains(core.Cause(err), "urn:pwd") {
		t.Fatalf("the token's acr leaks: %s / %s", resp.Body, core.Cause(err))
	}
	e := new(core.Error)
	errors.As(err, &e)
	e.DPoP = &core.DPoPChallenge{Algs: []string{"ES256"}, Error: true, Bearer: true}
	got := core.Challenges("api", e)
	if len(got) != 2 || got[0] != `Bearer realm="api"` || !strings.HasSuffix(got[1], `acr_values="urn:mfa urn:hwk", max_age="90", algs="ES256"`) {
		t.Fatalf("%q", got)
	}
}

// A requirement that cannot be sent in a challenge is a misconfiguration:
// refused (500), never a pass.
func TestStepUpInvalidRequirement(t *testing.T) {
	iss := authtest.New(t)
	a := newAuth(t, iss)
	ctx, err := adapter.Admit(a, context.Background(), bearer(iss.Token(authtest.Claims{"acr": "a b", "auth_time": time.Now().Unix()})), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []core.StepUp{{ACR: []string{"a b"}}, {ACR: []string{""}}, {ACR: []string{`a"`}}, {MaxAge: -time.Second}} {
		if err := core.Require(ctx, core.Requirements{StepUp: s}); !errors.Is(err, core.ErrMisconfigured) {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

// An introspected token's acr and auth_time come from the answer.
func TestStepUpThroughIntrospection(t *testing.T) {
	at := time.Now().Add(-10 * time.Minute).Unix()
	stub := newIntrospectionStub(t, func(string) (int, string) {
		return 200, fmt.Sprintf(`{"active":true,"sub":"u1","acr":"urn:mfa","auth_time":%d}`, at)
	})
	a := startAuth(t, core.Config{Opaque: newIntrospector(t, stub.URL, nil), Now: time.Now})
	ctx, err := adapter.Admit(a, context.Background(), bearer("opaque-0123456789abcdefghij"), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := core.Require(ctx, core.Requirements{StepUp: core.StepUp{ACR: []string{"urn:mfa"}, MaxAge: time.Hour}}); err != nil {
		t.Fatalf("meets it: %v", err)
	}
	if err := core.Require(ctx, core.Requirements{StepUp: core.StepUp{MaxAge: 5 * time.Minute}}); !errors.Is(err, core.ErrInsufficientUserAuthentication) {
		t.Fatalf("too old: %v", err)
	}
}

// Scopes are judged before step-up, the live session check after it.
func TestStepUpOrder(t *testing.T) {
	iss := authtest.New(t)
	a := newAuth(t, iss)
	ctx, err := adapter.Admit(a, context.Background(), bearer(iss.Token(authtest.Claims{"scope": "a"})), false)
	if err != nil {
		t.Fatal(err)
	}
	err = core.Require(ctx, core.Requirements{Scopes: []string{"b"}, StepUp: core.StepUp{ACR: []string{"x"}}})
	if !errors.Is(err, core.ErrInsufficientScope) {
		t.Fatalf("got %v", err)
	}
}
