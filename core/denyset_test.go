package core

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDenySetReadersDuringWrites runs lookups on every core while a feed
// adds revocations: a revocation is seen by every lookup that starts after
// add returned, entries of one issuer never match another, and an entry
// without issuer matches them all (run with -race).
func TestDenySetReadersDuringWrites(t *testing.T) {
	clk := &fixedClock{t: time.Unix(1000, 0)}
	d := newDenySet(time.Hour, 10000, clk.now)
	var added atomic.Int64 // revocations i < added are in the set
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := added.Load()
				for i := max(0, n-20); i < n; i++ {
					iss, other := "iss-a", "iss-b"
					if i%2 == 1 {
						iss = ""
					}
					sid := fmt.Sprint("s", i)
					if !d.has("iss-a", sid) {
						errs <- fmt.Errorf("revocation %d added but not seen", i)
						return
					}
					if iss != "" && d.has(other, sid) {
						errs <- fmt.Errorf("revocation %d of iss-a matched iss-b", i)
						return
					}
					if iss == "" && !d.has(other, sid) {
						errs <- fmt.Errorf("revocation %d without issuer did not match iss-b", i)
						return
					}
				}
				if d.has("iss-a", "never") || d.overflowed() {
					errs <- fmt.Errorf("phantom revocation or overflow")
					return
				}
			}
		}()
	}
	for i := range 2000 {
		iss := "iss-a"
		if i%2 == 1 {
			iss = ""
		}
		if !d.add(Revocation{Issuer: iss, SessionID: fmt.Sprint("s", i), At: clk.t}) {
			t.Fatal("add refused below capacity")
		}
		added.Store(int64(i + 1))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if d.len() != 2000 {
		t.Fatalf("len %d, want 2000", d.len())
	}
}

// TestDenySetEmptyAndOverflowFastPaths: an empty set matches nothing and
// reads no clock; an overflow is reported until the lost revocation expires,
// and a later, longer-lived loss extends it.
func TestDenySetEmptyAndOverflowFastPaths(t *testing.T) {
	var reads atomic.Int64
	clk := &fixedClock{t: time.Unix(1000, 0)}
	d := newDenySet(time.Hour, 1, func() time.Time { reads.Add(1); return clk.now() })
	if d.has("i", "s") || d.has("", "s") || d.overflowed() || reads.Load() != 0 {
		t.Fatalf("empty set: matched, overflowed or read the clock (%d reads)", reads.Load())
	}
	if !d.add(Revocation{SessionID: "a", At: clk.t}) {
		t.Fatal("add refused below capacity")
	}
	if d.add(Revocation{SessionID: "b", At: clk.t}) || !d.overflowed() {
		t.Fatal("SS-15: overflow not reported")
	}
	clk.t = clk.t.Add(30 * time.Minute)
	if d.add(Revocation{SessionID: "c", At: clk.t}) || !d.overflowed() {
		t.Fatal("second overflow not reported")
	}
	clk.t = clk.t.Add(45 * time.Minute) // the first loss expired, the second not
	if !d.overflowed() {
		t.Fatal("the later loss did not extend the overflow")
	}
	clk.t = clk.t.Add(15 * time.Minute)
	if d.overflowed() {
		t.Fatal("overflow outlived the lost revocations")
	}
}
