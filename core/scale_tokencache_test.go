package core_test

import (
	"context"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
)

// TestScaleTokenCache measures the verified-token cache at 10k and 100k
// entries (issue #22), behind AUTHGATE_SCALE=1: heap bytes per entry
// (HeapAlloc after GC, before and after the tokens are admitted once; the
// test's own token strings subtracted) and the latency of a hit and of a
// miss (a full ES256 verification). Correctness is asserted (every entry a
// hit on the second pass), timings only printed.
//
//	cd core && AUTHGATE_SCALE=1 go test -run TestScaleTokenCache -count=1 -v . | grep SCALE
func TestScaleTokenCache(t *testing.T) {
	if os.Getenv("AUTHGATE_SCALE") != "1" {
		t.Skip("set AUTHGATE_SCALE=1 to measure the scale curves")
	}
	iss := authtest.New(t, authtest.WithAlg("ES256"))
	ctx := context.Background()
	for _, n := range []int{10_000, 100_000} {
		toks := make([]string, n)
		exp := time.Now().Add(time.Hour).Unix()
		tokBytes := 0
		for i := range toks {
			toks[i] = iss.Token(authtest.Claims{"sub": "user-" + strconv.Itoa(i), "exp": exp})
			tokBytes += len(toks[i])
		}
		cfg := iss.Config()
		cfg.TokenCache = core.TokenCacheOptions{MaxEntries: 2 * n, MaxBytes: int64(n) * 4096} // room in every shard
		before := heapNow()
		a, err := core.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/", nil)
		admit := func(tok string) {
			r.Header.Set("Authorization", "Bearer "+tok)
			if _, err := adapter.Admit(a, ctx, sessReq{r}, false); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		for _, tok := range toks {
			admit(tok)
		}
		miss := time.Since(start) / time.Duration(n)
		after := heapNow()
		start = time.Now()
		const rounds = 3
		for range rounds {
			for i := range toks {
				admit(toks[(i*7919)%n])
			}
		}
		hit := time.Since(start) / time.Duration(rounds*n)
		if got := a.Status().TokenCacheEntries; got != n {
			t.Fatalf("%d tokens cached, want %d", got, n)
		}
		per := float64(int64(after)-int64(before)) / float64(n)
		t.Logf("SCALE token cache | %d | %.0f B/entry (the token itself %d B) | hit %v, miss (ES256 verify) %v",
			n, per, tokBytes/n, hit, miss)
		if hit*5 > miss {
			t.Logf("SCALE note: hits are not much cheaper than misses at %d entries", n)
		}
		a.Close()
		runtime.KeepAlive(toks)
	}
}

func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
