package redisstore

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Key layout (P is Options.Prefix, T the subject tag: the first 8 bytes of
// SHA-256(subject), 16 hex digits):
//
//	P{T}:s:<sid>          hash: one session (no raw token, no raw subject in the key)
//	P{T}:t:<hex sha256>   string: token index, SHA-256 of the opaque token -> sid
//	P{T}:u:<hex sha256>   sorted set: the subject's sessions, scored by creation time
//	P revocations         stream: the revocation feed
//
// The tag {T} puts a subject's sessions, token indexes and session set in
// one Cluster slot, so every script touching them stays in one slot. The
// tag is carried by the ids the store hands out, so any lookup finds the
// slot without an extra read:
//
//	sid   = T "." 22 base64url characters (128 random bits)
//	token = base64url(T's 8 bytes || 32 random bytes), 54 characters
//
// Keys are built only from hex digests and from sids that passed parseSID
// (RD-05): no user-supplied byte reaches a key name, and a hostile subject
// cannot pick a slot or a pattern.

const (
	tagLen      = 16 // hex digits
	sidRandLen  = 22 // base64url characters of 16 bytes
	sidLen      = tagLen + 1 + sidRandLen
	tokenRawLen = 8 + 32
	tokenLen    = (tokenRawLen*8 + 5) / 6 // base64url without padding: 54
)

// subjectHash is SHA-256 of the subject: its tag and its index key.
func subjectHash(subject string) [32]byte { return sha256.Sum256([]byte(subject)) }

func tagOf(h [32]byte) string { return hex.EncodeToString(h[:8]) }

// newSessionID returns a fresh sid carrying tag.
func newSessionID(tag string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return tag + "." + base64.RawURLEncoding.EncodeToString(b[:])
}

// newToken returns a fresh opaque token carrying the subject hash's tag.
func newToken(h [32]byte) string {
	var b [tokenRawLen]byte
	copy(b[:8], h[:8])
	_, _ = rand.Read(b[8:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// parseSID returns the tag of a sid this store could have made, or false.
// Anything else (other shapes, `{`, `}`, `*`, newlines, 1 MiB) is simply an
// unknown session and never reaches Redis.
func parseSID(sid string) (tag string, ok bool) {
	if len(sid) != sidLen || sid[tagLen] != '.' {
		return "", false
	}
	for i := 0; i < tagLen; i++ {
		c := sid[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	for i := tagLen + 1; i < len(sid); i++ {
		c := sid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return sid[:tagLen], true
}

// parseToken returns the tag carried by an opaque token, or false.
func parseToken(tok string) (tag string, ok bool) {
	if len(tok) != tokenLen {
		return "", false
	}
	var b [tokenRawLen]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(tok))
	if err != nil || n != tokenRawLen {
		return "", false
	}
	return hex.EncodeToString(b[:8]), true
}

func (s *Store) sessPrefix(tag string) string { return s.prefix + "{" + tag + "}:s:" }

func (s *Store) sessKey(tag, sid string) string { return s.sessPrefix(tag) + sid }

func (s *Store) tokenKey(tag string, h [32]byte) string {
	return s.prefix + "{" + tag + "}:t:" + hex.EncodeToString(h[:])
}

func (s *Store) subjectKey(h [32]byte) string {
	return s.prefix + "{" + tagOf(h) + "}:u:" + hex.EncodeToString(h[:])
}
