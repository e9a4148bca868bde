package core_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// request is a minimal core.Request over *http.Request for core's own tests.
type request struct{ r *http.Request }

func (q request) Method() string              { return q.r.Method }
func (q request) Host() string                { return q.r.Host }
func (q request) Header(name string) []string { return q.r.Header[name] }
func (q request) RawQuery() string            { return q.r.URL.RawQuery }

func newAuth(t *testing.T, iss *authtest.Issuer, mutate ...func(*core.Config)) *core.Authenticator {
	t.Helper()
	cfg := iss.Config()
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func bearer(tok string) request {
	r := httptest.NewRequest("GET", "/", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return request{r}
}

func TestAdmit(t *testing.T) {
	iss := authtest.New(t)
	a := newAuth(t, iss)
	ctx := context.Background()

	t.Run("a valid token puts its principal in the context", func(t *testing.T) {
		got, err := adapter.Admit(a, ctx, bearer(iss.Token(nil)), false)
		if err != nil {
			t.Fatal(err)
		}
		p, ok := core.PrincipalFrom(got)
		if !ok || p.Subject != "user-1" || p.Source != core.SourceHeader || p.Kind != core.KindJWT {
			t.Fatalf("principal %+v ok=%v", p, ok)
		}
	})
	t.Run("EX-01 no token is refused by New", func(t *testing.T) {
		_, err := adapter.Admit(a, ctx, bearer(""), false)
		if !errors.Is(err, core.ErrNoToken) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("EX-14 optional admits no token as anonymous", func(t *testing.T) {
		got, err := adapter.Admit(a, ctx, bearer(""), true)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := core.PrincipalFrom(got); ok {
			t.Fatal("anonymous request has a principal")
		}
	})
	t.Run("EX-14 optional still refuses a bad token", func(t *testing.T) {
		tok := iss.Token(nil)
		_, err := adapter.Admit(a, ctx, bearer(tok[:len(tok)-4]+"AAAA"), true)
		if !errors.Is(err, core.ErrInvalidToken) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestRequire(t *testing.T) {
	iss := authtest.New(t)
	a := newAuth(t, iss)
	admit := func(claims authtest.Claims) context.Context {
		ctx, err := adapter.Admit(a, context.Background(), bearer(iss.Token(claims)), false)
		if err != nil {
			t.Fatal(err)
		}
		return ctx
	}
	cases := []struct {
		name  string
		ctx   context.Context
		req   core.Requirements
		want  error
		scope []string
	}{
		{"no middleware ran: 500, never a pass", context.Background(), core.Requirements{Scopes: []string{"a"}}, core.ErrMisconfigured, nil},
		{"anonymous on a scoped route: 401 without error code", func() context.Context {
			c, _ := adapter.Admit(a, context.Background(), bearer(""), true)
			return c
		}(), core.Requirements{Scopes: []string{"a"}}, core.ErrNoToken, nil},
		{"all scopes granted", admit(authtest.Claims{"scope": "a b c"}), core.Requirements{Scopes: []string{"a", "c"}}, nil, nil},
		{"one scope missing: 403 naming every required scope", admit(authtest.Claims{"scope": "a"}), core.Requirements{Scopes: []string{"a", "b"}}, core.ErrInsufficientScope, []string{"a", "b"}},
		{"scp array counts as scopes", admit(authtest.Claims{"scp": []string{"x"}}), core.Requirements{Scopes: []string{"x"}}, nil, nil},
		{"CL-17 scope match is case-sensitive", admit(authtest.Claims{"scope": "Admin"}), core.Requirements{Scopes: []string{"admin"}}, core.ErrInsufficientScope, []string{"admin"}},
		{"any one role suffices", admit(authtest.Claims{"roles": []string{"ops"}}), core.Requirements{Roles: []string{"admin", "ops"}}, nil, nil},
		{"no role: 403", admit(authtest.Claims{"roles": []string{"user"}}), core.Requirements{Roles: []string{"admin"}}, core.ErrForbidden, nil},
		{"CL-17 roles of the wrong type grant nothing", admit(authtest.Claims{"roles": 7}), core.Requirements{Roles: []string{"admin"}}, core.ErrForbidden, nil},
		{"FM-08 a role claim in another case grants nothing", admit(authtest.Claims{"ROLES": []string{"admin"}}), core.Requirements{Roles: []string{"admin"}}, core.ErrForbidden, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := core.Require(c.ctx, c.req)
			if c.want == nil {
				if err != nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			var e *core.Error
			errors.As(err, &e)
			if len(c.scope) > 0 && (len(e.Scope) != len(c.scope)) {
				t.Fatalf("scope %v, want %v", e.Scope, c.scope)
			}
			resp := adapter.RenderContext(c.ctx, err)
			if resp.Status != e.Status {
				t.Fatalf("rendered %d, error says %d", resp.Status, e.Status)
			}
		})
	}
}

func TestCustomRendererAndRealm(t *testing.T) {
	iss := authtest.New(t)
	a := newAuth(t, iss, func(c *core.Config) {
		c.Realm = "orders"
		c.Renderer = func(e *core.Error, realm string) core.Response {
			r := core.DefaultRenderer(e, realm)
			r.Body = []byte("custom")
			return r
		}
	})
	_, err := adapter.Admit(a, context.Background(), bearer(""), false)
	r := adapter.Render(a, err)
	if string(r.Body) != "custom" || r.Header.Get("WWW-Authenticate") != `Bearer realm="orders"` {
		t.Fatalf("%d %v %q", r.Status, r.Header, r.Body)
	}
}

func TestMaxTokenSizeReportsTheConfiguredLimit(t *testing.T) {
	iss := authtest.New(t)
	if got := newAuth(t, iss).MaxTokenSize(); got != 8192 || core.DefaultMaxTokenSize != 8192 {
		t.Errorf("default MaxTokenSize() = %d, want 8192", got)
	}
	if got := newAuth(t, iss, func(c *core.Config) { c.MaxTokenSize = 2048 }).MaxTokenSize(); got != 2048 {
		t.Errorf("MaxTokenSize() = %d, want 2048", got)
	}
}
