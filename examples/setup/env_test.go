package setup_test

import (
	"strings"
	"testing"

	"github.com/authgate/authgate/examples/setup"
)

func TestEnvironRefusesUnknownAndEmptyVariables(t *testing.T) {
	cases := []struct {
		name    string
		environ []string
		want    string // "" means accepted
	}{
		{"a clean environment", []string{"PATH=/usr/bin", "HOME=/root", "ADDR=127.0.0.1:0"}, ""},
		{"every known variable", knownEnviron(), ""},
		{"a typo of the issuer", []string{"AUTHGATE_ISUER=https://id.example.com/"}, "unknown variable AUTHGATE_ISUER: did you mean AUTHGATE_ISSUER?"},
		{"a typo of the audience", []string{"AUTHGATE_AUDIENCES=api"}, "did you mean AUTHGATE_AUDIENCE?"},
		{"lower case", []string{"authgate_issuer=https://id.example.com/"}, "unknown variable authgate_issuer: did you mean AUTHGATE_ISSUER?"},
		{"a typo in the prefix", []string{"AUTHGATEISSUER=https://id.example.com/"}, "did you mean AUTHGATE_ISSUER?"},
		{"an unknown name with no near one", []string{"AUTHGATE_FROBNICATE=1"}, "unknown variable AUTHGATE_FROBNICATE"},
		{"an empty issuer", []string{"AUTHGATE_ISSUER="}, "AUTHGATE_ISSUER is set but empty"},
		{"a blank issuer", []string{"AUTHGATE_ISSUER=  "}, "AUTHGATE_ISSUER is set but empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			getenv, err := setup.Environ(c.environ)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				for _, kv := range c.environ {
					k, v, _ := strings.Cut(kv, "=")
					if got := getenv(k); got != v {
						t.Errorf("getenv(%q) = %q, want %q", k, got, v)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one saying %q", err, c.want)
			}
			if strings.Contains(c.want, "did you mean") && strings.Count(err.Error(), "did you mean") != 1 {
				t.Errorf("one suggestion expected: %v", err)
			}
		})
	}
	// No suggestion that is far from the name.
	_, err := setup.Environ([]string{"AUTHGATE_FROBNICATE=1"})
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("err %v: a far name gets no suggestion", err)
	}
}

func knownEnviron() []string {
	var env []string
	for _, v := range setup.Variables {
		env = append(env, v.Name+"=x")
	}
	return env
}

func TestVariablesAreDocumentedOnceEach(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range setup.Variables {
		if seen[v.Name] || v.Name == "" || v.Meaning == "" {
			t.Errorf("variable %q: listed twice, or without a meaning", v.Name)
		}
		seen[v.Name] = true
	}
}

func TestDevModeRefusesANonLoopbackAddressUnlessAsked(t *testing.T) {
	for _, addr := range []string{":8080", "0.0.0.0:8080", "192.0.2.1:8080", "[::]:8080", "example.com:8080"} {
		_, err := fromEnv(t, map[string]string{"ADDR": addr})
		if err == nil || !strings.Contains(err.Error(), "AUTHGATE_DEV_ALLOW_REMOTE=1") || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("ADDR %s in development mode: err %v, want a refusal naming AUTHGATE_DEV_ALLOW_REMOTE", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:8080", "[::1]:8080"} {
		if _, err := fromEnv(t, map[string]string{"ADDR": addr}); err != nil {
			t.Errorf("ADDR %s is loopback: %v", addr, err)
		}
	}
	a, err := fromEnv(t, map[string]string{"ADDR": ":8080", "AUTHGATE_DEV_ALLOW_REMOTE": "1"})
	if err != nil || a.Dev == nil {
		t.Fatalf("asked explicitly: dev %v, err %v", a, err)
	}
	if _, err := fromEnv(t, map[string]string{"ADDR": ":8080", "AUTHGATE_DEV_ALLOW_REMOTE": "yes please"}); err == nil || !strings.Contains(err.Error(), "AUTHGATE_DEV_ALLOW_REMOTE") {
		t.Errorf("an unclear AUTHGATE_DEV_ALLOW_REMOTE: err %v", err)
	}
	if _, err := fromEnv(t, map[string]string{"ADDR": ":8080", "AUTHGATE_DEV_ALLOW_REMOTE": "0"}); err == nil {
		t.Error("AUTHGATE_DEV_ALLOW_REMOTE=0 allowed a public address")
	}
}
