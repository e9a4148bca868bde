package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/core/storetest"
	"github.com/redis/go-redis/v9"
)

// A real Redis Cluster: three masters and three replicas, six redis-server
// processes on free loopback ports, formed by redis-cli --cluster create
// (issue #22). cluster-node-timeout is 1000 ms, so a killed master's
// replica is promoted within a few seconds.

// cluster6 is a private 3-master, 3-replica cluster owned by a test.
type cluster6 struct {
	t     testing.TB
	nodes []*redisServer
}

func startCluster6(t testing.TB) *cluster6 {
	t.Helper()
	bin := redisBinary(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		msg := "redis-cli not found: install it (apt-get install redis-tools) to form the 6-node cluster"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c := &cluster6{t: t}
	var addrs []string
	for range 6 {
		r := &redisServer{t: t, bin: bin, port: freePort(t), dir: t.TempDir()}
		r.args = []string{"--cluster-enabled", "yes", "--cluster-config-file", r.dir + "/nodes.conf",
			"--cluster-node-timeout", "1000", "--repl-diskless-sync-delay", "0"}
		r.Start()
		t.Cleanup(r.Stop)
		c.nodes = append(c.nodes, r)
		addrs = append(addrs, r.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitHealthy(30 * time.Second)
	// A replica not yet synchronised refuses to fail over (its data would
	// be too old): wait until every replica's link to its master is up.
	waitUntil(t, 30*time.Second, "every replica synchronised", func() bool {
		replicas := 0
		for _, a := range addrs {
			info, err := c.node(a).Info(context.Background(), "replication").Result()
			if err != nil {
				return false
			}
			if strings.Contains(info, "role:slave") {
				if !strings.Contains(info, "master_link_status:up") || strings.Contains(info, "master_sync_in_progress:1") {
					return false
				}
				replicas++
			}
		}
		return replicas == 3
	})
	return c
}

func (c *cluster6) addrs() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, n.Addr())
	}
	return out
}

// node returns a plain client of one node, closed at the end of the test.
func (c *cluster6) node(addr string) *redis.Client {
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second})
	c.t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// alive lists the nodes whose process runs.
func (c *cluster6) alive() []*redisServer {
	var out []*redisServer
	for _, n := range c.nodes {
		n.mu.Lock()
		up := n.cmd != nil
		n.mu.Unlock()
		if up {
			out = append(out, n)
		}
	}
	return out
}

// slots returns the cluster's slot map as a living node sees it.
func (c *cluster6) slots() []redis.ClusterSlot {
	c.t.Helper()
	for _, n := range c.alive() {
		s, err := c.node(n.Addr()).ClusterSlots(context.Background()).Result()
		if err == nil {
			return s
		}
	}
	c.t.Fatal("no living node answers CLUSTER SLOTS")
	return nil
}

// owner returns the address of the master serving slot.
func (c *cluster6) owner(slot int) string {
	c.t.Helper()
	for _, s := range c.slots() {
		if slot >= int(s.Start) && slot <= int(s.End) {
			return s.Nodes[0].Addr
		}
	}
	c.t.Fatalf("slot %d has no owner", slot)
	return ""
}

// waitHealthy waits until every living node reports cluster_state:ok, all
// 16384 slots served by three masters, and every living node agrees on the
// slot map.
func (c *cluster6) waitHealthy(d time.Duration) {
	c.t.Helper()
	ctx := context.Background()
	waitUntil(c.t, d, "cluster healthy", func() bool {
		var first string
		for _, n := range c.alive() {
			cl := c.node(n.Addr())
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
				return false
			}
			ss, err := cl.ClusterSlots(ctx).Result()
			if err != nil || len(ss) < 3 {
				return false
			}
			masters := map[string]bool{}
			var b strings.Builder
			for _, s := range ss {
				masters[s.Nodes[0].Addr] = true
				fmt.Fprintf(&b, "%d-%d:%s;", s.Start, s.End, s.Nodes[0].Addr)
			}
			if len(masters) != 3 {
				return false
			}
			if first == "" {
				first = b.String()
			} else if first != b.String() {
				return false
			}
		}
		return true
	})
}

func (c *cluster6) server(addr string) *redisServer {
	for _, n := range c.nodes {
		if n.Addr() == addr {
			return n
		}
	}
	c.t.Fatalf("no node %s", addr)
	return nil
}

