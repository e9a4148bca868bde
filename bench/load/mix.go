package load

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Mix is the traffic mix of a load run. The shares are of all requests and
// are disjoint; what is left are returning clients on GET /me.
type Mix struct {
	// Clients is how many distinct clients send requests, each with one
	// token (and one session) for the whole run.
	Clients int
	// Fresh is the share of requests carrying a token the server has
	// never seen (a full signature verification), on GET /me only: the
	// pool of fresh tokens is shared by every server, and a MemoryStore
	// server's sessions are its own.
	Fresh float64
	// Sensitive is the share of requests from a returning client to GET
	// /sensitive, where authgate checks the session live in its store.
	Sensitive float64
	// Bad is the share of requests carrying a token that must be refused
	// (401): half expired, half with a signature that does not verify, on
	// GET /me.
	Bad float64
}

// DefaultMix is the mix of the published runs.
var DefaultMix = Mix{Clients: 1000, Fresh: 0.05, Sensitive: 0.10, Bad: 0.02}

func (m Mix) validate() error {
	if m.Clients < 1 {
		return fmt.Errorf("mix: %d clients", m.Clients)
	}
	for _, s := range []float64{m.Fresh, m.Sensitive, m.Bad} {
		if s < 0 || s > 1 {
			return fmt.Errorf("mix: share %v out of [0, 1]", s)
		}
	}
	if m.Fresh+m.Sensitive+m.Bad > 1 {
		return fmt.Errorf("mix: shares add up to more than 1")
	}
	return nil
}

func (m Mix) String() string {
	return fmt.Sprintf("%d clients; %.1f%% returning client GET /me, %.1f%% returning client GET /sensitive, %.1f%% fresh token GET /me, %.1f%% bad token GET /me (half expired, half bad signature)",
		m.Clients, 100*(1-m.Fresh-m.Sensitive-m.Bad), 100*m.Sensitive, 100*m.Fresh, 100*m.Bad)
}

// kind is the kind of a request of the mix.
type kind int

const (
	kindClient    kind = iota // a returning client on /me
	kindSensitive             // a returning client on /sensitive
	kindFresh                 // a never-seen token on /me
	kindBad                   // an expired or badly signed token on /me
	nKinds
)

var kindNames = [nKinds]string{"client", "sensitive", "fresh", "bad"}

// kindQuery marks each kind's URL, so that a result (which carries its
// URL) says which kind of request it answers; servers ignore the query.
var kindQuery = [nKinds]string{"?k=client", "?k=sensitive", "?k=fresh", "?k=bad"}

func kindOf(url string) (kind, bool) {
	i := strings.LastIndexByte(url, '?')
	if i < 0 {
		return 0, false
	}
	for k, q := range kindQuery {
		if url[i:] == q {
			return kind(k), true
		}
	}
	return 0, false
}

// expected is the status each contender must answer each kind with.
func expected(contender string, k kind) int {
	if k == kindBad && contender != None {
		return http.StatusUnauthorized
	}
	return http.StatusOK // none accepts bad tokens: it checks nothing
}

// tokens are the tokens one server is sent.
type tokens struct {
	clients []http.Header // Authorization of client k; its session is live in the server's store
	bad     []http.Header
	fresh   *[]http.Header // the shared pool, topped up between phases
	// cursor is how many fresh tokens this server has been sent over all
	// runs: the pool is topped up so that each pool token is sent to an
	// authgate server once (beyond the pool the generator wraps around and
	// counts the reuses).
	cursor atomic.Int64
	probe  string // token naming the server's expired probe session
	client string // a client token, for the preflight checks
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// splitmix64 spreads a counter over 64 bits.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// targeter draws each request of the mix for the server at base: the
// kind, then the client or token, from a hash of a shared counter (safe
// for vegeta's concurrent workers, the same sequence on every run with the
// same seed). reused counts fresh tokens sent a second time.
func (t *tokens) targeter(base string, m Mix, seed uint64, reused *atomic.Int64) vegeta.Targeter {
	var n atomic.Uint64
	var urls [nKinds]string
	paths := [nKinds]string{"/me", "/sensitive", "/me", "/me"}
	for k := range urls {
		urls[k] = base + paths[k] + kindQuery[k]
	}
	// Thresholds on a uniform 53-bit draw.
	const one = 1 << 53
	tFresh := uint64(m.Fresh * one)
	tSens := tFresh + uint64(m.Sensitive*one)
	tBad := tSens + uint64(m.Bad*one)
	return func(tgt *vegeta.Target) error {
		if tgt == nil {
			return vegeta.ErrNilTarget
		}
		h := splitmix64(seed ^ n.Add(1))
		u, pick := h>>11, splitmix64(h)
		tgt.Method = "GET"
		switch {
		case u < tFresh:
			i := t.cursor.Add(1) - 1
			pool := *t.fresh
			if i >= int64(len(pool)) {
				reused.Add(1)
			}
			tgt.URL, tgt.Header = urls[kindFresh], pool[i%int64(len(pool))]
		case u < tSens:
			tgt.URL, tgt.Header = urls[kindSensitive], t.clients[pick%uint64(len(t.clients))]
		case u < tBad:
			tgt.URL, tgt.Header = urls[kindBad], t.bad[pick%uint64(len(t.bad))]
		default:
			tgt.URL, tgt.Header = urls[kindClient], t.clients[pick%uint64(len(t.clients))]
		}
		return nil
	}
}
