package soak

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/nethttpauth"
)

// Load with faults (issue 9). For each session backend in turn, a few
// workers send requests as fast as they are answered, over loopback, to a
// real server running the net/http adapter, with a mix of good, expired,
// forged, tampered, rotated-out and revoked tokens, on a plain route and a
// Sensitive one. Meanwhile a schedule (see faults) rotates the issuer's
// keys, stops and restarts the key set server (a key is rotated in, and old
// ones removed, while it is down, so unknown-kid refetches fail and later
// succeed), and stops and restarts the session backend; a churn goroutine
// opens and revokes sessions throughout. The backends:
//
//   - memory: core.MemoryStore, PolicySensitiveOnly. It cannot go down; its
//     fault is a burst of RevokeSubject.
//   - http: core.NewHTTPSessionChecker against an endpoint of our own that
//     is closed and reopened on the same port, PolicyAlways (no feed, so
//     every request is checked live).
//   - redis: redisstore on a redis-server of its own, SIGKILLed and
//     restarted on the same port, PolicySensitiveOnly, with a second
//     instance (its own client, store and authenticator) that hears of
//     revocations only through the feed, as another process would.
//
// What is asserted, each measured where it happens:
//   - at the handler, which records the token it was called with: no
//     expired, forged or tampered token; no token of a session whose
//     revocation was acknowledged before the request started: on every route
//     of the revoking instance (the MemoryStore and a Redis Store tell their
//     own subscribers before Revoke returns), on every route with the HTTP
//     endpoint under Always and on the second Redis instance's Sensitive
//     route (live checks; a request never takes the answer of a check that
//     began before it, core e75d0b0: the checker's own record tells that case
//     apart in the message); only on the second Redis instance's plain route
//     is the revocation asynchronous (the feed): counted, with its delay, and
//     probed right after each revocation; no token of a key the
//     authenticator had already dropped;
//     the principal is the token's; a Sensitive handler only runs after a
//     live check;
//   - at the client: a good token is refused only for a documented reason:
//     401 while its key was not yet in that authenticator's key set (rotated
//     in, not yet fetched: unknown kids are refused 401, never parked) or
//     after the key was removed from the JWKS; 503 on routes that need the
//     backend (Sensitive; every route under Always; every route with Redis,
//     whose feed is then behind) while it was down or recovering, or when a
//     check of the backend failed during the request (timeouts);
//   - no panic (a recover in the handler, the servers' ErrorLog), no token in
//     a log record, no transport error;
//   - after Close, goroutines back to the baseline and the heap within a
//     bound (runtime.ReadMemStats after GC; tolerances, no timing).
//
// SOAK_DURATION (default 15s) is the traffic time of the whole test, split
// evenly between the three backends; SOAK_REPORT=path writes the figures as
// markdown; SOAK_DEBUG=1 prints the timeline of faults and key sets,
// SOAK_LOG=1 the logs.

const (
	workers       = 4
	liveSessions  = 24 // good sessions kept open by the churn
	churnEvery    = 100 * time.Millisecond
	cycle         = 3 * time.Second // one round of faults
	recoveryBound = 30 * time.Second
	goroutineTol  = 4
	heapTolMiB    = 16
	checkTimeout  = time.Second // SessionCheck.Timeout
)

func soakDuration(t *testing.T) time.Duration {
	if s := os.Getenv("SOAK_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("SOAK_DURATION=%q: want a positive duration such as 2m", s)
		}
		return d
	}
	return 15 * time.Second
}

func TestLoadWithFaults(t *testing.T) {
	total := soakDuration(t)
	per := total / 3
	var rows []*figures
	for _, name := range []string{"memory", "http", "redis"} {
		t.Run(name, func(t *testing.T) {
			f := &figures{Backend: name}
			rows = append(rows, f)
			runSoak(t, name, per, f)
		})
	}
	var b strings.Builder
	writeMarkdown(&b, rows, total)
	t.Logf("load with faults, %s of traffic (%d workers, GOMAXPROCS %d, race %v):\n%s", total, workers, runtime.GOMAXPROCS(0), raceEnabled, b.String())
	if path := os.Getenv("SOAK_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Errorf("SOAK_REPORT: %v", err)
		}
	}
}

// kind is what a token is, fixed when it is minted.
type kind int

const (
	kGood kind = iota
	kExpired
	kForgedUnknownKey
	kForgedKnownKid
	kTampered
	kCanary
)

// category is what a worker chose to send.
type category int

const (
	cGood category = iota
	cRevoked
	cRotated
	cExpired
	cForgedUnknownKey
	cForgedKnownKid
	cTampered
	nCategories
)

var categoryNames = [nCategories]string{"good", "revoked", "rotated-out key", "expired", "forged: key not in JWKS", "forged: known kid, other key", "tampered"}

// weights of the categories, out of 100.
var weights = [nCategories]int{50, 15, 5, 8, 7, 7, 8}

type session struct {
	sid, subject string
	attempt      atomic.Int64 // stamp of the first revocation attempt; 0: none
	acked        atomic.Int64 // stamp when the revocation was acknowledged; 0: not
}

type token struct {
	raw  string
	kind kind
	sess *session
	kid  string
}

type keyState struct {
	key       *authtest.Key
	removed   atomic.Int64    // stamp: taken out of the published JWKS
	firstSeen [2]atomic.Int64 // per instance, stamp: first seen in its authenticator's key set
	gone      [2]atomic.Int64 // per instance, stamp: seen missing from it after firstSeen
}

type window struct{ from, to int64 } // to == 0: still open

// status classes counted per category and route.
const (
	s200 = iota
	s401
	s503
	sOther
	nStatus
)

func statusClass(code int) int {
	switch code {
	case 200:
		return s200
	case 401:
		return s401
	case 503:
		return s503
	}
	return sOther
}

// instance is one simulated API process: an authenticator behind the
// net/http adapter on a real loopback server.
type instance struct {
	idx  int
	auth *core.Authenticator
	srv  *httptest.Server
	rec  *checkRecorder // nil for the MemoryStore (called directly by core)
}

