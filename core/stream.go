package core

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Streams that end when the credential does (issue 21).
//
// A WebSocket, a server-sent event stream or any long response outlives the
// check made when it opened. [StreamContext] gives the handler a context
// that ends, with a cause saying why, when the token that opened the stream
// can no longer be accepted:
//
//   - at the token's exp (no leeway past it): ErrTokenExpired;
//   - when a revocation of its session reaches this Authenticator (a feed,
//     the back-channel logout or Shared Signals receiver, a local store:
//     every revocation that fills the deny set), or a subject cutoff
//     covering the token's iat, judged as a request would be:
//     ErrSessionRevoked;
//   - when a revocation may have been missed (see below), unless a live
//     check says otherwise: ErrUnavailable, or ErrSessionRevoked if the
//     check says so;
//   - when the Authenticator is closed: ErrUnavailable;
//   - when the parent context ends, or the CancelFunc is called: the
//     parent's cause, or context.Canceled.
//
// The rule while revocations may be missing follows the one for requests
// (sessionPolicy.denied). When a feed reports it is behind, every open
// stream with a session gets one live session check through the usual path
// (Sensitive's: cache options and all), made after the feed fell behind;
// the stream ends when the check fails (ErrUnavailable) or says the session
// is revoked, or at once when no checker can answer for the token's issuer.
// A JWT without a session id ends at once with ErrUnavailable, as such a
// request is refused while a feed is behind. Revocations the feed delivers
// when it catches up (the Redis feed replays them) end streams as usual. A
// full deny set or cutoff set loses nothing for open streams: every
// revocation is handed to the streams whether or not the set had room (a
// cutoff lost to a full set ends the streams it may cover with
// ErrUnavailable, as requests get 503). A stream opened while a feed is
// behind or the deny set has overflowed gets its own live check.
//
// Cost: a revocation looks streams up by session id or subject (no scan);
// with no stream open it costs one atomic load. A stream holds one timer
// for its exp and no goroutine; its watch is removed when its context ends.
// Requests that open no stream pay nothing.

// streamWatch is one open stream: what it needs of its principal, copied
// when it opened (adapters reuse principals after the request).
type streamWatch struct {
	s             *sessionPolicy
	ctx           context.Context
	cancel        context.CancelCauseFunc
	iss, sid, sub string
	iat, exp      time.Time
	kind          Kind
	token         *string // a copy of the JWT, for an introspecting issuer's live check

	timer     *time.Timer // ends the stream at exp; nil without exp
	stopClose func() bool // unregisters the Close watch
	removed   bool        // under streamRegistry.mu
}

// streamRegistry indexes the open streams of one Authenticator. Writers and
// notifiers take mu; n lets a revocation skip it all when no stream is open.
type streamRegistry struct {
	n     atomic.Int64
	mu    sync.Mutex
	bySID map[string]map[*streamWatch]struct{}
	bySub map[string]map[*streamWatch]struct{}
	all   map[*streamWatch]struct{}
}

// StreamContext returns a context for a long-lived response (server-sent
// events, a WebSocket, a streaming body) opened by the request whose context
// is ctx: a child of ctx that is also cancelled when the principal's token
// can no longer be accepted — at its exp, when a revocation of its session
// or a cutoff of its subject reaches this Authenticator, when a revocation
// may have been missed and a live check does not confirm the session, or
// when the Authenticator is closed. context.Cause then says why, as an
// *Error unwrapping to ErrTokenExpired, ErrSessionRevoked or ErrUnavailable
// (see docs/streams.md), so that the handler can send a close reason.
//
// Without a principal in ctx (no middleware ran: ErrMisconfigured; an
// anonymous request on an Optional route: ErrNoToken; a principal made by
// [WithPrincipal], which no Authenticator watches: ErrMisconfigured) the
// context is returned already cancelled. Call the CancelFunc when the
// stream ends; it releases the watch.
//
// The adapters' StreamContext functions call this (fiber's with a parent
// that outlives its handler; see [StreamContextFor]).
func StreamContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return StreamContextFor(ctx, principalState(ctx))
}

