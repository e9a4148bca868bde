package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storekit"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// The revocation feed is a Redis Stream (P revocations), written by the
// revoking scripts (XADD MAXLEN ~ FeedMaxLen). Each subscription runs one
// goroutine that reads it with XREAD from its last seen id: a dropped
// connection loses nothing, the next read resumes where the last one ended
// (RD-03). A subscription is "current" only after a read came back with
// everything there was to read; from a failed read until then, and for
// FeedReplay after it finds that entries it had not read were trimmed or
// flushed away, it reports itself behind and the authenticator checks every
// request live: the subscription tells it with core.Revocation{Behind:
// true} and, once caught up, core.Revocation{Behind: false}.

const (
	feedBatch      = 512
	maxEntryFields = 16
	maxSubjectLen  = 4096
	maxIssuerLen   = 4096
	maxBackoff     = 2 * time.Second
)

type subscription struct {
	fn     func(core.Revocation)
	cancel context.CancelFunc
	// current: the last read returned everything there was.
	current atomic.Bool
	// behindUntil (unix ns, wall clock): a gap was found; until then the
	// lost revocations may still matter.
	behindUntil atomic.Int64
	// mu serialises fn between the reader and local delivery.
	mu sync.Mutex
	// reported is the Behind state last sent to fn (under mu).
	reported bool
	// stopped: fn is never called again (under mu).
	stopped bool
}

// end stops calls to fn; once it returns, fn is not running and never runs
// again. cutOff (the Store closed under a live subscriber) first tells fn
// the feed is behind: nothing will reach it any more, so its deny set can
// no longer be trusted alone.
func (sub *subscription) end(cutOff bool) {
	sub.cancel()
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if cutOff && !sub.stopped && !sub.reported {
		sub.reported = true
		sub.fn(core.Revocation{Behind: true})
	}
	sub.stopped = true
}

// report sends fn the subscription's state when it changed.
func (sub *subscription) report() {
	behind := !sub.current.Load() || time.Now().UnixNano() < sub.behindUntil.Load()
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if !sub.stopped && behind != sub.reported {
		sub.reported = behind
		sub.fn(core.Revocation{Behind: behind})
	}
}

func (sub *subscription) deliver(r core.Revocation) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	if !sub.stopped {
		sub.fn(r)
	}
}

// SubscribeRevocations calls fn for every revocation on the stream, starting
// with those of the last FeedReplay, then as they come, from a goroutine of
// its own; revocations made through this Store reach fn before the revoking
// call returns. fn may be called more than once for one revocation.
//
// Before returning it calls fn(core.Revocation{Behind: true}): the replay
// has not been read yet. Once it has, and whenever the subscription catches
// up again after a failed read, fn gets core.Revocation{Behind: false}.
// The subscription ends when stop is called, ctx ends, or the Store is
// closed; in the last case fn first gets Behind: true, since no revocation
// will reach it any more.
func (s *Store) SubscribeRevocations(ctx context.Context, fn func(core.Revocation)) (func(), error) {
	if fn == nil {
		return nil, errors.New("redisstore: SubscribeRevocations with a nil function")
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sub := &subscription{fn: fn, cancel: cancel, reported: true}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return nil, errClosed
	}
	id := s.nextID
	s.nextID++
	s.subs[id] = sub
	s.wg.Add(1)
	s.mu.Unlock()
	sub.mu.Lock()
	fn(core.Revocation{Behind: true}) // nothing replayed yet
	sub.mu.Unlock()
	remove := func() {
		s.mu.Lock()
		delete(s.subs, id)
		s.mu.Unlock()
		sub.end(false)
	}
	stopCtx := context.AfterFunc(ctx, remove)
	go func() {
		defer s.wg.Done()
		defer remove()
		s.read(sctx, sub)
	}()
	return func() {
		stopCtx()
		remove()
	}, nil
}

func (s *Store) deliverLocal(rs []core.Revocation) {
	s.mu.Lock()
	subs := make([]*subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		for _, r := range rs {
			sub.deliver(r)
		}
	}
}

