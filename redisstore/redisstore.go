// Package redisstore is a core.SessionStore on Redis (single node, Sentinel
// or Cluster, through go-redis's UniversalClient), with a revocation feed
// that reaches every process sharing the Redis.
//
//	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"},
//		ContextTimeoutEnabled: true}) // calls end at their context's deadline: live checks skip a goroutine handoff
//	store, err := redisstore.New(ctx, rdb, redisstore.Options{IdleTimeout: 30 * time.Minute})
//	auth, err := core.New(ctx, core.Config{..., Sessions: store, Revocations: store})
//
// Every multi-key change is one Lua script in one Cluster slot; expiry is
// decided by Options.Now, passed into the scripts; only SHA-256 hashes of
// opaque tokens are stored. Revocations go to a Redis Stream that each
// subscription reads from its last seen id, so a subscriber that loses its
// connection replays what it missed; until it has caught up it reports
// itself behind (core.Revocation{Behind: true}) and the authenticator checks
// every request live.
package redisstore

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storekit"
	"github.com/redis/go-redis/v9"
)

// Defaults and bounds of Options.
const (
	DefaultPrefix         = "authgate:"
	DefaultCommandTimeout = 500 * time.Millisecond
	MaxCommandTimeout     = 10 * time.Second
	DefaultFeedMaxLen     = 100000
	DefaultFeedReplay     = 24*time.Hour + 90*time.Second // core's default MaxTokenLifetime + 3 Leeway (its deny-set retention)
	DefaultFeedBlock      = time.Second
	maxPrefixLen          = 64
	gcGrace               = time.Hour // Redis TTL beyond a session's deadline
)

// Options configures a Store. The session fields mirror core.StoreOptions
// (same meaning, same defaults); the zero value is usable.
type Options struct {
	// IdleTimeout ends a session not seen for this long; 0: no idle timeout.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after its creation; default
	// 7 days.
	AbsoluteTimeout time.Duration
	// MaxSessions caps the live sessions of one subject; 0: no cap.
	MaxSessions int
	// EvictOldest: at the cap, true revokes the oldest session, false
	// refuses the new one with core.ErrTooManySessions.
	EvictOldest bool
	// TouchInterval is the least time between two last-seen writes of one
	// session; default 1 minute.
	TouchInterval time.Duration
	// Audit receives an event for every revocation made through this Store;
	// default core.NewSlogAudit(Logger).
	Audit core.AuditSink
	// Now is the clock for every expiry decision (Redis's clock is never
	// used for them); default time.Now. Instances sharing a Redis should
	// have synchronised clocks.
	Now func() time.Time

	// Prefix starts every key; default "authgate:". It must not contain
	// '{' or '}' (the Cluster hash tags are the store's) and is at most 64
	// bytes.
	Prefix string
	// CommandTimeout bounds each Redis call of the store; default 500ms, at
	// most 10s. With a *redis.Client it is applied as the read and write
	// timeout of the calls (whatever ContextTimeoutEnabled says); with other
	// clients through the context, which go-redis honours only with
	// ContextTimeoutEnabled: true (otherwise the client's own ReadTimeout
	// bounds the wait).
	CommandTimeout time.Duration
	// Logger receives feed problems (disconnects, gaps, malformed entries);
	// default slog.Default().
	Logger *slog.Logger

	// FeedMaxLen bounds the revocation stream (XADD MAXLEN ~); default
	// 100000 entries. A subscriber that falls further behind than this
	// detects the gap and reports itself behind for FeedReplay.
	FeedMaxLen int64
	// FeedReplay is how far back a new subscription reads the stream, and
	// how long a subscription that detected lost entries reports itself
	// behind. It should be at least the authenticator's MaxTokenLifetime +
	// 3 Leeway (how long a token naming a revoked session can still be
	// accepted); default 24h1m30s (core's defaults).
	FeedReplay time.Duration
	// WaitReplicas, when positive, makes Revoke and RevokeSubject wait
	// (Redis WAIT, on the connection that ran the revoking script) until
	// that many replicas have the revocation, at most WaitTimeout; fewer
	// acks fail the call with an error wrapping ErrNotReplicated (the
	// session is revoked on the primary). It closes the window in which a
	// failover to a lagging replica undoes an acknowledged revocation
	// (RD-04). Needs a *redis.Client (single primary or Sentinel) or a
	// *redis.ClusterClient: on a Cluster, where the revocation stream and
	// the session live on different masters, both the stream entry and the
	// session's end are waited for, each on its own master. Default 0: no
	// wait; the window is the replication lag.
	WaitReplicas int
	// WaitTimeout bounds the wait for replicas; default CommandTimeout/2,
	// and less than CommandTimeout.
	WaitTimeout time.Duration

	// FeedBlock is how long one XREAD waits for new entries; default 1s,
	// within [10ms, 10s]. It bounds how long Close waits for a subscription
	// and how soon a silently dead connection is noticed (FeedBlock plus
	// go-redis's 10s margin).
	FeedBlock time.Duration
}

