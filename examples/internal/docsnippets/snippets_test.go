// Package docsnippets holds the code snippets of docs/*.md, so that every one
// of them compiles: a page shows a block after <!-- copied from
// examples/internal/docsnippets/snippets_test.go -->, and
// examples/internal/flowtest/readme_test.go checks that each line of the
// block is a line of this file, in order. Change a snippet here first.
package docsnippets

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/echoauth"
	"github.com/authgate/authgate/fiberauth"
	"github.com/authgate/authgate/ginauth"
	"github.com/authgate/authgate/nethttpauth"
	"github.com/authgate/authgate/otelauth"
	"github.com/authgate/authgate/redisstore"
	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// docs/frameworks.md

func frameworkNetHTTP(auth *core.Authenticator, mux *http.ServeMux, transfer http.Handler) {
	mux.Handle("POST /transfer", nethttpauth.Sensitive(transfer))
	log.Fatal(http.ListenAndServe(":8080", nethttpauth.New(auth)(mux)))
}

func frameworkGin(auth *core.Authenticator, r *gin.Engine, transfer gin.HandlerFunc) {
	api := r.Group("/", ginauth.New(auth))
	api.POST("/transfer", ginauth.Sensitive(), transfer)
}

func frameworkEcho(auth *core.Authenticator, e *echo.Echo, transfer echo.HandlerFunc) {
	api := e.Group("", echoauth.New(auth))
	api.POST("/transfer", transfer, echoauth.Sensitive())
}

func frameworkEchoErrors(auth *core.Authenticator, e *echo.Echo) *echo.Group {
	e.HTTPErrorHandler = echoauth.ErrorHandler(e.DefaultHTTPErrorHandler)
	api := e.Group("", echoauth.New(auth, echoauth.ReturnErrors()))
	return api
}

func frameworkFiber(auth *core.Authenticator, app *fiber.App, transfer fiber.Handler) {
	app.Use(fiberauth.New(auth))
	app.Post("/transfer", fiberauth.Sensitive(), transfer)
}

func frameworkFiberBuffer(auth *core.Authenticator) *fiber.App {
	app := fiber.New(fiber.Config{ReadBufferSize: fiberauth.ReadBufferSize(auth.MaxTokenSize())})
	return app
}

func frameworkFiberErrors() *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: fiberauth.ErrorHandler(func(c *fiber.Ctx, err error) error {
		var fe *fiber.Error
		if errors.As(err, &fe) && fe.Code == fiber.StatusBadRequest {
			return c.SendStatus(fe.Code) // no message: it may quote the request
		}
		return fiber.DefaultErrorHandler(c, err)
	})})
	return app
}

// docs/identity-providers.md

func hydra(ctx context.Context) (*core.Authenticator, error) {
	checker, err := core.NewHTTPSessionChecker(core.HTTPSessionOptions{
		// hydra's admin port: never reachable by clients
		URL:           "http://127.0.0.1:4445/admin/oauth2/auth/sessions/consent?subject={sub}&login_session_id={sid}",
		NonEmptyArray: true, // hydra answers 200 [] for an unknown session
	})
	if err != nil {
		return nil, err
	}
	return core.New(ctx, core.Config{
		Issuer:   "https://hydra.example.com", // exactly as in hydra's discovery document
		Audience: []string{"orders-api"},
		Claims:   core.ClaimNames{SessionID: "ext.sid"},
		Sessions: checker,
	})
}

func hydraIntrospection(ctx context.Context) (*core.Authenticator, *core.Introspector, error) {
	in, err := core.NewIntrospector(core.IntrospectionOptions{
		Endpoint:   "http://127.0.0.1:4445/admin/oauth2/introspect", // hydra's admin port
		ClientAuth: core.ClientAuthNone,                             // or ClientSecretBasic (default), ClientSecretPost, ClientAuthBearer
		Issuer:     "https://hydra.example.com",
		Claims:     core.ClaimNames{SessionID: "ext.sid"},
	})
	if err != nil {
		return nil, nil, err
	}
	auth, err := core.New(ctx, core.Config{
		Issuer: "https://hydra.example.com", Audience: []string{"orders-api"},
		Claims:             core.ClaimNames{SessionID: "ext.sid"},
		TokenIntrospection: in, // JWTs, on sensitive routes
		Opaque:             in, // opaque tokens, on every route
	})
	return auth, in, err // at shutdown: auth.Close(), then in.Close()
}

