package core_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
)

func TestStatusReportsKeySetsSessionsAndRevocations(t *testing.T) {
	feed := &stubFeed{}
	e := newSessEnv(t, func(c *core.Config) { c.Revocations = feed; c.SessionPolicy = core.PolicySensitiveOnly })
	e.iss.AddKey("ES256")

	st := e.auth.Status()
	if len(st.Issuers) != 1 {
		t.Fatalf("%+v", st)
	}
	is := st.Issuers[0]
	var want []string
	for _, k := range e.iss.Keys() {
		want = append(want, k.ID)
	}
	if is.Issuer != e.iss.URL || is.Source != "jwks" || is.LastError != "" || is.AgeSeconds != 0 {
		t.Fatalf("%+v", is)
	}
	if !slices.Equal(is.KeyIDs, want[:1]) {
		t.Fatalf("key ids %v, want %v (the key set as fetched at start)", is.KeyIDs, want[:1])
	}

	t.Run("the key set ages with the clock", func(t *testing.T) {
		e.clock.Advance(90 * time.Second)
		if got := e.auth.Status().Issuers[0].AgeSeconds; got != 90 {
			t.Fatalf("age %v, want 90", got)
		}
	})
	t.Run("the session backend: unknown, then reachable, then failing", func(t *testing.T) {
		s := e.auth.Status().Sessions
		if !s.Configured || s.Policy != "sensitive_only" || !s.LastCheckAt.IsZero() || s.Reachable {
			t.Fatalf("before any check: %+v", s)
		}
		tok := e.token("s-1")
		if _, err := e.do(context.Background(), tok, true); err != nil {
			t.Fatal(err)
		}
		if s := e.auth.Status().Sessions; !s.Reachable || s.LastCheckAt.IsZero() || s.LastError != "" {
			t.Fatalf("after a good check: %+v", s)
		}
		e.checker.set(func(f *stubChecker) {
			f.err = errors.New(`Post "https://user:pw@sessions.internal/check?key=k3y": dial tcp: connection refused`)
		})
		e.do(context.Background(), tok, true)
		s = e.auth.Status().Sessions
		if s.Reachable || !strings.Contains(s.LastError, "connection refused") {
			t.Fatalf("after a failed check: %+v", s)
		}
		if strings.Contains(s.LastError, "k3y") || strings.Contains(s.LastError, "pw@") {
			t.Fatalf("OP-02 the error text keeps the URL: %q", s.LastError)
		}
		e.checker.set(func(f *stubChecker) { f.err = nil })
	})
	t.Run("revocations: lag, deny set, feeds behind", func(t *testing.T) {
		feed.push(core.Revocation{SessionID: "s-7", At: e.clock.Now().Add(-3 * time.Second)})
		feed.push(core.Revocation{Behind: true})
		r := e.auth.Status().Revocations
		if r.Feeds != 1 || r.Behind != 1 || r.DenySetSize != 1 || r.LastLagSeconds != 3 || r.LastAt.IsZero() || r.DenySetOverflow {
			t.Fatalf("%+v", r)
		}
		feed.push(core.Revocation{Behind: false})
		if r := e.auth.Status().Revocations; r.Behind != 0 || r.SubjectCutoffs != 0 {
			t.Fatalf("%+v", r)
		}
		feed.push(core.Revocation{Cutoff: true, Subject: "user-9", At: e.clock.Now()})
		if r := e.auth.Status().Revocations; r.SubjectCutoffs != 1 || r.SubjectCutoffOverflow || r.DenySetSize != 1 {
			t.Fatalf("after a subject cutoff: %+v", r)
		}
	})
	t.Run("open streams are counted until they end", func(t *testing.T) {
		p, err := e.do(context.Background(), e.token("s-20"), false)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := core.StreamContextFor(context.Background(), p)
		if n := e.auth.Status().Revocations.OpenStreams; n != 1 || ctx.Err() != nil {
			t.Fatalf("one stream open: %d open, %v", n, ctx.Err())
		}
		cancel()
		if n := e.auth.Status().Revocations.OpenStreams; n != 0 {
			t.Fatalf("after its cancel: %d open", n)
		}
	})
	t.Run("the token cache counts its entries", func(t *testing.T) {
		before := e.auth.Status().TokenCacheEntries
		for _, sid := range []string{"a-1", "a-2"} {
			if _, err := e.do(context.Background(), e.token(sid), false); err != nil {
				t.Fatal(err)
			}
		}
		if got := e.auth.Status().TokenCacheEntries; got != before+2 {
			t.Fatalf("%d entries, want %d", got, before+2)
		}
	})
}