// feedReadScript reads, in one atomic step, the stream's counters and the
// entries after an id: entries-added (Redis 7.0: every entry ever added,
// so the newest entry's ordinal), the length, the first entry's id and the
// last generated id, then up to ARGV[2] entries after ARGV[1] (exclusive).
// Read together, they tell exactly whether an entry after that id was
// trimmed or flushed away before it was read (see judge). Returns {0} when
// the stream does not exist.
var feedReadScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local added, len, first, lastgen = -1, 0, '', ''
for i = 1, #info, 2 do
  local k, v = info[i], info[i+1]
  if k == 'entries-added' then added = v
  elseif k == 'length' then len = v
  elseif k == 'last-generated-id' then lastgen = v
  elseif k == 'first-entry' and v then first = v[1]
  end
end
return {1, added, len, first, lastgen, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])}
`)

// feedSnapshot is one feedReadScript answer.
type feedSnapshot struct {
	exists        bool
	added, length int64  // entries-added, length
	first         string // id of the oldest entry left; "" when empty
	lastGenerated string
	entries       []redis.XMessage // after the id asked for, oldest first
}

// readAfter runs feedReadScript.
func (s *Store) readAfter(ctx context.Context, last string) (feedSnapshot, error) {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	res, err := feedReadScript.Run(cctx, s.cmd, []string{s.stream}, last, feedBatch).Slice()
	if err != nil {
		return feedSnapshot{}, err
	}
	var f feedSnapshot
	if len(res) == 1 {
		return f, nil // no stream
	}
	if len(res) != 6 {
		return f, errors.New("unexpected feed script answer")
	}
	f.exists = true
	f.added, _ = res[1].(int64)
	f.length, _ = res[2].(int64)
	f.first, _ = res[3].(string)
	f.lastGenerated, _ = res[4].(string)
	if f.added < 0 {
		return f, errors.New("the revocation stream has no entries-added counter: the feed needs Redis 7.0 or later")
	}
	rows, _ := res[5].([]any)
	for _, row := range rows {
		m, ok := parseXMessage(row)
		if !ok {
			return f, errors.New("unexpected stream entry shape")
		}
		f.entries = append(f.entries, m)
	}
	return f, nil
}

// parseXMessage reads one XRANGE row {id, {field, value, ...}}.
func parseXMessage(row any) (redis.XMessage, bool) {
	r, ok := row.([]any)
	if !ok || len(r) != 2 {
		return redis.XMessage{}, false
	}
	id, ok := r[0].(string)
	kv, ok2 := r[1].([]any)
	if !ok || !ok2 || len(kv)%2 != 0 {
		return redis.XMessage{}, false
	}
	m := redis.XMessage{ID: id, Values: make(map[string]any, len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return redis.XMessage{}, false
		}
		m.Values[k] = kv[i+1]
	}
	return m, true
}

// cursor is where a subscription stands in the stream: the id of the last
// entry it read (or the time-based start) and that entry's ordinal (its
// place in entries-added), -1 while not known.
type cursor struct {
	last string
	ord  int64
	seen bool // an entry was read through this cursor
}

// judge compares a snapshot with the cursor it was read after, and says
// whether an entry after the cursor was lost (trimmed by MAXLEN, flushed,
// or the stream recreated by a restart without persistence), and whether
// the stream was recreated (the cursor no longer means anything in it).
// Trimming removes the oldest entries first, so with the cursor's ordinal
// known the answer is exact: the first entry after the cursor must have
// ordinal ord+1. While it is not known (a new subscription, starting at a
// time), a trim that reached past the start errs on the safe side.
func judge(c cursor, f feedSnapshot) (lost, recreated bool) {
	if !f.exists {
		// No stream: nothing was ever revoked, or it was flushed away
		// with whatever followed the cursor.
		gone := c.ord > 0 || c.seen
		return gone, gone
	}
	if cmpID(f.lastGenerated, c.last) < 0 || (c.ord >= 0 && f.added < c.ord) {
		return true, true // counters went back: a new stream
	}
	trimmed := f.added - f.length // entries removed so far
	if c.ord < 0 {
		// Unknown ordinal: something after the start may have been
		// trimmed when the oldest entry left is itself after the start.
		return trimmed > 0 && cmpID(f.lastGenerated, c.last) > 0 && (f.length == 0 || cmpID(f.first, c.last) > 0), false
	}
	if len(f.entries) == 0 {
		// Entries after the cursor were added (added > ord) but none is
		// left to read.
		return f.added > c.ord, false
	}
	if f.entries[0].ID == f.first {
		// The first entry after the cursor is the oldest left: its
		// ordinal is trimmed+1, and must be ord+1.
		return trimmed+1 != c.ord+1, trimmed+1 < c.ord+1
	}
	return false, false // entries up to the cursor are still there: nothing after it was trimmed
}

// advance moves the cursor past the entries of f.
func (c *cursor) advance(f feedSnapshot, lost bool) {
	n := int64(len(f.entries))
	if n == 0 {
		if c.ord < 0 || lost {
			c.ord = f.added // everything up to the newest entry is behind us
		}
		return
	}
	switch {
	case f.entries[0].ID == f.first:
		c.ord = f.added - f.length + n
	case c.ord >= 0 && !lost:
		c.ord += n
	case n < feedBatch:
		c.ord = f.added // the answer reached the newest entry
	default:
		c.ord = -1 // a full batch from an unknown place: learnt on a later read
	}
	c.last = f.entries[n-1].ID
	c.seen = true
}

// read is a subscription's goroutine. Every read is one feedReadScript
// call, judged for lost entries (judge); between reads it waits on XREAD
// BLOCK for the next entry, which the next script call then reads.
func (s *Store) read(ctx context.Context, sub *subscription) {
	var (
		cur     cursor // cur.last "" until the start is known
		backoff time.Duration
		loud    = rate.Sometimes{First: 1, Interval: 10 * time.Second}
		garbage = rate.Sometimes{First: 3, Interval: time.Minute}
	)
	fail := func(what string, err error) {
		s.reroute(err)
		sub.current.Store(false)
		sub.report()
		loud.Do(func() {
			s.log.Warn("redisstore: revocation feed "+what+"; every request is checked live until it has caught up", slog.Any("error", err))
		})
		backoff = min(max(2*backoff, 20*time.Millisecond), maxBackoff)
		t := time.NewTimer(backoff)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	for ctx.Err() == nil {
		sub.report()
		if cur.last == "" {
			start, err := s.startID(ctx)
			if err != nil {
				fail("cannot start", err)
				continue
			}
			cur = cursor{last: start, ord: -1}
		}
		f, err := s.readAfter(ctx, cur.last)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fail("read failed", err)
			continue
		}
		backoff = 0
		lost, recreated := judge(cur, f)
		if lost {
			switch {
			case recreated:
				s.behind(sub, "the revocation stream disappeared or was recreated (FLUSHALL, or a restart without persistence)")
			default:
				s.behind(sub, "revocation feed entries were trimmed before they were read (raise FeedMaxLen)")
			}
		}
		if recreated {
			cur = cursor{last: "0-0", ord: 0}
			if !f.exists {
				sub.current.Store(true)
				if !s.wait(ctx, sub, cur.last) {
					return
				}
				continue
			}
			f, err = s.readAfter(ctx, cur.last)
			if err != nil {
				fail("read failed", err)
				continue
			}
		}
		for _, m := range f.entries {
			r, ok := parseEntry(m)
			if !ok {
				garbage.Do(func() { s.log.Warn("redisstore: ignoring a malformed revocation feed entry", slog.String("id", m.ID)) })
				continue
			}
			sub.deliver(r)
		}
		cur.advance(f, lost)
		if len(f.entries) >= feedBatch {
			sub.current.Store(false) // more may be waiting: read on at once
			continue
		}
		sub.current.Store(true)
		sub.report()
		if !s.wait(ctx, sub, cur.last) {
			return
		}
	}
}

// wait blocks until the stream may have an entry after last (XREAD BLOCK,
// at most Options.FeedBlock), and reports false when ctx ended. A failed
// wait reports the subscription behind until its next successful read. What the
// XREAD returns is not used: the next feedReadScript call reads it, with
// the counters that show a gap.
func (s *Store) wait(ctx context.Context, sub *subscription, last string) bool {
	err := s.cmd.XRead(ctx, &redis.XReadArgs{Streams: []string{s.stream, last}, Count: 1, Block: s.block}).Err()
	if ctx.Err() != nil {
		return false
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		// The connection broke (or Redis is down): this subscription hears
		// nothing until the next read succeeds, so it is behind until then.
		// The next script call decides whether anything was lost; a short
		// pause keeps a broken connection from spinning.
		s.reroute(err)
		sub.current.Store(false)
		sub.report()
		t := time.NewTimer(20 * time.Millisecond)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// startID is the id a new subscription reads after: FeedReplay ago by the
// Redis server's clock (stream ids are its milliseconds).
func (s *Store) startID(ctx context.Context) (string, error) {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	t, err := s.cmd.Time(cctx).Result()
	if err != nil {
		return "", err
	}
	from := t.Add(-s.replay).UnixMilli()
	if from < 0 {
		from = 0
	}
	return strconv.FormatInt(from, 10) + "-0", nil
}

func (s *Store) behind(sub *subscription, why string) {
	sub.behindUntil.Store(time.Now().Add(s.replay).UnixNano())
	s.log.Error("redisstore: revocations may have been lost: "+why+"; every request is checked live for FeedReplay",
		slog.Duration("feed_replay", s.replay))
}

// cmpID compares two stream ids "ms-seq"; an unparsable id sorts first.
func cmpID(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	switch {
	case am != bm:
		return cmpU(am, bm)
	default:
		return cmpU(as, bs)
	}
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func splitID(id string) (uint64, uint64) {
	msPart, seqPart, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(msPart, 10, 64)
	q, _ := strconv.ParseUint(seqPart, 10, 64)
	return m, q
}

// parseEntry reads one stream entry strictly (RD-06): version 1, a valid
// sid (or, for a subject cutoff, "k" "cut", a subject and no sid), bounded
// subject and issuer, a positive time. Anything else is
// ignored. An entry can only add a revocation: there is no way to remove one.
func parseEntry(m redis.XMessage) (core.Revocation, bool) {
	if len(m.Values) > maxEntryFields {
		return core.Revocation{}, false
	}
	get := func(k string, limit int) (string, bool) {
		v, ok := m.Values[k].(string)
		return v, ok && len(v) <= limit
	}
	v, ok1 := get("v", 8)
	sub, ok3 := get("sub", maxSubjectLen)
	iss, ok4 := get("iss", maxIssuerLen)
	at, ok5 := get("at", 20)
	if !(ok1 && ok3 && ok4 && ok5) || v != "1" {
		return core.Revocation{}, false
	}
	atMs, err := strconv.ParseInt(at, 10, 64)
	if err != nil || atMs <= 0 {
		return core.Revocation{}, false
	}
	if k, has := m.Values["k"]; has {
		// A subject cutoff (PublishRevocation): no sid, a subject.
		if k != "cut" || sub == "" {
			return core.Revocation{}, false
		}
		if _, has := m.Values["sid"]; has {
			return core.Revocation{}, false
		}
		return core.Revocation{Cutoff: true, Subject: sub, Issuer: iss, At: time.UnixMilli(atMs)}, true
	}
	sid, ok2 := get("sid", core.MaxSessionIDLen)
	if !ok2 || !storekit.ValidSessionID(sid) {
		return core.Revocation{}, false
	}
	return core.Revocation{SessionID: sid, Subject: sub, Issuer: iss, At: time.UnixMilli(atMs)}, true
}
