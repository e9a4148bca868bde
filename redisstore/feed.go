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

// read is a subscription's goroutine.
func (s *Store) read(ctx context.Context, sub *subscription) {
	var (
		last    string // last id read; "" until the start is known
		seen    bool   // read at least one entry since the start
		check   = true // look for a gap before the next read
		backoff time.Duration
		loud    = rate.Sometimes{First: 1, Interval: 10 * time.Second}
		garbage = rate.Sometimes{First: 3, Interval: time.Minute}
	)
	fail := func(what string, err error) {
		sub.current.Store(false)
		sub.report()
		check = true
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
		if last == "" {
			start, err := s.startID(ctx)
			if err != nil {
				fail("cannot start", err)
				continue
			}
			last = start
		}
		if check {
			reset, err := s.gap(ctx, sub, last, seen)
			if err != nil {
				fail("cannot check for lost entries", err)
				continue
			}
			if reset {
				last, seen = "0-0", false
			}
			check = false
		}
		block := s.block
		if !sub.current.Load() {
			block = -1 // catching up: do not wait when there is nothing
		}
		res, err := s.cmd.XRead(ctx, &redis.XReadArgs{Streams: []string{s.stream, last}, Count: feedBatch, Block: block}).Result()
		if errors.Is(err, redis.Nil) {
			sub.current.Store(true)
			backoff = 0
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fail("read failed", err)
			continue
		}
		backoff = 0
		n := 0
		for _, st := range res {
			for _, m := range st.Messages {
				n++
				last, seen = m.ID, true
				r, ok := parseEntry(m)
				if !ok {
					garbage.Do(func() { s.log.Warn("redisstore: ignoring a malformed revocation feed entry", slog.String("id", m.ID)) })
					continue
				}
				sub.deliver(r)
			}
		}
		if n >= feedBatch {
			// More may be waiting: stay behind until a short read, and make
			// sure the trimming has not overtaken us.
			sub.current.Store(false)
			check = true
		} else {
			sub.current.Store(true)
		}
	}
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

// gap looks for stream entries after last that were deleted before this
// subscription read them: trimmed by MAXLEN, or the stream flushed and
// recreated (reset: read it again from the start). Either way the
// subscription reports itself behind for FeedReplay. A stream flushed and
// refilled past last while the subscription was away is not detected (see
// the README: a FLUSHALL also loses the sessions, which are then refused on
// every route that checks live).
func (s *Store) gap(ctx context.Context, sub *subscription, last string, seen bool) (reset bool, err error) {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	info, err := s.cmd.XInfoStream(cctx, s.stream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			// No stream: nothing was ever revoked, or it was flushed. If
			// we had read entries, whatever followed them is lost.
			if seen {
				s.behind(sub, "the revocation stream disappeared (FLUSHALL or a restart without persistence)")
				return true, nil
			}
			return false, nil
		}
		return false, err
	}
	if cmpID(info.LastGeneratedID, last) < 0 {
		s.behind(sub, "the revocation stream was recreated")
		return true, nil
	}
	// Entries were removed (trimmed by MAXLEN) and the oldest one left is
	// past last: some removed entry may have come after last. (When the
	// oldest entry left is exactly the one after last, this errs on the
	// safe side.)
	if info.EntriesAdded > info.Length && cmpID(info.LastGeneratedID, last) > 0 &&
		(info.Length == 0 || cmpID(info.FirstEntry.ID, last) > 0) {
		s.behind(sub, "revocation feed entries were trimmed before they were read (raise FeedMaxLen)")
	}
	return false, nil
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
// sid, bounded subject and issuer, a positive time. Anything else is
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
	sid, ok2 := get("sid", core.MaxSessionIDLen)
	sub, ok3 := get("sub", maxSubjectLen)
	iss, ok4 := get("iss", maxIssuerLen)
	at, ok5 := get("at", 20)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || v != "1" || !core.ValidSessionID(sid) {
		return core.Revocation{}, false
	}
	atMs, err := strconv.ParseInt(at, 10, 64)
	if err != nil || atMs <= 0 {
		return core.Revocation{}, false
	}
	return core.Revocation{SessionID: sid, Subject: sub, Issuer: iss, At: time.UnixMilli(atMs)}, true
}
