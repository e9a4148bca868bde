package core_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// TestCacheControl pins catalog row EX-11 (RFC 6750 section 2.3): a request
// admitted on a query-string token gets "Cache-Control: no-store" from the
// adapters; one admitted on any other source, anonymously, or refused gets
// nothing from CacheControl.
func TestCacheControl(t *testing.T) {
	iss := authtest.New(t)
	a := newAuth(t, iss, func(c *core.Config) { c.QueryParam = "access_token" })
	tok := iss.Token(nil)
	req := func(target, authz string) request {
		r := httptest.NewRequest("GET", target, nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		return request{r}
	}
	bg := context.Background()

	ctx, err := adapter.Admit(a, bg, req("/?access_token="+tok, ""), false)
	if err != nil {
		t.Fatalf("query token refused: %v", err)
	}
	if got := cacheControlOf(ctx); got != "no-store" {
		t.Errorf("query token: CacheControl = %q, want no-store", got)
	}

	ctx, err = adapter.Admit(a, bg, req("/", "Bearer "+tok), false)
	if err != nil {
		t.Fatalf("header token refused: %v", err)
	}
	if got := cacheControlOf(ctx); got != "" {
		t.Errorf("header token: CacheControl = %q, want empty", got)
	}

	// The same token, now cached, through the query again: the source is the
	// request's, not the cached entry's.
	ctx, err = adapter.Admit(a, bg, req("/?access_token="+tok, ""), false)
	if err != nil || cacheControlOf(ctx) != "no-store" {
		t.Errorf("query token after a header hit: err=%v CacheControl=%q", err, cacheControlOf(ctx))
	}

	ctx, err = adapter.Admit(a, bg, req("/", ""), true)
	if err != nil || cacheControlOf(ctx) != "" {
		t.Errorf("anonymous: err=%v CacheControl=%q", err, cacheControlOf(ctx))
	}
	if got := cacheControlOf(bg); got != "" {
		t.Errorf("no middleware: CacheControl = %q", got)
	}
	if _, err := adapter.Admit(a, bg, req("/?access_token="+tok, "Bearer "+tok), false); err == nil {
		t.Errorf("EX-11 query and header together admitted")
	}
}

// cacheControlOf is the Cache-Control value adapter.SetHeaders sets for ctx.
func cacheControlOf(ctx context.Context) string {
	var got string
	adapter.SetHeaders(ctx, func(name, value string) {
		if name == "Cache-Control" {
			got = value
		}
	})
	return got
}
