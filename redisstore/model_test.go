package redisstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/adapter"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storekit"
	"github.com/redis/go-redis/v9"
)

// TestRevocationModel is the model-based revocation test of issue 14. For
// each kind of backend (MemoryStore; Redis, one instance and two; an HTTP
// session endpoint; RFC 7662 introspection), a seeded random schedule of
// requests (plain and sensitive routes, JWT and opaque tokens, tokens from
// an issuer clock up to 20 s off), revocations (Revoke, RevokeSubject,
// endpoint-side, introspection-side) and faults (slow or dead backend, a
// stalled connection, a Redis restart without persistence, the stream
// trimmed) runs concurrently against real authenticators. Every request's
// start, end and answer, every revocation's acknowledgement and every
// feed delivery on each instance is recorded, and a checker asserts the
// revocation rule:
//
//   - a request on a route that checks live (sensitive routes, policy
//     Always, opaque tokens) is never admitted if it started after the
//     revocation of its session was acknowledged;
//   - a request on a route that sees only the feed is never admitted if it
//     started after the revocation reached that instance;
//   - once faults heal, every acknowledged revocation is refused on every
//     route of every instance (none lost).
//
// AUTHGATE_MODEL_SECONDS sets the time per backend (default 2);
// AUTHGATE_MODEL_SEED replays a seed (printed on failure). The seed fixes
// the schedule of operations; the interleaving is the machine's.
func TestRevocationModel(t *testing.T) {
	dur := 2 * time.Second
	if v := os.Getenv("AUTHGATE_MODEL_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("AUTHGATE_MODEL_SECONDS=%q: want a whole number of seconds", v)
		}
		dur = time.Duration(n) * time.Second
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("AUTHGATE_MODEL_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("AUTHGATE_MODEL_SEED=%q: want a number", v)
		}
		seed = n
	}
	for _, kind := range []string{"memory", "redis", "redis-2", "http", "introspection"} {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind, seed)
			w.run(dur)
			w.settle()
			if bad := w.check(); len(bad) > 0 {
				t.Errorf("%d violations of the revocation rule (reproduce: AUTHGATE_MODEL_SEED=%d go test -run 'TestRevocationModel/%s' ./redisstore):\n%s",
					len(bad), seed, kind, strings.Join(bad[:min(len(bad), 20)], "\n"))
			}
			t.Logf("%s", w.summary())
		})
	}
}

// cred is one credential of the model: a session and the token that names it.
type cred struct {
	sid, sub string
	token    string
	opaque   bool
}

// mInstance is one simulated process: an authenticator and what its feed
// delivered when.
type mInstance struct {
	name   string
	auth   *core.Authenticator
	always bool        // PolicyAlways: every route is checked live
	proxy  *delayProxy // between it and Redis; nil when direct or not Redis
	store  *Store      // its own Redis store (redis kinds)

	mu        sync.Mutex
	delivered map[string]time.Time // sid -> when the feed's revocation reached it
}

func (in *mInstance) observe(_ context.Context, e core.Event) {
	if e.Kind != core.EventRevocation || e.SessionID == "" {
		return
	}
	now := time.Now()
	in.mu.Lock()
	if _, ok := in.delivered[e.SessionID]; !ok {
		in.delivered[e.SessionID] = now
	}
	in.mu.Unlock()
}

func (in *mInstance) deliveredAt(sid string) (time.Time, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	t, ok := in.delivered[sid]
	return t, ok
}

// status runs one request through the authenticator as an adapter does.
func (in *mInstance) status(tok string, sensitive bool) int {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	ctx, err := adapter.Admit(in.auth, context.Background(), adapter.HTTPRequest(r), false)
	if err == nil && sensitive {
		err = core.Require(ctx, core.Requirements{Sensitive: true})
	}
	if err != nil {
		return adapter.Render(in.auth, err).Status
	}
	return http.StatusOK
}