type harness struct {
	t       *testing.T
	name    string
	t0      time.Time
	back    backend
	live503 bool // good tokens may get 503 on plain routes while the backend is down
	iss     *authtest.Issuer
	jwks    *restartable
	inst    []*instance
	closers []func()
	client  *http.Client
	log     *slogLogger
	errLog  *errorLog
	canary  *session
	// canaryTokens: one per key (used by the fault goroutine only)
	canaryTokens map[string]*token

	regMu    sync.RWMutex
	registry map[string]*token

	// sessMu orders the changes of sessions at the backend (create, revoke,
	// RevokeSubject) with their bookkeeping here: a session created while
	// its subject's sessions are being revoked must be known to be in it.
	sessMu   sync.Mutex
	poolMu   sync.RWMutex
	sessions []*session            // live good sessions
	tokensOf map[*session][]*token // their good tokens
	pools    [nCategories][]*token
	doubt    []*session // revocation attempted, not acknowledged
	subjects int

	keysMu  sync.Mutex
	keys    map[string]*keyState
	order   []*keyState // published keys, oldest first
	gone    []*keyState // keys taken out of the JWKS, oldest first
	nextAlg int
	signer  *authtest.Key // the key good tokens are minted with
	// impostors: keys never published, one per alg
	impostors map[string]crypto.Signer

	winMu       sync.Mutex
	backendDown []window
	failedCalls []window // session checks that failed, in order of their end

	st counters

	vmu        sync.Mutex
	violations map[string]int
	vsample    []string
}

type counters struct {
	sent          [nCategories][2][nStatus]atomic.Int64
	otherCodes    sync.Map // int -> *atomic.Int64
	transportErrs atomic.Int64

	served         [nCategories][2]atomic.Int64 // at the handler, by what the token was at that moment
	servedInFlight atomic.Int64                 // revoked while its request was in flight

	servedFeedLag     atomic.Int64 // revoked before, served on instance B's plain route (feed not yet delivered)
	maxFeedLag        atomic.Int64
	feedProbes        atomic.Int64 // revoked tokens sent to instance B's plain route right after the revocation
	feedProbesRefused atomic.Int64
	feedProbesServed  atomic.Int64
	lat               [40]atomic.Int64 // request latency histogram, bucket i: [2^i, 2^(i+1)) µs
	maxLat, max503    atomic.Int64
	canaryServed      atomic.Int64
	handlerPanics     atomic.Int64
	refusedNewKey     atomic.Int64 // good, 401: key not yet in the authenticator's key set
	refusedNewKey503  atomic.Int64 // good, 503: the same, while the key set could not be fetched
	refusedRotated    atomic.Int64 // good, 401: key removed from the JWKS
	refusedDown       atomic.Int64 // good, 503 while the backend was down or recovering
	refusedRevoking   atomic.Int64 // good at send time, revoked before the answer
	refusedSlow       atomic.Int64 // good, 503: a session check failed outside a down window
	checkFailures     atomic.Int64 // session checks that failed (not "revoked")
	createFails       atomic.Int64
	revokesAcked      atomic.Int64
	revokesFailed     atomic.Int64
	subjectRevokes    atomic.Int64
	rotations         atomic.Int64
	removals          atomic.Int64
	jwksStops         atomic.Int64
	jwksFetches       atomic.Int64
	backendStops      atomic.Int64
	maxRecovery       atomic.Int64
	peakHeap          atomic.Uint64
	peakGoroutines    atomic.Int64
	unknownKidRounds  atomic.Int64 // rotations made while the JWKS server was down
}

