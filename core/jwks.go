package core

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"
)

// A remote issuer's keys live in a jwkset.Storage reached through a
// keyfunc.Keyfunc: for a JWKS URL (configured or found by discovery)
// authgate builds one over jwkset's HTTP storage (newRemoteSource); an
// application that already runs keyfunc or jwkset hands its own over
// (Config.Keyfunc, Config.KeyStorage). Either way the request path never
// reads the storage: after every refresh authgate applies its key policy
// (vkeyFromJWK) to what the storage holds and swaps in an immutable keyring,
// so a request costs one atomic load, as before.
//
// What stays authgate's own, and why (each is named in docs/configuration.md):
//   - refreshLoop schedules the refetches. jwkset's refresh goroutine ticks
//     at a fixed interval: it has no shorter retry after a failure (the
//     recovery of TestUnknownKidWhileTheKeySetIsUnreachable), nothing that a
//     request can wait on, and Close does not wait for it (TestCloseLeavesNothing,
//     TestLeakKeyRefreshEndsOnClose). So authgate's storage has no interval
//     of its own and refreshLoop asks it to refetch (keySource.refetch).
//   - The unknown-kid rate limit, waiters joining a refetch under way, and
//     503 while the set cannot be fetched (issuer.key). jwkset's unknown-kid
//     refresh makes every caller wait on the limiter, one refetch per caller
//     (TestUnknownKidFlood, TestKnownKidNeverWaits), and swallows the fetch
//     error (TestUnknownKidWhileTheKeySetIsUnreachable).
//   - screenJWKS, in the fetch client's transport: jwkset's HTTP storage
//     reads the whole body with encoding/json (no size cap, duplicate
//     members and trailing data accepted: TestJWKSFaultsKeepCachedKeys),
//     fails the whole set when one key does not parse (an off-curve point, a
//     bad x5c) and keeps private members (TestUnusableKeys; RFC 7517
//     section 5 says unusable keys are ignored). The transport caps the
//     body, reads it strictly and passes on only the keys authgate's policy
//     accepts, with their private members removed.

// keySource is an issuer's jwkset storage and how to ask it for a refetch.
type keySource struct {
	kf     keyfunc.Keyfunc
	store  jwkset.Storage // kf.Storage()
	remote bool           // built by authgate over jwkset's HTTP storage

	mu       sync.Mutex
	fetchErr error  // the error jwkset reported for the refetch under way (remote)
	skipped  string // the last skip report of an application's storage (logged on change)
}

// probeKID is the key ID authgate asks its own storage for to make jwkset
// refetch: probeStore never holds it, so jwkset's unknown-kid refresh (under
// a limiter that always allows, authgate's own limits come first) runs.
const probeKID = "\x00authgate:refetch"

// probeStore is the memory storage under authgate's HTTP storage; it never
// finds probeKID, whatever a JWKS publishes.
type probeStore struct{ jwkset.Storage }

func (p probeStore) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	if kid == probeKID {
		return jwkset.JWK{}, jwkset.ErrKeyNotFound
	}
	return p.Storage.KeyRead(ctx, kid)
}

