package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storekit"
	"github.com/redis/go-redis/v9"
)

var _ core.RevocationPublisher = (*Store)(nil)

// PublishRevocation publishes r on the revocation feed, so that every
// instance subscribed to this Redis refuses it on every route: a session id
// this store does not hold (sessions kept at the identity provider: the
// Redis store as the revocation bus alone), or a subject cutoff
// (core.Revocation.Cutoff). A session this store holds is ended as Revoke
// ends it. r.At defaults to now; this process's subscribers have r before
// PublishRevocation returns, and it is audited.
//
// A cutoff is written as a stream entry of its own kind ("k" "cut"):
// instances running a release without cutoffs ignore it (and log a
// malformed entry), so upgrade every instance before relying on it.
func (s *Store) PublishRevocation(ctx context.Context, r core.Revocation, opts ...core.RevokeOption) error {
	if err := storekit.CheckRevocation(r); err != nil {
		return err
	}
	if len(r.Subject) > maxSubjectLen || len(r.Issuer) > maxIssuerLen {
		return core.ErrRevocationInvalid
	}
	if s.isClosed() {
		return errClosed
	}
	now := s.now()
	if r.At.IsZero() || r.At.After(now) {
		r.At = now
	}
	r.At = r.At.Truncate(0)
	r.Behind = false
	if !r.Cutoff {
		if _, ok := parseSID(r.SessionID); ok {
			err := s.Revoke(ctx, r.SessionID, opts...)
			if !errors.Is(err, core.ErrSessionRevoked) {
				return err // ended and published, or Redis failed
			}
		}
	}
	args := &redis.XAddArgs{Stream: s.stream, MaxLen: s.maxLen, Approx: true, Values: publishedEntry(r)}
	var err, werr error
	if s.waitN == 0 {
		cctx, cancel := s.ctx(ctx)
		err = s.cmd.XAdd(cctx, args).Err()
		cancel()
	} else {
		var add *redis.StringCmd
		werr, err = s.written(ctx, s.stream, func(ctx context.Context, p redis.Pipeliner) { add = p.XAdd(ctx, args) })
		if err == nil {
			err = add.Err()
		}
	}
	if err != nil {
		// Not on the feed: other instances do not have it. The caller
		// must fail (a receiver answers 5xx, so the sender retries).
		return s.failed(fmt.Errorf("publishing the revocation failed: %w", err))
	}
	s.deliverLocal([]core.Revocation{r})
	o := storekit.RevokeOptions(opts...)
	s.opts.Audit.Revoked(ctx, core.AuditEvent{
		SessionID: r.SessionID, Subject: r.Subject, Issuer: r.Issuer, At: r.At,
		Reason: o.Reason, Actor: o.Actor, Cutoff: r.Cutoff,
	})
	return werr
}

// publishedEntry is r as a stream entry: a session revocation as the
// scripts write it, or a cutoff ("k" "cut", no sid).
func publishedEntry(r core.Revocation) []any {
	if r.Cutoff {
		return []any{"v", "1", "k", "cut", "sub", r.Subject, "iss", r.Issuer, "at", strconv.FormatInt(r.At.UnixMilli(), 10)}
	}
	return entry(r)
}

var _ core.ReplayCache = (*Store)(nil)

// replayKey is the Redis key of a one-time token id: a hash, so no
// sender-chosen byte reaches a key name (RD-05).
func (s *Store) replayKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return s.prefix + "jti:" + hex.EncodeToString(h[:])
}

// FirstUse records key (a logout token's or security event's issuer and
// jti) until until, shared by every instance on this Redis, and reports
// whether no instance had recorded it yet (SET NX). It fails when Redis
// cannot answer; the receiver then answers 503.
func (s *Store) FirstUse(ctx context.Context, key string, until time.Time) (bool, error) {
	ttl := until.Sub(s.now())
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	ok, err := s.cmd.SetNX(cctx, s.replayKey(key), "1", ttl).Result()
	if err != nil {
		return false, s.failed(err)
	}
	return ok, nil
}

// Forget removes key, so that a retry of a token whose revocation could not
// be applied is not refused as a replay.
func (s *Store) Forget(ctx context.Context, key string) error {
	cctx, cancel := s.ctx(ctx)
	defer cancel()
	if err := s.cmd.Del(cctx, s.replayKey(key)).Err(); err != nil {
		return s.failed(err)
	}
	return nil
}