func maxInto(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// latency records one answer's round trip (ns).
func (c *counters) latency(d int64, code int) {
	us := max(d/1000, 1)
	i := 0
	for us > 1 && i < len(c.lat)-1 {
		us >>= 1
		i++
	}
	c.lat[i].Add(1)
	maxInto(&c.maxLat, d)
	if code == http.StatusServiceUnavailable {
		maxInto(&c.max503, d)
	}
}

// quantile returns the upper bound of the histogram bucket holding the q
// quantile.
func (c *counters) quantile(q float64) time.Duration {
	var total int64
	for i := range c.lat {
		total += c.lat[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := int64(q * float64(total))
	var seen int64
	for i := range c.lat {
		seen += c.lat[i].Load()
		if seen > want {
			return time.Duration(int64(2)<<i) * time.Microsecond
		}
	}
	return 0
}

func (h *harness) stamp() int64 { return int64(time.Since(h.t0)) + 1 }

// debugf prints the run's timeline with SOAK_DEBUG=1.
func (h *harness) debugf(format string, args ...any) {
	if os.Getenv("SOAK_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "%s %8.3fs "+format+"\n", append([]any{h.name, time.Since(h.t0).Seconds()}, args...)...)
	}
}

func (h *harness) violate(format string, args ...any) { h.violateDetail("", format, args...) }

// violateDetail counts a violation under its message; detail goes only into
// the first samples.
func (h *harness) violateDetail(detail, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	h.vmu.Lock()
	defer h.vmu.Unlock()
	h.violations[msg]++
	if len(h.vsample) < 20 {
		if detail != "" {
			detail = " [" + detail + "]"
		}
		h.vsample = append(h.vsample, fmt.Sprintf("at %v: %s%s", time.Since(h.t0).Round(time.Millisecond), msg, detail))
	}
}

// at renders a stamp as the time since the run began ("-" for none).
func at(stamp int64) string {
	if stamp == 0 {
		return "-"
	}
	return time.Duration(stamp - 1).Round(time.Millisecond).String()
}

func runSoak(t *testing.T, name string, dur time.Duration, f *figures) {
	// Baseline before anything of this run exists; the final check runs as
	// the last cleanup, after the test issuer's server has closed.
	g0, h0 := settle()
	f.GoroutinesBefore, f.HeapBeforeMiB = g0, h0
	t.Cleanup(func() {
		// Back to the baseline exactly, waited for (bounded); beyond the
		// tolerance is a failure.
		g1, exact := waitGoroutines(g0, 5*time.Second)
		ok := exact || g1 <= g0+goroutineTol
		if !exact && os.Getenv("SOAK_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "%s: %d goroutines above the baseline after Close:\n%s\n", name, g1-g0, goroutineDump())
		}
		_, h1 := settle()
		f.GoroutinesAfter, f.HeapAfterMiB = g1, h1
		if !ok {
			t.Errorf("goroutines after Close: %d, baseline %d (tolerance %d)\n%s", g1, g0, goroutineTol, goroutineDump())
		}
		if h1-h0 > heapTolMiB {
			t.Errorf("heap after Close: %.1f MiB, baseline %.1f MiB (tolerance %d MiB)", h1, h0, heapTolMiB)
		}
		t.Logf("%s: goroutines %d -> %d, heap %.1f -> %.1f MiB after GC", name, g0, g1, h0, h1)
	})

	h := &harness{
		t: t, name: name, t0: time.Now(),
		registry:     map[string]*token{},
		canaryTokens: map[string]*token{},
		tokensOf:     map[*session][]*token{},
		keys:         map[string]*keyState{},
		violations:   map[string]int{},
		log:          newSlogLogger(),
		errLog:       &errorLog{},
	}
	h.iss = authtest.New(t)
	h.addKey(h.iss.Signer())
	h.signer = h.iss.Signer()

	// The key set is served from a restartable server of our own; tokens
	// keep the test issuer's URL as iss.
	jwksMux := http.NewServeMux()
	jwksMux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		h.st.jwksFetches.Add(1)
		h.debugf("JWKS fetched")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(h.iss.JWKS())
	})
	h.jwks = newRestartable(jwksMux, h.errLog.logger())
	if err := h.jwks.Start(); err != nil {
		t.Fatal(err)
	}
	defer h.jwks.Stop()

	switch name {
	case "memory":
		h.back = newMemoryBackend()
	case "http":
		h.back = newHTTPBackend(t, h.errLog.logger())
		h.live503 = true
	case "redis":
		h.back = newRedisBackend(t, h.log)
		h.live503 = true
	}
	defer h.back.close()
	f.Backend, f.Note = name, h.back.note()

	fetchTr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer fetchTr.CloseIdleConnections()
	cfg := core.Config{
		Issuer:            h.iss.URL,
		Audience:          []string{authtest.DefaultAudience},
		JWKSURL:           h.jwks.URL() + "/jwks.json",
		HTTPClient:        &http.Client{Transport: fetchTr},
		FetchTimeout:      time.Second,
		UnknownKeyRefresh: time.Second,
		SessionCheck:      core.SessionCheckOptions{Timeout: checkTimeout},
		Logger:            h.log.Logger,
	}
	var rec *checkRecorder
	h.back.configure(&cfg, func(c core.SessionChecker) core.SessionChecker {
		rec = newCheckRecorder(c, h)
		return rec
	})
	f.Policy = map[core.Policy]string{core.PolicySensitiveOnly: "PolicySensitiveOnly", core.PolicyAlways: "Always", core.PolicyNever: "Never"}[cfg.SessionPolicy]
	defer h.closeInstances()
	h.addInstance(t, cfg, rec)
	if sb, ok := h.back.(second); ok {
		// A second process on the same Redis: its own client, store and
		// authenticator. Revocations made through the first reach it
		// through the feed only.
		store, closeStore := sb.secondStore(t, h.log)
		h.closers = append(h.closers, closeStore)
		rec2 := newCheckRecorder(store, h)
		cfg2 := cfg
		cfg2.Sessions, cfg2.Revocations = rec2, store
		h.addInstance(t, cfg2, rec2)
	}
	clientTr := &http.Transport{MaxIdleConnsPerHost: 2 * workers}
	defer clientTr.CloseIdleConnections()
	h.client = &http.Client{Transport: clientTr, Timeout: 15 * time.Second}
	f.Instances = len(h.inst)

	ctx := context.Background()
	sid, err := h.back.create(ctx, "canary", h.iss.URL)
	if err != nil {
		t.Fatal(err)
	}
	h.canary = &session{sid: sid, subject: "canary"}
	for len(h.sessions) < liveSessions {
		if !h.openSession(ctx) {
			t.Fatal("could not open the first sessions")
		}
	}
	h.refreshBadPools()

	// Run: monitor, churn, faults, workers.
	runCtx, stop := context.WithTimeout(ctx, dur)
	var bg sync.WaitGroup
	monCtx, stopMon := context.WithCancel(ctx)
	bg.Add(1)
	go func() { defer bg.Done(); h.monitor(monCtx) }()
	var wg sync.WaitGroup
	wg.Add(2 + workers)
	go func() { defer wg.Done(); h.churn(runCtx) }()
	go func() { defer wg.Done(); h.faults(runCtx) }()
	for i := range workers {
		go func() { defer wg.Done(); h.worker(runCtx, uint64(i)) }()
	}
	started := time.Now()
	wg.Wait()
	stop()
	f.Elapsed = time.Since(started)
	stopMon()
	bg.Wait()

	// Heap of the running system at the end of traffic, after GC.
	_, f.HeapEndMiB = settle()
	f.PeakHeapMiB = float64(h.st.peakHeap.Load()) / (1 << 20)
	f.PeakGoroutines = int(h.st.peakGoroutines.Load())
	h.fill(f)

	h.vmu.Lock()
	if len(h.violations) > 0 {
		keys := slices.Sorted(mapKeys(h.violations))
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "\n  %6d × %s", h.violations[k], k)
		}
		t.Errorf("%s: %d kinds of violation:%s\nfirst ones:\n  %s", name, len(keys), b.String(), strings.Join(h.vsample, "\n  "))
	}
	h.vmu.Unlock()
	if f.Requests == 0 {
		t.Errorf("%s: no request was served", name)
	}
	if n := h.log.tokens.Load(); n > 0 {
		t.Errorf("%s: %d log records carry a token", name, n)
	}
	if n := h.st.transportErrs.Load(); n > 0 {
		t.Errorf("%s: %d requests failed in transport (the server under test never goes down)", name, n)
	}
	if n := h.errLog.panics.Load() + h.st.handlerPanics.Load(); n > 0 {
		t.Errorf("%s: %d panics", name, n)
	}
	if f.RevokedSent == 0 || f.BadSent == 0 {
		t.Errorf("%s: the mix sent no revoked (%d) or no bad (%d) token", name, f.RevokedSent, f.BadSent)
	}
	if h.back.restartable() && f.BackendStops == 0 || f.JWKSStops == 0 {
		t.Errorf("%s: no fault was injected (duration too short?)", name)
	}
	t.Logf("%s: warn/error log messages: %v; ErrorLog lines %d %q", name, h.log.messages(), h.errLog.lines.Load(), h.errLog.sample)

	// Drop the test's own data before the final heap reading.
	h.regMu.Lock()
	h.registry = nil
	h.regMu.Unlock()
	h.poolMu.Lock()
	h.sessions, h.tokensOf, h.pools, h.doubt = nil, nil, [nCategories][]*token{}, nil
	h.poolMu.Unlock()
}