// newRemoteSource builds the keyfunc.Keyfunc of a JWKS URL: jwkset's HTTP
// storage on authgate's fetch client (no redirects, the transport given in
// Config.HTTPClient, the body cap and strict reading of screenJWKS),
// FetchTimeout per fetch, and no refresh goroutine of its own (refreshLoop
// schedules). Its first fetch runs here; its error is returned.
func (is *issuer) newRemoteSource(ctx context.Context) (*keySource, error) {
	src := &keySource{remote: true}
	base := is.client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client := &http.Client{
		Transport:     &jwksTransport{base: base, is: is},
		CheckRedirect: is.client.CheckRedirect,
	}
	hs, err := jwkset.NewStorageFromHTTP(is.jwksURL, jwkset.HTTPClientStorageOptions{
		Client:                    client,
		Ctx:                       ctx, // the first fetch only: no RefreshInterval, no goroutine
		HTTPTimeout:               is.a.cfg.FetchTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       src.fetchFailed,
		Storage:                   probeStore{jwkset.NewMemoryStorage()},
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	store, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{is.jwksURL: hs},
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	src.kf, err = keyfunc.New(keyfunc.Options{Ctx: is.a.ctx, Storage: store})
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	src.store = src.kf.Storage()
	return src, src.takeErr()
}

// newGivenSource wraps the key set an application hands over.
func newGivenSource(ic IssuerConfig) *keySource {
	if ic.Keyfunc != nil {
		return &keySource{kf: ic.Keyfunc, store: ic.Keyfunc.Storage()}
	}
	return &keySource{store: ic.KeyStorage}
}

func (src *keySource) fetchFailed(_ context.Context, err error) {
	src.mu.Lock()
	src.fetchErr = err
	src.mu.Unlock()
}

func (src *keySource) takeErr() error {
	src.mu.Lock()
	defer src.mu.Unlock()
	err := src.fetchErr
	src.fetchErr = nil
	if err != nil {
		return fmt.Errorf("JWKS fetch: %w", err)
	}
	return nil
}

// refetch asks the storage for fresh keys. authgate's own storage refetches
// its URL through jwkset. An application's storage is asked for the kid a
// request named (a jwkset HTTP client with RefreshUnknownKID refetches under
// its own limits); its periodic refresh is its own business.
func (src *keySource) refetch(ctx context.Context, is *issuer, kid string) error {
	if src.remote {
		kid = probeKID
	} else if kid == "" {
		return nil
	}
	src.takeErr()
	// jwkset's unknown-kid refresh uses the caller's context as it is: the
	// fetch bound is authgate's (FetchTimeout).
	ctx, cancel := context.WithTimeout(ctx, is.a.cfg.FetchTimeout)
	defer cancel()
	_, err := src.store.KeyRead(ctx, kid)
	if err != nil && !errors.Is(err, jwkset.ErrKeyNotFound) {
		return fmt.Errorf("key set: %w", err)
	}
	return src.takeErr()
}

// loadKeys applies the key policy to what the storage holds and swaps in
// the new keyring. With no usable key the old keyring stays.
func (is *issuer) loadKeys(ctx context.Context, src *keySource) error {
	jwks, err := src.store.KeyReadAll(ctx)
	if err != nil {
		return fmt.Errorf("key set: %w", err)
	}
	if len(jwks) > maxJWKSKeys {
		return fmt.Errorf("key set holds %d keys, more than %d", len(jwks), maxJWKSKeys)
	}
	var keys []*vkey
	var skipped []string
	for i, jwk := range jwks {
		vk, err := vkeyFromJWK(jwk, is.cfg.Algorithms)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d (kid %q): %v", i, jwk.Marshal().KID, err))
			continue
		}
		keys = append(keys, vk)
	}
	// authgate's own storage holds screened keys only; an application's
	// storage is re-read every RefreshInterval, so its skipped keys are
	// logged when the report changes, not at every read.
	report := strings.Join(skipped, "; ")
	src.mu.Lock()
	changed := report != src.skipped
	src.skipped = report
	src.mu.Unlock()
	if changed && report != "" {
		is.a.log.Warn("authgate: key set keys skipped", slog.String("issuer", is.cfg.Issuer), slog.String("reason", report))
	}
	if len(keys) == 0 {
		return errors.New("the key set holds no usable key")
	}
	reuseKeys(is.keys.Load(), keys) // unchanged keys keep their *vkey (verified-token cache)
	kr := newKeyring(keys, is.a.cfg.Now())
	for kid := range kr.ambiguous {
		is.a.log.Warn("authgate: JWKS lists one kid for different keys; tokens naming it are refused",
			slog.String("issuer", is.cfg.Issuer), slog.String("kid", kid))
	}
	is.keys.Store(kr)
	return nil
}

// jwksTransport is the transport of authgate's jwkset HTTP storage: it asks
// for JSON, caps the body at MaxJWKSSize (gzip is counted decompressed),
// and hands jwkset a body screened by screenJWKS.
type jwksTransport struct {
	base http.RoundTripper
	is   *issuer
}

func (t *jwksTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Accept", "application/json")
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err // jwkset refuses any status but 200
	}
	max := t.is.a.cfg.MaxJWKSSize
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("body larger than %d bytes", max)
	}
	clean, err := t.is.screenJWKS(body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(clean))
	resp.ContentLength = int64(len(clean))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// screenJWKS reads a JWKS strictly (parseJWKS: duplicate members, trailing
// data and more than maxJWKSKeys keys refused), logs what it skips and any
// published private members (KS-12, KS-17), and returns a JWKS of the usable
// keys only, public members only, for jwkset to store.
func (is *issuer) screenJWKS(body []byte) ([]byte, error) {
	keys, ms, skipped, err := parseJWKSMarshal(body, is.cfg.Algorithms)
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	for _, s := range skipped {
		is.a.log.Warn("authgate: JWKS key skipped", slog.String("issuer", is.cfg.Issuer), slog.String("reason", s))
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS holds no usable key")
	}
	for _, k := range keys {
		if k.private {
			// KS-17: the issuer publishes private key material. Only the
			// public half is used; the operator must hear about it.
			is.a.log.Error("authgate: JWKS publishes private key members; only the public part is used, rotate that key",
				slog.String("issuer", is.cfg.Issuer), slog.String("kid", k.kid))
		}
	}
	return stdjson.Marshal(jwkset.JWKSMarshal{Keys: ms})
}
