package soak

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// figures are one backend's results.
type figures struct {
	Backend, Policy, Note string
	Elapsed               time.Duration

	Requests                                        int64
	Sent                                            [nCategories][2][nStatus]int64
	Served                                          [nCategories][2]int64
	OtherCodes                                      map[int]int64
	GoodSent, GoodServed                            int64
	RefusedNewKey, RefusedRotated, RefusedDown      int64
	RefusedNewKey503                                int64
	RefusedRevoking, RefusedSlow, CheckFailures     int64
	BadSent, BadServed                              int64
	RevokedSent, RevokedServed, ServedInFlight      int64
	ServedFeedLag                                   int64
	MaxFeedLag                                      time.Duration
	Instances                                       int
	FeedProbes, FeedProbesRefused, FeedProbesServed int64
	P50, P99, MaxLatency, Max503                    time.Duration
	Violations                                      int
	Panics, ErrorLogLines, TransportErrs            int64
	LogWarn, LogErr, TokensInLogs                   int64

	JWKSStops, Rotations, RotationsDuringOutage, Removals, JWKSFetches int64
	BackendStops                                                       int64
	MaxRecovery                                                        time.Duration
	RevokesAcked, RevokesFailed, SubjectRevokes, CreateFails           int64

	GoroutinesBefore, PeakGoroutines, GoroutinesAfter    int
	HeapBeforeMiB, HeapEndMiB, PeakHeapMiB, HeapAfterMiB float64
}

func (h *harness) fill(f *figures) {
	st := &h.st
	for c := range nCategories {
		for r := range 2 {
			for s := range nStatus {
				n := st.sent[c][r][s].Load()
				f.Sent[c][r][s] = n
				f.Requests += n
				switch category(c) {
				case cGood:
					f.GoodSent += n
				case cRevoked:
					f.RevokedSent += n
				case cExpired, cForgedUnknownKey, cForgedKnownKid, cTampered:
					f.BadSent += n
				}
			}
			n := st.served[c][r].Load()
			f.Served[c][r] = n
			switch category(c) {
			case cGood:
				f.GoodServed += n
			case cRevoked:
				f.RevokedServed += n
			case cExpired, cForgedUnknownKey, cForgedKnownKid, cTampered:
				f.BadServed += n
			}
		}
	}
	f.OtherCodes = map[int]int64{}
	st.otherCodes.Range(func(k, v any) bool {
		f.OtherCodes[k.(int)] = v.(*atomic.Int64).Load()
		return true
	})
	f.ServedInFlight = st.servedInFlight.Load()
	f.ServedFeedLag, f.MaxFeedLag = st.servedFeedLag.Load(), time.Duration(st.maxFeedLag.Load())
	f.FeedProbes, f.FeedProbesRefused = st.feedProbes.Load(), st.feedProbesRefused.Load()
	f.FeedProbesServed = st.feedProbesServed.Load()
	f.P50, f.P99 = st.quantile(0.5), st.quantile(0.99)
	f.MaxLatency, f.Max503 = time.Duration(st.maxLat.Load()), time.Duration(st.max503.Load())
	f.RefusedNewKey, f.RefusedRotated = st.refusedNewKey.Load(), st.refusedRotated.Load()
	f.RefusedNewKey503 = st.refusedNewKey503.Load()
	f.RefusedDown, f.RefusedRevoking = st.refusedDown.Load(), st.refusedRevoking.Load()
	f.RefusedSlow, f.CheckFailures = st.refusedSlow.Load(), st.checkFailures.Load()
	h.vmu.Lock()
	for _, n := range h.violations {
		f.Violations += n
	}
	h.vmu.Unlock()
	f.Panics = st.handlerPanics.Load() + h.errLog.panics.Load()
	f.ErrorLogLines = h.errLog.lines.Load()
	f.TransportErrs = st.transportErrs.Load()
	f.LogWarn, f.LogErr, f.TokensInLogs = h.log.warn.Load(), h.log.errs.Load(), h.log.tokens.Load()
	f.JWKSStops, f.Rotations, f.Removals = st.jwksStops.Load(), st.rotations.Load(), st.removals.Load()
	f.RotationsDuringOutage, f.JWKSFetches = st.unknownKidRounds.Load(), st.jwksFetches.Load()
	f.BackendStops, f.MaxRecovery = st.backendStops.Load(), time.Duration(st.maxRecovery.Load())
	f.RevokesAcked, f.RevokesFailed = st.revokesAcked.Load(), st.revokesFailed.Load()
	f.SubjectRevokes, f.CreateFails = st.subjectRevokes.Load(), st.createFails.Load()
}

func pct(n, d int64) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(d))
}