// addInstance starts an authenticator with cfg behind the adapter on a
// loopback server.
func (h *harness) addInstance(t *testing.T, cfg core.Config, rec *checkRecorder) {
	t.Helper()
	auth, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{idx: len(h.inst), auth: auth, rec: rec}
	mux := http.NewServeMux()
	mux.Handle("GET /plain", h.handler(false, in))
	mux.Handle("POST /sensitive", nethttpauth.Sensitive(h.handler(true, in)))
	in.srv = httptest.NewUnstartedServer(nethttpauth.New(auth)(mux))
	in.srv.Config.ErrorLog = h.errLog.logger()
	in.srv.Start()
	h.inst = append(h.inst, in)
}

// closeInstances closes the servers, then the authenticators, then what
// the second instance owns.
func (h *harness) closeInstances() {
	for _, in := range h.inst {
		in.srv.Close()
	}
	for _, in := range h.inst {
		_ = in.auth.Close()
	}
	for _, c := range h.closers {
		c()
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ---- tokens and keys ----

func (h *harness) register(tk *token) *token {
	h.regMu.Lock()
	h.registry[tk.raw] = tk
	h.regMu.Unlock()
	return tk
}

func (h *harness) lookup(raw string) *token {
	h.regMu.RLock()
	defer h.regMu.RUnlock()
	return h.registry[raw]
}

func (h *harness) addKey(k *authtest.Key) {
	h.keysMu.Lock()
	defer h.keysMu.Unlock()
	ks := &keyState{key: k}
	h.keys[k.ID] = ks
	h.order = append(h.order, ks)
}

func (h *harness) keyState(kid string) *keyState {
	h.keysMu.Lock()
	defer h.keysMu.Unlock()
	return h.keys[kid]
}

// publishedKeys returns the keys in the JWKS now.
func (h *harness) publishedKeys() []*authtest.Key {
	h.keysMu.Lock()
	defer h.keysMu.Unlock()
	out := make([]*authtest.Key, 0, len(h.order))
	for _, ks := range h.order {
		out = append(out, ks.key)
	}
	return out
}

func (h *harness) claims(s *session, iat, exp time.Time) authtest.Claims {
	return authtest.Claims{
		"iss": h.iss.URL, "aud": authtest.DefaultAudience,
		"sub": s.subject, "sid": s.sid,
		"jti": strconv.FormatInt(rand.Int64(), 36),
		"iat": iat.Unix(), "exp": exp.Unix(),
	}
}

func (h *harness) mint(k *authtest.Key, s *session, kd kind) *token {
	now := time.Now()
	return h.register(&token{raw: h.iss.Sign(k, nil, h.claims(s, now, now.Add(30*time.Minute))), kind: kd, sess: s, kid: k.ID})
}

// openSession creates a session at the backend and mints a good token for
// it with every published key.
func (h *harness) openSession(ctx context.Context) bool {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	h.poolMu.Lock()
	h.subjects++
	subject := "user-" + strconv.Itoa(h.subjects%8)
	h.poolMu.Unlock()
	sid, err := h.back.create(ctx, subject, h.iss.URL)
	if err != nil {
		h.st.createFails.Add(1)
		return false
	}
	s := &session{sid: sid, subject: subject}
	toks := []*token{h.mint(h.signerKey(), s, kGood)}
	h.poolMu.Lock()
	h.sessions = append(h.sessions, s)
	h.tokensOf[s] = toks
	h.rebuildGoodLocked()
	h.poolMu.Unlock()
	return true
}

func (h *harness) rebuildGoodLocked() {
	var good []*token
	for _, s := range h.sessions {
		good = append(good, h.tokensOf[s]...)
	}
	h.pools[cGood] = good
}

// refreshBadPools mints the never-valid tokens for the current signer and
// live sessions.
func (h *harness) refreshBadPools() {
	signer := h.signerKey()
	h.poolMu.RLock()
	sess := slices.Clone(h.sessions)
	h.poolMu.RUnlock()
	var expired, unknown, knownKid, tampered []*token
	// One attacker key (under a new kid per token) and one impostor key
	// (same kid and alg as the signer) per refresh: RSA key generation is slow.
	attackerKey := authtest.GenerateKey("ES256")
	impostor := &authtest.Key{ID: signer.ID, Alg: signer.Alg, Private: h.impostorKey(signer.Alg)}
	for i, s := range sess {
		if i >= 8 {
			break
		}
		now := time.Now()
		expired = append(expired, h.register(&token{kind: kExpired, sess: s, kid: signer.ID,
			raw: h.iss.Sign(signer, nil, h.claims(s, now.Add(-20*time.Minute), now.Add(-10*time.Minute)))}))
		attacker := &authtest.Key{ID: "attacker-" + strconv.FormatInt(rand.Int64(), 36), Alg: "ES256", Private: attackerKey}
		unknown = append(unknown, h.register(&token{kind: kForgedUnknownKey, sess: s, kid: attacker.ID,
			raw: h.iss.Sign(attacker, nil, h.claims(s, now, now.Add(30*time.Minute)))}))
		knownKid = append(knownKid, h.register(&token{kind: kForgedKnownKid, sess: s, kid: signer.ID,
			raw: h.iss.Sign(impostor, nil, h.claims(s, now, now.Add(30*time.Minute)))}))
		good := h.iss.Sign(signer, nil, h.claims(s, now, now.Add(30*time.Minute)))
		tampered = append(tampered,
			h.register(&token{kind: kTampered, sess: s, kid: signer.ID, raw: tamperPayload(good)}),
			h.register(&token{kind: kTampered, sess: s, kid: signer.ID, raw: tamperSignature(good)}))
	}
	h.poolMu.Lock()
	h.pools[cExpired], h.pools[cForgedUnknownKey], h.pools[cForgedKnownKid], h.pools[cTampered] = expired, unknown, knownKid, tampered
	h.poolMu.Unlock()
}

// impostorKey returns a key of alg that the issuer never published (one per
// alg for the run).
func (h *harness) impostorKey(alg string) crypto.Signer {
	h.keysMu.Lock()
	defer h.keysMu.Unlock()
	if h.impostors == nil {
		h.impostors = map[string]crypto.Signer{}
	}
	k := h.impostors[alg]
	if k == nil {
		k = authtest.GenerateKey(alg)
		h.impostors[alg] = k
	}
	return k
}

// tamperPayload changes the token's subject and keeps its signature.
func tamperPayload(tok string) string {
	parts := strings.Split(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	c["sub"] = "admin"
	b, _ = json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// tamperSignature flips bits in the middle of the signature.
func tamperSignature(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig := []byte(tok[i+1:])
	j := len(sig) / 2
	if sig[j] == 'A' {
		sig[j] = 'B'
	} else {
		sig[j] = 'A'
	}
	return tok[:i+1] + string(sig)
}

// ---- the handler ----

func (h *harness) handler(sensitive bool, in *instance) http.Handler {
	route := 0
	if sensitive {
		route = 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				h.st.handlerPanics.Add(1)
				h.violate("panic in the handler: %v", v)
			}
		}()
		start, _ := strconv.ParseInt(r.Header.Get("X-Soak-Start"), 10, 64)
		raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tk := h.lookup(raw)
		p, ok := nethttpauth.Principal(r)
		rn := [2]string{"plain", "sensitive"}[route]
		switch {
		case tk == nil:
			h.violate("%s handler called with a token the test never minted", rn)
		case !ok || p.SessionID != tk.sess.sid || p.Subject != tk.sess.subject:
			h.violate("%s handler: the principal is not the token's", rn)
		case sensitive && !p.SessionChecked:
			h.violate("sensitive handler ran without a live session check")
		}
		if tk == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		switch tk.kind {
		case kCanary:
			h.st.canaryServed.Add(1)
		case kExpired:
			h.st.served[cExpired][route].Add(1)
			h.violate("expired token let through on the %s route", rn)
		case kForgedUnknownKey:
			h.st.served[cForgedUnknownKey][route].Add(1)
			h.violate("token signed by a key not in the JWKS let through on the %s route", rn)
		case kForgedKnownKid:
			h.st.served[cForgedKnownKid][route].Add(1)
			h.violate("token signed by another key under a known kid let through on the %s route", rn)
		case kTampered:
			h.st.served[cTampered][route].Add(1)
			h.violate("tampered token let through on the %s route", rn)
		case kGood:
			c := cGood
			if ack := tk.sess.acked.Load(); ack != 0 {
				c = cRevoked
				if ack < start {
					switch {
					case in.idx == 1 && !sensitive:
						// Another process: the revocation reaches its deny
						// set through the feed, asynchronously.
						h.st.servedFeedLag.Add(1)
						maxInto(&h.st.maxFeedLag, h.stamp()-ack)
					case in.rec != nil && in.rec.lastActiveStart(tk.sess.sid) < start:
						// The request took the "active" answer of a check
						// that began before it (and before the revocation)
						// where core cannot hear of the revocation (HTTP
						// endpoint, instance B): what core e75d0b0 stopped.
						h.violate("token of a session revoked (acknowledged) before the request started let through on the %s route of instance %d: it shared a check that began before it", rn, in.idx)
					default:
						h.violate("token of a session revoked (acknowledged) before the request started let through on the %s route of instance %d", rn, in.idx)
					}
				} else {
					h.st.servedInFlight.Add(1)
				}
			}
			if ks := h.keyState(tk.kid); ks != nil {
				if g := ks.gone[in.idx].Load(); g != 0 && g < start {
					h.violate("token of a key the authenticator had dropped let through on the %s route", rn)
				}
				if ks.removed.Load() != 0 && c == cGood {
					c = cRotated
				}
			}
			h.st.served[c][route].Add(1)
		}
		w.WriteHeader(http.StatusOK)
	})
}

// ---- workers ----

func (h *harness) pick(r *rand.Rand) (category, *token) {
	n := r.IntN(100)
	c := cGood
	for i, w := range weights {
		if n < w {
			c = category(i)
			break
		}
		n -= w
	}
	h.poolMu.RLock()
	defer h.poolMu.RUnlock()
	pool := h.pools[c]
	if len(pool) == 0 {
		c, pool = cGood, h.pools[cGood]
	}
	if len(pool) == 0 {
		return c, nil
	}
	return c, pool[r.IntN(len(pool))]
}

func (h *harness) worker(ctx context.Context, seed uint64) {
	r := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	for ctx.Err() == nil {
		c, tk := h.pick(r)
		if tk == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		sensitive := r.IntN(2) == 1
		in := h.inst[0]
		if len(h.inst) > 1 && r.IntN(3) == 0 {
			in = h.inst[1]
		}
		code, start, end, err := h.send(in, tk.raw, sensitive)
		if err != nil {
			if ctx.Err() == nil {
				h.st.transportErrs.Add(1)
			}
			continue
		}
		route := 0
		if sensitive {
			route = 1
		}
		h.st.sent[c][route][statusClass(code)].Add(1)
		h.st.latency(end-start, code)
		if statusClass(code) == sOther {
			v, _ := h.st.otherCodes.LoadOrStore(code, new(atomic.Int64))
			v.(*atomic.Int64).Add(1)
		}
		if c == cGood && code != http.StatusOK {
			h.classifyGoodRefusal(in, tk, sensitive, code, start, end)
		}
	}
}

func (h *harness) send(in *instance, raw string, sensitive bool) (code int, start, end int64, err error) {
	method, path := http.MethodGet, "/plain"
	if sensitive {
		method, path = http.MethodPost, "/sensitive"
	}
	req, _ := http.NewRequest(method, in.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+raw)
	start = h.stamp()
	req.Header.Set("X-Soak-Start", strconv.FormatInt(start, 10))
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, start, h.stamp(), err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, start, h.stamp(), nil
}

// classifyGoodRefusal accepts a refusal of a good token only for a
// documented reason.
func (h *harness) classifyGoodRefusal(in *instance, tk *token, sensitive bool, code int, start, end int64) {
	route := "plain"
	if sensitive {
		route = "sensitive"
	}
	if a := tk.sess.attempt.Load(); a != 0 && a <= end {
		h.st.refusedRevoking.Add(1) // its session was being revoked
		return
	}
	ks := h.keyState(tk.kid)
	fs, rm := ks.firstSeen[in.idx].Load(), ks.removed.Load()
	switch code {
	case http.StatusUnauthorized, http.StatusServiceUnavailable:
		// A key this authenticator did not hold yet when the request
		// started: an unknown kid, 401, or 503 while the key set cannot be
		// fetched (core answers either, depending on its version).
		if fs == 0 || fs > start {
			if code == http.StatusUnauthorized {
				h.st.refusedNewKey.Add(1)
			} else {
				h.st.refusedNewKey503.Add(1)
			}
			return
		}
		// A key taken out of the JWKS.
		if rm != 0 && rm <= end {
			h.st.refusedRotated.Add(1)
			return
		}
	}
	if code == http.StatusServiceUnavailable {
		if sensitive || h.live503 {
			if h.backendDownDuring(start, end) {
				h.st.refusedDown.Add(1)
				return
			}
			// The backend was up but a check failed (its timeout), or the
			// request waited the whole SessionCheck.Timeout for an answer.
			if h.checkFailedDuring(start, end) || time.Duration(end-start) >= checkTimeout {
				h.st.refusedSlow.Add(1)
				return
			}
		}
	}
	h.violateDetail(fmt.Sprintf("key %s held since %v, removed %v, dropped %v; request %v to %v",
		tk.kid, at(fs), at(rm), at(ks.gone[in.idx].Load()), at(start), at(end)),
		"good token refused %d on the %s route of instance %d (backend down: %v)", code, route, in.idx, h.backendDownDuring(start, end))
}

func (h *harness) noteCheckFailure(start, end int64) {
	h.winMu.Lock()
	h.failedCalls = append(h.failedCalls, window{start, end})
	h.winMu.Unlock()
	h.st.checkFailures.Add(1)
}

// checkFailedDuring reports whether a session check failed while a request
// was in flight: the one it made or joined.
func (h *harness) checkFailedDuring(start, end int64) bool {
	h.winMu.Lock()
	defer h.winMu.Unlock()
	for i := len(h.failedCalls) - 1; i >= 0; i-- {
		w := h.failedCalls[i]
		if w.to < start-int64(10*time.Millisecond) {
			break // older ones ended before the request started
		}
		if w.from <= end && w.to >= start {
			return true
		}
	}
	return false
}

func (h *harness) backendDownDuring(start, end int64) bool {
	h.winMu.Lock()
	defer h.winMu.Unlock()
	for _, w := range h.backendDown {
		if w.from <= end && (w.to == 0 || w.to >= start) {
			return true
		}
	}
	return false
}

// ---- churn: sessions opened and revoked all along ----

func (h *harness) churn(ctx context.Context) {
	tick := time.NewTicker(churnEvery)
	defer tick.Stop()
	r := rand.New(rand.NewPCG(99, uint64(time.Now().UnixNano())))
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		h.poolMu.RLock()
		live := len(h.sessions)
		h.poolMu.RUnlock()
		if live < liveSessions {
			h.openSession(ctx)
		}
		if live > liveSessions/2 && n%2 == 0 {
			h.revokeOne(ctx, r)
		}
		if n%30 == 29 {
			h.revokeSubject(ctx, "user-"+strconv.Itoa(r.IntN(8)))
		}
		h.retryDoubt(ctx)
	}
}

