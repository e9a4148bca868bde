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
	// Cutoff marks a subject cutoff (Revocation.Cutoff): every token of
	// Subject issued at or before At is refused; SessionID is empty.
	Cutoff bool
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
	msg := "authgate: session revoked"
	if e.Cutoff {
		msg = "authgate: subject cut off (tokens issued before are refused)"
	}
	l.LogAttrs(ctx, slog.LevelInfo, msg,
		slog.String("session_id", e.SessionID),
		slog.String("subject", e.Subject),
		slog.String("issuer", e.Issuer),
		slog.Time("at", e.At),
		slog.String("reason", e.Reason),
		slog.String("actor", e.Actor),
	)
}