// StreamContextFor is [StreamContext] for the principal p, with parent as
// the parent context: for streams that outlive the request's own context
// (fiber's body stream writer runs after the handler returned). What it
// needs of p is copied, so p may be reused once it returns. A nil p gives
// an already-cancelled context.
func StreamContextFor(parent context.Context, p *Principal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	stop := func() { cancel(context.Canceled) }
	switch {
	case p == nil:
		cancel(newError(ErrMisconfigured, errors.New("stream: no principal (is the route behind the middleware?)")))
		return ctx, stop
	case p.anonymous:
		cancel(newError(ErrNoToken, errors.New("stream: anonymous request")))
		return ctx, stop
	case p.auth == nil || p.auth.sessions == nil:
		cancel(newError(ErrMisconfigured, errors.New("stream: the principal was made by no Authenticator (WithPrincipal), so nothing watches its revocations")))
		return ctx, stop
	}
	return p.auth.sessions.watchStream(ctx, cancel, p)
}

func streamExpired() error {
	return newError(ErrTokenExpired, errors.New("stream: the token expired"))
}

func streamClosed() error {
	return newError(ErrUnavailable, errors.New("stream: the Authenticator was closed"))
}

// watchStream registers the stream of p whose context is ctx.
func (s *sessionPolicy) watchStream(ctx context.Context, cancel context.CancelCauseFunc, p *Principal) (context.Context, context.CancelFunc) {
	w := &streamWatch{s: s, ctx: ctx, cancel: cancel,
		iss: p.Issuer, sid: p.SessionID, sub: p.Subject, iat: p.IssuedAt, exp: p.ExpiresAt, kind: p.Kind}
	if p.token != nil {
		tok := strings.Clone(*p.token) // it may point into an adapter's buffers
		w.token = &tok
	}
	stop := func() {
		cancel(context.Canceled)
		w.remove()
	}
	if ctx.Err() != nil {
		return ctx, stop
	}
	if !w.exp.IsZero() {
		d := w.exp.Sub(s.now())
		if d <= 0 {
			cancel(streamExpired())
			return ctx, stop
		}
		w.timer = time.AfterFunc(d, func() { cancel(streamExpired()) })
	}
	w.stopClose = context.AfterFunc(s.a.ctx, func() { cancel(streamClosed()) })
	// However the context ends, the watch goes; the CancelFunc removes it
	// at once. Set last: remove reads the fields above.
	context.AfterFunc(ctx, w.remove)
	s.streams.add(w)
	// Registered first, judged second: a revocation recorded before the
	// registration is seen here, one recorded after it notifies w.
	if err := s.streamDenied(w); err != nil {
		cancel(err)
	}
	return ctx, stop
}

// streamDenied judges a newly registered stream as denied judges a request;
// where denied would check live, it starts the live check and returns nil.
func (s *sessionPolicy) streamDenied(w *streamWatch) error {
	if w.kind == KindJWT {
		if err := s.cutoffJudged(w.iss, w.sub, w.iat); err != nil {
			return err
		}
	}
	if w.sid == "" {
		if w.kind == KindJWT && s.behind.Load() > 0 {
			return streamBehindNoSession()
		}
		return nil
	}
	if s.deny.has(w.iss, w.sid) {
		return revokedErr("stream: session id is in the deny set")
	}
	if s.behind.Load() > 0 || s.deny.overflowed() {
		s.checkStreams([]*streamWatch{w})
	}
	return nil
}

func streamBehindNoSession() error {
	return newError(ErrUnavailable, errors.New("stream: a revocation feed is behind and the token names no session to check"))
}

// add indexes w, unless its context has already ended and removed it.
func (g *streamRegistry) add(w *streamWatch) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.removed {
		return
	}
	if g.all == nil {
		g.all = map[*streamWatch]struct{}{}
		g.bySID = map[string]map[*streamWatch]struct{}{}
		g.bySub = map[string]map[*streamWatch]struct{}{}
	}
	g.all[w] = struct{}{}
	if w.sid != "" {
		index(g.bySID, w.sid, w)
	}
	index(g.bySub, w.sub, w)
	g.n.Add(1)
}

func index(m map[string]map[*streamWatch]struct{}, k string, w *streamWatch) {
	set := m[k]
	if set == nil {
		set = map[*streamWatch]struct{}{}
		m[k] = set
	}
	set[w] = struct{}{}
}

