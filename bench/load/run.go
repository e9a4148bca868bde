package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/redisstore"
	"github.com/redis/go-redis/v9"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The load generator is vegeta (github.com/tsenart/vegeta/v12) used as a
// library: its Attacker with a constant-rate pacer is an open-loop load at
// a fixed rate, and with an unbounded rate and a fixed number of workers
// it is a closed loop (each worker sends its next request when the answer
// to the previous one is in), which is the saturation figure. Its Metrics
// give counts, rates and status codes; its latency quantiles are t-digest
// estimates (P50 to P99, and Quantile for any q), so this package keeps
// every latency of a run (a few hundred thousand at most) and reads p50,
// p99 and p99.9 as exact order statistics instead.

// Config is one load run.
type Config struct {
	// Frameworks to run; default all of Frameworks.
	Frameworks []string
	// Mix is the traffic; default DefaultMix.
	Mix Mix
	// SatDuration is each measured saturation run; Duration each measured
	// fixed-rate run; Warmup the unmeasured run before each of them.
	SatDuration, Duration, Warmup time.Duration
	// Rounds of every contender, interleaved; the report takes the median
	// round.
	Rounds int
	// Conns is the number of closed-loop workers (one connection each) at
	// saturation; default 64.
	Conns int
	// RateFraction sets a framework's fixed rate to this share of its
	// slowest contender's median saturation throughput; default 0.5.
	RateFraction float64
	// Rate, when positive, is the fixed rate of every framework instead.
	Rate int
	// FreshPool is how many fresh tokens are minted at the start, on every
	// core; more are minted between runs as each contender needs them
	// (every server is sent each fresh token once). Default: enough for
	// one saturation round at SatGuess.
	FreshPool int
	// SatGuess is the throughput assumed for a contender's first
	// saturation run, to size its fresh tokens; default 60000 (twice what
	// one core served in the published run, the margin of the later
	// runs' top-ups).
	SatGuess int
	// Redis: "" or "auto" starts redis-server (when on PATH) for the
	// authgate+redis contenders; "off" runs without them; anything else is
	// the path of the redis-server binary.
	Redis string
	// Pin runs the servers (and Redis) on CPU 0 and the generator on CPU 1
	// with taskset.
	Pin bool
	// ServerCmd runs ServerMain with the arguments appended (default: this
	// executable with "serve"); ServerEnv is added to its environment.
	ServerCmd []string
	ServerEnv []string
	// Timeout bounds each request; default 5s.
	Timeout time.Duration
	// Log receives progress and the raw result lines; default os.Stderr.
	Log io.Writer
}