// request is one recorded request.
type request struct {
	inst       int
	c          *cred
	sensitive  bool
	start, end time.Time
	status     int
}

// backend is what a kind of backend does for the model.
type backend struct {
	create        func(ctx context.Context, w *world, sub string, opaque bool) (*cred, error)
	revoke        func(ctx context.Context, w *world, c *cred) error
	revokeSubject func(ctx context.Context, w *world, sub string) error
	faults        map[string]func(w *world, rng *rand.Rand) (heal func())
	opaqueOnly    bool
	jwtOnly       bool
}

type world struct {
	t     *testing.T
	kind  string
	seed  uint64
	t0    time.Time
	iss   *authtest.Issuer
	insts []*mInstance
	be    backend

	adminMu sync.Mutex // admin operations (create, revoke) run one at a time
	mu      sync.Mutex
	creds   []*cred
	revoked map[string]time.Time // sid -> when its revocation was acknowledged
	reqs    []request
	faults  map[string]int
	errors  atomic.Int64 // admin calls that failed (faults)
}

func newWorld(t *testing.T, kind string, seed uint64) *world {
	w := &world{t: t, kind: kind, seed: seed, t0: time.Now(), revoked: map[string]time.Time{}, faults: map[string]int{}}
	w.iss = authtest.New(t)
	switch kind {
	case "memory":
		w.memory()
	case "redis":
		w.redis(1)
	case "redis-2":
		w.redis(2)
	case "http":
		w.http()
	case "introspection":
		w.introspection()
	}
	return w
}

// newInstance builds an authenticator from cfg with the model's observer.
func (w *world) newInstance(name string, cfg core.Config, always bool) *mInstance {
	in := &mInstance{name: name, always: always, delivered: map[string]time.Time{}}
	cfg.Observer = core.ObserverFunc(in.observe)
	if always {
		cfg.SessionPolicy = core.PolicyAlways
	}
	cfg.SessionCheck.Timeout = 2 * time.Second
	if os.Getenv("REDISSTORE_TEST_LOG") == "" {
		cfg.Logger = quiet(Options{}).Logger
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { a.Close() })
	in.auth = a
	w.insts = append(w.insts, in)
	return in
}