func unindex(m map[string]map[*streamWatch]struct{}, k string, w *streamWatch) {
	if set := m[k]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// remove ends w's watch: its timer, its Close watch and its entries. It
// runs when the context ends and from the CancelFunc; only the first does
// anything.
func (w *streamWatch) remove() {
	g := &w.s.streams
	g.mu.Lock()
	if w.removed {
		g.mu.Unlock()
		return
	}
	w.removed = true
	if _, ok := g.all[w]; ok {
		delete(g.all, w)
		if w.sid != "" {
			unindex(g.bySID, w.sid, w)
		}
		unindex(g.bySub, w.sub, w)
		g.n.Add(-1)
	}
	g.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.stopClose != nil {
		w.stopClose()
	}
}

// collect returns the watches of key in m that keep says to, under mu.
func (g *streamRegistry) collect(m func() map[*streamWatch]struct{}, keep func(*streamWatch) bool) []*streamWatch {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ws []*streamWatch
	for w := range m() {
		if keep(w) {
			ws = append(ws, w)
		}
	}
	return ws
}

// streamsRevoked ends the streams of r's session: r.Issuer's, or every
// issuer's when it is empty (as the deny set matches). Called by revoke
// after the deny set has recorded r, outside its lock.
func (s *sessionPolicy) streamsRevoked(r Revocation) {
	g := &s.streams
	if g.n.Load() == 0 {
		return
	}
	ws := g.collect(func() map[*streamWatch]struct{} { return g.bySID[r.SessionID] },
		func(w *streamWatch) bool { return r.Issuer == "" || r.Issuer == w.iss })
	for _, w := range ws {
		w.cancel(revokedErr("stream: session revoked"))
	}
}

// streamsCutOff ends the streams of r's subject whose tokens the cutoff set
// now refuses, judged as cutoffDenied judges a request. Called by cutOff
// after the cutoff set has recorded r.
func (s *sessionPolicy) streamsCutOff(r Revocation) {
	g := &s.streams
	if g.n.Load() == 0 {
		return
	}
	ws := g.collect(func() map[*streamWatch]struct{} { return g.bySub[r.Subject] },
		func(w *streamWatch) bool { return w.kind == KindJWT && (r.Issuer == "" || r.Issuer == w.iss) })
	for _, w := range ws {
		if err := s.cutoffJudged(w.iss, w.sub, w.iat); err != nil {
			w.cancel(err)
		}
	}
}

// streamsBehind applies the Behind rule to every open stream: called when a
// feed reports it fell behind.
func (s *sessionPolicy) streamsBehind() {
	g := &s.streams
	if g.n.Load() == 0 {
		return
	}
	ws := g.collect(func() map[*streamWatch]struct{} { return g.all }, func(*streamWatch) bool { return true })
	check := ws[:0]
	for _, w := range ws {
		switch {
		case w.sid != "":
			check = append(check, w)
		case w.kind == KindJWT:
			w.cancel(streamBehindNoSession())
		}
	}
	s.checkStreams(check)
}

// streamCheckers bounds the live checks one Behind starts at once, below
// MaxInFlight so that requests still get theirs.
func (s *sessionPolicy) streamCheckers(n int) int {
	return min(n, max(1, s.opts.MaxInFlight/4))
}

// checkStreams gives each of ws one live check, made now, on a few
// goroutines that end when the checks do (Close ends checks in flight). A
// stream whose issuer has no checker ends at once.
func (s *sessionPolicy) checkStreams(ws []*streamWatch) {
	todo := ws[:0:0]
	for _, w := range ws {
		if s.checkerFor(w.iss) == nil && s.introspectorFor(w.iss) == nil {
			w.cancel(newError(ErrUnavailable, errors.New("stream: revocations may be missing and no session checker is configured")))
			continue
		}
		todo = append(todo, w)
	}
	if len(todo) == 0 {
		return
	}
	var next atomic.Int64
	for range s.streamCheckers(len(todo)) {
		go func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(todo) || s.a.ctx.Err() != nil {
					return
				}
				s.checkStream(todo[i])
			}
		}()
	}
}

// checkStream makes w's live check, as denied makes a request's while
// revocations may be missing, and ends the stream unless it passes.
func (s *sessionPolicy) checkStream(w *streamWatch) {
	if w.ctx.Err() != nil {
		return
	}
	p := &Principal{Subject: w.sub, SessionID: w.sid, Issuer: w.iss, Kind: w.kind,
		IssuedAt: w.iat, ExpiresAt: w.exp, auth: s.a, token: w.token}
	err := s.check(s.a.ctx, p, true)
	switch {
	case err == nil:
	case errors.Is(err, ErrSessionRevoked), errors.Is(err, ErrUnavailable):
		w.cancel(err)
	default:
		w.cancel(newError(ErrUnavailable, err))
	}
}

// openStreams returns the number of streams watched, for tests.
func (s *sessionPolicy) openStreams() int { return int(s.streams.n.Load()) }