func (c *Config) defaults() error {
	if len(c.Frameworks) == 0 {
		c.Frameworks = Frameworks
	}
	for _, f := range c.Frameworks {
		if !slices.Contains(Frameworks, f) {
			return fmt.Errorf("unknown framework %q", f)
		}
	}
	if c.Mix == (Mix{}) {
		c.Mix = DefaultMix
	}
	if err := c.Mix.validate(); err != nil {
		return err
	}
	if c.SatDuration <= 0 {
		c.SatDuration = 1500 * time.Millisecond
	}
	if c.Duration <= 0 {
		c.Duration = 2 * time.Second
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Rounds <= 0 {
		c.Rounds = 5
	}
	if c.Conns <= 0 {
		c.Conns = 64
	}
	if c.RateFraction <= 0 || c.RateFraction > 1 {
		c.RateFraction = 0.5
	}
	if c.SatGuess <= 0 {
		c.SatGuess = 60000
	}
	if c.FreshPool <= 0 {
		c.FreshPool = int(float64(c.SatGuess)*(c.SatDuration+c.Warmup).Seconds()*c.Mix.Fresh) + 10
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	if len(c.ServerCmd) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.ServerCmd = []string{exe, "serve"}
	}
	return nil
}

// contender is one running server and what it is sent.
type contender struct {
	Framework string
	Contender string // Authgate, Peer, None
	Store     string // authgate only
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	ready     Ready
	base      string
	tok       *tokens
	reused    atomic.Int64
	seed      uint64
	rdb       *redis.Client // authgate+redis: the generator's own client, for INFO
}

// Label names the contender in reports: authgate (MemoryStore),
// authgate+redis, peer or none.
func (c *contender) Label() string {
	if c.Contender == Authgate && c.Store == StoreRedis {
		return "authgate+redis"
	}
	return c.Contender
}

func (c *contender) name() string { return c.Framework + "/" + c.Label() }

func (c *contender) pid() int {
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Run runs the whole pipeline: an issuer, Redis (when asked and found),
// one server process per framework and contender, the tokens, a
// preflight, the saturation rounds, then the fixed-rate rounds. Every
// process it started is stopped before it returns. A run in which a server
// answered a request with another status than the mix expects is reported
// in Report.Problems (and its figures are not to be published).
func Run(ctx context.Context, cfg Config) (rep *Report, err error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	began := time.Now()
	logf := func(format string, a ...any) {
		fmt.Fprintf(cfg.Log, "%s [%6.2fs]\n", fmt.Sprintf(format, a...), time.Since(began).Seconds())
	}
	rep = &Report{Config: cfg, Started: time.Now().UTC(), LoadBefore: loadAvg()}
	if cfg.Pin {
		if _, err := exec.LookPath("taskset"); err != nil {
			rep.note("taskset not found (util-linux): servers and generator are NOT pinned to separate cores")
			cfg.Pin = false
		} else if runtime.NumCPU() < 2 {
			rep.note("fewer than 2 CPUs: servers and generator are NOT pinned to separate cores")
			cfg.Pin = false
		}
	}
	rep.Config.Pin = cfg.Pin
	for _, n := range rep.Notes {
		logf("# WARNING: %s", n)
	}

	iss, err := NewIssuer()
	if err != nil {
		return nil, err
	}
	defer iss.Close()

	// Every process started is stopped on the way out: the servers at
	// once (each stops when its stdin closes, or is killed 3s later), then
	// Redis.
	var stops, redisStops []func()
	defer func() {
		var wg sync.WaitGroup
		for _, s := range stops {
			wg.Go(s)
		}
		wg.Wait()
		for _, s := range redisStops {
			s()
		}
	}()

	// Redis, its sessions and its probe session.
	var redisAddr string
	var redisSIDs []string
	var redisProbe string
	var infoClient *redis.Client
	if bin, ok := findRedis(cfg.Redis); ok {
		addr, stop, err := startRedis(ctx, bin, cfg.Pin)
		if err != nil {
			return nil, err
		}
		redisStops = append(redisStops, stop)
		redisAddr = addr
		if redisSIDs, redisProbe, err = redisSessions(ctx, addr, iss.URL, cfg.Mix.Clients); err != nil {
			return nil, err
		}
		rep.Redis = addr
		infoClient = redis.NewClient(&redis.Options{Addr: addr})
		defer infoClient.Close()
		logf("# redis-server on %s, %d sessions", addr, len(redisSIDs))
	} else {
		rep.note("redis-server not found or off: the authgate+redis contenders are skipped")
		logf("# NOTE: %s", rep.Notes[len(rep.Notes)-1])
	}

	// The servers.
	var cs []*contender
	for _, fw := range cfg.Frameworks {
		cs = append(cs, &contender{Framework: fw, Contender: Authgate, Store: StoreMemory})
		if redisAddr != "" {
			cs = append(cs, &contender{Framework: fw, Contender: Authgate, Store: StoreRedis, rdb: infoClient})
		}
		cs = append(cs, &contender{Framework: fw, Contender: Peer}, &contender{Framework: fw, Contender: None})
	}
	for i, c := range cs {
		c.seed = uint64(i+1) * 0x5851f42d4c957f2d
		stop, err := startServer(ctx, &cfg, c, iss, redisAddr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name(), err)
		}
		stops = append(stops, stop)
	}
	logf("# %d servers up", len(cs))

	// The tokens: one set of clients for the servers without a store of
	// their own (sessions in Redis when there is one), one per MemoryStore
	// server, the fresh pool and the bad tokens.
	t0 := time.Now()
	now := time.Now()
	n := cfg.Mix.Clients
	sharedSIDs := redisSIDs
	if sharedSIDs == nil {
		for k := range n {
			sharedSIDs = append(sharedSIDs, fmt.Sprintf("nosession-%d", k))
		}
	}
	clientsOf := func(sids []string, tag string) ([]http.Header, error) {
		toks, err := iss.mint(n, func(k int) (string, string, string) {
			return fmt.Sprintf("user-%d", k), sids[k], fmt.Sprintf("%s-%d", tag, k)
		}, now, 12*time.Hour)
		if err != nil {
			return nil, err
		}
		hs := make([]http.Header, n)
		for k, t := range toks {
			hs[k] = bearer(t)
		}
		return hs, nil
	}
	shared, err := clientsOf(sharedSIDs, "c")
	if err != nil {
		return nil, err
	}
	fresh := make([]http.Header, 0, cfg.FreshPool)
	mintFresh := func(count int) error {
		from := len(fresh)
		toks, err := iss.mint(count, func(k int) (string, string, string) {
			j := (from + k) % n
			return fmt.Sprintf("user-%d", j), sharedSIDs[j], fmt.Sprintf("f-%d", from+k)
		}, time.Now(), 12*time.Hour)
		if err != nil {
			return err
		}
		for _, t := range toks {
			fresh = append(fresh, bearer(t))
		}
		return nil
	}
	if err := mintFresh(cfg.FreshPool); err != nil {
		return nil, err
	}
	expired, err := iss.mint(16, func(k int) (string, string, string) {
		return fmt.Sprintf("user-%d", k%n), sharedSIDs[k%n], fmt.Sprintf("x-%d", k)
	}, now.Add(-3*time.Hour), time.Hour)
	if err != nil {
		return nil, err
	}
	var bad []http.Header
	for k, t := range expired {
		bad = append(bad, bearer(t))
		// A valid token's header and payload with another token's
		// signature: well-formed, but the signature does not verify.
		a, b := shared[k%n].Get("Authorization"), shared[(k+1)%n].Get("Authorization")
		bad = append(bad, http.Header{"Authorization": {a[:strings.LastIndexByte(a, '.')] + b[strings.LastIndexByte(b, '.'):]}})
	}
	if redisProbe == "" {
		redisProbe = "nosession-probe"
	}
	probeTok := func(sid string) (string, error) {
		return iss.Token("probe", sid, "probe-"+sid, now, 12*time.Hour)
	}
	sharedProbe, err := probeTok(redisProbe)
	if err != nil {
		return nil, err
	}
	sharedTokens := &tokens{clients: shared, bad: bad, fresh: &fresh, probe: sharedProbe}
	for _, c := range cs {
		if c.Contender == Authgate && c.Store == StoreMemory {
			cl, err := clientsOf(c.ready.SIDs, c.Framework)
			if err != nil {
				return nil, err
			}
			p, err := probeTok(c.ready.Probe)
			if err != nil {
				return nil, err
			}
			c.tok = &tokens{clients: cl, bad: bad, fresh: &fresh, probe: p}
		} else {
			c.tok = &tokens{clients: shared, bad: bad, fresh: &fresh, probe: sharedTokens.probe}
		}
		c.tok.client = strings.TrimPrefix(c.tok.clients[0].Get("Authorization"), "Bearer ")
	}
	logf("# tokens minted in %v (%d fresh)", time.Since(t0).Round(time.Millisecond), len(fresh))

	if cfg.Pin {
		// Minting used every core; from here on the generator keeps to CPU 1.
		if out, err := exec.Command("taskset", "-a", "-p", "-c", "1", strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("taskset: %v: %s", err, out)
		}
		runtime.GOMAXPROCS(1)
	}

	for _, c := range cs {
		if err := preflight(ctx, c, cfg.Mix.Clients); err != nil {
			return nil, fmt.Errorf("preflight %s: %w", c.name(), err)
		}
	}
	logf("# preflight passed: statuses as expected, live session checks refuse the expired probe session, every client token sent once")

	byFW := map[string][]*contender{}
	for _, c := range cs {
		byFW[c.Framework] = append(byFW[c.Framework], c)
	}
	rotate := func(list []*contender, r int) []*contender {
		r %= len(list)
		return append(slices.Clone(list[r:]), list[:r]...)
	}
	record := func(phase string, round int, c *contender, rate int, st RunStats) {
		rep.Runs = append(rep.Runs, Run1{Phase: phase, Round: round, Framework: c.Framework, Label: c.Label(), Rate: rate, RunStats: st})
		logf("%s", rep.Runs[len(rep.Runs)-1].line())
		if st.Wrong > 0 || st.Errors > 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s round %d %s: %d unexpected statuses, %d transport errors (%s)",
				phase, round, c.name(), st.Wrong, st.Errors, st.Detail))
		}
		if st.FreshReused > 0 && c.Contender == Authgate {
			rep.note(fmt.Sprintf("%s round %d %s: the fresh pool ran out, %d fresh tokens were sent a second time", phase, round, c.name(), st.FreshReused))
		}
	}

	// Fresh tokens enough for c's next run (warm-up included): at rate,
	// or at twice its last saturation throughput (runs on a shared
	// machine vary that much), or, before its first, at SatGuess; minted
	// between runs, while every server is idle. Only authgate keeps
	// verified tokens, so only its servers must never be sent a pool token
	// twice; the others are sent the same pool, reused when it runs out.
	lastRPS := map[*contender]float64{}
	topUp := func(c *contender, rate int, last float64) error {
		if c.Contender != Authgate {
			return nil
		}
		dur, est := cfg.Duration, 1.25*float64(rate)
		if rate == 0 {
			dur, est = cfg.SatDuration, 2*last
			if est == 0 {
				est = float64(cfg.SatGuess)
			}
		}
		want := int(c.tok.cursor.Load()) + int(est*(dur+cfg.Warmup).Seconds()*cfg.Mix.Fresh) + 10
		if more := want - len(fresh); more > 0 {
			t0 := time.Now()
			if err := mintFresh(more); err != nil {
				return err
			}
			logf("# %d more fresh tokens minted in %v (%d in the pool)", more, time.Since(t0).Round(time.Millisecond), len(fresh))
		}
		return nil
	}

	// Saturation.
	for r := 1; r <= cfg.Rounds; r++ {
		for _, fw := range cfg.Frameworks {
			for _, c := range rotate(byFW[fw], r-1) {
				if err := topUp(c, 0, lastRPS[c]); err != nil {
					return nil, err
				}
				st, err := c.measure(ctx, &cfg, 0)
				lastRPS[c] = st.RPS
				if err != nil {
					return nil, err
				}
				record("sat", r, c, 0, st)
			}
		}
	}

	// The fixed rates.
	rep.Rates = map[string]int{}
	for _, fw := range cfg.Frameworks {
		rate := cfg.Rate
		if rate <= 0 {
			slowest := -1.0
			for _, c := range byFW[fw] {
				m := rep.median("sat", fw, c.Label(), func(s RunStats) float64 { return s.RPS })
				if slowest < 0 || m < slowest {
					slowest = m
				}
			}
			rate = max(1, int(cfg.RateFraction*slowest))
		}
		rep.Rates[fw] = rate
	}
	for r := 1; r <= cfg.Rounds; r++ {
		for _, fw := range cfg.Frameworks {
			for _, c := range rotate(byFW[fw], r-1) {
				if err := topUp(c, rep.Rates[fw], 0); err != nil {
					return nil, err
				}
				st, err := c.measure(ctx, &cfg, rep.Rates[fw])
				if err != nil {
					return nil, err
				}
				record("fixed", r, c, rep.Rates[fw], st)
			}
		}
	}
	rep.LoadAfter = loadAvg()
	rep.Finished = time.Now().UTC()
	rep.contenders = cs
	return rep, nil
}