// Store is a core.SessionStore on Redis: a core.SessionChecker, a
// core.OpaqueAuthenticator and a core.RevocationFeed.
// It is safe for concurrent use; Close ends its subscriptions.
type Store struct {
	cmd    redis.UniversalClient // with CommandTimeout where the client allows
	opts   core.StoreOptions
	prefix string
	stream string
	// atomicFeed: the revocation stream is written inside the revoking
	// script (one node: single Redis or Sentinel). On a Cluster the stream
	// lives in another slot and is written right after the script.
	atomicFeed bool
	cluster    *redis.ClusterClient // cmd, when it is a Cluster client (see reroute)
	honorsCtx  bool                 // the client has ContextTimeoutEnabled (see HonorsContext)
	timeout    time.Duration
	waitN      int
	waitFor    time.Duration
	maxLen     int64
	replay     time.Duration
	block      time.Duration
	log        *slog.Logger

	mu     sync.Mutex
	subs   map[uint64]*subscription
	nextID uint64
	closed bool
	wg     sync.WaitGroup
}

var _ core.SessionStore = (*Store)(nil)

// New checks opts, pings Redis (an unreachable Redis is an error, so a
// misconfigured address fails at start-up) and returns a Store. rdb stays
// the caller's: Close does not close it. rdb must send reads to primaries:
// a Cluster client with ReadOnly, RouteByLatency or RouteRandomly is
// refused, since a replica may not yet have a revocation (RD-04).
func New(ctx context.Context, rdb redis.UniversalClient, opts Options) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("redisstore: nil Redis client")
	}
	o := opts
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if len(o.Prefix) > maxPrefixLen || strings.ContainsAny(o.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: Prefix %q must be at most %d bytes without '{' or '}'", o.Prefix, maxPrefixLen)
	}
	if o.CommandTimeout == 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	if o.CommandTimeout < 0 || o.CommandTimeout > MaxCommandTimeout {
		return nil, fmt.Errorf("redisstore: CommandTimeout %v is outside (0, %v]", o.CommandTimeout, MaxCommandTimeout)
	}
	if o.FeedMaxLen == 0 {
		o.FeedMaxLen = DefaultFeedMaxLen
	}
	if o.FeedMaxLen < 100 {
		return nil, fmt.Errorf("redisstore: FeedMaxLen %d must be at least 100", o.FeedMaxLen)
	}
	if o.FeedReplay == 0 {
		o.FeedReplay = DefaultFeedReplay
	}
	if o.FeedReplay < time.Minute || o.FeedReplay > 31*24*time.Hour {
		return nil, fmt.Errorf("redisstore: FeedReplay %v is outside [1m, 744h]", o.FeedReplay)
	}
	if o.FeedBlock == 0 {
		o.FeedBlock = DefaultFeedBlock
	}
	if o.FeedBlock < 10*time.Millisecond || o.FeedBlock > 10*time.Second {
		return nil, fmt.Errorf("redisstore: FeedBlock %v is outside [10ms, 10s]", o.FeedBlock)
	}
	if o.WaitReplicas < 0 {
		o.WaitReplicas = 0
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = o.CommandTimeout / 2
	}
	if o.WaitReplicas > 0 && (o.WaitTimeout <= 0 || o.WaitTimeout >= o.CommandTimeout) {
		return nil, fmt.Errorf("redisstore: WaitTimeout %v must be positive and less than CommandTimeout %v", o.WaitTimeout, o.CommandTimeout)
	}
	switch rdb.(type) {
	case *redis.Client, *redis.ClusterClient:
	default:
		if o.WaitReplicas > 0 {
			return nil, errors.New("redisstore: WaitReplicas needs a *redis.Client (a single primary or Sentinel) or a *redis.ClusterClient: WAIT must run on the connection that wrote")
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Audit == nil {
		o.Audit = core.NewSlogAudit(o.Logger)
	}
	s := &Store{
		cmd: rdb,
		opts: storekit.StoreDefaults(core.StoreOptions{
			IdleTimeout: o.IdleTimeout, AbsoluteTimeout: o.AbsoluteTimeout, MaxSessions: o.MaxSessions,
			EvictOldest: o.EvictOldest, TouchInterval: o.TouchInterval, Audit: o.Audit, Now: o.Now,
		}),
		prefix:  o.Prefix,
		stream:  o.Prefix + "revocations",
		timeout: o.CommandTimeout,
		waitN:   o.WaitReplicas,
		waitFor: o.WaitTimeout,
		maxLen:  o.FeedMaxLen,
		replay:  o.FeedReplay,
		block:   o.FeedBlock,
		log:     o.Logger,
		subs:    map[uint64]*subscription{},
	}
	switch c := rdb.(type) {
	case *redis.Client:
		s.honorsCtx = c.Options().ContextTimeoutEnabled
		s.atomicFeed = true
		s.cmd = c.WithTimeout(o.CommandTimeout)
	case *redis.ClusterClient:
		s.cluster = c
		s.honorsCtx = c.Options().ContextTimeoutEnabled
		if co := c.Options(); co.ReadOnly || co.RouteByLatency || co.RouteRandomly {
			return nil, errors.New("redisstore: the Cluster client routes reads to replicas (ReadOnly, RouteByLatency or RouteRandomly); session and revocation reads must go to primaries (RD-04): use a separate client without these options")
		}
	case *redis.Ring:
		// A Ring shards by key like a Cluster: write the stream separately.
		s.honorsCtx = c.Options().ContextTimeoutEnabled
	}
	cctx, cancel := context.WithTimeout(ctx, o.CommandTimeout)
	defer cancel()
	if err := s.cmd.Ping(cctx).Err(); err != nil {
		return nil, fmt.Errorf("redisstore: Redis unreachable: %w", err)
	}
	return s, nil
}

// errNotFound is the one answer for an unknown, revoked or expired session
// or token (SS-13).
var errNotFound = fmt.Errorf("redisstore: session unknown, revoked or expired: %w", core.ErrSessionRevoked)

var errClosed = errors.New("redisstore: store closed")

// unavailable wraps a Redis failure: core answers it 503 (fail closed).
func unavailable(err error) error {
	return fmt.Errorf("redisstore: %w: %w", core.ErrUnavailable, err)
}

// failed is unavailable for a failed Redis call, which on a Cluster also
// asks the client to reload its slot map (see reroute).
func (s *Store) failed(err error) error {
	s.reroute(err)
	return unavailable(err)
}

// reroute asks a Cluster client to reload its slot map after a call failed
// other than by a Redis reply (a refused or broken connection, a timeout).
// go-redis v9 reloads the map on MOVED and ASK replies and every
// ClusterStateReloadInterval (60 s by default), not when a dead master
// refuses connections: after a failover the dead master's slots (sessions,
// the revocation stream) would be answered 503 until the next periodic
// reload. The reload is asynchronous and coalesced by go-redis.
func (s *Store) reroute(err error) {
	if s.cluster == nil || err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return // Redis answered: the route was right
	}
	s.cluster.ReloadState(context.Background())
}

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// now returns the store clock truncated to the millisecond, the precision
// kept in Redis.
func (s *Store) now() time.Time { return time.UnixMilli(s.opts.Now().UnixMilli()) }

