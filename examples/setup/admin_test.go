package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
)

func TestServeAdminServesStatusOnlyWhenAsked(t *testing.T) {
	a, err := FromEnv(context.Background(), func(k string) string {
		return map[string]string{"AUTHGATE_ADMIN_ADDR": "127.0.0.1:0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	stop, err := a.ServeAdmin(a.Auth.StatusHandler())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get(a.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st core.Status
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&st) != nil || len(st.Issuers) != 1 {
		t.Fatalf("%d %+v", resp.StatusCode, st)
	}
	var banner bytes.Buffer
	a.Banner(&banner, "test", "http://127.0.0.1:8080")
	if !strings.Contains(banner.String(), a.AdminURL) {
		t.Fatalf("banner lacks the admin URL:\n%s", banner.String())
	}

	b, err := FromEnv(context.Background(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stop2, err := b.ServeAdmin(b.Auth.StatusHandler())
	if err != nil || b.AdminURL != "" {
		t.Fatalf("served without AUTHGATE_ADMIN_ADDR: %q %v", b.AdminURL, err)
	}
	stop2()
}
