package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// issuer holds one trusted issuer's configuration and keys.
type issuer struct {
	a       *Authenticator
	cfg     IssuerConfig
	hmac    []byte
	hmacKey *vkey // hmac as a key, remembered by the verified-token cache

	keys    atomic.Pointer[keyring]
	jwksURL string // "" for static keys, HMAC and an application's key set
	client  *http.Client
	// src is the jwkset storage of a remote issuer (nil until discovery has
	// found the JWKS URL) or the one the application handed over.
	src atomic.Pointer[keySource]

	unknownKID *rate.Limiter // refetches caused by unknown kids
	flight     singleflight.Group
	lastErr    atomic.Pointer[fetchError]
	// fetched is when (Config.Now, unix ns) the last refresh that succeeded
	// began: a kid it did not hold is unknown to tokens issued before then.
	fetched atomic.Int64

	// Refetches asked for by requests run in refreshLoop, the issuer's one
	// background goroutine (so Close owns them): kick wakes it, and pending
	// is closed when the refetch that a waiter asked for has ended.
	kick    chan struct{}
	mu      sync.Mutex
	pending chan struct{} // asked for, not started
	running chan struct{} // started, not ended
	kid     string        // the unknown kid of the pending request (an application's storage is asked for it)
}

type fetchError struct {
	err error
	at  time.Time
}

func newIssuer(ctx context.Context, a *Authenticator, ic IssuerConfig, client *http.Client) (*issuer, error) {
	is := &issuer{a: a, cfg: ic, client: client}
	switch {
	case len(ic.HMACSecret) > 0:
		is.hmac = ic.HMACSecret
		is.hmacKey = &vkey{kty: "oct", algs: ic.Algorithms, pub: ic.HMACSecret}
		return is, nil
	case len(ic.PublicKeys) > 0:
		keys, err := parseStaticKeys(ic.PublicKeys, ic.Algorithms)
		if err != nil {
			return nil, configErr("issuer %q: %v", ic.Issuer, err)
		}
		is.keys.Store(newKeyring(keys, a.cfg.Now()))
		return is, nil
	}
	is.unknownKID = rate.NewLimiter(rate.Every(a.cfg.UnknownKeyRefresh), 1)
	is.kick = make(chan struct{}, 1)
	is.jwksURL = ic.JWKSURL
	if ic.Keyfunc != nil || ic.KeyStorage != nil {
		src := newGivenSource(ic)
		if src.store == nil {
			return nil, configErr("issuer %q: the Keyfunc's Storage() is nil", ic.Issuer)
		}
		is.src.Store(src)
	}
	fctx, cancel := context.WithTimeout(ctx, 2*a.cfg.FetchTimeout)
	defer cancel()
	err := is.refresh(fctx, "") // discovery first, within refresh
	if err != nil {
		// A discovery document that answers but is wrong (another issuer,
		// no https jwks_uri) is a configuration error: it never heals.
		if errors.Is(err, errDiscoveryDoc) {
			return nil, configErr("issuer %q: %v", ic.Issuer, err)
		}
		if !a.cfg.AllowStartWithoutKeys {
			return nil, fmt.Errorf("authgate: issuer %q: %w (set AllowStartWithoutKeys to start anyway and answer 503 until keys arrive)", ic.Issuer, err)
		}
		a.log.Warn("authgate: starting without keys", slog.String("issuer", ic.Issuer), slog.String("error", errorText(err)))
	}
	a.goBackground(is.refreshLoop)
	return is, nil
}

var (
	errDiscovery    = errors.New("OIDC discovery failed")
	errDiscoveryDoc = errors.New("the discovery document does not fit the configured issuer")
)