func ms(d time.Duration) int64 { return d.Milliseconds() }

// keys returns the script's keys, with the stream last when it is written
// inside the script.
func (s *Store) keys(k ...string) []string {
	if s.atomicFeed {
		return append(k, s.stream)
	}
	return k
}

// Create opens a session for ns.Subject. At the cap it evicts the oldest
// session (published and audited, reason "session limit") or fails with
// core.ErrTooManySessions, atomically with respect to every other instance
// (SS-18).
func (s *Store) Create(ctx context.Context, ns core.SessionParams) (*core.Session, string, error) {
	if ns.Subject == "" {
		return nil, "", errors.New("redisstore: NewSession.Subject is empty")
	}
	if s.isClosed() {
		return nil, "", errClosed
	}
	sc, err1 := json.Marshal(ns.Scopes)
	ro, err2 := json.Marshal(ns.Roles)
	md, err3 := json.Marshal(ns.Metadata)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, "", fmt.Errorf("redisstore: encoding the session: %w", err)
	}
	now := s.now()
	sh := subjectHash(ns.Subject)
	tag := tagOf(sh)
	tok := newToken(sh)
	th := storekit.HashOpaqueToken(tok)
	ax := now.Add(s.opts.AbsoluteTimeout)
	evict := b2i(s.opts.EvictOldest)
	if evict == 1 && !s.atomicFeed {
		// A Cluster: the script evicts only sessions whose revocation is
		// published already (see revokeSplit) and names the others, which
		// are published and the call made again.
		evict = 2
	}
	args := []any{now.UnixMilli(), "", s.sessPrefix(tag), s.opts.MaxSessions, evict, ms(gcGrace), s.maxLen,
		ns.Subject, ns.Issuer, ns.Tenant, sc, ro, md, ax.UnixMilli(), ms(s.opts.IdleTimeout), hex.EncodeToString(th[:])}
	// A sid collision (128 random bits) is retried, and so is a Create that
	// had to publish sessions to evict first; parallel Creates of one
	// subject at its cap can need a round each.
	for range maxCreateRounds {
		sid := newSessionID(tag)
		args[1] = sid
		cctx, cancel := s.ctx(ctx)
		res, err := createScript.Run(cctx, s.cmd,
			s.keys(s.sessKey(tag, sid), s.tokenKey(tag, th), s.subjectKey(sh)), args...).Slice()
		cancel()
		if err != nil {
			return nil, "", s.failed(err)
		}
		if len(res) == 0 {
			return nil, "", unavailable(errors.New("unexpected script reply"))
		}
		code, _ := res[0].(int64)
		switch code {
		case -1:
			continue
		case 0:
			return nil, "", core.ErrTooManySessions
		}
		var evicted []core.Revocation
		for i := 1; i+2 < len(res); i += 3 {
			evicted = append(evicted, core.Revocation{SessionID: str(res[i]), Subject: str(res[i+1]), Issuer: str(res[i+2]), At: now})
		}
		if code == 2 {
			if _, err := s.publish(ctx, evicted); err != nil { // replica acks are not awaited for evictions (as on one node)
				return nil, "", err
			}
			for _, r := range evicted {
				args = append(args, r.SessionID)
			}
			continue
		}
		s.finish(ctx, evicted, core.RevokeOptions{Reason: "session limit", Actor: "system"})
		sess := &core.Session{
			ID: sid, Subject: ns.Subject, Issuer: ns.Issuer, Tenant: ns.Tenant,
			Scopes: cloneOrNil(ns.Scopes), Roles: cloneOrNil(ns.Roles), Metadata: cloneMap(ns.Metadata),
			CreatedAt: now, LastSeen: now, ExpiresAt: s.opts.Deadline(now, now),
		}
		return sess, tok, nil
	}
	return nil, "", unavailable(errors.New("could not draw a free session id, or the subject's sessions kept changing while evicting"))
}