// OP-02: a refresh error names no URL (a JWKS URL may carry a secret in its
// query), neither in Status nor in the log.
func TestStatusAndLogsRedactFetchURLs(t *testing.T) {
	var logs bytes.Buffer
	iss := authtest.New(t)
	cfg := iss.Config()
	cfg.JWKSURL = iss.JWKSURL() + "?api_key=s3cr3t-value"
	cfg.AllowStartWithoutKeys = true
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	rec := &recorder{}
	cfg.Observer = rec
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("connection reset")
	})}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	is := a.Status().Issuers[0]
	if !strings.Contains(is.LastError, "connection reset") || is.LastErrorAt.IsZero() || len(is.KeyIDs) != 0 {
		t.Fatalf("%+v", is)
	}
	ev := rec.wait(t, core.EventKeySetRefresh)
	if ev.Err == nil {
		t.Fatalf("%+v", ev)
	}
	for _, out := range []string{is.LastError, logs.String(), ev.Err.Error()} {
		if strings.Contains(out, "s3cr3t") || strings.Contains(out, "/jwks.json") {
			t.Fatalf("URL not redacted: %s", out)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestStatusOfStaticAndHMACIssuers(t *testing.T) {
	iss := authtest.New(t)
	cfg := core.Config{
		Issuer: "https://static.example", Audience: []string{"api"},
		PublicKeys: []string{authtest.PublicPEM(iss.Signer())},
		Issuers: []core.IssuerConfig{{Issuer: "https://hmac.example", Audience: []string{"api"},
			HMACSecret: []byte("a-long-random-test-secret-0123456789-abcdef")}},
		TokenCache: core.TokenCacheOptions{Disabled: true},
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	st := a.Status()
	if len(st.Issuers) != 2 || st.Issuers[0].Issuer != "https://hmac.example" || st.Issuers[0].Source != "hmac" ||
		st.Issuers[1].Source != "static" || len(st.Issuers[1].KeyIDs) != 1 || st.Sessions.Configured || st.TokenCacheEntries != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestStatusHandler(t *testing.T) {
	e := newSessEnv(t, nil)
	tok := e.token("sid-not-in-status")
	if _, err := e.do(context.Background(), tok, true); err != nil {
		t.Fatal(err)
	}
	h := e.auth.StatusHandler()
	cases := []struct {
		method string
		status int
	}{
		{"GET", 200}, {"HEAD", 200}, {"POST", 405}, {"DELETE", 405},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(c.method, "/status", nil))
			if w.Code != c.status {
				t.Fatalf("status %d, want %d", w.Code, c.status)
			}
			if c.status != 200 {
				if w.Header().Get("Allow") != "GET, HEAD" {
					t.Fatalf("Allow %q", w.Header().Get("Allow"))
				}
				return
			}
			if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("headers %v", w.Header())
			}
			if c.method == "HEAD" {
				if w.Body.Len() != 0 {
					t.Fatal("HEAD has a body")
				}
				return
			}
			var st core.Status
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Issuers) != 1 || st.Issuers[0].Issuer != e.iss.URL || !st.Sessions.Reachable {
				t.Fatalf("%s", w.Body)
			}
			body := w.Body.String()
			for _, s := range append(strings.Split(tok, "."), "sid-not-in-status", "user-1") {
				if strings.Contains(body, s) {
					t.Fatalf("OP-01 status holds %q: %s", s, body)
				}
			}
			for _, field := range []string{`"key_ids"`, `"age_seconds"`, `"reachable"`, `"deny_set_size"`, `"token_cache_entries"`, `"last_lag_seconds"`} {
				if !strings.Contains(body, field) {
					t.Fatalf("no %s in %s", field, body)
				}
			}
		})
	}
}

func TestErrorTextRedactsURLs(t *testing.T) {
	cases := []struct{ in, want string }{
		{`Get "https://u:p@jwks.example/keys?token=abc": EOF`, `Get "[url]": EOF`},
		{`JWKS fetch: status 503`, `JWKS fetch: status 503`},
		{`dial http://10.0.0.1:8080/x?k=v and redis://:pw@h:6379/0 failed`, `dial [url] and [url] failed`},
		{`ends with https://x.example/?s=1`, `ends with [url]`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			e := newSessEnv(t, nil)
			e.checker.set(func(f *stubChecker) { f.err = errors.New(c.in) })
			e.do(context.Background(), e.token("s-1"), true)
			if got := e.auth.Status().Sessions.LastError; got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}