// takeSessions removes sessions from the live pool (their tokens are no
// longer sent as good) and marks the revocation attempt.
func (h *harness) takeSessions(match func(*session) bool) []*session {
	h.poolMu.Lock()
	defer h.poolMu.Unlock()
	var taken []*session
	keep := h.sessions[:0]
	for _, s := range h.sessions {
		if match(s) {
			taken = append(taken, s)
			s.attempt.CompareAndSwap(0, h.stamp())
		} else {
			keep = append(keep, s)
		}
	}
	clear(h.sessions[len(keep):])
	h.sessions = keep
	h.rebuildGoodLocked()
	return taken
}

// acked moves acknowledged revocations' tokens to the revoked pool (the
// last 64 sessions' worth).
func (h *harness) acked(ss []*session) {
	at := h.stamp()
	var probes []*token
	h.poolMu.Lock()
	for _, s := range ss {
		s.acked.Store(at)
		toks := h.tokensOf[s]
		h.pools[cRevoked] = append(h.pools[cRevoked], toks...)
		delete(h.tokensOf, s)
		h.st.revokesAcked.Add(1)
		if len(h.inst) > 1 {
			for _, tk := range toks {
				if ks := h.keyState(tk.kid); ks != nil && ks.removed.Load() == 0 && h.heldByAll(ks) {
					probes = append(probes, tk)
					break
				}
			}
		}
	}
	if n := len(h.pools[cRevoked]); n > 256 {
		h.pools[cRevoked] = slices.Clone(h.pools[cRevoked][n-256:])
	}
	h.poolMu.Unlock()
	// Cross-instance propagation: right after the revocation returned on
	// instance A, send the token to instance B's plain route, which knows
	// of it only through the feed. Served is counted by the handler (with
	// the lag); refused is what the feed delivered in time.
	for _, tk := range probes {
		code, _, _, err := h.send(h.inst[1], tk.raw, false)
		if err == nil {
			h.st.feedProbes.Add(1)
			switch code {
			case http.StatusUnauthorized:
				h.st.feedProbesRefused.Add(1)
			case http.StatusOK:
				h.st.feedProbesServed.Add(1)
			}
		}
	}
}