// maxCreateRounds bounds Create's script calls (see Create).
const maxCreateRounds = 64

// Get returns the live session sid.
func (s *Store) Get(ctx context.Context, sid string) (*core.Session, error) {
	tag, ok := parseSID(sid)
	if !ok {
		return nil, errNotFound
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	res, err := getScript.Run(cctx, s.cmd, []string{s.sessKey(tag, sid)}, s.now().UnixMilli(), sid).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, s.failed(err)
	}
	return decodeSession(sid, res)
}

// Touch records activity on session sid, at most once per TouchInterval,
// never past its absolute deadline.
func (s *Store) Touch(ctx context.Context, sid string) error {
	live, err := s.touch(ctx, sid)
	if err != nil {
		return err
	}
	if !live {
		return errNotFound
	}
	return nil
}

func (s *Store) touch(ctx context.Context, sid string) (bool, error) {
	tag, ok := parseSID(sid)
	if !ok {
		return false, nil
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	err := touchScript.Run(cctx, s.cmd, []string{s.sessKey(tag, sid)},
		s.now().UnixMilli(), sid, ms(s.opts.TouchInterval), ms(gcGrace)).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, s.failed(err)
	}
	return true, nil
}

// HonorsContext reports whether Check returns once its context is done:
// when the go-redis client was made with ContextTimeoutEnabled. Without it
// go-redis bounds a call by its own DialTimeout and ReadTimeout, not by the
// context, and core keeps its live checks on goroutines of their own so a
// request still leaves at SessionCheck.Timeout (core.ContextHonorer). With
// it, a live check runs on the request's goroutine: one handoff less per
// sensitive request.
func (s *Store) HonorsContext() bool { return s.honorsCtx }

