package core

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// The verified-token cache. A JWT whose signature verified is remembered by
// its exact bytes, so that the next request carrying the same token skips
// the signature check (the one cost a middleware cannot otherwise avoid).
// Everything else still runs on every hit:
//
//   - the key check: the entry remembers the *vkey that verified it, and a
//     hit is served only while the issuer's current keyring still resolves
//     the token's kid and alg to that very key (a refresh reuses the vkey of
//     an unchanged key, see reuseKeys; a removed or replaced key ends every
//     entry it verified: KS-10, KS-11);
//   - every claim check of checkClaims, with Config.Now (exp, nbf, iat,
//     lifetime, aud, ...), so a cached token expires exactly when an
//     uncached one does;
//   - the deny set and the session policy, which run after the cache in
//     Authenticate, Admit and Require.
//
// Only tokens that were accepted are stored: Authenticate adds an entry
// after verification, the claim checks and the deny set all passed. The key
// is the token string itself, so a re-encoded spelling of a token (FM-04
// base64 variants, AL-08 ECDSA malleability) is a different key and goes
// through the full verification on its own.
//
// Memory is bounded by an entry count and an estimate of the bytes held.
// Entries are spread over shards by a keyed hash of the token's last bytes
// (the seed is random per process, so nobody can aim tokens at one shard);
// each shard evicts with CLOCK: an entry hit since the hand last passed gets
// a second chance, so a flood of new tokens (each of which must carry a
// valid signature to get in at all) evicts cold entries and expired ones
// before any hot one. Readers take no lock (a sync.Map load); a hit writes
// nothing shared except the entry's reference bit, and only when it is not
// already set.

// TokenCacheOptions sizes the verified-token cache (see Config.TokenCache).
type TokenCacheOptions struct {
	// Disabled turns the cache off: every request's token signature is
	// verified.
	Disabled bool
	// MaxEntries bounds the number of tokens remembered; default 10000.
	MaxEntries int
	// MaxBytes bounds the memory the entries hold (token, decoded claims and
	// bookkeeping, estimated); default 32 MiB.
	MaxBytes int64
}

// Defaults and bounds of TokenCacheOptions.
const (
	defaultTokenCacheEntries = 10000
	defaultTokenCacheBytes   = 32 << 20
	maxTokenCacheShards      = 16
	minShardEntries          = 64
	minShardBytes            = 256 << 10
	// tokenEntryOverhead estimates what an entry holds besides the token
	// bytes: the entry, the principal, the map slot, the ring slot.
	tokenEntryOverhead = 512
)

// tokenCache is the verified-token cache of one Authenticator.
type tokenCache struct {
	seed   maphash.Seed
	mask   uint64
	shards []tokenShard
}

type tokenShard struct {
	// m maps a token to its *tokenEntry. Reads take no lock (sync.Map
	// loads are lock-free), so a hot token scales with cores.
	m sync.Map

	mu         sync.Mutex    // guards what follows, and writes to m
	ring       []*tokenEntry // CLOCK ring; nil slots are free
	free       []int         // the nil slots of ring
	hand       int
	n          int // entries in m
	bytes      int64
	maxEntries int
	maxBytes   int64
	// misses counts lookups that found nothing usable (for tests), per
	// shard so that misses on different shards write different lines.
	misses atomic.Uint64
	_      [64]byte // keep shards' locks and counters on separate cache lines
}

// tokenEntry is one verified token. Everything but ref is immutable once
// the entry is in a shard.
type tokenEntry struct {
	tok  string // a copy of the token (adapters may hand out reused buffers)
	p    Principal
	c    claims
	is   *issuer
	vk   *vkey
	kr   *keyring // the issuer's keyring when the entry was made; it held vk
	kid  string
	alg  string
	size int64
	slot int
	ref  atomic.Bool // hit since the CLOCK hand last passed
}

