package setup_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/examples/setup"
)

func fromEnv(t *testing.T, env map[string]string) (*setup.App, error) {
	t.Helper()
	a, err := setup.FromEnv(context.Background(), func(k string) string { return env[k] })
	if err == nil {
		t.Cleanup(func() { _ = a.Close() })
	}
	return a, err
}

func TestDevModeWhenNoIssuerIsConfigured(t *testing.T) {
	a, err := fromEnv(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Dev == nil || a.Addr != setup.DefaultAddr {
		t.Fatalf("dev %v addr %q", a.Dev, a.Addr)
	}
	var b bytes.Buffer
	a.Banner(&b, "test", "http://127.0.0.1:8080")
	for _, want := range []string{"/dev/login", "/logout", "Development mode", "*** DEVELOPMENT MODE"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, b.String())
		}
	}
	if c := a.ExpiredCookie(); c.Secure || c.MaxAge >= 0 || !c.HttpOnly {
		t.Errorf("loopback logout cookie %+v", c)
	}
}

func TestOP08RealIssuerHasNoDevIssuer(t *testing.T) {
	iss := authtest.New(t)
	a, err := fromEnv(t, map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience, "ADDR": ":8080"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Dev != nil {
		t.Fatal("a dev issuer exists although AUTHGATE_ISSUER is set")
	}
	var b bytes.Buffer
	a.Banner(&b, "test", "http://0.0.0.0:8080")
	if strings.Contains(b.String(), "/dev/login") || !strings.Contains(b.String(), "TOKEN=<access token>") {
		t.Errorf("real-issuer banner:\n%s", b.String())
	}
	if c := a.ExpiredCookie(); !c.Secure {
		t.Error("CK-11: the logout cookie off loopback must be Secure")
	}
}

func TestLogoutWithRemoteSessionsIsRefused(t *testing.T) {
	iss := authtest.New(t)
	a, err := fromEnv(t, map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience,
		"AUTHGATE_SESSION_URL": "http://127.0.0.1:1/sessions/{sid}"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Logout(context.Background(), &core.Principal{Subject: "u", SessionID: "s"}, false)
	if !errors.Is(err, setup.ErrRemoteSessions) {
		t.Fatalf("err %v, want ErrRemoteSessions", err)
	}
}

func TestRedisProblemsStopTheStart(t *testing.T) {
	for _, url := range []string{"redis://127.0.0.1:1/0", "http://127.0.0.1:6379"} {
		_, err := fromEnv(t, map[string]string{"AUTHGATE_REDIS_URL": url})
		if err == nil || !strings.Contains(err.Error(), "AUTHGATE_REDIS_URL") {
			t.Errorf("%s: err %v, want an error naming AUTHGATE_REDIS_URL", url, err)
		}
	}
}

func TestCK11DevModeOffLoopbackSetsSecureCookies(t *testing.T) {
	a, err := fromEnv(t, map[string]string{"ADDR": ":8080", "AUTHGATE_DEV_ALLOW_REMOTE": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if c := a.ExpiredCookie(); !c.Secure {
		t.Error("the logout cookie off loopback must be Secure")
	}
	var b bytes.Buffer
	a.Banner(&b, "test", "http://0.0.0.0:8080")
	if !strings.Contains(b.String(), "needs HTTPS") {
		t.Errorf("banner does not warn that the page needs HTTPS off loopback:\n%s", b.String())
	}
}