var _ core.ContextHonorer = (*Store)(nil)

// Check reports whether session sid is alive, recording the activity
// (throttled). It fails only when Redis cannot answer: core turns that into
// 503 (fail closed).
func (s *Store) Check(ctx context.Context, sid string) (core.SessionState, error) {
	live, err := s.touch(ctx, sid)
	if err != nil {
		return core.StateRevoked, err
	}
	if !live {
		return core.StateRevoked, nil
	}
	return core.StateActive, nil
}

// AuthenticateOpaque looks the token up by its SHA-256 (the only form the
// store keeps), compares the stored hash in constant time, records the
// activity and returns the session. Unknown, revoked and expired tokens get
// one and the same error (SS-13).
func (s *Store) AuthenticateOpaque(ctx context.Context, token string) (*core.Session, error) {
	tag, ok := parseToken(token)
	if !ok {
		return nil, errNotFound
	}
	h := storekit.HashOpaqueToken(token)
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	res, err := opaqueScript.Run(cctx, s.cmd, []string{s.tokenKey(tag, h)},
		s.now().UnixMilli(), s.sessPrefix(tag), ms(s.opts.TouchInterval), ms(gcGrace)).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, s.failed(err)
	}
	if len(res) != nFields+1 {
		return nil, unavailable(errors.New("unexpected script reply"))
	}
	stored, err := hex.DecodeString(str(res[1+10]))
	if err != nil || subtle.ConstantTimeCompare(stored, h[:]) != 1 {
		return nil, errNotFound
	}
	return decodeSession(str(res[0]), res[1:])
}

// Revoke ends session sid, audits it, and publishes it on the revocation
// feed before returning (in the same script on a single node or Sentinel;
// on a Cluster just before it, so a session is never ended unpublished). This process's subscribers hear of it at
// once; other processes within their feed latency.
func (s *Store) Revoke(ctx context.Context, sid string, opts ...core.RevokeOption) error {
	tag, ok := parseSID(sid)
	if !ok {
		return errNotFound
	}
	now := s.now()
	if !s.atomicFeed {
		return s.revokeSplit(ctx, tag, sid, now, storekit.RevokeOptions(opts...))
	}
	res, werr, err := s.revoking(ctx, revokeScript, s.keys(s.sessKey(tag, sid)), now.UnixMilli(), sid, s.maxLen)
	if errors.Is(err, redis.Nil) {
		return errNotFound
	}
	if err != nil {
		return s.failed(err)
	}
	if len(res) != 2 {
		return unavailable(errors.New("unexpected script reply"))
	}
	r := core.Revocation{SessionID: sid, Subject: str(res[0]), Issuer: str(res[1]), At: now}
	s.finish(ctx, []core.Revocation{r}, storekit.RevokeOptions(opts...))
	return werr
}