// jwt mints a token naming sid, from an issuer whose clock is up to 20 s
// off ours (within the default 30 s leeway).
func (w *world) jwt(rng *rand.Rand, sub, sid string) string {
	skew := time.Duration(rng.IntN(41)-20) * time.Second
	now := time.Now().Add(skew)
	return w.iss.Token(authtest.Claims{"sub": sub, "sid": sid, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
}

// storeCred is the credential of a session a store created: its opaque
// token, or a JWT naming it (rng, guarded by mu, picks the clock skew).
func (w *world) storeCred(mu *sync.Mutex, rng *rand.Rand, s *core.Session, tok, sub string, opaque bool, err error) (*cred, error) {
	if err != nil {
		return nil, err
	}
	c := &cred{sid: s.ID, sub: sub, token: tok, opaque: opaque}
	if !opaque {
		mu.Lock()
		c.token = w.jwt(rng, sub, s.ID)
		mu.Unlock()
	}
	return c, nil
}

func (w *world) memory() {
	store := core.NewMemoryStore(core.StoreOptions{Audit: core.AuditFunc(func(context.Context, core.AuditEvent) {})})
	w.t.Cleanup(func() { store.Close() })
	cfg := w.iss.Config()
	cfg.Sessions, cfg.Opaque = store, store
	w.newInstance("memory", cfg, false)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(w.seed, 1))
	w.be = backend{
		create: func(ctx context.Context, w *world, sub string, opaque bool) (*cred, error) {
			s, tok, err := store.Create(ctx, core.SessionParams{Subject: sub, Issuer: w.iss.URL})
			return w.storeCred(&mu, rng, s, tok, sub, opaque, err)
		},
		revoke: func(ctx context.Context, _ *world, c *cred) error { return store.Revoke(ctx, c.sid) },
		revokeSubject: func(ctx context.Context, _ *world, sub string) error {
			_, err := store.RevokeSubject(ctx, sub)
			return err
		},
	}
}

func (w *world) redis(n int) {
	srv := startRedis(w.t) // no persistence: a restart loses sessions and the stream
	o := Options{Prefix: testPrefix(), FeedBlock: 100 * time.Millisecond, CommandTimeout: 500 * time.Millisecond, FeedMaxLen: 100}
	admin := newClient(w.t, srv.Addr())
	for i := range n {
		addr := srv.Addr()
		var px *delayProxy
		if n == 1 || i == 1 {
			px = newDelayProxy(w.t, srv.Addr()) // B (or the only instance) is on a slow, stallable path
			addr = px.Addr()
		}
		var st *Store
		if n == 2 && i == 0 {
			// A's client ends calls at their context's deadline, so its live
			// checks run on the request's goroutine (core.ContextHonorer);
			// B's (and the only instance's) on goroutines of their own.
			c := redis.NewClient(&redis.Options{Addr: addr, ReadTimeout: time.Second, WriteTimeout: time.Second, ContextTimeoutEnabled: true})
			w.t.Cleanup(func() { _ = c.Close() })
			var err error
			if st, err = New(context.Background(), c, quiet(o)); err != nil {
				w.t.Fatal(err)
			}
			w.t.Cleanup(func() { _ = st.Close() })
		} else {
			st = newStore(w.t, addr, o)
		}
		cfg := w.iss.Config()
		cfg.Sessions, cfg.Opaque, cfg.Revocations = st, st, st
		in := w.newInstance(fmt.Sprintf("redis-%c", 'A'+i), cfg, n == 2 && i == 1) // two instances: B runs PolicyAlways
		in.proxy, in.store = px, st
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(w.seed, 2))
	pick := func() *Store {
		mu.Lock()
		defer mu.Unlock()
		return w.insts[rng.IntN(len(w.insts))].store
	}
	w.be = backend{
		create: func(ctx context.Context, w *world, sub string, opaque bool) (*cred, error) {
			s, tok, err := pick().Create(ctx, core.SessionParams{Subject: sub, Issuer: w.iss.URL})
			return w.storeCred(&mu, rng, s, tok, sub, opaque, err)
		},
		revoke: func(ctx context.Context, _ *world, c *cred) error { return pick().Revoke(ctx, c.sid) },
		revokeSubject: func(ctx context.Context, _ *world, sub string) error {
			_, err := pick().RevokeSubject(ctx, sub)
			return err
		},
		faults: map[string]func(w *world, rng *rand.Rand) func(){
			"redis restart (no persistence)": func(w *world, rng *rand.Rand) func() {
				srv.Stop()
				time.Sleep(time.Duration(20+rng.IntN(150)) * time.Millisecond)
				srv.Start()
				return func() {}
			},
			"stream trimmed": func(w *world, _ *rand.Rand) func() {
				_ = admin.XTrimMaxLen(context.Background(), o.Prefix+"revocations", 0).Err()
				return func() {}
			},
			"stalled or slow connection": func(w *world, rng *rand.Rand) func() {
				px := w.insts[len(w.insts)-1].proxy
				px.setDelay(time.Duration(rng.IntN(700)) * time.Millisecond)
				return func() { px.setDelay(0) }
			},
		},
	}
}

// endpoint is the model's remote backend: session (or token) states read
// at the start of each call, optionally slow or down.
type endpoint struct {
	mu    sync.Mutex
	alive map[string]bool // sid or token -> active
	slow  atomic.Int64    // ns added to each answer
	down  atomic.Bool
}

func (e *endpoint) read(key string) (active, ok bool) {
	if e.down.Load() {
		return false, false
	}
	e.mu.Lock()
	active = e.alive[key]
	e.mu.Unlock()
	if d := e.slow.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	return active, true
}

func (e *endpoint) set(key string, v bool) {
	e.mu.Lock()
	e.alive[key] = v
	e.mu.Unlock()
}

func endpointFaults() map[string]func(w *world, rng *rand.Rand) func() {
	return map[string]func(w *world, rng *rand.Rand) func(){
		"slow backend": func(w *world, rng *rand.Rand) func() {
			e := w.ep()
			e.slow.Store(int64(time.Duration(rng.IntN(300)) * time.Millisecond))
			return func() { e.slow.Store(0) }
		},
		"backend down": func(w *world, _ *rand.Rand) func() {
			e := w.ep()
			e.down.Store(true)
			return func() { e.down.Store(false) }
		},
	}
}

var endpoints sync.Map // *world -> *endpoint

func (w *world) ep() *endpoint { v, _ := endpoints.Load(w); return v.(*endpoint) }

func (w *world) http() {
	e := &endpoint{alive: map[string]bool{}}
	endpoints.Store(w, e)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		active, ok := e.read(strings.TrimPrefix(r.URL.Path, "/sessions/"))
		switch {
		case !ok:
			rw.WriteHeader(http.StatusInternalServerError)
		case active:
			rw.WriteHeader(http.StatusOK)
		default:
			rw.WriteHeader(http.StatusNotFound)
		}
	}))
	w.t.Cleanup(srv.Close)
	chk, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{URL: srv.URL + "/sessions/{sid}"})
	if err != nil {
		w.t.Fatal(err)
	}
	cfg := w.iss.Config()
	cfg.Sessions = chk
	w.newInstance("http", cfg, true) // no feed: every route checks live
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(w.seed, 3))
	bySub := map[string][]string{}
	w.be = backend{
		jwtOnly: true,
		create: func(_ context.Context, w *world, sub string, _ bool) (*cred, error) {
			sid := storekit.NewSessionID()
			e.set(sid, true)
			mu.Lock()
			defer mu.Unlock()
			bySub[sub] = append(bySub[sub], sid)
			return &cred{sid: sid, sub: sub, token: w.jwt(rng, sub, sid)}, nil
		},
		revoke: func(_ context.Context, _ *world, c *cred) error { e.set(c.sid, false); return nil },
		revokeSubject: func(_ context.Context, _ *world, sub string) error {
			mu.Lock()
			defer mu.Unlock()
			for _, sid := range bySub[sub] {
				e.set(sid, false)
			}
			return nil
		},
		faults: endpointFaults(),
	}
}