// docs/operating.md

func operatingOtel(ctx context.Context, cfg core.Config, meterProvider metric.MeterProvider, tracerProvider trace.TracerProvider) (*core.Authenticator, error) {
	obs, err := otelauth.New(meterProvider, tracerProvider) // either may be nil: nothing recorded of that kind
	if err != nil {
		return nil, err
	}
	cfg.Observer = obs
	auth, err := core.New(ctx, cfg)
	if err != nil {
		obs.Close()
		return nil, err
	}
	obs.Watch(auth)  // optional: gauges read auth.Status() when collected
	return auth, nil // at shutdown: auth.Close(), then obs.Close()
}

func operatingStatus(auth *core.Authenticator) {
	admin := http.NewServeMux()
	admin.Handle("GET /status", auth.StatusHandler())
	go http.ListenAndServe("127.0.0.1:9090", admin) // an internal port: never the public one
}

// docs/redis.md

func redisSetup(ctx context.Context, iss string, aud []string) (*core.Authenticator, *redisstore.Store, error) {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:6379"},
		ContextTimeoutEnabled: true}) // calls end at their context's deadline: live checks skip a goroutine handoff
	store, err := redisstore.New(ctx, rdb, redisstore.Options{IdleTimeout: 30 * time.Minute})
	if err != nil {
		return nil, nil, err // Redis unreachable, or options that cannot work
	}
	auth, err := core.New(ctx, core.Config{Issuer: iss, Audience: aud, Sessions: store, Revocations: store})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return auth, store, nil // at shutdown: auth.Close(), then store.Close()
}

func redisLifecycle(ctx context.Context, store *redisstore.Store, iss string) error {
	// on login: open a session; mint the JWT with "sid": sess.ID, or hand out opaqueToken
	sess, opaqueToken, err := store.Create(ctx, core.SessionParams{Subject: "alice", Issuer: iss})
	if err != nil {
		return err
	}
	_ = opaqueToken
	// on logout: refused on every route of every instance
	if err := store.Revoke(ctx, sess.ID, core.WithReason("logout"), core.WithActor("alice")); err != nil {
		return err
	}
	// log out everywhere
	_, err = store.RevokeSubject(ctx, "alice", core.WithReason("password changed"))
	return err
}

// docs/sessions.md

func sessionsMemory(ctx context.Context, iss string, aud []string, mux *http.ServeMux, orders, transfer http.Handler, sid string) error {
	store := core.NewMemoryStore(core.StoreOptions{IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 7 * 24 * time.Hour})
	defer store.Close()
	auth, err := core.New(ctx, core.Config{Issuer: iss, Audience: aud, Sessions: store}) // policy: PolicySensitiveOnly
	if err != nil {
		return err
	}
	defer auth.Close()
	protected := nethttpauth.New(auth)
	mux.Handle("GET /orders", protected(orders))                                             // JWT only
	mux.Handle("POST /transfer", protected(nethttpauth.Sensitive(transfer)))                 // JWT + live session check
	store.Revoke(ctx, sid, core.WithReason("admin force logout"), core.WithActor("admin-7")) // next request with sid: 401
	store.RevokeSubject(ctx, "user-42", core.WithReason("password changed"))                 // log out everywhere
	return nil
}

// docs/token-cache.md

func tokenCache(ctx context.Context) (*core.Authenticator, error) {
	auth, err := core.New(ctx, core.Config{
		Issuer:   "https://id.example.com/",
		Audience: []string{"orders-api"},
		TokenCache: core.TokenCacheOptions{
			MaxEntries: 50_000,   // default 10 000
			MaxBytes:   64 << 20, // default 32 MiB
			// Disabled: true,    // verify every signature on every request
		},
	})
	return auth, err
}

// docs/testing.md: this one runs.

func TestHandlerWithATestIssuer(t *testing.T) {
	ctx := context.Background()
	iss := authtest.New(t)                   // closed when the test ends
	auth, err := core.New(ctx, iss.Config()) // trusts iss for authtest.DefaultAudience
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	var subject string
	h := nethttpauth.New(auth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := nethttpauth.Principal(r)
		subject = p.Subject
	}))
	req, _ := http.NewRequest("GET", "http://api.example/me", nil)
	tok := iss.Token(authtest.Claims{"sub": "alice", "roles": []string{"admin"}})
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || subject != "alice" {
		t.Fatalf("status %d, subject %q: want the handler to run for alice", rec.Code, subject)
	}
}