// revokeSplit is Revoke where the stream lives in another slot than the
// session (a Cluster or a Ring), so no one script can end the session and
// publish its revocation. The revocation is published first and the
// session ended after it: a failure in between leaves the session live
// with its revocation published (refused on every route of every instance
// through the deny set; Revoke returns the error and a retry ends it),
// never ended and unpublished, which no retry could repair: it would find
// no session left to publish.
func (s *Store) revokeSplit(ctx context.Context, tag, sid string, now time.Time, o core.RevokeOptions) error {
	key := s.sessKey(tag, sid)
	cctx, cancel := s.ctx(ctx)
	f, err := getScript.Run(cctx, s.cmd, []string{key}, now.UnixMilli(), sid).Slice()
	cancel()
	if errors.Is(err, redis.Nil) {
		return errNotFound
	}
	if err != nil {
		return s.failed(err)
	}
	if len(f) < 2 {
		return unavailable(errors.New("unexpected script reply"))
	}
	r := core.Revocation{SessionID: sid, Subject: str(f[0]), Issuer: str(f[1]), At: now}
	pwerr, err := s.publish(ctx, []core.Revocation{r})
	if err != nil {
		return err
	}
	_, werr, err := s.revoking(ctx, revokeScript, []string{key}, now.UnixMilli(), sid, s.maxLen)
	if errors.Is(err, redis.Nil) {
		return errNotFound // ended meanwhile (another Revoke, or it expired); published either way
	}
	if err != nil {
		return s.failed(fmt.Errorf("the revocation was published, but ending the session failed (retry): %w", err))
	}
	s.finish(ctx, []core.Revocation{r}, o)
	return errors.Join(pwerr, werr)
}

// publish writes revocations to the stream before their sessions are ended
// (revokeSplit), with WaitReplicas followed by WAIT (werr). An entry for a
// session that then stays live (the ending failed) only refuses it early:
// it fails closed.
func (s *Store) publish(ctx context.Context, rs []core.Revocation) (werr, err error) {
	var adds []*redis.StringCmd
	queue := func(ctx context.Context, p redis.Pipeliner) {
		for _, r := range rs {
			adds = append(adds, p.XAdd(ctx, &redis.XAddArgs{Stream: s.stream, MaxLen: s.maxLen, Approx: true, Values: entry(r)}))
		}
	}
	if s.waitN == 0 {
		cctx, cancel := s.ctx(ctx)
		_, err = s.cmd.Pipelined(cctx, func(p redis.Pipeliner) error { queue(cctx, p); return nil })
		cancel()
	} else {
		werr, err = s.written(ctx, s.stream, queue)
		for _, a := range adds {
			if err == nil {
				err = a.Err()
			}
		}
	}
	if err != nil {
		return nil, s.failed(fmt.Errorf("publishing the revocation failed; the session was not ended: %w", err))
	}
	return werr, nil
}

// RevokeSubject ends every session of subject in one atomic step and
// returns how many it ended (SS-03).
func (s *Store) RevokeSubject(ctx context.Context, subject string, opts ...core.RevokeOption) (int, error) {
	sh := subjectHash(subject)
	tag := tagOf(sh)
	now := s.now()
	if !s.atomicFeed {
		return s.revokeSubjectSplit(ctx, subject, sh, tag, now, storekit.RevokeOptions(opts...))
	}
	res, werr, err := s.revoking(ctx, revokeSubjectScript, s.keys(s.subjectKey(sh)), now.UnixMilli(), s.sessPrefix(tag), s.maxLen)
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, s.failed(err)
	}
	var rs []core.Revocation
	for i := 0; i+1 < len(res); i += 2 {
		rs = append(rs, core.Revocation{SessionID: str(res[i]), Subject: subject, Issuer: str(res[i+1]), At: now})
	}
	if len(rs) == 0 {
		werr = nil
	}
	s.finish(ctx, rs, storekit.RevokeOptions(opts...))
	return len(rs), werr
}