// verified is what verifyJWT reports about a token it accepted, for the
// cache: its claims, its issuer and the key that verified it.
type verified struct {
	c   claims
	is  *issuer
	vk  *vkey
	hdr header
}

func newTokenCache(o TokenCacheOptions) (*tokenCache, error) {
	if o.Disabled {
		return nil, nil
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = defaultTokenCacheEntries
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = defaultTokenCacheBytes
	}
	if o.MaxEntries < 1 || o.MaxEntries > 10_000_000 {
		return nil, configErr("TokenCache.MaxEntries %d is outside [1, 10000000] (use Disabled to turn the cache off)", o.MaxEntries)
	}
	if o.MaxBytes < 64<<10 || o.MaxBytes > 16<<30 {
		return nil, configErr("TokenCache.MaxBytes %d is outside [64 KiB, 16 GiB]", o.MaxBytes)
	}
	// Shards of at least minShardEntries entries, so that CLOCK's second
	// chance means something within each.
	n := 1
	for n < maxTokenCacheShards && n*2*minShardEntries <= o.MaxEntries && int64(n)*2*minShardBytes <= o.MaxBytes {
		n *= 2
	}
	c := &tokenCache{seed: maphash.MakeSeed(), mask: uint64(n - 1), shards: make([]tokenShard, n)}
	for i := range c.shards {
		s := &c.shards[i]
		s.maxEntries = (o.MaxEntries + n - 1) / n
		s.maxBytes = o.MaxBytes / int64(n)
	}
	return c, nil
}

// shard picks tok's shard from its last bytes (the signature's, which differ
// between tokens), hashed with the process's random seed.
func (c *tokenCache) shard(tok string) *tokenShard {
	tail := tok[len(tok)-min(len(tok), 16):]
	return &c.shards[maphash.String(c.seed, tail)&c.mask]
}

