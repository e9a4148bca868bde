package core

import (
	"testing"
	"time"
)

type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

func TestSessionCacheNegativeWins(t *testing.T) {
	clk := &fixedClock{t: time.Unix(1000, 0)}
	c := newSessionCache(10, time.Minute, time.Hour, clk.now)
	k := sessKey{"iss", "s-1"}
	callStart := clk.t
	gen := c.generation()
	// Call 2 (later) answers "revoked" first; call 1 (earlier) answers
	// "active" late: the negative entry must survive (SS-05).
	clk.t = clk.t.Add(time.Second)
	c.putNegative(k)
	c.putPositive(k, callStart, gen)
	if e, ok := c.get(k); !ok || !e.revoked {
		t.Fatalf("SS-05: a late positive answer replaced a negative entry: %+v %v", e, ok)
	}
}

func TestSessionCacheRevocationBumpsGeneration(t *testing.T) {
	clk := &fixedClock{t: time.Unix(1000, 0)}
	c := newSessionCache(10, time.Minute, time.Hour, clk.now)
	k := sessKey{"iss", "s-1"}
	gen := c.generation()
	c.revoked([]sessKey{{"iss", "other"}})
	if c.generation() == gen {
		t.Fatal("revocation did not bump the generation")
	}
	c.putPositive(k, clk.t, gen) // a call that began before the revocation
	if _, ok := c.get(k); ok {
		t.Fatal("SS-04: an answer from before a revocation was cached")
	}
	c.putPositive(k, clk.t, c.generation())
	if e, ok := c.get(k); !ok || e.revoked {
		t.Fatal("a current answer was not cached")
	}
	c.revoked([]sessKey{k})
	if e, ok := c.get(k); !ok || !e.revoked {
		t.Fatal("a revocation did not turn the cached positive into a negative")
	}
}

func TestSessionCacheIsBounded(t *testing.T) {
	clk := &fixedClock{t: time.Unix(1000, 0)}
	c := newSessionCache(3, time.Minute, time.Hour, clk.now)
	for i := range 10 {
		c.putPositive(sessKey{"iss", string(rune('a' + i))}, clk.t, 0)
	}
	if n := len(c.entries); n != 3 {
		t.Fatalf("%d entries, cap 3", n)
	}
	c.putNegative(sessKey{"iss", "revoked"}) // a negative displaces a positive
	if e, ok := c.get(sessKey{"iss", "revoked"}); !ok || !e.revoked || len(c.entries) != 3 {
		t.Fatalf("negative entry not stored in a full cache: %v, %d entries", ok, len(c.entries))
	}
	clk.t = clk.t.Add(2 * time.Minute) // positives expired; swept when room is needed
	c.putPositive(sessKey{"iss", "new"}, clk.t, 0)
	if _, ok := c.get(sessKey{"iss", "new"}); !ok {
		t.Fatal("expired entries were not swept to make room")
	}
}

func TestDenySetRetentionAndOverflow(t *testing.T) {
	clk := &fixedClock{t: time.Unix(1000, 0)}
	d := newDenySet(time.Hour, 2, clk.now)
	if !d.add(Revocation{SessionID: "a", Issuer: "i1", At: clk.t}) || !d.add(Revocation{SessionID: "b", At: clk.t}) {
		t.Fatal("add refused below capacity")
	}
	if !d.has("i1", "a") || d.has("i2", "a") || !d.has("i2", "b") || !d.has("", "b") {
		t.Fatal("lookup by (issuer, sid), with an empty issuer matching all (CL-15)")
	}
	if d.add(Revocation{SessionID: "c", At: clk.t}) || !d.overflowed() {
		t.Fatal("SS-15: a full deny set must report the overflow, not evict a live entry")
	}
	if !d.has("i1", "a") || !d.has("x", "b") {
		t.Fatal("SS-15: a live entry was evicted")
	}
	if d.add(Revocation{SessionID: "old", At: clk.t.Add(-2 * time.Hour)}) != true {
		t.Fatal("a revocation older than the retention needs no entry")
	}
	clk.t = clk.t.Add(time.Hour)
	if d.has("i1", "a") || d.overflowed() {
		t.Fatal("entries and the overflow outlived their retention")
	}
	if !d.add(Revocation{SessionID: "c", At: clk.t}) || d.len() != 1 {
		t.Fatalf("expired entries not swept when full: %d", d.len())
	}
}
