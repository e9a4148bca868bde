package devissuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/examples/devissuer"
)

type stdReq struct{ r *http.Request }

func (q stdReq) Method() string              { return q.r.Method }
func (q stdReq) Host() string                { return q.r.Host }
func (q stdReq) Header(name string) []string { return q.r.Header[name] }
func (q stdReq) RawQuery() string            { return q.r.URL.RawQuery }

func newIssuer(t *testing.T, opts devissuer.Options) (*devissuer.Issuer, *core.MemoryStore) {
	t.Helper()
	store := core.NewMemoryStore(core.StoreOptions{})
	t.Cleanup(func() { _ = store.Close() })
	opts.Sessions = store
	d, err := devissuer.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, store
}

func authenticate(t *testing.T, cfg core.Config, tok string) (*core.Principal, error) {
	t.Helper()
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return a.Authenticate(context.Background(), stdReq{r})
}

func TestMintedTokenVerifiesUnderItsOwnConfig(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	d, _ := newIssuer(t, devissuer.Options{Now: func() time.Time { return now }})
	tok, err := d.Mint("alice", "sid-1", []string{"admin"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := authenticate(t, d.Config(), tok)
	if err != nil {
		t.Fatalf("dev token refused by the dev config: %v", err)
	}
	if p.Subject != "alice" || p.SessionID != "sid-1" || !p.HasRole("admin") || !p.HasScope("transfer") {
		t.Fatalf("principal %+v", p)
	}
	if !p.ExpiresAt.Equal(now.Add(devissuer.DefaultTokenTTL)) {
		t.Fatalf("exp %v, want now + %v", p.ExpiresAt, devissuer.DefaultTokenTTL)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h map[string]string
	_ = json.Unmarshal(hdr, &h)
	if h["typ"] != "at+jwt" || h["alg"] != "EdDSA" || h["kid"] == "" {
		t.Fatalf("header %v", h)
	}
}

func TestOP08AnotherDevIssuersTokenIsRefused(t *testing.T) {
	a, _ := newIssuer(t, devissuer.Options{})
	b, _ := newIssuer(t, devissuer.Options{})
	tok, _ := b.Mint("alice", "sid-1", nil)
	if _, err := authenticate(t, a.Config(), tok); err == nil {
		t.Fatal("a token signed by another process's dev key was accepted: each dev key must be fresh")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	if _, err := devissuer.New(devissuer.Options{}); err == nil {
		t.Error("no Sessions: want an error")
	}
	store := core.NewMemoryStore(core.StoreOptions{})
	defer store.Close()
	for _, ttl := range []time.Duration{time.Second, 2 * devissuer.MaxTokenTTL} {
		if _, err := devissuer.New(devissuer.Options{Sessions: store, TokenTTL: ttl}); err == nil {
			t.Errorf("TokenTTL %v: want an error", ttl)
		}
	}
}

func TestLogin(t *testing.T) {
	d, store := newIssuer(t, devissuer.Options{})
	login := d.Login()
	post := func(contentType, body string, header map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/dev/login", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		for k, v := range header {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		login.ServeHTTP(w, r)
		return w
	}
	const form = "application/x-www-form-urlencoded"
	cases := []struct {
		name, ct, body string
		header         map[string]string
		want           int
	}{
		{"form with roles", form, "subject=alice&roles=admin,ops", nil, 200},
		{"form with repeated roles", form, "subject=alice&roles=admin&roles=ops", nil, 200},
		{"json", "application/json", `{"subject":"bob","roles":["admin"]}`, nil, 200},
		{"missing subject", form, "roles=admin", nil, 400},
		{"subject with a space", form, "subject=a+b", nil, 400},
		{"subject too long", form, "subject=" + strings.Repeat("a", 65), nil, 400},
		{"bad role", form, "subject=a&roles=%3Cscript%3E", nil, 400},
		{"too many roles", form, "subject=a&roles=r1,r2,r3,r4,r5,r6,r7,r8,r9", nil, 400},
		{"body over 4 KiB", form, "subject=a&pad=" + strings.Repeat("x", 5000), nil, 400},
		{"broken json", "application/json", `{"subject":`, nil, 400},
		{"login CSRF: cross-site", form, "subject=mallory", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"login CSRF: foreign Origin", form, "subject=mallory", map[string]string{"Origin": "https://evil.example"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := post(c.ct, c.body, c.header)
			if w.Code != c.want {
				t.Fatalf("status %d, want %d: %s", w.Code, c.want, w.Body)
			}
			if c.want != 200 {
				if len(w.Result().Cookies()) != 0 {
					t.Fatal("a refused login set a cookie")
				}
				return
			}
			var res devissuer.LoginResponse
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			if st, err := store.Check(context.Background(), res.SessionID); err != nil || st != core.StateActive {
				t.Fatalf("session %s is not active in the store: %v %v", res.SessionID, st, err)
			}
			if len(res.Roles) == 0 {
				t.Fatalf("roles lost: %+v", res)
			}
		})
	}

	t.Run("CK-11 the cookie is Secure unless InsecureCookie", func(t *testing.T) {
		c := post(form, "subject=alice", nil).Result().Cookies()
		if len(c) != 1 || !c[0].Secure || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/" || c[0].MaxAge != 900 {
			t.Fatalf("cookie %+v", c)
		}
		d2, _ := newIssuer(t, devissuer.Options{InsecureCookie: true})
		r := httptest.NewRequest("POST", "/dev/login", strings.NewReader("subject=alice"))
		r.Header.Set("Content-Type", form)
		w := httptest.NewRecorder()
		d2.Login().ServeHTTP(w, r)
		if c := w.Result().Cookies(); len(c) != 1 || c[0].Secure {
			t.Fatalf("InsecureCookie: cookie %+v", c)
		}
	})

	t.Run("Accept text/plain answers the bare token", func(t *testing.T) {
		w := post(form, "subject=alice", map[string]string{"Accept": "text/plain"})
		body := strings.TrimSpace(w.Body.String())
		if w.Code != 200 || strings.Count(body, ".") != 2 || strings.ContainsAny(body, "{\"") {
			t.Fatalf("%d %q", w.Code, body)
		}
	})
}
