// Package storekit is what a session store implementation for authgate is
// built from: session ids and opaque tokens made and checked the way the
// engine expects, revoke options collected, store options defaulted, and a
// revocation checked before it is published. MemoryStore and redisstore use
// it; a store of your own passes the conformance suite in core/storetest.
//
// Applications do not need this package: they create a store
// (core.NewMemoryStore, redisstore.New) and hand it to core.Config.
package storekit

import (
	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/internal/link"
)

// ValidSessionID reports whether sid is a session id the engine accepts:
// 1 to core.MaxSessionIDLen bytes of [A-Za-z0-9-_.~:], and not "." or
// containing "..". A store refuses every other id before it builds a key
// or a URL from it.
func ValidSessionID(sid string) bool { return link.ValidSessionID(sid) }

// NewSessionID returns a fresh session id: 128 bits from crypto/rand,
// base64url without padding.
func NewSessionID() string { return link.NewSessionID() }

// NewOpaqueToken returns a fresh opaque session token (256 bits from
// crypto/rand, base64url without padding, 43 characters) and its SHA-256,
// which is all a store may keep.
func NewOpaqueToken() (token string, hash [32]byte) { return link.NewOpaqueToken() }

// HashOpaqueToken returns the SHA-256 of token, the key a store looks an
// opaque token up by. Compare stored hashes with crypto/subtle.
func HashOpaqueToken(token string) [32]byte { return link.HashOpaqueToken(token) }

// RevokeOptions collects the options a Revoke or RevokeSubject call was
// given (core.WithReason, core.WithActor), for the store's audit event.
func RevokeOptions(opts ...core.RevokeOption) core.RevokeOptions {
	var o core.RevokeOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// StoreDefaults returns o with every zero or out-of-range field set to its
// default, as core.NewMemoryStore applies them: the timeouts, the session
// limit per subject, the touch and sweep intervals.
func StoreDefaults(o core.StoreOptions) core.StoreOptions {
	return link.StoreDefaults(o).(core.StoreOptions)
}

// CheckRevocation returns core.ErrRevocationInvalid unless r is a
// revocation a store may publish: a valid session id, or a subject cutoff
// (Cutoff with a subject and no session id), with bounded names.
func CheckRevocation(r core.Revocation) error { return link.CheckRevocation(r) }