// lookupToken serves tok from the cache. ok is false when tok is not cached
// or its entry may no longer be served (its key left the issuer's keyring):
// the caller then verifies tok in full. With ok true, either e is the
// entry, whose principal the caller copies for this request alone, or err
// says why the still-valid signature no longer makes a valid token
// (expired, ...).
//
// A hit takes no lock and writes nothing shared, except the entry's CLOCK
// reference bit when it is not set yet.
func (a *Authenticator) lookupToken(tok string) (e *tokenEntry, err error, ok bool) {
	s := a.tokens.shard(tok)
	v, _ := s.m.Load(tok)
	e, _ = v.(*tokenEntry)
	if e == nil {
		s.misses.Add(1)
		return nil, nil, false
	}
	if !e.is.holds(e) {
		s.remove(e)
		s.misses.Add(1)
		return nil, nil, false
	}
	if err := a.checkClaims(&e.c, e.is); err != nil {
		s.remove(e)
		return nil, err, true
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e, nil, true
}

// addToken remembers tok, accepted with principal p, as v says it was
// verified. It is called only for tokens that passed every check.
func (a *Authenticator) addToken(tok string, v *verified, p *Principal) {
	c := a.tokens
	if c == nil || v.vk == nil {
		return
	}
	e := &tokenEntry{
		is: v.is, vk: v.vk, kid: v.hdr.kid, alg: v.hdr.alg, c: v.c,
		// The token is held twice (the copy below and the decode buffer
		// behind the claims), plus the decoded claims' strings.
		size: 4*int64(len(tok)) + tokenEntryOverhead,
	}
	// A cached principal is a template: each hit hands out a copy, and the
	// per-request fields are set on that copy. Its slices are its own, not
	// those of p, which this request's handler may modify.
	e.p = *p
	e.p.ownSlices(nil)
	// The claims the hits check are the entry's own too (aud was p's
	// Audience); the grants are not checked again.
	e.c.aud, e.c.scope, e.c.scp, e.c.roles = e.p.Audience, nil, nil, nil
	e.p.Source, e.p.auth, e.p.SessionChecked, e.p.token = 0, nil, false, nil
	e.p.Binding, e.p.Thumbprint = BindingNone, "" // judged again on every hit
	// Remember the keyring that resolves the token to its key now (a
	// refresh may have run since the verification).
	if e.kr = e.is.keys.Load(); e.is.hmacKey == nil {
		if k, _ := e.kr.find(e.kid, e.alg); k != e.vk {
			return
		}
	}
	s := c.shard(tok)
	if e.size > s.maxBytes {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m.Load(tok); ok {
		return // a concurrent request got there first
	}
	slot := s.makeRoom(e.size, func(old *tokenEntry) bool {
		return a.checkClaims(&old.c, old.is) != nil || !old.is.holds(old)
	})
	if slot < 0 {
		return
	}
	e.tok = strings.Clone(tok)
	e.slot = slot
	s.ring[slot] = e
	s.m.Store(e.tok, e)
	s.n++
	s.bytes += e.size
}

// makeRoom frees space for an entry of size bytes and returns the ring slot
// it may take, or -1. Free slots (left by entries removed on a lookup) are
// used first; then the CLOCK hand evicts: entries that can no longer be
// served (dead: expired, key gone) whatever their reference bit, then
// entries not hit since the hand last passed. The caller holds s.mu.
func (s *tokenShard) makeRoom(size int64, dead func(*tokenEntry) bool) int {
	// Two turns of the hand are enough: the first clears every reference
	// bit it does not act on, the second then evicts.
	for steps := 0; ; steps++ {
		if s.bytes+size <= s.maxBytes {
			if n := len(s.free); n > 0 {
				slot := s.free[n-1]
				s.free = s.free[:n-1]
				return slot
			}
			if len(s.ring) < s.maxEntries {
				s.ring = append(s.ring, nil)
				return len(s.ring) - 1
			}
		}
		if steps >= 2*len(s.ring) {
			return -1
		}
		i := s.hand
		s.hand = (s.hand + 1) % len(s.ring)
		switch e := s.ring[i]; {
		case e == nil:
		case !e.ref.Load() || dead(e): // the bit first: dead reads the clock
			s.evict(e)
		default:
			e.ref.Store(false)
		}
	}
}

// evict drops e. The caller holds s.mu.
func (s *tokenShard) evict(e *tokenEntry) {
	s.m.CompareAndDelete(e.tok, e)
	s.ring[e.slot] = nil
	s.free = append(s.free, e.slot)
	s.n--
	s.bytes -= e.size
}

// remove drops e if it is still in the shard.
func (s *tokenShard) remove(e *tokenEntry) {
	s.mu.Lock()
	if s.ring[e.slot] == e {
		s.evict(e)
	}
	s.mu.Unlock()
}

// holds reports whether the issuer's current keys still resolve e's kid
// and alg to e.vk, the key that verified e's token. Keyrings are immutable,
// so while the issuer's keyring is the one e was made under, nothing needs
// looking up.
func (is *issuer) holds(e *tokenEntry) bool {
	if is.hmacKey != nil {
		return e.vk == is.hmacKey
	}
	kr := is.keys.Load()
	if kr == e.kr {
		return true
	}
	found, _ := kr.find(e.kid, e.alg)
	return found == e.vk
}

// reuseKeys replaces each key of a freshly fetched set that is unchanged in
// the current keyring (same kid, type, algorithms and public key) by the
// current *vkey, so that the verified-token cache, which remembers keys by
// pointer, keeps serving tokens of keys a refresh did not change.
func reuseKeys(cur *keyring, keys []*vkey) {
	if cur == nil {
		return
	}
	for i, k := range keys {
		for _, old := range cur.all {
			if old.kid == k.kid && old.kty == k.kty && old.private == k.private &&
				slices.Equal(old.algs, k.algs) && samePublicKey(old.pub, k.pub) {
				keys[i] = old
				break
			}
		}
	}
}
