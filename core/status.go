package core

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Status is a snapshot of an Authenticator's health, for an admin or
// readiness endpoint (see [Authenticator.StatusHandler]). It holds no token,
// subject or session id, and error texts have their URLs removed.
type Status struct {
	// Issuers lists every configured issuer, in the order of their names.
	Issuers []IssuerStatus `json:"issuers"`
	// Sessions describes the session backend.
	Sessions SessionBackendStatus `json:"sessions"`
	// Revocations describes the revocation feeds and the deny set.
	Revocations RevocationStatus `json:"revocations"`
	// TokenCacheEntries is the number of tokens in the verified-token cache
	// (0 when it is disabled).
	TokenCacheEntries int `json:"token_cache_entries"`
}

// IssuerStatus describes one issuer's key set.
type IssuerStatus struct {
	// Issuer is the configured "iss".
	Issuer string `json:"issuer"`
	// Source is "jwks" (fetched and refreshed), "static" (Config.PublicKeys)
	// or "hmac".
	Source string `json:"source"`
	// KeyIDs lists the kids of the keys in service ("" for a key without one).
	KeyIDs []string `json:"key_ids"`
	// LoadedAt is when the keys in service were fetched (zero: none yet,
	// or HMAC); AgeSeconds is how long ago, by Config.Now.
	LoadedAt   time.Time `json:"loaded_at,omitzero"`
	AgeSeconds float64   `json:"age_seconds"`
	// LastError is the last refresh's failure ("" when it succeeded) and
	// LastErrorAt when it happened. URLs are removed from the text.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// SessionBackendStatus describes the session checkers, as the last live
// check found them.
type SessionBackendStatus struct {
	// Configured says whether any SessionChecker is set.
	Configured bool `json:"configured"`
	// Policy is "never", "sensitive_only" or "always".
	Policy string `json:"policy"`
	// LastCheckAt is when the last live check ended (zero: none yet), and
	// Reachable whether it got an answer (active or revoked) rather than an
	// error. LastError is that error's text, URLs removed.
	LastCheckAt time.Time `json:"last_check_at,omitzero"`
	Reachable   bool      `json:"reachable"`
	LastError   string    `json:"last_error,omitempty"`
}

// RevocationStatus describes the revocation feeds and the deny set.
type RevocationStatus struct {
	// Feeds is the number of feeds subscribed to; Behind how many of them
	// said they may be missing revocations (requests are then checked live).
	Feeds  int `json:"feeds"`
	Behind int `json:"behind"`
	// LastAt is when the last revocation was heard, LastLagSeconds how late
	// (heard minus Revocation.At).
	LastAt         time.Time `json:"last_at,omitzero"`
	LastLagSeconds float64   `json:"last_lag_seconds"`
	// DenySetSize is the number of revoked sessions remembered;
	// DenySetOverflow says revocations were lost to a full deny set and
	// every request is checked live until they expire.
	DenySetSize     int  `json:"deny_set_size"`
	DenySetOverflow bool `json:"deny_set_overflow"`
	// SubjectCutoffs is the number of subject cutoffs remembered ("tokens
	// of this subject issued before T"); SubjectCutoffOverflow says one was
	// lost to a full set, so tokens it may cover are answered 503 until it
	// expires.
	SubjectCutoffs        int  `json:"subject_cutoffs"`
	SubjectCutoffOverflow bool `json:"subject_cutoff_overflow"`
	// OpenStreams is the number of stream contexts (StreamContext) waiting
	// for their credential to end.
	OpenStreams int `json:"open_streams"`
}

// policyStats is what the session policy remembers for Status. Only
// atomics: the hot path writes nothing here but the time and result of a
// live backend call.
type policyStats struct {
	checkAt     atomic.Int64 // unix nanoseconds of the last live check; 0: none
	checkFailed atomic.Bool
	checkErr    atomic.Pointer[string] // set on failure only
	revAt       atomic.Int64           // unix nanoseconds of the last revocation heard
	revLag      atomic.Int64           // its lag in nanoseconds
	failLog     rate.Sometimes         // rate-limits the backend failure warning
}

// noteBackend records the result of a live call to a session checker, and
// warns (at most every 10s) when it failed.
func (s *sessionPolicy) noteBackend(err error) {
	s.st.checkAt.Store(s.now().UnixNano())
	if err == nil {
		if s.st.checkFailed.Load() {
			s.st.checkFailed.Store(false)
		}
		return
	}
	msg := errorText(err)
	s.st.checkErr.Store(&msg)
	s.st.checkFailed.Store(true)
	s.st.failLog.Do(func() {
		s.log.Warn("authgate: session checker failed; such requests are answered 503 (or fail open within SessionCheck.MaxStale)",
			slog.String("error", msg))
	})
}

// noteRevocation records when revocation r was heard and how late.
func (s *sessionPolicy) noteRevocation(r Revocation) {
	now := s.now()
	s.st.revAt.Store(now.UnixNano())
	s.st.revLag.Store(int64(revocationLag(r, now)))
}

// revocationLag is how late r is heard at now; 0 when r.At is unset or
// ahead of now.
func revocationLag(r Revocation, now time.Time) time.Duration {
	if r.At.IsZero() {
		return 0
	}
	return max(0, now.Sub(r.At))
}

func unixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Status returns a snapshot of the authenticator's health: key sets,
// session backend, revocation feeds, caches. It is cheap (no network call)
// and safe for concurrent use.
func (a *Authenticator) Status() Status {
	now := a.cfg.Now()
	var st Status
	for _, is := range a.issuers {
		i := IssuerStatus{Issuer: is.cfg.Issuer, Source: "jwks", KeyIDs: []string{}}
		switch {
		case is.hmac != nil:
			i.Source = "hmac"
		case is.jwksURL == "" && is.kick == nil:
			i.Source = "static"
		}
		if kr := is.keys.Load(); kr != nil {
			for _, k := range kr.all {
				i.KeyIDs = append(i.KeyIDs, k.kid)
			}
			i.LoadedAt = kr.loaded
			i.AgeSeconds = max(0, now.Sub(kr.loaded)).Seconds()
		}
		if fe := is.lastErr.Load(); fe != nil {
			i.LastError, i.LastErrorAt = errorText(fe.err), fe.at
		}
		st.Issuers = append(st.Issuers, i)
	}
	slices.SortFunc(st.Issuers, func(x, y IssuerStatus) int {
		switch {
		case x.Issuer < y.Issuer:
			return -1
		case x.Issuer > y.Issuer:
			return 1
		}
		return 0
	})
	if s := a.sessions; s != nil {
		b := &st.Sessions
		b.Configured = a.cfg.Sessions != nil
		for _, is := range a.issuers {
			b.Configured = b.Configured || is.cfg.Sessions != nil
		}
		b.Policy = policyName(s.policy)
		b.LastCheckAt = unixNano(s.st.checkAt.Load())
		if !b.LastCheckAt.IsZero() {
			b.Reachable = !s.st.checkFailed.Load()
			if !b.Reachable {
				if m := s.st.checkErr.Load(); m != nil {
					b.LastError = *m
				}
			}
		}
		r := &st.Revocations
		r.Feeds = s.feeds
		r.Behind = int(s.behind.Load())
		r.LastAt = unixNano(s.st.revAt.Load())
		r.LastLagSeconds = time.Duration(s.st.revLag.Load()).Seconds()
		r.DenySetSize = s.deny.len()
		r.DenySetOverflow = s.deny.overflowed()
		r.SubjectCutoffs = s.cut.len()
		r.SubjectCutoffOverflow = s.cut.overflowed()
		r.OpenStreams = int(s.streams.n.Load())
	}
	if c := a.tokens; c != nil {
		for i := range c.shards {
			sh := &c.shards[i]
			sh.mu.Lock()
			st.TokenCacheEntries += sh.n
			sh.mu.Unlock()
		}
	}
	return st
}

func policyName(p Policy) string {
	switch p {
	case PolicyNever:
		return "never"
	case PolicyAlways:
		return "always"
	}
	return "sensitive_only"
}

// StatusHandler serves [Authenticator.Status] as JSON to GET and HEAD
// requests (405 otherwise), with Cache-Control: no-store. It is read-only
// but tells which issuers and key ids are trusted and whether the session
// backend is failing: serve it on an admin or internal port only, never on
// the public one.
func (a *Authenticator) StatusHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := json.MarshalIndent(a.Status(), "", "  ")
		if err != nil {
			http.Error(w, "status unavailable", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(append(body, '\n'))
		}
	})
}
