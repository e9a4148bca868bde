package bench

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
)

// Refusals of hostile inputs must cost O(MaxTokenSize) at most, whatever the
// input's size: EX-13 (oversized Authorization), FM-02 (dot flood), FM-10
// (one huge segment). CVE-2025-30204 was an allocation of about 16x the
// token's length in golang-jwt's parser.

type refusal struct {
	name string
	auth string // the Authorization value
	want error
}

func refusals(tok string) []refusal {
	b64 := func(n int) string { return strings.Repeat("A", n) }
	return []refusal{
		{"EX-13 64 KiB bearer", "Bearer " + b64(64<<10), core.ErrInvalidToken},
		{"EX-13 1 MiB-1 bearer", "Bearer " + b64(1<<20-1), core.ErrInvalidToken},
		{"EX-13 1 MiB+1 bearer", "Bearer " + b64(1<<20+1), core.ErrInvalidToken},
		{"FM-02 5000 dots", "Bearer " + strings.Repeat(".", 5000), core.ErrInvalidToken},
		{"FM-02 100000 dots", "Bearer " + strings.Repeat(".", 100000), core.ErrInvalidToken},
		{"FM-02 valid token + 10000 dots", "Bearer " + tok + strings.Repeat(".", 10000), core.ErrInvalidToken},
		{"FM-10 1 MiB header segment", "Bearer " + b64(1<<20) + "." + b64(10) + "." + b64(10), core.ErrInvalidToken},
		{"FM-10 payload at the size limit", "Bearer " + b64(10) + "." + b64(8000) + "." + b64(10), core.ErrInvalidToken},
	}
}

func admitOnce(a *core.Authenticator, r *http.Request) error {
	_, err := adapter.Admit(a, context.Background(), stdRequest{r}, false)
	return err
}

// TestRefusalCostIsBounded checks that each hostile input is refused, with
// no more allocations than a small malformed token, and with allocated bytes
// bounded by a small multiple of MaxTokenSize (default 8 KiB), not by the
// input's size. It asserts counts and bytes, never time.
func TestRefusalCostIsBounded(t *testing.T) {
	f := newFixture(t)
	small := httptest.NewRequest("GET", "/me", nil)
	small.Header.Set("Authorization", "Bearer "+strings.Repeat("A", 20)+"."+strings.Repeat("A", 20)+"."+strings.Repeat("A", 20))
	if err := admitOnce(f.cached, small); !errors.Is(err, core.ErrInvalidToken) {
		t.Fatalf("small malformed token: %v", err)
	}
	base := testing.AllocsPerRun(50, func() { _ = admitOnce(f.cached, small) })
	for _, c := range refusals(f.tok) {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/me", nil)
			r.Header.Set("Authorization", c.auth)
			if err := admitOnce(f.cached, r); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			allocs := testing.AllocsPerRun(20, func() { _ = admitOnce(f.cached, r) })
			// A token that reaches the decoder (under the size limit) may
			// allocate its one decode buffer and a parse error more.
			if allocs > base+4 {
				t.Errorf("%.0f allocs per refusal, a small malformed token takes %.0f", allocs, base)
			}
			res := testing.Benchmark(func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = admitOnce(f.cached, r)
				}
			})
			if by := res.AllocedBytesPerOp(); by > 4*8192 {
				t.Errorf("%d bytes allocated per refusal of a %d-byte value", by, len(c.auth))
			}
		})
	}
}

// BenchmarkRefusal times the refusals of TestRefusalCostIsBounded.
func BenchmarkRefusal(b *testing.B) {
	f := newFixture(b)
	for _, c := range refusals(f.tok) {
		r := httptest.NewRequest("GET", "/me", nil)
		r.Header.Set("Authorization", c.auth)
		b.Run(strings.ReplaceAll(c.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := admitOnce(f.cached, r); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}
