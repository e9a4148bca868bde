package load

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Report is the outcome of Run: every measured run, and the tables.
type Report struct {
	Config            Config
	Started, Finished time.Time
	LoadBefore        string // /proc/loadavg when Run began
	LoadAfter         string // and when the last run ended
	Redis             string // the Redis address, "" when none ran
	Notes             []string
	Problems          []string       // runs whose statuses did not match the mix
	Rates             map[string]int // each framework's fixed rate
	Runs              []Run1
	contenders        []*contender
}

// Run1 is one measured run of one contender.
type Run1 struct {
	Phase     string // "sat" (closed loop) or "fixed" (open loop at Rate)
	Round     int
	Framework string
	Label     string // authgate, authgate+redis, peer, none
	Rate      int    // fixed phase: the target rate
	RunStats
}

func (r *Report) note(s string) { r.Notes = append(r.Notes, s) }

func fmtKindLat(k [nKinds]time.Duration) string {
	var parts []string
	for i, d := range k {
		parts = append(parts, fmt.Sprintf("%s=%s", kindNames[i], d))
	}
	return strings.Join(parts, ",")
}

func fmtKinds(k [nKinds]int) string {
	var parts []string
	for i, n := range k {
		parts = append(parts, fmt.Sprintf("%s=%d", kindNames[i], n))
	}
	return strings.Join(parts, ",")
}

// line is the raw result line of a run.
func (r Run1) line() string {
	detail := ""
	if r.Detail != "" {
		detail = fmt.Sprintf(" detail=%q", r.Detail)
	}
	return fmt.Sprintf("run phase=%s round=%d framework=%s contender=%s rate=%d requests=%d rps=%.0f sent_rate=%.0f p50=%s p99=%s p99.9=%s max=%s srv_cpu=%.2f redis_cpu=%.2f gen_cpu=%.2f cpu0_busy=%.2f cpu1_busy=%.2f srv_us_per_req=%.1f redis_cmds=%d kinds=%s kind_p50=%s kind_p99=%s wrong=%d errors=%d fresh_reused=%d%s",
		r.Phase, r.Round, r.Framework, r.Label, r.Rate, r.Requests, r.RPS, r.SentRate, r.P50, r.P99, r.P999, r.Max,
		r.SrvCPU, r.RedisCPU, r.GenCPU, r.Busy0, r.Busy1, r.SrvMicrosPerReq(), r.RedisCmds, fmtKinds(r.Kinds), fmtKindLat(r.KindP50), fmtKindLat(r.KindP99), r.Wrong, r.Errors, r.FreshReused, detail)
}