func (h *harness) failed(ss []*session) {
	h.poolMu.Lock()
	defer h.poolMu.Unlock()
	h.doubt = append(h.doubt, ss...)
	h.st.revokesFailed.Add(int64(len(ss)))
}

func (h *harness) revokeOne(ctx context.Context, r *rand.Rand) {
	h.poolMu.RLock()
	if len(h.sessions) == 0 {
		h.poolMu.RUnlock()
		return
	}
	victim := h.sessions[r.IntN(len(h.sessions))]
	h.poolMu.RUnlock()
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	ss := h.takeSessions(func(s *session) bool { return s == victim })
	if err := h.back.revoke(ctx, victim.sid); err != nil {
		h.failed(ss)
		return
	}
	h.acked(ss)
}

func (h *harness) revokeSubject(ctx context.Context, subject string) {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	ss := h.takeSessions(func(s *session) bool { return s.subject == subject })
	if err := h.back.revokeSubject(ctx, subject); err != nil {
		h.failed(ss)
		return
	}
	h.st.subjectRevokes.Add(1)
	h.acked(ss)
}

// retryDoubt retries revocations that were not acknowledged. One that now
// succeeds is acknowledged; one that finds the session gone (the first
// attempt took effect, its answer was lost) stays unasserted: its tokens
// are no longer sent.
func (h *harness) retryDoubt(ctx context.Context) {
	h.sessMu.Lock()
	defer h.sessMu.Unlock()
	h.poolMu.Lock()
	ds := h.doubt
	h.doubt = nil
	h.poolMu.Unlock()
	var again []*session
	for _, s := range ds {
		err := h.back.revoke(ctx, s.sid)
		switch {
		case err == nil:
			h.acked([]*session{s})
		case isRevoked(err):
			h.poolMu.Lock()
			delete(h.tokensOf, s)
			h.poolMu.Unlock()
		default:
			again = append(again, s)
		}
	}
	if len(again) > 0 {
		h.poolMu.Lock()
		h.doubt = append(h.doubt, again...)
		h.poolMu.Unlock()
	}
}