func (w *world) introspection() {
	e := &endpoint{alive: map[string]bool{}}
	endpoints.Store(w, e)
	var mu sync.Mutex
	meta := map[string][2]string{} // token -> sub, sid
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		tok := r.PostForm.Get("token")
		active, ok := e.read(tok)
		if !ok {
			rw.WriteHeader(http.StatusInternalServerError)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		if !active {
			fmt.Fprint(rw, `{"active":false}`)
			return
		}
		mu.Lock()
		m := meta[tok]
		mu.Unlock()
		fmt.Fprintf(rw, `{"active":true,"sub":%q,"sid":%q}`, m[0], m[1])
	}))
	w.t.Cleanup(srv.Close)
	in, err := core.NewIntrospector(core.IntrospectionOptions{Endpoint: srv.URL, ClientID: "rs", ClientSecret: "secret", Timeout: 2 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { in.Close() })
	w.newInstance("introspection", core.Config{Opaque: in}, false)
	bySub := map[string][]string{}
	w.be = backend{
		opaqueOnly: true,
		create: func(_ context.Context, w *world, sub string, _ bool) (*cred, error) {
			tok, _ := storekit.NewOpaqueToken()
			sid := storekit.NewSessionID()
			mu.Lock()
			meta[tok] = [2]string{sub, sid}
			bySub[sub] = append(bySub[sub], tok)
			mu.Unlock()
			e.set(tok, true)
			return &cred{sid: sid, sub: sub, token: tok, opaque: true}, nil
		},
		revoke: func(_ context.Context, _ *world, c *cred) error { e.set(c.token, false); return nil },
		revokeSubject: func(_ context.Context, _ *world, sub string) error {
			mu.Lock()
			toks := append([]string(nil), bySub[sub]...)
			mu.Unlock()
			for _, tok := range toks {
				e.set(tok, false)
			}
			return nil
		},
		faults: endpointFaults(),
	}
}