// README.md and docs/dpop.md: a client's DPoP proof (RFC 9449 section 4.2).
// This one runs: TestDPoPClient.

// dpopProof signs a proof for one request with the client's key; nonce is
// the server's DPoP-Nonce, "" until it asks for one.
func dpopProof(key *ecdsa.PrivateKey, method, url, token, nonce string) (string, error) {
	pub, err := key.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		return "", err
	}
	ath := sha256.Sum256([]byte(token))
	claims := jwt.MapClaims{"jti": rand.Text(), "htm": method, "htu": url, "iat": time.Now().Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(ath[:])}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["typ"] = "dpop+jwt"
	t.Header["jwk"] = map[string]string{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(pub[1:33]), "y": base64.RawURLEncoding.EncodeToString(pub[33:])}
	return t.SignedString(key)
}

// dpopGet sends GET url with a DPoP-bound token, once more with the
// server's nonce if it answers use_dpop_nonce.
func dpopGet(client *http.Client, key *ecdsa.PrivateKey, url, token string) (*http.Response, error) {
	nonce := ""
	for {
		proof, err := dpopProof(key, "GET", url, token, nonce)
		if err != nil {
			return nil, err
		}
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "DPoP "+token)
		req.Header.Set("DPoP", proof)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		challenges := strings.Join(resp.Header.Values("WWW-Authenticate"), ", ") // Bearer and DPoP
		if nonce != "" || !strings.Contains(challenges, `error="use_dpop_nonce"`) {
			return resp, nil
		}
		resp.Body.Close()
		nonce = resp.Header.Get("DPoP-Nonce")
	}
}

func TestDPoPClient(t *testing.T) {
	iss := authtest.New(t)
	key := authtest.NewDPoPKey("ES256") // the client's key; the issuer binds the token to it
	cfg := iss.Config()
	cfg.DPoP = core.DPoPOptions{Mode: core.DPoPAllowed, NonceSecret: []byte(strings.Repeat("s", 32))}
	auth, err := core.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close()
	var binding core.Binding
	srv := httptest.NewServer(nethttpauth.New(auth)(nethttpauth.RequireDPoP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := nethttpauth.Principal(r)
		binding = p.Binding
	}))))
	defer srv.Close()
	resp, err := dpopGet(srv.Client(), key.Private.(*ecdsa.PrivateKey), srv.URL+"/orders", iss.BoundToken(key, nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || binding != core.BindingDPoP || resp.Header.Get("DPoP-Nonce") == "" {
		t.Fatalf("status %d, binding %v, DPoP-Nonce %q: want 200, dpop and the next nonce", resp.StatusCode, binding, resp.Header.Get("DPoP-Nonce"))
	}
}

// docs/idp-push-revocation.md

func pushedRevocations(ctx context.Context, auth *core.Authenticator, mux *http.ServeMux, pushToken string) error {
	// Back-channel logout: the client's backchannel_logout_uri is https://api.example.com/backchannel-logout.
	bcl, err := auth.BackchannelLogout(core.BackchannelLogoutOptions{ClientID: "orders-api"})
	if err != nil {
		return err
	}
	mux.Handle("POST /backchannel-logout", nethttpauth.BackchannelLogout(bcl))

	// Shared Signals: the stream's push endpoint is https://api.example.com/ssf/events.
	recv, err := auth.SSF(ctx, core.SSFOptions{
		Issuer:    "https://ssf.example.com", // the transmitter: its keys come from its /.well-known/ssf-configuration
		Audience:  "orders-api-stream",       // the aud of the stream's SETs
		PushToken: pushToken,                 // the bearer token registered with the stream
	})
	if err != nil {
		return err
	}
	mux.Handle("POST /ssf/events", nethttpauth.SSFPush(recv))
	return nil
}

// The snippets above compile; these references keep the linter from calling
// them unused.
var _ = []any{frameworkNetHTTP, frameworkGin, frameworkEcho, frameworkEchoErrors, frameworkFiber,
	frameworkFiberBuffer, frameworkFiberErrors, hydra, hydraIntrospection, operatingOtel, operatingStatus, redisSetup,
	redisLifecycle, sessionsMemory, tokenCache, dpopGet, pushedRevocations}