// discover finds the JWKS URL from the issuer's OpenID configuration, unless
// one was configured. The document must name exactly this issuer (OpenID
// Connect Discovery 1.0 section 4.3).
func (is *issuer) discover(ctx context.Context) error {
	if is.jwksURL != "" {
		return nil
	}
	u := strings.TrimSuffix(is.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	body, err := is.fetch(ctx, u)
	if err != nil {
		return fmt.Errorf("%w: %v", errDiscovery, err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := strictUnmarshal(body, &doc); err != nil {
		return fmt.Errorf("%w: discovery document is not valid JSON", errDiscovery)
	}
	if doc.Issuer != is.cfg.Issuer {
		return fmt.Errorf("%w: %w: it names issuer %q, not %q (OpenID Connect Discovery 1.0 section 4.3)", errDiscovery, errDiscoveryDoc, doc.Issuer, is.cfg.Issuer)
	}
	if err := checkDiscoveredURL(is.cfg.Issuer, doc.JWKSURI); err != nil {
		return fmt.Errorf("%w: %w: jwks_uri: %v", errDiscovery, errDiscoveryDoc, err)
	}
	is.jwksURL = doc.JWKSURI
	return nil
}

// checkDiscoveredURL allows a jwks_uri found by discovery no more than the
// issuer's own URL is allowed: https, or http on loopback only when the
// issuer itself is a loopback http URL. Otherwise an https issuer's document
// could make the API GET its own loopback services over http, at start, on
// every refresh and on unknown kids (issue 14, item 9).
func checkDiscoveredURL(issuer, raw string) error {
	if err := checkFetchURL(raw); err != nil {
		return err
	}
	if strings.HasPrefix(raw, "https://") || strings.HasPrefix(issuer, "http://") && checkFetchURL(issuer) == nil {
		return nil
	}
	return fmt.Errorf("%q is plain http and the issuer is not: a discovered key set must come over https", raw)
}

// refresh fetches the key set and swaps in the new keys. On any failure the
// old keys stay in service. kid is the unknown kid a request asked for, if
// any (see keySource.refetch).
func (is *issuer) refresh(ctx context.Context, kid string) error {
	_, err, _ := is.flight.Do("jwks", func() (any, error) {
		var start time.Time
		if is.a.obs != nil {
			start = time.Now()
		}
		began := is.a.cfg.Now()
		err := is.refreshOnce(ctx, kid)
		if err != nil {
			is.lastErr.Store(&fetchError{err: err, at: is.a.cfg.Now()})
		} else {
			is.fetched.Store(began.UnixNano())
			is.lastErr.Store(nil)
		}
		if is.a.obs != nil {
			is.observeRefresh(ctx, start, err)
		}
		return nil, err
	})
	return err
}

func (is *issuer) refreshOnce(ctx context.Context, kid string) error {
	src := is.src.Load()
	if src == nil {
		// A JWKS URL: discovery (once), then authgate's keyfunc over
		// jwkset's HTTP storage, whose first fetch is this refresh.
		if err := is.discover(ctx); err != nil {
			return err
		}
		var err error
		if src, err = is.newRemoteSource(ctx); src == nil {
			return err
		}
		is.src.Store(src)
		if err != nil {
			return err
		}
	} else if err := src.refetch(ctx, is, kid); err != nil {
		return err
	}
	return is.loadKeys(ctx, src)
}

// refreshLoop refetches the JWKS every RefreshInterval, sooner (with backoff
// from 10s) after a failure, and at once when a request asks for it (see
// requestRefresh).
func (is *issuer) refreshLoop(ctx context.Context) {
	interval := is.a.cfg.RefreshInterval
	wait := interval
	if is.keys.Load() == nil {
		wait = minRefresh
	}
	backoff := minRefresh
	var askedKID string
	for {
		t := time.NewTimer(wait)
		var asked chan struct{}
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-is.kick:
			t.Stop()
			is.mu.Lock()
			asked, is.pending = is.pending, nil
			is.running = asked
			kid := is.kid
			is.kid = ""
			is.mu.Unlock()
			askedKID = kid
		}
		fctx, cancel := context.WithTimeout(ctx, is.a.cfg.FetchTimeout)
		err := is.refresh(fctx, askedKID)
		askedKID = ""
		cancel()
		if asked != nil {
			is.mu.Lock()
			is.running = nil
			is.mu.Unlock()
			close(asked)
		}
		if err != nil && ctx.Err() == nil {
			is.a.log.Warn("authgate: JWKS refresh failed; keeping the previous keys",
				slog.String("issuer", is.cfg.Issuer), slog.String("error", errorText(err)))
			wait = backoff
			backoff = min(backoff*2, interval)
			continue
		}
		wait, backoff = interval, minRefresh
	}
}

// inflight returns the channel of a request-driven refetch that is queued or
// running, or nil when there is none.
func (is *issuer) inflight() <-chan struct{} {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.pending != nil {
		return is.pending
	}
	if is.running != nil {
		return is.running
	}
	return nil
}

// requestRefresh asks refreshLoop for a refetch and returns a channel closed
// when a refetch that started after the request has ended. kid is the
// unknown kid that asks, "" for a signature failure.
func (is *issuer) requestRefresh(kid string) <-chan struct{} {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.pending == nil {
		is.pending = make(chan struct{})
	}
	if kid != "" {
		is.kid = kid
	}
	select {
	case is.kick <- struct{}{}:
	default: // a kick is already queued; it will serve this request too
	}
	return is.pending
}

// unknownKIDWait bounds how long a request naming an unknown kid waits for
// a refetch (the one it triggered, or one under way); when no refetch may
// start and none is under way, it does not wait at all.
const unknownKIDWait = time.Second

// key returns the verification key for a token header of this issuer. iat
// is the token's (unverified) "iat" when hasIat; it decides only whether an
// unknown kid is answered 401 or 503, never whether a token is admitted.
func (is *issuer) key(ctx context.Context, h header, iat float64, hasIat bool) (*vkey, error) {
	if is.hmac != nil {
		return is.hmacKey, nil
	}
	if kr := is.keys.Load(); kr != nil {
		vk, known := kr.find(h.kid, h.alg)
		if vk != nil {
			return vk, nil
		}
		if known || is.unknownKID == nil {
			if !known && is.a.obs != nil {
				is.a.observe(ctx, Event{Kind: EventUnknownKID, Issuer: is.cfg.Issuer})
			}
			return nil, invalid("no key fits the token's kid and alg")
		}
	}
	// An unknown kid may be a key rotated in since the last fetch (or no key
	// set could be fetched yet). Refetch, at most once per UnknownKeyRefresh
	// across all requests, and wait for it only briefly (unknownKIDWait).
	// Requests beyond the rate limit join a refetch already under way (the
	// burst of new-kid tokens right after a rotation), else are answered at
	// once: no request waits for the limiter, except one whose answer would
	// otherwise be 503 while the next refetch may run within unknownKIDWait.
	// jwkset's own unknown-kid refresh cannot do this (every caller waits on
	// its limiter and runs a refetch of its own), so this stays authgate's
	// (TestUnknownKidFlood).
	deadline := time.NewTimer(unknownKIDWait)
	defer deadline.Stop()
	wait := func(done <-chan struct{}) {
		if done == nil {
			return
		}
		select {
		case <-done:
		case <-deadline.C:
		case <-ctx.Done():
		case <-is.a.ctx.Done():
		}
	}
	var done <-chan struct{}
	if is.unknownKID.Allow() {
		done = is.requestRefresh(h.kid)
	} else {
		done = is.inflight()
	}
	wait(done)
	if done == nil && is.unseenSince(iat, hasIat) {
		// Rate-limited, and no key set fetched since the token was issued:
		// if the next refetch may run within the wait, wait for it.
		if d := is.untilRefetch(); d <= unknownKIDWait {
			t := time.NewTimer(d)
			select {
			case <-t.C:
				if is.unknownKID.Allow() {
					done = is.requestRefresh(h.kid)
				} else {
					done = is.inflight()
				}
				deadline.Reset(unknownKIDWait)
				wait(done)
			case <-ctx.Done():
			case <-is.a.ctx.Done():
			}
			t.Stop()
		}
	}
	kr := is.keys.Load()
	if kr == nil {
		return nil, newError(ErrUnavailable, errNoKeys)
	}
	vk, known := kr.find(h.kid, h.alg)
	if vk != nil {
		return vk, nil
	}
	if !known && is.a.obs != nil {
		is.a.observe(ctx, Event{Kind: EventUnknownKID, Issuer: is.cfg.Issuer})
	}
	if !known && is.lastErr.Load() != nil {
		// The key set cannot be fetched: the kid may be a key rotated in
		// during the outage. Not the token's fault as far as we can tell:
		// 503 (retry), not 401 (log in again). Nothing is admitted.
		return nil, newError(ErrUnavailable, errors.New("unknown kid and the key set cannot be fetched"))
	}
	if !known && is.unseenSince(iat, hasIat) {
		// The rotation rule: the kid may be a key rotated in after the last
		// fetch, and the next refetch is rate-limited (UnknownKeyRefresh).
		// 503 with the wait until it may run; 401 once a fetch that began
		// at or after the token's iat has run without the kid.
		e := newError(ErrUnavailable, errors.New("unknown kid and no key set fetched since the token was issued; the next refetch is rate-limited"))
		e.RetryAfter = max(1, int(math.Ceil(is.untilRefetch().Seconds())))
		return nil, e
	}
	return nil, invalid("unknown kid")
}

// unseenSince reports whether the last successful key set fetch began
// before a token issued at iat: its kid may be a key published after that
// fetch. A token without iat, or with an iat beyond the leeway in the
// future (refused whatever its key), is never unseen.
func (is *issuer) unseenSince(iat float64, hasIat bool) bool {
	if !hasIat {
		return false
	}
	if now := is.a.cfg.Now(); iat > float64(now.Add(is.a.cfg.Leeway).UnixNano())/1e9 {
		return false
	}
	return float64(is.fetched.Load())/1e9 < iat
}

// untilRefetch is how long until the unknown-kid limiter lets a refetch run.
func (is *issuer) untilRefetch() time.Duration {
	missing := 1 - is.unknownKID.Tokens()
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing * float64(is.a.cfg.UnknownKeyRefresh))
}

// signatureFailed is told of a signature that did not verify with a known
// key. The issuer may have replaced the key under the same kid (KS-11), so a
// refetch is asked for, under the same rate limit as unknown kids (forged
// tokens cost the issuer at most one fetch per UnknownKeyRefresh in all), and
// nobody waits for it.
func (is *issuer) signatureFailed(header) {
	if is.unknownKID != nil && is.unknownKID.Allow() {
		is.requestRefresh("")
	}
}

// fetch GETs u within the fetch client's limits.
func (is *issuer) fetch(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, is.a.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := is.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	max := is.a.cfg.MaxJWKSSize
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("body larger than %d bytes", max)
	}
	return body, nil
}

// newFetchClient returns a client that never follows redirects (a JWKS or
// discovery answer must come from the configured URL itself, RFC 8725
// section 3.10), on the user's transport when given.
func newFetchClient(base *http.Client, _ int64) *http.Client {
	c := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if base != nil {
		c.Transport = base.Transport
		c.Jar = nil
	}
	return c
}