func isRevoked(err error) bool {
	return errors.Is(err, core.ErrSessionRevoked) && !errors.Is(err, core.ErrUnavailable)
}

// ---- faults ----

// until sleeps until frac of the cycle that began at begin; false when the
// run is over.
func (h *harness) until(ctx context.Context, begin time.Time, frac float64) bool {
	t := time.NewTimer(time.Until(begin.Add(time.Duration(frac * float64(cycle)))))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// faults runs the schedule, one cycle after another:
//
//	0.00  planned rotation: a new key is published, and signs new tokens
//	      once the authenticator holds it (fetched on an unknown-kid refetch)
//	0.35  the JWKS server stops (connection refused)
//	0.40  emergency rotation while it is down: a new key signs at once, so
//	      its tokens name a kid the authenticator cannot fetch yet (the
//	      outage outlasts UnknownKeyRefresh: refetches fail meanwhile)
//	0.45  the oldest keys are taken out of the JWKS (all but the two newest)
//	0.55  the session backend stops as well (Redis: SIGKILL; HTTP endpoint:
//	      closed), or, for the MemoryStore, a burst of RevokeSubject
//	0.70  the backend starts again on the same port; the schedule waits
//	      (bounded) until the canary session is served on both routes
//	0.80  the JWKS server starts again on the same address
func (h *harness) faults(ctx context.Context) {
	for {
		begin := time.Now()
		k := h.publishKey()
		h.waitHeld(ctx, k, cycle*30/100)
		h.setSigner(k, "planned")
		if !h.until(ctx, begin, 0.35) {
			return
		}
		h.jwks.Stop()
		h.st.jwksStops.Add(1)
		h.debugf("JWKS server stopped")
		ok := h.until(ctx, begin, 0.40)
		if ok {
			h.setSigner(h.publishKey(), "emergency, JWKS down")
			h.st.unknownKidRounds.Add(1)
			ok = h.until(ctx, begin, 0.45)
		}
		if ok {
			h.removeOldKeys()
			ok = h.until(ctx, begin, 0.55)
		}
		if ok && h.back.restartable() {
			h.winMu.Lock()
			h.backendDown = append(h.backendDown, window{from: h.stamp()})
			h.winMu.Unlock()
			h.back.stop()
			h.st.backendStops.Add(1)
			h.debugf("backend stopped")
			ok = h.until(ctx, begin, 0.70)
			if err := h.back.start(); err != nil {
				h.violate("backend restart: %v", err)
				h.restartJWKS()
				return
			}
			h.debugf("backend restarted")
			h.waitRecovered()
			h.debugf("recovered")
		} else if ok {
			// The MemoryStore cannot go down: a burst of revocations instead.
			for i := range 3 {
				h.revokeSubject(ctx, "user-"+strconv.Itoa((int(h.stamp())+i)%8))
			}
			ok = h.until(ctx, begin, 0.70)
		}
		if ok {
			ok = h.until(ctx, begin, 0.80)
		}
		h.restartJWKS()
		if !ok || !h.until(ctx, begin, 1) {
			return
		}
	}
}

func (h *harness) restartJWKS() {
	h.debugf("JWKS server restarting")
	if err := h.jwks.Start(); err != nil {
		h.violate("JWKS server restart: %v", err)
	}
}

// waitRecovered probes the canary session on both routes until both are
// served, then closes the backend-down window (bounded wait).
func (h *harness) waitRecovered() {
	began := time.Now()
	deadline := began.Add(recoveryBound)
	for {
		if k := h.knownKey(); k != nil {
			tk := h.canaryTokens[k.ID]
			if tk == nil {
				tk = h.mint(k, h.canary, kCanary)
				h.canaryTokens[k.ID] = tk
			}
			served := true
			for _, in := range h.inst {
				a, _, _, err1 := h.send(in, tk.raw, false)
				b, _, _, err2 := h.send(in, tk.raw, true)
				if err1 != nil || err2 != nil || a != http.StatusOK || b != http.StatusOK {
					h.debugf("canary (key %s) on instance %d: plain %d %v, sensitive %d %v", k.ID, in.idx, a, err1, b, err2)
					served = false
				}
			}
			if served {
				break
			}
		}
		if time.Now().After(deadline) {
			h.violate("the service did not recover within %v of the backend's restart", recoveryBound)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := int64(time.Since(began)); d > h.st.maxRecovery.Load() {
		h.st.maxRecovery.Store(d)
	}
	h.winMu.Lock()
	h.backendDown[len(h.backendDown)-1].to = h.stamp()
	h.winMu.Unlock()
}

// heldByAll reports whether every instance holds ks now.
func (h *harness) heldByAll(ks *keyState) bool {
	for _, in := range h.inst {
		if ks.firstSeen[in.idx].Load() == 0 || ks.gone[in.idx].Load() != 0 {
			return false
		}
	}
	return true
}

// knownKey returns a key every authenticator holds, for the canary.
//
// A key still published is preferred; else (every held key was taken out of
// the JWKS while it is down, before the new ones could be fetched) a removed
// key the authenticators still hold: they keep it until they can refetch.
func (h *harness) knownKey() *authtest.Key {
	h.keysMu.Lock()
	defer h.keysMu.Unlock()
	for i := len(h.order) - 1; i >= 0; i-- {
		ks := h.order[i]
		if ks.removed.Load() == 0 && h.heldByAll(ks) {
			return ks.key
		}
	}
	for i := len(h.gone) - 1; i >= 0; i-- {
		if ks := h.gone[i]; h.heldByAll(ks) {
			return ks.key
		}
	}
	return nil
}

var rotationAlgs = []string{"ES256", "EdDSA"}

// publishKey adds a new key to the JWKS (not yet signing).
func (h *harness) publishKey() *authtest.Key {
	h.keysMu.Lock()
	alg := rotationAlgs[h.nextAlg%len(rotationAlgs)]
	h.nextAlg++
	h.keysMu.Unlock()
	k := h.iss.AddKey(alg)
	h.addKey(k)
	h.debugf("published %s", k.ID)
	return k
}

// waitHeld waits (at most d) until the authenticator holds k.
func (h *harness) waitHeld(ctx context.Context, k *authtest.Key, d time.Duration) {
	ks := h.keyState(k.ID)
	deadline := time.Now().Add(d)
	for !h.heldByAll(ks) && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// setSigner makes k sign new tokens: new sessions get tokens of k, and a
// quarter of the live sessions get one too (a token refresh).
func (h *harness) setSigner(k *authtest.Key, why string) {
	h.keysMu.Lock()
	h.signer = k
	h.keysMu.Unlock()
	h.st.rotations.Add(1)
	h.debugf("%s signs (%s)", k.ID, why)
	h.poolMu.RLock()
	sess := slices.Clone(h.sessions)
	h.poolMu.RUnlock()
	minted := map[*session]*token{}
	for i, s := range sess {
		if i%4 == 0 {
			minted[s] = h.mint(k, s, kGood)
		}
	}
	h.poolMu.Lock()
	for s, tk := range minted {
		if _, live := h.tokensOf[s]; live {
			h.tokensOf[s] = append(h.tokensOf[s], tk)
		}
	}
	h.rebuildGoodLocked()
	h.poolMu.Unlock()
	h.refreshBadPools()
}

func (h *harness) signerKey() *authtest.Key {
	h.keysMu.Lock()
	defer h.keysMu.Unlock()
	return h.signer
}

// removeOldKeys takes every key but the two newest out of the JWKS; their
// tokens become the rotated-out pool.
func (h *harness) removeOldKeys() {
	h.keysMu.Lock()
	var gone []*keyState
	if n := len(h.order); n > 2 {
		gone = slices.Clone(h.order[:n-2])
		h.order = slices.Clone(h.order[n-2:])
	}
	h.keysMu.Unlock()
	if len(gone) == 0 {
		return
	}
	h.keysMu.Lock()
	h.gone = append(h.gone, gone...)
	h.keysMu.Unlock()
	isGone := map[string]bool{}
	for _, ks := range gone {
		h.iss.RemoveKey(ks.key.ID)
		h.debugf("removed %s from the JWKS", ks.key.ID)
		ks.removed.Store(h.stamp())
		isGone[ks.key.ID] = true
		h.st.removals.Add(1)
	}
	h.poolMu.Lock()
	defer h.poolMu.Unlock()
	for s, toks := range h.tokensOf {
		keep := toks[:0]
		for _, tk := range toks {
			if isGone[tk.kid] {
				h.pools[cRotated] = append(h.pools[cRotated], tk)
			} else {
				keep = append(keep, tk)
			}
		}
		h.tokensOf[s] = keep
	}
	if n := len(h.pools[cRotated]); n > 128 {
		h.pools[cRotated] = slices.Clone(h.pools[cRotated][n-128:])
	}
	h.rebuildGoodLocked()
}

// ---- monitor: what the authenticator's key set holds, and the peaks ----

func (h *harness) monitor(ctx context.Context) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var ms runtime.MemStats
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, in := range h.inst {
			held := map[string]bool{}
			for _, is := range in.auth.Status().Issuers {
				for _, kid := range is.KeyIDs {
					held[kid] = true
				}
			}
			now := h.stamp()
			h.keysMu.Lock()
			for kid, ks := range h.keys {
				if held[kid] {
					if ks.firstSeen[in.idx].CompareAndSwap(0, now) {
						h.debugf("key %s now held by instance %d", kid, in.idx)
					}
				} else if ks.firstSeen[in.idx].Load() != 0 {
					if ks.gone[in.idx].CompareAndSwap(0, now) {
						h.debugf("key %s now dropped by instance %d", kid, in.idx)
					}
				}
			}
			h.keysMu.Unlock()
		}
		if n%50 == 0 {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > h.st.peakHeap.Load() {
				h.st.peakHeap.Store(ms.HeapAlloc)
			}
			if g := int64(runtime.NumGoroutine()); g > h.st.peakGoroutines.Load() {
				h.st.peakGoroutines.Store(g)
			}
		}
	}
}

// ---- memory and goroutines ----

// settle collects garbage and returns the goroutine count and the live heap
// in MiB.
func settle() (int, float64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), float64(ms.HeapAlloc) / (1 << 20)
}

// waitGoroutines waits (bounded) for the goroutine count to fall to max.
func waitGoroutines(max int, bound time.Duration) (int, bool) {
	deadline := time.Now().Add(bound)
	for {
		n := runtime.NumGoroutine()
		if n <= max {
			return n, true
		}
		if time.Now().After(deadline) {
			return n, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