// kill SIGKILLs the node at addr (no shutdown, no last write).
func (c *cluster6) kill(addr string) {
	n := c.server(addr)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	_ = n.cmd.Wait()
	n.cmd = nil
}

// moveSlot migrates one slot and its keys from one master to another the
// way redis-cli --cluster reshard does (SETSLOT IMPORTING/MIGRATING,
// MIGRATE in batches, SETSLOT NODE everywhere), pausing between batches so
// that traffic meets the slot half-moved (ASK redirections).
func (c *cluster6) moveSlot(slot int, from, to string) {
	c.t.Helper()
	ctx := context.Background()
	src, dst := c.node(from), c.node(to)
	srcID, err := src.Do(ctx, "CLUSTER", "MYID").Text()
	must(c.t, err)
	dstID, err := dst.Do(ctx, "CLUSTER", "MYID").Text()
	must(c.t, err)
	must(c.t, dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err())
	must(c.t, src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err())
	host, port, _ := strings.Cut(to, ":")
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, 5).Result()
		must(c.t, err)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		must(c.t, src.Do(ctx, args...).Err())
		time.Sleep(2 * time.Millisecond)
	}
	for _, n := range c.alive() {
		_ = c.node(n.Addr()).Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err()
	}
}

// clusterClient6 returns a ClusterClient of the whole cluster (each
// simulated process its own), with tight timeouts so that a dead master
// costs a request a bounded wait. ClusterStateReloadInterval keeps
// go-redis's default (60s): the store itself asks for a reload of the slot
// map when a call fails on a connection (Store.reroute), so a failed-over
// master's slots are routed to its promoted replica within about a second,
// not up to a minute later (see docs/scale.md).
func clusterClient6(t testing.TB, c *cluster6) *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.addrs(), DialTimeout: 300 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRedirects: 8})
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// newClusterInstance is newInstance on the 6-node cluster.
func newClusterInstance(t testing.TB, c *cluster6, iss *authtest.Issuer, o Options) *instance {
	t.Helper()
	s, err := New(context.Background(), clusterClient6(t, c), quiet(o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cfg := iss.Config()
	cfg.Sessions = s
	cfg.Revocations = s
	if os.Getenv("REDISSTORE_TEST_LOG") == "" {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &instance{t: t, store: s, auth: a}
}

func keySlot(t testing.TB, c *cluster6, key string) int {
	t.Helper()
	n, err := c.node(c.alive()[0].Addr()).ClusterKeySlot(context.Background(), key).Result()
	must(t, err)
	return int(n)
}

// The whole store contract on three masters with replicas.
func TestCluster6Conformance(t *testing.T) {
	c := startCluster6(t)
	storetest.Run(t, func(t *testing.T, opts core.StoreOptions) core.SessionStore {
		s, err := New(context.Background(), clusterClient6(t, c), quiet(Options{
			IdleTimeout: opts.IdleTimeout, AbsoluteTimeout: opts.AbsoluteTimeout, MaxSessions: opts.MaxSessions,
			EvictOldest: opts.EvictOldest, TouchInterval: opts.TouchInterval, Audit: opts.Audit, Now: opts.Now,
		}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

// Two authenticators, each with its own ClusterClient: a revocation made
// at A is refused at B on a plain route (B's deny set, fed by the stream on
// whichever master holds its slot) and on a sensitive one (live check on
// the master holding the session's slot). Sessions of many subjects spread
// over all three masters; RevokeSubject ends every session of one subject,
// all of which share its hash tag, hence one slot (the design: one script,
// atomic, never CROSSSLOT).
func TestCluster6FeedAndRevokeSubjectAcrossSlots(t *testing.T) {
	c := startCluster6(t)
	iss := authtest.New(t)
	o := Options{Prefix: testPrefix()}
	a := newClusterInstance(t, c, iss, o)
	b := newClusterInstance(t, c, iss, o)
	waitUntil(t, 10*time.Second, "B's feed caught up", func() bool { return feedCurrent(b.store) })

	masters := map[string]bool{}
	type login struct {
		sess *core.Session
		tok  string
	}
	var victims []login
	for i := range 30 {
		s, tok := a.login(iss, fmt.Sprintf("user-%d", i))
		tag, _ := parseSID(s.ID)
		masters[c.owner(keySlot(t, c, a.store.sessKey(tag, s.ID)))] = true
		victims = append(victims, login{s, tok})
	}
	if len(masters) != 3 {
		t.Fatalf("30 subjects landed on %d masters, want all 3", len(masters))
	}
	streamSlot := keySlot(t, c, a.store.stream)
	for _, v := range victims[:10] {
		if st := b.status(v.tok, false); st != http.StatusOK {
			t.Fatalf("B refuses a live session: %d", st)
		}
		must(t, a.store.Revoke(context.Background(), v.sess.ID))
		waitUntil(t, 5*time.Second, "B refuses the revoked session on a plain route", func() bool {
			return b.status(v.tok, false) == http.StatusUnauthorized
		})
		if st := b.status(v.tok, true); st != http.StatusUnauthorized {
			t.Fatalf("B's sensitive route admits a revoked session: %d", st)
		}
	}
	for _, v := range victims[10:] {
		if st := b.status(v.tok, true); st != http.StatusOK {
			t.Fatalf("a session never revoked is refused at B: %d", st)
		}
	}

	// One subject, 40 sessions: one tag, one slot.
	var toks []string
	slots := map[int]bool{}
	for range 40 {
		s, tok := a.login(iss, "carol")
		tag, _ := parseSID(s.ID)
		slots[keySlot(t, c, a.store.sessKey(tag, s.ID))] = true
		toks = append(toks, tok)
	}
	sh := subjectHash("carol")
	slots[keySlot(t, c, a.store.subjectKey(sh))] = true
	if len(slots) != 1 {
		t.Fatalf("one subject's keys span %d slots: RevokeSubject's script would be refused CROSSSLOT", len(slots))
	}
	for s := range slots {
		t.Logf("carol's 40 sessions and her session set: slot %d on %s; revocation stream: slot %d on %s",
			s, c.owner(s), streamSlot, c.owner(streamSlot))
	}
	n, err := a.store.RevokeSubject(context.Background(), "carol")
	if err != nil || n != 40 {
		t.Fatalf("RevokeSubject = %d, %v; want 40", n, err)
	}
	for _, tok := range toks {
		waitUntil(t, 5*time.Second, "B refuses each of carol's sessions", func() bool {
			return b.status(tok, false) == http.StatusUnauthorized
		})
		if st := b.status(tok, true); st != http.StatusUnauthorized {
			t.Fatalf("B's sensitive route admits one of carol's revoked sessions: %d", st)
		}
	}
	for _, v := range victims[10:] {
		if st := b.status(v.tok, false); st != http.StatusOK {
			t.Fatalf("RevokeSubject(carol) refused another subject's session: %d", st)
		}
	}
}

// traffic is the load the failover and resharding tests run: A revokes
// sessions one after another while readers ask B for them on sensitive
// routes. Every admission is checked against the revocations A had
// acknowledged before the request started: such a session admitted is a
// violation of the revocation rule.
type traffic struct {
	t      *testing.T
	iss    *authtest.Issuer
	a, b   *instance
	sess   []*core.Session
	toks   []string
	ackAt  []atomic.Int64 // unix nanos of A's acknowledgment of the revocation, 0: not yet
	failed []atomic.Bool  // the Revoke call failed: state unknown until retried
	pubErr []atomic.Bool  // it failed after the script, publishing the stream entry

	admitted, refused401, refused503, revokeErr atomic.Int64
	mu                                          sync.Mutex
	violations                                  []string
}

func newTraffic(t *testing.T, a, b *instance, iss *authtest.Issuer, n int) *traffic {
	tr := &traffic{t: t, iss: iss, a: a, b: b, ackAt: make([]atomic.Int64, n), failed: make([]atomic.Bool, n), pubErr: make([]atomic.Bool, n)}
	for i := range n {
		s, tok := a.login(iss, "u"+strconv.Itoa(i))
		tr.sess = append(tr.sess, s)
		tr.toks = append(tr.toks, tok)
	}
	return tr
}

// run drives the traffic until stop is closed; it returns when every
// goroutine has ended.
func (tr *traffic) run(stop <-chan struct{}) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the revoker: every other session, in order, paced
		defer wg.Done()
		for i := 0; i < len(tr.sess); i += 2 {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			if err := tr.a.store.Revoke(context.Background(), tr.sess[i].ID); err != nil {
				tr.failed[i].Store(true)
				tr.pubErr[i].Store(strings.Contains(err.Error(), "publishing the revocation failed"))
				tr.revokeErr.Add(1)
				continue
			}
			tr.ackAt[i].Store(time.Now().UnixNano())
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := rand.IntN(len(tr.sess))
				start := time.Now().UnixNano()
				ack := tr.ackAt[i].Load()
				switch st := tr.b.status(tr.toks[i], true); st {
				case http.StatusOK:
					tr.admitted.Add(1)
					if ack != 0 && ack < start {
						tr.mu.Lock()
						tr.violations = append(tr.violations, fmt.Sprintf("session %d admitted at B, revoked and acknowledged %v before the request", i, time.Duration(start-ack)))
						tr.mu.Unlock()
					}
				case http.StatusUnauthorized:
					tr.refused401.Add(1)
				case http.StatusServiceUnavailable:
					tr.refused503.Add(1)
				default:
					tr.mu.Lock()
					tr.violations = append(tr.violations, fmt.Sprintf("unexpected status %d", st))
					tr.mu.Unlock()
				}
			}
		}()
	}
	<-stop
	wg.Wait()
}

// verify checks, once the cluster is healthy again, that nothing was lost:
// revocations whose call failed are retried (their state was unknown);
// then every revoked session is refused at B on sensitive routes (the
// store) and on plain ones (B's deny set, fed by the stream), and every
// session never revoked is still admitted.
func (tr *traffic) verify() {
	t := tr.t
	for i := range tr.sess {
		if tr.failed[i].Load() && tr.ackAt[i].Load() == 0 {
			deadline := time.Now().Add(10 * time.Second)
			for {
				err := tr.a.store.Revoke(context.Background(), tr.sess[i].ID)
				if err == nil || errorsIsRevoked(err) {
					tr.ackAt[i].Store(time.Now().UnixNano())
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("retrying a failed revocation: %v", err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	waitUntil(t, 15*time.Second, "B's feed caught up after the disturbance", func() bool { return feedCurrent(tr.b.store) })
	revoked, unpublished := 0, 0
	for i := range tr.sess {
		if tr.ackAt[i].Load() != 0 {
			revoked++
			if st := tr.b.status(tr.toks[i], true); st != http.StatusUnauthorized {
				t.Errorf("revocation of session %d missing afterwards at B (sensitive route): %d", i, st)
			}
			if tr.pubErr[i].Load() {
				unpublished++ // Revoke failed publishing, before ending the session; the retry published it
			}
			waitUntil(t, 10*time.Second, "B's deny set has every acknowledged revocation", func() bool {
				return tr.b.status(tr.toks[i], false) == http.StatusUnauthorized
			})
		} else if i%2 == 1 {
			if st := tr.b.status(tr.toks[i], true); st != http.StatusOK {
				t.Errorf("session %d, never revoked, is refused afterwards: %d", i, st)
			}
		}
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, v := range tr.violations {
		t.Error(v)
	}
	t.Logf("traffic at B: %d admitted, %d refused 401, %d refused 503; %d revocations acknowledged, %d Revoke calls failed (retried after), "+
		"%d of them in publishing (the session left live, published and ended by the retry)",
		tr.admitted.Load(), tr.refused401.Load(), tr.refused503.Load(), revoked, tr.revokeErr.Load(), unpublished)
	if tr.admitted.Load() == 0 || tr.refused401.Load() == 0 {
		t.Fatal("the traffic did not exercise both admissions and refusals")
	}
}

// waitDialersGone returns a cleanup waiting (at most 5s) for go-redis's
// background re-dialers of the dead master to notice their pool closed
// (they sleep 1s between attempts), so that goleak sees none.
func waitDialersGone(t *testing.T) func() {
	return func() {
		deadline := time.Now().Add(5 * time.Second)
		buf := make([]byte, 1<<20)
		for time.Now().Before(deadline) {
			n := runtime.Stack(buf, true)
			if !strings.Contains(string(buf[:n]), "pool.(*ConnPool).tryDial") {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Log("go-redis re-dialers still running after 5s")
	}
}

// errorsIsRevoked: a retried revocation that finds the session already
// gone (the first attempt had in fact succeeded).
func errorsIsRevoked(err error) bool {
	return err != nil && strings.Contains(err.Error(), "unknown, revoked or expired")
}

// Failover under traffic: the master holding the revocation stream's slot
// is SIGKILLed while A revokes and B serves sensitive requests; its replica
// is promoted automatically (cluster-node-timeout 1000 ms). Requests
// meanwhile may be refused 503; none may admit a session revoked before it
// arrived, and afterwards no acknowledged revocation may be missing.
func TestCluster6FailoverUnderTraffic(t *testing.T) {
	t.Cleanup(waitDialersGone(t)) // registered first: runs after the clients close
	c := startCluster6(t)
	iss := authtest.New(t)
	o := Options{Prefix: testPrefix(), CommandTimeout: time.Second}
	a := newClusterInstance(t, c, iss, o)
	b := newClusterInstance(t, c, iss, o)
	waitUntil(t, 10*time.Second, "B's feed caught up", func() bool { return feedCurrent(b.store) })
	tr := newTraffic(t, a, b, iss, 400)

	streamSlot := keySlot(t, c, a.store.stream)
	victim := c.owner(streamSlot)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { tr.run(stop); close(done) }()
	time.Sleep(300 * time.Millisecond)
	killedAt := time.Now()
	c.kill(victim)
	deadline := time.Now().Add(30 * time.Second)
	for c.owner(streamSlot) == victim {
		if time.Now().After(deadline) {
			nodes, _ := c.node(c.alive()[0].Addr()).ClusterNodes(context.Background()).Result()
			t.Fatalf("no replica promoted in the killed master's place within 30s:\n%s", nodes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.waitHealthy(30 * time.Second)
	promoted := c.owner(streamSlot)
	t.Logf("killed master %s (holding the stream); replica %s promoted, cluster healthy after %v",
		victim, promoted, time.Since(killedAt).Round(time.Millisecond))
	if promoted == victim {
		t.Fatal("the stream's slot is still served by the killed master")
	}
	time.Sleep(500 * time.Millisecond) // traffic on the promoted replica
	close(stop)
	<-done
	tr.verify()
}

// Resharding under traffic: the revocation stream's slot and the slots of
// 40 sessions move to another master, key by key (MIGRATE, with ASK
// redirections while a slot is half-moved, MOVED after), while A revokes
// and B serves sensitive requests. The same guarantees as a failover.
func TestCluster6ReshardUnderTraffic(t *testing.T) {
	c := startCluster6(t)
	iss := authtest.New(t)
	o := Options{Prefix: testPrefix(), CommandTimeout: time.Second}
	a := newClusterInstance(t, c, iss, o)
	b := newClusterInstance(t, c, iss, o)
	waitUntil(t, 10*time.Second, "B's feed caught up", func() bool { return feedCurrent(b.store) })
	tr := newTraffic(t, a, b, iss, 400)

	streamSlot := keySlot(t, c, a.store.stream)
	slots := []int{streamSlot}
	seen := map[int]bool{streamSlot: true}
	for _, s := range tr.sess {
		if len(slots) > 40 {
			break
		}
		tag, _ := parseSID(s.ID)
		sl := keySlot(t, c, a.store.sessKey(tag, s.ID))
		if !seen[sl] {
			seen[sl] = true
			slots = append(slots, sl)
		}
	}
	var mastersList []string
	ms := map[string]bool{}
	for _, s := range c.slots() {
		if !ms[s.Nodes[0].Addr] {
			ms[s.Nodes[0].Addr] = true
			mastersList = append(mastersList, s.Nodes[0].Addr)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { tr.run(stop); close(done) }()
	time.Sleep(200 * time.Millisecond)
	moved := 0
	for _, sl := range slots {
		from := c.owner(sl)
		to := mastersList[0]
		if to == from {
			to = mastersList[1]
		}
		c.moveSlot(sl, from, to)
		moved++
	}
	c.waitHealthy(30 * time.Second)
	if owner := c.owner(streamSlot); owner != mastersList[0] && owner != mastersList[1] {
		t.Fatalf("the stream's slot did not move: on %s", owner)
	}
	t.Logf("moved %d slots (the stream's among them) while traffic ran", moved)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	tr.verify()
}

// A revocation whose stream entry cannot be written is never lost: on a
// Cluster the stream and the session live on different masters, so the
// store publishes first and ends the session after. While the stream's
// master refuses writes (maxmemory reached), Revoke, RevokeSubject and an
// evicting Create fail and leave the sessions live; once it accepts writes
// again, the retried call publishes and ends them, and B's deny set
// refuses their tokens on plain routes. (Ending first and publishing after
// left them ended but unpublished: the retry found nothing to publish, and
// B admitted their tokens on every route without a live check.)
func TestCluster6PublishFailureIsRetried(t *testing.T) {
	c := startCluster6(t)
	iss := authtest.New(t)
	o := Options{Prefix: testPrefix(), CommandTimeout: time.Second}
	a := newClusterInstance(t, c, iss, o)
	b := newClusterInstance(t, c, iss, o)
	o.MaxSessions, o.EvictOldest = 1, true
	capped := newClusterInstance(t, c, iss, o)
	waitUntil(t, 10*time.Second, "B's feed caught up", func() bool { return feedCurrent(b.store) })

	streamMaster := c.owner(keySlot(t, c, a.store.stream))
	elsewhere := func(prefix string) string { // a subject whose slot another master holds
		for i := 0; ; i++ {
			sub := fmt.Sprintf("%s-%d", prefix, i)
			if c.owner(keySlot(t, c, a.store.subjectKey(subjectHash(sub)))) != streamMaster {
				return sub
			}
		}
	}
	full := func(on bool) {
		t.Helper()
		v := "0"
		if on {
			v = "1" // every write that needs memory is refused (OOM; noeviction)
		}
		must(t, c.node(streamMaster).ConfigSet(context.Background(), "maxmemory", v).Err())
	}
	t.Cleanup(func() { full(false) })
	ctx := context.Background()
	refusedAtB := func(what, tok string) {
		t.Helper()
		waitUntil(t, 10*time.Second, what+" refused at B on a plain route (deny set)", func() bool {
			return b.status(tok, false) == http.StatusUnauthorized
		})
		if st := b.status(tok, true); st != http.StatusUnauthorized {
			t.Errorf("%s: sensitive route at B answered %d, want 401", what, st)
		}
	}

	t.Run("Revoke", func(t *testing.T) {
		s, tok := a.login(iss, elsewhere("revoke"))
		full(true)
		if err := a.store.Revoke(ctx, s.ID); err == nil {
			t.Fatal("Revoke succeeded while the stream's master refused writes")
		}
		if st := b.status(tok, true); st != http.StatusOK {
			t.Fatalf("the failed Revoke left the session ended (sensitive route at B: %d); a retry could not publish it", st)
		}
		full(false)
		if err := a.store.Revoke(ctx, s.ID); err != nil {
			t.Fatalf("retried Revoke: %v", err)
		}
		refusedAtB("the revoked session", tok)
	})
	t.Run("RevokeSubject", func(t *testing.T) {
		sub := elsewhere("subject")
		var toks []string
		for range 3 {
			_, tok := a.login(iss, sub)
			toks = append(toks, tok)
		}
		full(true)
		if n, err := a.store.RevokeSubject(ctx, sub); err == nil || n != 0 {
			t.Fatalf("RevokeSubject while the stream's master refused writes = %d, %v; want 0 and an error", n, err)
		}
		full(false)
		if n, err := a.store.RevokeSubject(ctx, sub); err != nil || n != 3 {
			t.Fatalf("retried RevokeSubject = %d, %v; want 3", n, err)
		}
		for i, tok := range toks {
			refusedAtB(fmt.Sprintf("session %d of the subject", i), tok)
		}
	})
	t.Run("evicting Create", func(t *testing.T) {
		sub := elsewhere("capped")
		_, tok := capped.login(iss, sub)
		full(true)
		if _, _, err := capped.store.Create(ctx, core.SessionParams{Subject: sub, Issuer: iss.URL}); err == nil {
			t.Fatal("an evicting Create succeeded while the stream's master refused writes")
		}
		if st := b.status(tok, true); st != http.StatusOK {
			t.Fatalf("the failed Create evicted the old session unpublished (sensitive route at B: %d)", st)
		}
		full(false)
		if _, _, err := capped.store.Create(ctx, core.SessionParams{Subject: sub, Issuer: iss.URL}); err != nil {
			t.Fatalf("retried Create: %v", err)
		}
		refusedAtB("the evicted session", tok)
	})
}

// RD-04 on a Cluster: with WaitReplicas the stream entry and the session's
// end are each waited for on their own master's replica (WAIT on the
// connection that wrote, taken from the Cluster client), so once Revoke
// returns both replicas have the revocation; with the stream master's
// replica stopped, Revoke fails with ErrNotReplicated while the
// revocation is in force.
func TestCluster6WaitReplicas(t *testing.T) {
	c := startCluster6(t)
	iss := authtest.New(t)
	o := Options{Prefix: testPrefix(), CommandTimeout: time.Second, WaitReplicas: 1, WaitTimeout: 300 * time.Millisecond}
	a := newClusterInstance(t, c, iss, o)
	b := newClusterInstance(t, c, iss, o)
	waitUntil(t, 10*time.Second, "B's feed caught up", func() bool { return feedCurrent(b.store) })
	ctx := context.Background()
	replicaOf := func(key string) string { // from the master's INFO replication: slave0:ip=...,port=...
		info, err := c.node(c.owner(keySlot(t, c, key))).Info(ctx, "replication").Result()
		must(t, err)
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "slave0:"); ok {
				var ip, port string
				for _, f := range strings.Split(v, ",") {
					if x, ok := strings.CutPrefix(f, "ip="); ok {
						ip = x
					} else if x, ok := strings.CutPrefix(f, "port="); ok {
						port = x
					}
				}
				return ip + ":" + port
			}
		}
		t.Fatalf("the master of %s has no replica:\n%s", key, info)
		return ""
	}
	// readReplica runs f on one connection to the replica in READONLY mode.
	readReplica := func(addr string, f func(cn *redis.Conn) error) {
		t.Helper()
		cn := c.node(addr).Conn()
		defer cn.Close()
		must(t, cn.ReadOnly(ctx).Err())
		must(t, f(cn))
	}
	streamReplica := replicaOf(a.store.stream)

	s, tok := a.login(iss, "waited")
	tag, _ := parseSID(s.ID)
	sessKey := a.store.sessKey(tag, s.ID)
	sessReplica := replicaOf(sessKey)
	var before int64
	readReplica(streamReplica, func(cn *redis.Conn) (err error) { before, err = cn.XLen(ctx, a.store.stream).Result(); return err })
	must(t, a.store.Revoke(ctx, s.ID))
	readReplica(streamReplica, func(cn *redis.Conn) error {
		n, err := cn.XLen(ctx, a.store.stream).Result()
		if err == nil && n != before+1 {
			t.Errorf("RD-04: the stream master's replica has %d entries after Revoke returned, want %d", n, before+1)
		}
		return err
	})
	readReplica(sessReplica, func(cn *redis.Conn) error {
		n, err := cn.Exists(ctx, sessKey).Result()
		if err == nil && n != 0 {
			t.Error("RD-04: the session master's replica still holds the session after Revoke returned")
		}
		return err
	})

	s2, tok2 := a.login(iss, "unwaited")
	proc := c.server(streamReplica)
	proc.mu.Lock()
	must(t, proc.cmd.Process.Signal(syscall.SIGSTOP))
	proc.mu.Unlock()
	err := a.store.Revoke(ctx, s2.ID)
	perr := a.store.PublishRevocation(ctx, core.Revocation{Cutoff: true, Subject: "cut-while-stopped", Issuer: iss.URL})
	proc.mu.Lock()
	must(t, proc.cmd.Process.Signal(syscall.SIGCONT))
	proc.mu.Unlock()
	if !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("RD-04: Revoke with the stream's replica stopped: %v, want ErrNotReplicated", err)
	}
	if !errors.Is(perr, ErrNotReplicated) {
		t.Fatalf("RD-04: PublishRevocation with the stream's replica stopped: %v, want ErrNotReplicated (WAIT must run on the stream master's connection)", perr)
	}
	for _, tk := range []string{tok, tok2} {
		waitUntil(t, 10*time.Second, "the revocation in force at B (deny set)", func() bool {
			return b.status(tk, false) == http.StatusUnauthorized
		})
	}
}
