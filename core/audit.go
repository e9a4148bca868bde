package core

import (
	"context"
	"log/slog"
	"time"
)

// AuditEvent describes one revocation: which session, whose, when, why and
// by whom. It never carries a token.
type AuditEvent struct {
	SessionID string
	Subject   string
	Issuer    string
	At        time.Time
	Reason    string
	Actor     string
}

// AuditSink receives an event for every revocation a store performs
// (Revoke, RevokeSubject, eviction at the session cap). Revoked must not
// block for long: stores call it before the revoking call returns.
type AuditSink interface {
	Revoked(ctx context.Context, e AuditEvent)
}

// AuditFunc adapts a function to AuditSink.
type AuditFunc func(ctx context.Context, e AuditEvent)

// Revoked calls f.
func (f AuditFunc) Revoked(ctx context.Context, e AuditEvent) { f(ctx, e) }

// NewSlogAudit returns the default AuditSink: one Info record
// "authgate: session revoked" per revocation on l (slog.Default() when nil).
func NewSlogAudit(l *slog.Logger) AuditSink { return slogAudit{l: l} }

type slogAudit struct{ l *slog.Logger }

func (s slogAudit) Revoked(ctx context.Context, e AuditEvent) {
	l := s.l
	if l == nil {
		l = slog.Default()
	}
	l.LogAttrs(ctx, slog.LevelInfo, "authgate: session revoked",
		slog.String("session_id", e.SessionID),
		slog.String("subject", e.Subject),
		slog.String("issuer", e.Issuer),
		slog.Time("at", e.At),
		slog.String("reason", e.Reason),
		slog.String("actor", e.Actor),
	)
}