// median of f over the rounds of phase for one contender (0 when none).
func (r *Report) median(phase, fw, label string, f func(RunStats) float64) float64 {
	var v []float64
	for _, x := range r.Runs {
		if x.Phase == phase && x.Framework == fw && x.Label == label {
			v = append(v, f(x.RunStats))
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// Row is one framework × contender of the tables: medians over the rounds.
type Row struct {
	Framework, Label string
	// Saturation (closed loop).
	RPS, SrvMicros, SrvCPU, GenCPU, Busy0, Busy1 float64
	// Fixed rate (open loop).
	Rate           int
	SentRate       float64
	FixedRequests  int // requests of a fixed-rate run (median)
	P50, P99, P999 time.Duration
}

// Labels are the contenders of each framework, in table order.
var Labels = []string{"authgate", "authgate+redis", "peer", "none"}

// Rows are the table rows: every framework of the run × every contender
// that ran.
func (r *Report) Rows() []Row {
	var rows []Row
	for _, fw := range r.Config.Frameworks {
		for _, l := range Labels {
			n := 0
			for _, x := range r.Runs {
				if x.Framework == fw && x.Label == l {
					n++
				}
			}
			if n == 0 {
				continue
			}
			med := func(phase string, f func(RunStats) float64) float64 { return r.median(phase, fw, l, f) }
			d := func(f func(RunStats) time.Duration) time.Duration {
				return time.Duration(med("fixed", func(s RunStats) float64 { return float64(f(s)) }))
			}
			rows = append(rows, Row{
				Framework: fw, Label: l,
				RPS:           med("sat", func(s RunStats) float64 { return s.RPS }),
				SrvMicros:     med("sat", RunStats.SrvMicrosPerReq),
				SrvCPU:        med("sat", func(s RunStats) float64 { return s.SrvCPU + s.RedisCPU }),
				GenCPU:        med("sat", func(s RunStats) float64 { return s.GenCPU }),
				Busy0:         med("sat", func(s RunStats) float64 { return s.Busy0 }),
				Busy1:         med("sat", func(s RunStats) float64 { return s.Busy1 }),
				Rate:          r.Rates[fw],
				SentRate:      med("fixed", func(s RunStats) float64 { return s.SentRate }),
				FixedRequests: int(med("fixed", func(s RunStats) float64 { return float64(s.Requests) })),
				P50:           d(func(s RunStats) time.Duration { return s.P50 }),
				P99:           d(func(s RunStats) time.Duration { return s.P99 }),
				P999:          d(func(s RunStats) time.Duration { return s.P999 }),
			})
		}
	}
	return rows
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
}

// sameRound is the median over the rounds of f(label's run) / f(other's
// run) in the same round of phase: contenders that ran a few seconds
// apart shared the machine's conditions, which a ratio of medians taken
// from different rounds would not.
func (r *Report) sameRound(phase, fw, label, other string, f func(RunStats) float64) float64 {
	of := func(l string) map[int]float64 {
		m := map[int]float64{}
		for _, x := range r.Runs {
			if x.Phase == phase && x.Framework == fw && x.Label == l {
				m[x.Round] = f(x.RunStats)
			}
		}
		return m
	}
	a, b := of(label), of(other)
	var v []float64
	for round, x := range a {
		if y, ok := b[round]; ok && x > 0 && y > 0 {
			v = append(v, x/y)
		}
	}
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func fmtRatio(v float64) string {
	if v <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}

// sessionCheck says what the /sensitive route of a contender does.
func sessionCheck(label string) string {
	switch label {
	case "authgate":
		return "live, MemoryStore"
	case "authgate+redis":
		return "live, Redis"
	case "peer":
		return "none (the peer has none)"
	default:
		return "none (no auth)"
	}
}

func contenderName(fw, label string) string {
	if label == "peer" {
		return "peer: " + PeerName(fw)
	}
	return label
}

// Markdown writes the two tables with their method lines.
func (r *Report) Markdown(w io.Writer) {
	c := r.Config
	rows := r.Rows()
	rr := func(phase string, x Row, other string, f func(RunStats) float64) string {
		return fmtRatio(r.sameRound(phase, x.Framework, x.Label, other, f))
	}
	rps := func(s RunStats) float64 { return s.RPS }
	p50 := func(s RunStats) float64 { return float64(s.P50) }
	p99 := func(s RunStats) float64 { return float64(s.P99) }
	p999 := func(s RunStats) float64 { return float64(s.P999) }
	pin := "server (and Redis) pinned to CPU 0, generator to CPU 1 (`taskset`)"
	if !c.Pin {
		pin = "NOT pinned: server and generator share every core"
	}
	fmt.Fprintf(w, "- Machine: %d CPUs (%s), %s; %s. Load average (1, 5, 15 min) before %s, after %s.\n", runtime.NumCPU(), cpuModel(), runtime.Version(), pin, r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(w, "- Mix: %s.\n", c.Mix)
	fmt.Fprintf(w, "- %d round(s), contenders interleaved in each round; every absolute figure is the median over the rounds, every ratio the median over the rounds of the ratio between two contenders' runs of the same round. Each measured run follows an unmeasured warm-up of %v.\n", c.Rounds, c.Warmup)
	fmt.Fprintf(w, "- Saturation: closed loop (vegeta, unbounded rate, %d workers on %d keep-alive connections), %v per round. Server CPU µs/req is the server process's CPU time (with Redis's for authgate+redis) over the requests answered.\n", c.Conns, c.Conns, c.SatDuration)
	rateHow := fmt.Sprintf("%.0f %% of the framework's slowest contender's median saturation throughput", 100*c.RateFraction)
	if c.Rate > 0 {
		rateHow = "set by RATE"
	}
	fmt.Fprintf(w, "- Latency: open loop (vegeta constant rate: requests start on schedule whatever the answers), the same rate for every contender of a framework (%s), %v per round; exact percentiles of every request of the run.\n", rateHow, c.Duration)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- Note: %s\n", n)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "- **INVALID**: %s\n", p)
	}
	fmt.Fprintf(w, "\n**Throughput at saturation** (higher is better; ratios are of the same run)\n\n")
	fmt.Fprintf(w, "| framework | contender | GET /sensitive | req/s | ÷ peer | ÷ none | server CPU µs/req | ÷ peer | ÷ none | server CPU (CPU 0 busy) | generator CPU (CPU 1 busy) |\n")
	fmt.Fprintf(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, x := range rows {
		bound := ""
		if x.Busy0 > 0 && x.Busy0 < 0.9 {
			bound = " †"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.0f%s | %s | %s | %.1f | %s | %s | %.0f %% (%.0f %%) | %.0f %% (%.0f %%) |\n", x.Framework, contenderName(x.Framework, x.Label), sessionCheck(x.Label),
			x.RPS, bound, rr("sat", x, "peer", rps), rr("sat", x, "none", rps), x.SrvMicros, rr("sat", x, "peer", RunStats.SrvMicrosPerReq), rr("sat", x, "none", RunStats.SrvMicrosPerReq),
			100*x.SrvCPU, 100*x.Busy0, 100*x.GenCPU, 100*x.Busy1)
	}
	fmt.Fprintf(w, "\nServer CPU is the server process's (with Redis's for authgate+redis), in %% of one core; CPU 0 busy counts every process of the machine on the server's core, so the gap between the two is other work of the shared machine. † CPU 0 was idle more than 10 %% of the run: the server was not the bottleneck (the generator or CPU 1 was), so its ceiling is higher than its req/s; compare server CPU µs/req.\n")
	fmt.Fprintf(w, "\n**Latency at a fixed rate** (lower is better; ratios are of the same run)\n\n")
	fmt.Fprintf(w, "| framework | contender | rate req/s (requests per run) | p50 | p99 | p99.9 | p50 ÷ peer | p99 ÷ peer | p99.9 ÷ peer | p50 ÷ none | p99 ÷ none | p99.9 ÷ none |\n")
	fmt.Fprintf(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, x := range rows {
		held := ""
		if x.SentRate < 0.95*float64(x.Rate) {
			held = fmt.Sprintf(" (sent %.0f)", x.SentRate)
		}
		fmt.Fprintf(w, "| %s | %s | %d (%d)%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", x.Framework, contenderName(x.Framework, x.Label), x.Rate, x.FixedRequests, held,
			fmtDur(x.P50), fmtDur(x.P99), fmtDur(x.P999),
			rr("fixed", x, "peer", p50), rr("fixed", x, "peer", p99), rr("fixed", x, "peer", p999),
			rr("fixed", x, "none", p50), rr("fixed", x, "none", p99), rr("fixed", x, "none", p999))
	}
}

// cpuModel is the first model name of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown model"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown model"
}

// WriteRaw writes the raw results: the configuration, every run's line,
// then the tables.
func (r *Report) WriteRaw(w io.Writer) {
	c := r.Config
	host, _ := os.Hostname()
	fmt.Fprintf(w, "# authgate whole-server load run, %s to %s UTC, host %s, %d CPUs (%s), %s\n", r.Started.Format("2006-01-02 15:04:05"), r.Finished.Format("15:04:05"), host, runtime.NumCPU(), cpuModel(), runtime.Version())
	fmt.Fprintf(w, "# load average before %s, after %s\n", r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(w, "# frameworks %s; rounds %d; saturation %v (%d conns); fixed %v; warm-up %v; rate fraction %.2f; fixed rate %d; pinned %v; redis %q\n",
		strings.Join(c.Frameworks, ","), c.Rounds, c.SatDuration, c.Conns, c.Duration, c.Warmup, c.RateFraction, c.Rate, c.Pin, r.Redis)
	fmt.Fprintf(w, "# mix: %s\n", c.Mix)
	for fw, rate := range r.Rates {
		fmt.Fprintf(w, "# fixed rate %s: %d req/s\n", fw, rate)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "# note: %s\n", n)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "# INVALID: %s\n", p)
	}
	for _, x := range r.Runs {
		fmt.Fprintln(w, x.line())
	}
	fmt.Fprintln(w)
	r.Markdown(w)
}