// run plays the schedule for d: request workers, one admin worker
// (create, revoke, revoke subject) and one fault worker.
func (w *world) run(d time.Duration) {
	ctx := context.Background()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	// A few credentials to start with.
	admin := rand.New(rand.NewPCG(w.seed, 10))
	for i := range 8 {
		w.create(ctx, admin, i)
	}
	for wk := range 4 {
		rng := rand.New(rand.NewPCG(w.seed, uint64(100+wk)))
		wg.Go(func() {
			for time.Now().Before(deadline) {
				c := w.pick(rng)
				r := request{inst: rng.IntN(len(w.insts)), c: c, sensitive: rng.IntN(3) == 0}
				r.start = time.Now()
				r.status = w.insts[r.inst].status(c.token, r.sensitive)
				r.end = time.Now()
				w.mu.Lock()
				w.reqs = append(w.reqs, r)
				w.mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for i := 8; time.Now().Before(deadline); i++ {
			switch n := admin.IntN(10); {
			case n < 4:
				w.create(ctx, admin, i)
			case n < 8:
				c := w.pick(admin)
				w.adminMu.Lock()
				err := w.be.revoke(ctx, w, c)
				w.ackLocked(err, c.sid)
				w.adminMu.Unlock()
			default:
				sub := fmt.Sprintf("user-%d", admin.IntN(6))
				w.adminMu.Lock()
				w.mu.Lock()
				var sids []string
				for _, c := range w.creds {
					if c.sub == sub {
						sids = append(sids, c.sid)
					}
				}
				w.mu.Unlock()
				err := w.be.revokeSubject(ctx, w, sub)
				w.ackLocked(err, sids...)
				w.adminMu.Unlock()
			}
			time.Sleep(time.Duration(admin.IntN(5)) * time.Millisecond)
		}
	})
	if len(w.be.faults) > 0 {
		names := make([]string, 0, len(w.be.faults))
		for name := range w.be.faults {
			names = append(names, name)
		}
		sort.Strings(names)
		frng := rand.New(rand.NewPCG(w.seed, 20))
		wg.Go(func() {
			for time.Now().Before(deadline) {
				time.Sleep(time.Duration(50+frng.IntN(250)) * time.Millisecond)
				name := names[frng.IntN(len(names))]
				heal := w.be.faults[name](w, frng)
				w.mu.Lock()
				w.faults[name]++
				w.mu.Unlock()
				time.Sleep(time.Duration(frng.IntN(300)) * time.Millisecond)
				heal()
			}
		})
	}
	wg.Wait()
}

// pick returns a credential: half the time one of the newest few, so that
// revocations often land on sessions with requests (and slow checks) in
// flight, the schedules in which a stale answer could be taken.
func (w *world) pick(rng *rand.Rand) *cred {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.creds)
	if rng.IntN(2) == 0 {
		return w.creds[n-1-rng.IntN(min(n, 4))]
	}
	return w.creds[rng.IntN(n)]
}

// create adds a credential (JWT or opaque, as the backend allows).
func (w *world) create(ctx context.Context, rng *rand.Rand, i int) {
	opaque := !w.be.jwtOnly && (w.be.opaqueOnly || rng.IntN(3) == 0)
	sub := fmt.Sprintf("user-%d", rng.IntN(6))
	w.adminMu.Lock()
	c, err := w.be.create(ctx, w, sub, opaque)
	w.adminMu.Unlock()
	if err != nil {
		w.errors.Add(1)
		return
	}
	w.mu.Lock()
	w.creds = append(w.creds, c)
	w.mu.Unlock()
}

// ackLocked records a revocation acknowledged now (the call returned
// without an error). A failed call proves nothing either way: it is not
// recorded (the rule speaks of acknowledged revocations).
func (w *world) ackLocked(err error, sids ...string) {
	if err != nil {
		w.errors.Add(1)
		return
	}
	now := time.Now()
	w.mu.Lock()
	for _, sid := range sids {
		if _, ok := w.revoked[sid]; !ok {
			w.revoked[sid] = now
		}
	}
	w.mu.Unlock()
}

// settle heals every fault and waits (bounded) for the feeds to catch up.
func (w *world) settle() {
	for _, in := range w.insts {
		if in.proxy != nil {
			in.proxy.setDelay(0)
		}
	}
	if _, ok := endpoints.Load(w); ok {
		w.ep().down.Store(false)
		w.ep().slow.Store(0)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, in := range w.insts {
		for in.auth.Status().Revocations.Behind > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// check returns the violations of the rule, one line each.
func (w *world) check() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var bad []string
	at := func(t time.Time) string { return t.Sub(w.t0).Round(time.Microsecond).String() }
	for _, r := range w.reqs {
		if r.status != http.StatusOK {
			continue
		}
		ack, ok := w.revoked[r.c.sid]
		if !ok || !r.start.After(ack) {
			continue
		}
		in := w.insts[r.inst]
		live := r.c.opaque || r.sensitive || in.always
		if live {
			bad = append(bad, fmt.Sprintf("%s: session %s admitted on a live-checked route (sensitive %v, opaque %v), request %s-%s, revocation acknowledged %s",
				in.name, r.c.sid, r.sensitive, r.c.opaque, at(r.start), at(r.end), at(ack)))
			continue
		}
		if d, ok := in.deliveredAt(r.c.sid); ok && r.start.After(d) {
			bad = append(bad, fmt.Sprintf("%s: session %s admitted on a plain route, request %s-%s, revocation delivered to this instance %s",
				in.name, r.c.sid, at(r.start), at(r.end), at(d)))
		}
	}
	// None lost: once healed, every acknowledged revocation is refused on
	// every route of every instance.
	bySid := map[string]*cred{}
	for _, c := range w.creds {
		bySid[c.sid] = c
	}
	for sid := range w.revoked {
		c := bySid[sid]
		for _, in := range w.insts {
			for _, sensitive := range []bool{false, true} {
				if st := in.status(c.token, sensitive); st == http.StatusOK {
					bad = append(bad, fmt.Sprintf("%s: revoked session %s still admitted after the faults healed (sensitive %v)", in.name, sid, sensitive))
				}
			}
		}
	}
	return bad
}

func (w *world) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ok, refused, unavailable, afterRevocation int
	for _, r := range w.reqs {
		switch r.status {
		case http.StatusOK:
			ok++
		case http.StatusServiceUnavailable:
			unavailable++
		default:
			refused++
		}
		if ack, found := w.revoked[r.c.sid]; found && r.start.After(ack) {
			afterRevocation++
		}
	}
	var fs []string
	for name, n := range w.faults {
		fs = append(fs, fmt.Sprintf("%s x%d", name, n))
	}
	sort.Strings(fs)
	return fmt.Sprintf("seed %d: %d requests (%d admitted, %d refused, %d 503; %d started after their revocation), %d credentials, %d revoked, %d admin calls refused or failed (session already ended, faults); faults: %s",
		w.seed, len(w.reqs), ok, refused, unavailable, afterRevocation, len(w.creds), len(w.revoked), w.errors.Load(), strings.Join(fs, ", "))
}