// revokeSubjectSplit is RevokeSubject on a Cluster or a Ring (see
// revokeSplit): the subject's live sessions are listed, published, then
// ended. A Create of the subject lands wholly before the listing (and is
// ended) or after it (and stays live), as on one node (SS-03).
func (s *Store) revokeSubjectSplit(ctx context.Context, subject string, sh [32]byte, tag string, now time.Time, o core.RevokeOptions) (int, error) {
	cctx, cancel := s.ctx(ctx)
	res, err := listScript.Run(cctx, s.cmd, []string{s.subjectKey(sh)}, now.UnixMilli(), s.sessPrefix(tag)).Slice()
	cancel()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, s.failed(err)
	}
	var rs []core.Revocation
	for i := 0; i+nFields < len(res); i += nFields + 1 {
		rs = append(rs, core.Revocation{SessionID: str(res[i]), Subject: subject, Issuer: str(res[i+2]), At: now})
	}
	if len(rs) == 0 {
		return 0, nil
	}
	pwerr, err := s.publish(ctx, rs)
	if err != nil {
		return 0, err
	}
	args := make([]any, 0, 2+len(rs))
	args = append(args, now.UnixMilli(), s.sessPrefix(tag))
	for _, r := range rs {
		args = append(args, r.SessionID)
	}
	res, werr, err := s.revoking(ctx, endListedScript, []string{s.subjectKey(sh)}, args...)
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, s.failed(fmt.Errorf("the revocations were published, but ending the sessions failed (retry): %w", err))
	}
	var ended []core.Revocation
	for i := 0; i+1 < len(res); i += 2 {
		ended = append(ended, core.Revocation{SessionID: str(res[i]), Subject: subject, Issuer: str(res[i+1]), At: now})
	}
	s.finish(ctx, ended, o)
	if len(ended) == 0 {
		return 0, nil
	}
	return len(ended), errors.Join(pwerr, werr)
}

// List returns the live sessions of subject, oldest first.
func (s *Store) List(ctx context.Context, subject string) ([]*core.Session, error) {
	sh := subjectHash(subject)
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	res, err := listScript.Run(cctx, s.cmd, []string{s.subjectKey(sh)}, s.now().UnixMilli(), s.sessPrefix(tagOf(sh))).Slice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, s.failed(err)
	}
	out := make([]*core.Session, 0, len(res)/(nFields+1))
	for i := 0; i+nFields < len(res); i += nFields + 1 {
		sess, err := decodeSession(str(res[i]), res[i+1:i+1+nFields])
		if err != nil {
			return nil, err
		}
		out = append(out, sess)
	}
	return out, nil
}

// ErrNotReplicated is returned (wrapped) by Revoke and RevokeSubject when
// Options.WaitReplicas replicas did not confirm the revocation within
// WaitTimeout. The revocation took effect on the primary and was announced.
var ErrNotReplicated = errors.New("redisstore: revocation not confirmed by the requested replicas in time")

// revoking runs a revoking script; with WaitReplicas, followed by WAIT on
// the same connection (see written). werr reports too few replica acks;
// err a failure of the script itself.
func (s *Store) revoking(ctx context.Context, sc *redis.Script, keys []string, args ...any) (res []any, werr, err error) {
	if s.waitN == 0 {
		cctx, cancel := s.ctx(ctx)
		defer cancel()
		res, err = sc.Run(cctx, s.cmd, keys, args...).Slice()
		return res, nil, err
	}
	var ev *redis.Cmd
	werr, err = s.written(ctx, keys[0], func(ctx context.Context, p redis.Pipeliner) {
		ev = sc.Eval(ctx, p, keys, args...) // the source: EVALSHA's NOSCRIPT would surface only at Exec
	})
	if err != nil {
		return nil, nil, err
	}
	if res, err = ev.Slice(); err != nil {
		return nil, nil, err
	}
	return res, werr, nil
}

