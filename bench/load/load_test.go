package load

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The pipeline test starts its servers as separate processes, as the real
// runs do: this test binary, re-executed with serverEnv set, is the server.
const serverEnv = "AUTHGATE_LOAD_TEST_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) == "1" {
		if err := ServerMain(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "load server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer the servers' stderr and the run's log may
// write to at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPipeline runs the whole pipeline with tiny settings (a few seconds):
// every framework × contender as its own process, one round of each
// phase. It checks the status accounting and that the report has every
// row; it never checks a latency or a throughput.
func TestPipeline(t *testing.T) {
	var log syncBuffer
	cfg := Config{
		Rounds:      1,
		SatDuration: 60 * time.Millisecond,
		Duration:    60 * time.Millisecond,
		Warmup:      20 * time.Millisecond,
		Conns:       4,
		Rate:        200,
		// Large shares so that every kind shows up in runs this short.
		Mix:       Mix{Clients: 20, Fresh: 0.2, Sensitive: 0.3, Bad: 0.2},
		SatGuess:  2000,
		ServerCmd: []string{os.Args[0]},
		ServerEnv: []string{serverEnv + "=1"},
		Log:       &log,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("problems: %q\n%s", rep.Problems, log.String())
	}
	labels := []string{"authgate", "peer", "none"}
	if rep.Redis != "" {
		labels = append(labels, "authgate+redis")
	} else {
		t.Log("redis-server not found: the authgate+redis rows are not checked")
	}
	for _, phase := range []string{"sat", "fixed"} {
		for _, fw := range Frameworks {
			for _, l := range labels {
				n := 0
				for _, r := range rep.Runs {
					if r.Phase != phase || r.Framework != fw || r.Label != l {
						continue
					}
					n++
					sum := 0
					for k, c := range r.Kinds {
						sum += c
						if phase == "sat" && c == 0 {
							t.Errorf("%s %s/%s: no %s request in %d", phase, fw, l, kindNames[k], r.Requests)
						}
					}
					if sum != r.Requests || r.Requests == 0 {
						t.Errorf("%s %s/%s: kinds add up to %d of %d requests", phase, fw, l, sum, r.Requests)
					}
					if r.Wrong != 0 || r.Errors != 0 {
						t.Errorf("%s %s/%s: %d wrong, %d errors: %s", phase, fw, l, r.Wrong, r.Errors, r.Detail)
					}
				}
				if n != 1 {
					t.Errorf("%s %s/%s: %d runs, want 1", phase, fw, l, n)
				}
			}
		}
	}
	if got := len(rep.Rows()); got != len(Frameworks)*len(labels) {
		t.Errorf("%d rows, want %d", got, len(Frameworks)*len(labels))
	}
	var md bytes.Buffer
	rep.Markdown(&md)
	for _, fw := range Frameworks {
		for _, l := range labels {
			row := fmt.Sprintf("| %s | %s |", fw, contenderName(fw, l))
			if c := strings.Count(md.String(), row); c != 2 { // one per table
				t.Errorf("the tables have %d rows %q, want 2\n%s", c, row, md.String())
			}
		}
	}
	var raw bytes.Buffer
	rep.WriteRaw(&raw)
	if got, want := strings.Count(raw.String(), "\nrun phase="), 2*len(Frameworks)*len(labels); got != want {
		t.Errorf("raw results have %d run lines, want %d", got, want)
	}
}

// TestAccountingCatchesABrokenServer: a server that admits every token
// (or refuses every token) is counted wrong, for the kinds it answers
// wrongly, so it cannot produce a figure.
func TestAccountingCatchesABrokenServer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		contender string
		wrong     func(k [nKinds]int) int
	}{
		{"authgate admits bad tokens", http.StatusOK, Authgate, func(k [nKinds]int) int { return k[kindBad] }},
		{"peer refuses every token", http.StatusUnauthorized, Peer, func(k [nKinds]int) int { return k[kindClient] + k[kindSensitive] + k[kindFresh] }},
		{"none refuses bad tokens", http.StatusUnauthorized, None, func(k [nKinds]int) int { return k[kindClient] + k[kindSensitive] + k[kindFresh] + k[kindBad] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tc.status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			h := bearer("x.y.z")
			pool := []http.Header{h}
			c := &contender{Framework: "nethttp", Contender: tc.contender, base: srv.URL, seed: 1,
				tok: &tokens{clients: []http.Header{h}, bad: []http.Header{h}, fresh: &pool}}
			cfg := &Config{Mix: Mix{Clients: 1, Fresh: 0.25, Sensitive: 0.25, Bad: 0.25}, Conns: 2}
			st := c.attack(cfg, srv.Client(), 0, 50*time.Millisecond, nil)
			if st.Requests == 0 || st.Wrong != tc.wrong(st.Kinds) || st.Wrong == 0 {
				t.Fatalf("%d requests %v: %d wrong, want %d (%s)", st.Requests, st.Kinds, st.Wrong, tc.wrong(st.Kinds), st.Detail)
			}
		})
	}
}

func TestExactPercentilesAndKinds(t *testing.T) {
	for k := range nKinds {
		got, ok := kindOf("http://x/me" + kindQuery[k])
		if !ok || got != k {
			t.Errorf("kindOf %s = %v %v", kindQuery[k], got, ok)
		}
	}
	if _, ok := kindOf("http://x/me"); ok {
		t.Error("a URL without a kind has one")
	}
	if err := (Mix{Clients: 1, Fresh: 0.6, Sensitive: 0.6}).validate(); err == nil {
		t.Error("shares over 1 accepted")
	}
}