// writeMarkdown writes the figures of every backend: a summary table, then
// the answers by category and route.
func writeMarkdown(b *strings.Builder, rows []*figures, total time.Duration) {
	fmt.Fprintf(b, "%d workers, GOMAXPROCS %d, race detector %v, %s, %s of traffic in all.\n\n",
		workers, runtime.GOMAXPROCS(0), raceEnabled, runtime.Version(), total)
	b.WriteString("| backend | policy | requests | req/s | good: served · refused (key not yet fetched: 401 · 503 · key removed: 401 or 503 · 503 backend down · 503 check failed or timed out, backend up · being revoked) | bad let through (sent) | revoked let through (sent; served: revoked while in flight · instance B plain route before the feed delivered, at most this long after the revocation) | violations | panics | faults: JWKS stops (rotations during outage) · key removals · backend stops · longest recovery | revocations acked · failed | goroutines before → peak → after | heap MiB before → end of traffic → after Close (peak) |\n")
	b.WriteString("|---|---|---:|---:|---|---|---|---:|---:|---|---|---|---|\n")
	for _, f := range rows {
		if f.Requests == 0 {
			fmt.Fprintf(b, "| %s | skipped or failed before traffic |||||||||||\n", f.Backend)
			continue
		}
		rps := float64(f.Requests) / f.Elapsed.Seconds()
		fmt.Fprintf(b, "| %s | %s | %d | %.0f | %d · %d (%d · %d · %d · %d · %d · %d) | %d (%d) | %d (%d; %d · %d, %v) | %d | %d | %d (%d) · %d · %d · %v | %d · %d | %d → %d → %d | %.1f → %.1f → %.1f (%.1f) |\n",
			f.Backend, f.Policy, f.Requests, rps,
			f.GoodServed, f.GoodSent-f.Sent[cGood][0][s200]-f.Sent[cGood][1][s200],
			f.RefusedNewKey, f.RefusedNewKey503, f.RefusedRotated, f.RefusedDown, f.RefusedSlow, f.RefusedRevoking,
			f.BadServed, f.BadSent,
			f.RevokedServed-f.ServedInFlight-f.ServedFeedLag, f.RevokedSent, f.ServedInFlight, f.ServedFeedLag, f.MaxFeedLag.Round(time.Microsecond),
			f.Violations, f.Panics,
			f.JWKSStops, f.RotationsDuringOutage, f.Removals, f.BackendStops, f.MaxRecovery.Round(time.Millisecond),
			f.RevokesAcked, f.RevokesFailed,
			f.GoroutinesBefore, f.PeakGoroutines, f.GoroutinesAfter,
			f.HeapBeforeMiB, f.HeapEndMiB, f.HeapAfterMiB, f.PeakHeapMiB)
	}
	b.WriteString("\nAnswers by what was sent (plain route GET / Sensitive route POST; 200 · 401 · 503 · other):\n\n")
	b.WriteString("| backend | sent | plain 200 · 401 · 503 · other | sensitive 200 · 401 · 503 · other | reached the handler |\n|---|---|---|---|---:|\n")
	for _, f := range rows {
		if f.Requests == 0 {
			continue
		}
		for c := range nCategories {
			p, s := f.Sent[c][0], f.Sent[c][1]
			fmt.Fprintf(b, "| %s | %s | %d · %d · %d · %d | %d · %d · %d · %d | %d |\n", f.Backend, categoryNames[c],
				p[s200], p[s401], p[s503], p[sOther], s[s200], s[s401], s[s503], s[sOther], f.Served[c][0]+f.Served[c][1])
		}
		if len(f.OtherCodes) > 0 {
			codes := slices.Sorted(mapKeys(f.OtherCodes))
			fmt.Fprintf(b, "| %s | other statuses |", f.Backend)
			for _, c := range codes {
				fmt.Fprintf(b, " %d×%d", f.OtherCodes[c], c)
			}
			b.WriteString(" | | |\n")
		}
	}
	for _, f := range rows {
		if f.FeedProbes > 0 {
			fmt.Fprintf(b, "\n%s, across instances: %d revoked tokens sent to instance B's plain route right after the revocation returned on instance A: %d refused 401 (the feed had delivered), %d served (not yet), %d 503 (B could not check: key not yet fetched, or feed behind with Redis down). All revoked tokens served by B's plain route after the revocation returned: %d, at most %v after it.\n",
				f.Backend, f.FeedProbes, f.FeedProbesRefused, f.FeedProbesServed, f.FeedProbes-f.FeedProbesRefused-f.FeedProbesServed, f.ServedFeedLag, f.MaxFeedLag.Round(time.Microsecond))
		}
	}
	b.WriteString("\nBackends:\n")
	for _, f := range rows {
		if f.Note != "" {
			fmt.Fprintf(b, "- %s: %s; %d instance(s); %v of traffic; latency p50 ≤ %v, p99 ≤ %v, max %v, slowest 503 %v; JWKS fetches %d; failed session checks %d; sessions created with errors %d; RevokeSubject %d; log records Warn %d, Error %d, with a token %d; server ErrorLog lines %d; transport errors %d.\n",
				f.Backend, f.Note, f.Instances, f.Elapsed.Round(time.Millisecond), f.P50, f.P99, f.MaxLatency.Round(time.Millisecond), f.Max503.Round(time.Millisecond), f.JWKSFetches, f.CheckFailures, f.CreateFails, f.SubjectRevokes, f.LogWarn, f.LogErr, f.TokensInLogs, f.ErrorLogLines, f.TransportErrs)
		}
	}
}