// written runs the commands fn queues in one pipeline followed by WAIT
// (Options.WaitReplicas), on one connection: the one that writes key. On a
// Cluster that is a connection to the master of key's slot, taken from the
// Cluster client (WAIT names no key, so the Cluster client could not route
// it to the connection that wrote). werr reports too few replica acks; err
// only a failure to reach that master. The commands' own results are the
// caller's to read.
func (s *Store) written(ctx context.Context, key string, fn func(ctx context.Context, p redis.Pipeliner)) (werr, err error) {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	var c redis.Cmdable = s.cmd
	if s.cluster != nil {
		m, err := s.cluster.MasterForKey(cctx, key)
		if err != nil {
			return nil, err
		}
		c = m
	}
	var wait *redis.Cmd
	_, _ = c.Pipelined(cctx, func(p redis.Pipeliner) error {
		fn(cctx, p)
		wait = p.Do(cctx, "WAIT", s.waitN, s.waitFor.Milliseconds())
		return nil
	})
	if n, err := wait.Int64(); err != nil || n < int64(s.waitN) {
		return fmt.Errorf("%w: %d of %d replicas acknowledged (%v)", ErrNotReplicated, n, s.waitN, err), nil
	}
	return nil, nil
}

// finish tells this process's subscribers of sessions ended and published
// (by the script, or by publish before it) at once, and audits them.
func (s *Store) finish(ctx context.Context, rs []core.Revocation, o core.RevokeOptions) {
	if len(rs) == 0 {
		return
	}
	s.deliverLocal(rs)
	for _, r := range rs {
		s.opts.Audit.Revoked(ctx, core.AuditEvent{
			SessionID: r.SessionID, Subject: r.Subject, Issuer: r.Issuer, At: r.At, Reason: o.Reason, Actor: o.Actor,
		})
	}
}

// entry is a revocation as a stream entry (the layout the scripts write).
func entry(r core.Revocation) []any {
	return []any{"v", "1", "sid", r.SessionID, "sub", r.Subject, "iss", r.Issuer, "at", strconv.FormatInt(r.At.UnixMilli(), 10)}
}

// decodeSession builds a Session from the script's fields (FIELDS order).
func decodeSession(sid string, f []any) (*core.Session, error) {
	if len(f) < nFields {
		return nil, unavailable(errors.New("unexpected script reply"))
	}
	num := func(i int) int64 { n, _ := strconv.ParseInt(str(f[i]), 10, 64); return n }
	sess := &core.Session{ID: sid, Subject: str(f[0]), Issuer: str(f[1]), Tenant: str(f[2])}
	err := errors.Join(
		json.Unmarshal([]byte(str(f[3])), &sess.Scopes),
		json.Unmarshal([]byte(str(f[4])), &sess.Roles),
		json.Unmarshal([]byte(str(f[5])), &sess.Metadata),
	)
	if err != nil {
		return nil, unavailable(fmt.Errorf("corrupt session %s: %w", sid, err))
	}
	created, last, ax, ix := num(6), num(7), num(8), num(9)
	sess.CreatedAt = time.UnixMilli(created)
	sess.LastSeen = time.UnixMilli(last)
	end := ax
	if ix > 0 && last+ix < end {
		end = last + ix
	}
	sess.ExpiresAt = time.UnixMilli(end)
	return sess, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cloneOrNil(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close ends every subscription (telling each subscriber it is now behind)
// and waits for their goroutines. Lookups keep working; Create and new
// subscriptions are refused. The Redis client stays open (it is the
// caller's); sessions stay in Redis.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	subs := make([]*subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.end(true)
	}
	s.wg.Wait()
	return nil
}