// findRedis says which redis-server to start, if any.
func findRedis(opt string) (string, bool) {
	switch opt {
	case "off":
		return "", false
	case "", "auto":
		p, err := exec.LookPath("redis-server")
		return p, err == nil
	default:
		return opt, true
	}
}

func pinned(pin bool, cpu string, argv []string) []string {
	if pin {
		return append([]string{"taskset", "-c", cpu}, argv...)
	}
	return argv
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startRedis starts a throwaway redis-server (no persistence) on a free
// loopback port, with the servers' CPU when pinned.
func startRedis(ctx context.Context, bin string, pin bool) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	argv := pinned(pin, "0", []string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"})
	cmd := exec.Command(argv[0], argv[1:]...)
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	redisPID.Store(int64(cmd.Process.Pid)) // taskset execs: the same pid
	stop := func() { redisPID.Store(0); _ = cmd.Process.Kill(); _ = cmd.Wait() }
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := rdb.Ping(ctx).Err(); err == nil {
			return addr, stop, nil
		} else if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("redis-server on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisSessions opens n sessions (subjects user-0 ...) in the Redis store,
// and a probe session created 8 days ago (so expired under the default
// 7-day absolute timeout).
func redisSessions(ctx context.Context, addr, issuer string, n int) ([]string, string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	open := func(back time.Duration) (*redisstore.Store, error) {
		return redisstore.New(ctx, rdb, redisstore.Options{Logger: quiet, Audit: core.NewSlogAudit(quiet),
			Now: func() time.Time { return time.Now().Add(-back) }})
	}
	st, err := open(0)
	if err != nil {
		return nil, "", err
	}
	defer st.Close()
	sids := make([]string, n)
	for k := range n {
		s, _, err := st.Create(ctx, core.SessionParams{Subject: fmt.Sprintf("user-%d", k), Issuer: issuer})
		if err != nil {
			return nil, "", err
		}
		sids[k] = s.ID
	}
	old, err := open(8 * 24 * time.Hour)
	if err != nil {
		return nil, "", err
	}
	defer old.Close()
	p, _, err := old.Create(ctx, core.SessionParams{Subject: "probe", Issuer: issuer})
	if err != nil {
		return nil, "", err
	}
	return sids, p.ID, nil
}

// startServer starts c's server process and reads its Ready line.
func startServer(ctx context.Context, cfg *Config, c *contender, iss *Issuer, redisAddr string) (func(), error) {
	args := []string{"-framework", c.Framework, "-contender", c.Contender, "-issuer", iss.URL, "-jwks", iss.JWKSURL(),
		"-sessions", strconv.Itoa(cfg.Mix.Clients)}
	if c.Contender == Authgate {
		args = append(args, "-store", c.Store)
		if c.Store == StoreRedis {
			args = append(args, "-redis", redisAddr)
		}
	}
	argv := pinned(cfg.Pin, "0", append(slices.Clone(cfg.ServerCmd), args...))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), cfg.ServerEnv...)
	cmd.Stderr = cfg.Log
	dieWithParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c.cmd, c.stdin = cmd, stdin
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = stdin.Close() // the server stops when its stdin closes
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	line := make(chan []byte, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<16), 1<<24)
		if sc.Scan() {
			line <- sc.Bytes()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case b, ok := <-line:
		if !ok {
			stop()
			return nil, errors.New("the server exited before it was ready")
		}
		if err := json.Unmarshal(b, &c.ready); err != nil {
			stop()
			return nil, fmt.Errorf("ready line %q: %w", b, err)
		}
	case <-time.After(30 * time.Second):
		stop()
		return nil, errors.New("the server was not ready within 30s")
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	if c.Contender == Authgate && c.Store == StoreMemory && len(c.ready.SIDs) != cfg.Mix.Clients {
		stop()
		return nil, fmt.Errorf("the server opened %d sessions, want %d", len(c.ready.SIDs), cfg.Mix.Clients)
	}
	c.base = "http://" + c.ready.Addr
	return stop, nil
}

// preflight checks each route's answers before any measurement, then sends
// every client token once (the state of a server whose clients have all
// been seen).
func preflight(ctx context.Context, c *contender, clients int) error {
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	get := func(path, tok string) (int, http.Header, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
		if err != nil {
			return 0, nil, err
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res.StatusCode, res.Header, nil
	}
	ag := c.Contender == Authgate
	refused := http.StatusOK
	if c.Contender != None {
		refused = http.StatusUnauthorized
	}
	probeSensitive := http.StatusOK
	if ag {
		probeSensitive = http.StatusUnauthorized // the live check sees the expired session
	}
	checks := []struct {
		what, path, tok string
		want            int
	}{
		{"healthz", "/healthz", "", http.StatusOK},
		{"client on /me", "/me", c.tok.client, http.StatusOK},
		{"client on /sensitive", "/sensitive", c.tok.client, http.StatusOK},
		{"expired token", "/me", strings.TrimPrefix(c.tok.bad[0].Get("Authorization"), "Bearer "), refused},
		{"bad signature", "/me", strings.TrimPrefix(c.tok.bad[1].Get("Authorization"), "Bearer "), refused},
		{"expired session on /me (token alone is valid)", "/me", c.tok.probe, http.StatusOK},
		{"expired session on /sensitive", "/sensitive", c.tok.probe, probeSensitive},
	}
	for _, ch := range checks {
		code, h, err := get(ch.path, ch.tok)
		if err != nil {
			return fmt.Errorf("%s: %w", ch.what, err)
		}
		if code != ch.want {
			return fmt.Errorf("%s: status %d, want %d", ch.what, code, ch.want)
		}
		if ag && code == http.StatusUnauthorized && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			return fmt.Errorf("%s: 401 without a Bearer challenge", ch.what)
		}
	}
	// Every client once, 8 at a time.
	var wg sync.WaitGroup
	var failed atomic.Int64
	next := atomic.Int64{}
	for range 8 {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= clients {
					return
				}
				tok := strings.TrimPrefix(c.tok.clients[k].Get("Authorization"), "Bearer ")
				if code, _, err := get("/me", tok); err != nil || code != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d client tokens refused", f)
	}
	return nil
}

// RunStats are the figures of one measured run.
type RunStats struct {
	Requests int
	// RPS is requests per second, from the first request's start to the
	// last answer's end.
	RPS float64
	// SentRate is the rate at which requests were started.
	SentRate       float64
	P50, P99, P999 time.Duration
	Max            time.Duration
	// SrvCPU and GenCPU are the CPU the server process (with its Redis,
	// if any, in RedisCPU) and the generator used, in CPU-seconds per
	// second of the run (1 = one core busy).
	SrvCPU, RedisCPU, GenCPU float64
	// Busy0 and Busy1 are how busy CPU 0 and CPU 1 were over the run,
	// every process of the machine included (from /proc/stat; 1 = always
	// busy): the share the run's own processes did not use went to other
	// work on the machine.
	Busy0, Busy1 float64
	// RedisCmds is how many commands Redis processed during the run,
	// those the store's Lua scripts call included (authgate+redis only;
	// the other servers' feeds idle meanwhile).
	RedisCmds int64
	// KindP50 and KindP99 are the percentiles of each kind's requests
	// alone (raw results only).
	KindP50, KindP99 [nKinds]time.Duration
	Kinds            [nKinds]int
	Wrong, Errors    int
	FreshReused      int64
	Detail           string // unexpected statuses and errors, if any
}

// SrvMicrosPerReq is the server's CPU time per request (µs), Redis included.
func (s RunStats) SrvMicrosPerReq() float64 {
	if s.Requests == 0 || s.RPS == 0 {
		return 0
	}
	return (s.SrvCPU + s.RedisCPU) / s.RPS * 1e6
}

// measure runs a warm-up and then one measured run against c, on the same
// connections: closed loop with cfg.Conns workers when rate is 0, else
// rate requests per second.
func (c *contender) measure(ctx context.Context, cfg *Config, rate int) (RunStats, error) {
	// At a fixed rate vegeta adds workers whenever all are busy; the
	// connections are capped so that a stall (this machine is shared)
	// queues requests in the client, where their wait is measured, instead
	// of opening thousands of connections whose SYNs overflow the
	// listener's backlog and wait out 1s retransmits.
	maxConns := cfg.Conns
	if rate > 0 {
		maxConns = 4 * cfg.Conns
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: maxConns,
		MaxConnsPerHost:     maxConns,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	if cfg.Warmup > 0 {
		if st := c.attack(cfg, hc, rate, cfg.Warmup, nil); st.Wrong > 0 || st.Errors > 0 {
			return st, fmt.Errorf("%s warm-up: %d unexpected statuses, %d errors (%s)", c.name(), st.Wrong, st.Errors, st.Detail)
		}
	}
	if err := ctx.Err(); err != nil {
		return RunStats{}, err
	}
	dur := cfg.Duration
	if rate == 0 {
		dur = cfg.SatDuration
	}
	var lat []time.Duration
	return c.attack(cfg, hc, rate, dur, &lat), nil
}

// attack is one vegeta attack through hc with the status accounting; lat,
// when not nil, receives every latency and the percentiles are computed.
func (c *contender) attack(cfg *Config, hc *http.Client, rate int, dur time.Duration, lat *[]time.Duration) RunStats {
	opts := []func(*vegeta.Attacker){vegeta.Client(hc), vegeta.Workers(uint64(cfg.Conns))}
	if rate == 0 {
		opts = append(opts, vegeta.MaxWorkers(uint64(cfg.Conns)))
	}
	atk := vegeta.NewAttacker(opts...)
	reusedBefore := c.reused.Load()
	cmds0 := c.redisCommands()
	srv0, redis0, gen0, cpus0 := procCPU(c.pid()), redisCPU(c), selfCPU(), cpuStat()
	var m vegeta.Metrics
	var st RunStats
	var byKind [nKinds][]time.Duration
	wrong := map[string]int{}
	// An unnamed attack: no X-Vegeta-Attack header on every request.
	for res := range atk.Attack(c.tok.targeter(c.base, cfg.Mix, c.seed, &c.reused), vegeta.Rate{Freq: rate, Per: time.Second}, dur, "") {
		m.Add(res)
		if lat != nil {
			*lat = append(*lat, res.Latency)
		}
		k, ok := kindOf(res.URL)
		if !ok {
			st.Wrong++
			wrong["unknown url "+res.URL]++
			continue
		}
		st.Kinds[k]++
		if lat != nil {
			byKind[k] = append(byKind[k], res.Latency)
		}
		if res.Code == 0 {
			st.Errors++
			wrong[res.Error]++
			continue
		}
		want := expected(c.Contender, k)
		if int(res.Code) != want {
			st.Wrong++
			wrong[fmt.Sprintf("%s: %d (want %d)", kindNames[k], res.Code, want)]++
		} else if c.Contender == Authgate && want == http.StatusUnauthorized && !strings.HasPrefix(res.Headers.Get("WWW-Authenticate"), "Bearer") {
			st.Wrong++
			wrong[kindNames[k]+": 401 without a Bearer challenge"]++
		}
	}
	m.Close()
	secs := (m.Duration + m.Wait).Seconds()
	srv1, redis1, gen1, cpus1 := procCPU(c.pid()), redisCPU(c), selfCPU(), cpuStat()
	st.Busy0, st.Busy1 = busy(cpus0, cpus1, 0), busy(cpus0, cpus1, 1)
	if cmds0 >= 0 {
		if cmds1 := c.redisCommands(); cmds1 >= 0 {
			st.RedisCmds = cmds1 - cmds0
		}
	}
	st.Requests = int(m.Requests)
	if secs > 0 {
		st.RPS = float64(m.Requests) / secs
		st.SrvCPU = (srv1 - srv0) / secs
		st.RedisCPU = (redis1 - redis0) / secs
		st.GenCPU = (gen1 - gen0) / secs
	}
	st.SentRate = m.Rate
	st.FreshReused = c.reused.Load() - reusedBefore
	if len(wrong) > 0 {
		var parts []string
		for w, n := range wrong {
			parts = append(parts, fmt.Sprintf("%s ×%d", w, n))
		}
		slices.Sort(parts)
		st.Detail = strings.Join(parts, "; ")
	}
	if lat != nil && len(*lat) > 0 {
		l := *lat
		slices.Sort(l)
		st.P50, st.P99, st.P999, st.Max = quantile(l, 0.50), quantile(l, 0.99), quantile(l, 0.999), l[len(l)-1]
		for k, kl := range byKind {
			slices.Sort(kl)
			st.KindP50[k], st.KindP99[k] = quantile(kl, 0.50), quantile(kl, 0.99)
		}
	}
	return st
}

// quantile is the exact q-quantile of sorted latencies (the smallest
// latency at or above which a share 1-q of them lie); 0 for none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// redisCommands is Redis's total_commands_processed (-1 when c does not
// use Redis or it cannot be read); the INFO call itself counts one.
func (c *contender) redisCommands() int64 {
	if c.rdb == nil {
		return -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := c.rdb.Info(ctx, "stats").Result()
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// redisPID is the pid of the Redis the authgate+redis servers use (0: none).
var redisPID atomic.Int64

func redisCPU(c *contender) float64 {
	if c.Store != StoreRedis || c.Contender != Authgate {
		return 0
	}
	if p := redisPID.Load(); p > 0 {
		return procCPU(int(p))
	}
	return 0
}

// procCPU is the user+system CPU time of process pid in seconds, from
// /proc (0 where there is none).
func procCPU(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64) // utime, field 14
	k, _ := strconv.ParseFloat(f[12], 64) // stime, field 15
	return (u + k) / 100                  // USER_HZ is 100 on Linux
}

// cpuStat is the busy and total jiffies of each CPU, from /proc/stat.
func cpuStat() map[int][2]float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	out := map[int][2]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil {
			continue
		}
		var total, idle float64
		for i, v := range f[1:] {
			x, _ := strconv.ParseFloat(v, 64)
			if i >= 8 { // guest and guest_nice are already in user and nice
				break
			}
			total += x
			if i == 3 || i == 4 { // idle, iowait
				idle += x
			}
		}
		out[n] = [2]float64{total - idle, total}
	}
	return out
}

// busy is how busy CPU n was between two cpuStat readings (0 when unknown).
func busy(a, b map[int][2]float64, n int) float64 {
	x, ok1 := a[n]
	y, ok2 := b[n]
	if !ok1 || !ok2 || y[1] <= x[1] {
		return 0
	}
	return (y[0] - x[0]) / (y[1] - x[1])
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
