package load

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/echoauth"
	"github.com/authgate/authgate/fiberauth"
	"github.com/authgate/authgate/ginauth"
	"github.com/authgate/authgate/nethttpauth"
	"github.com/authgate/authgate/redisstore"
	"github.com/gin-gonic/gin"
	"github.com/gofiber/fiber/v2"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
)

// Frameworks are the frameworks a load server can be built on.
var Frameworks = []string{"nethttp", "gin", "echo", "fiber"}

// Contender kinds: authgate, the framework's peer JWT middleware, no auth.
const (
	Authgate = "authgate"
	Peer     = "peer"
	None     = "none"
)

// Session stores of an authgate server.
const (
	StoreMemory = "memory"
	StoreRedis  = "redis"
)

// ServerConfig selects one load server: a framework, a contender and, for
// authgate, a session store.
type ServerConfig struct {
	Framework string // one of Frameworks
	Contender string // Authgate, Peer or None
	Store     string // StoreMemory or StoreRedis; authgate only
	Issuer    string // the issuer URL ("iss")
	JWKSURL   string // its key set
	RedisAddr string // host:port of the Redis, for StoreRedis
	Addr      string // where to listen; default 127.0.0.1:0
	// Sessions is how many sessions a MemoryStore server opens at start
	// (subjects user-0 ... user-<Sessions-1>); their ids are in Ready.
	Sessions int
}

// Ready is what a server prints (one JSON line on stdout) once it serves.
type Ready struct {
	Addr string `json:"addr"`
	// SIDs are the sessions a MemoryStore server opened, SIDs[k] for
	// subject user-k; empty for the other servers.
	SIDs []string `json:"sids,omitempty"`
	// Probe is the id of a session of subject "probe" that the store
	// holds as expired (MemoryStore servers only): a live check refuses
	// it, while nothing else (token, deny set) knows it ended.
	Probe string `json:"probe,omitempty"`
}

// PeerName is the peer middleware a framework's Peer contender runs.
func PeerName(framework string) string {
	switch framework {
	case "echo":
		return "labstack/echo-jwt/v4"
	case "fiber":
		return "gofiber/contrib/jwt"
	default:
		return "auth0/go-jwt-middleware/v2"
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }

// server is a built load server: serve blocks until the listener is closed.
type server struct {
	ready   Ready
	serve   func(net.Listener) error
	cleanup []func()
}

func (s *server) close() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
}

// build makes the authenticator (for authgate), the store and the app.
func build(ctx context.Context, cfg ServerConfig) (*server, error) {
	s := &server{}
	var auth *core.Authenticator
	if cfg.Contender == Authgate {
		acfg := core.Config{Issuer: cfg.Issuer, Audience: []string{Audience}, JWKSURL: cfg.JWKSURL, Logger: quiet}
		switch cfg.Store {
		case StoreMemory:
			// The clock is the real one, but the probe session is
			// created 8 days in the past: beyond the default 7-day
			// absolute timeout, so the store holds it as expired.
			var offset atomic.Int64
			ms := core.NewMemoryStore(core.StoreOptions{
				Audit: core.NewSlogAudit(quiet),
				Now:   func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
			})
			s.cleanup = append(s.cleanup, func() { _ = ms.Close() })
			for k := range cfg.Sessions {
				sess, _, err := ms.Create(ctx, core.SessionParams{Subject: fmt.Sprintf("user-%d", k), Issuer: cfg.Issuer})
				if err != nil {
					s.close()
					return nil, err
				}
				s.ready.SIDs = append(s.ready.SIDs, sess.ID)
			}
			offset.Store(int64(-8 * 24 * time.Hour))
			sess, _, err := ms.Create(ctx, core.SessionParams{Subject: "probe", Issuer: cfg.Issuer})
			offset.Store(0)
			if err != nil {
				s.close()
				return nil, err
			}
			s.ready.Probe = sess.ID
			acfg.Sessions = ms
		case StoreRedis:
			rdb := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr})
			s.cleanup = append(s.cleanup, func() { _ = rdb.Close() })
			rs, err := redisstore.New(ctx, rdb, redisstore.Options{Logger: quiet, Audit: core.NewSlogAudit(quiet)})
			if err != nil {
				s.close()
				return nil, err
			}
			s.cleanup = append(s.cleanup, func() { _ = rs.Close() })
			acfg.Sessions, acfg.Revocations = rs, rs
		default:
			return nil, fmt.Errorf("unknown store %q", cfg.Store)
		}
		a, err := core.New(ctx, acfg)
		if err != nil {
			s.close()
			return nil, err
		}
		s.cleanup = append(s.cleanup, func() { _ = a.Close() })
		auth = a
	} else if cfg.Contender != Peer && cfg.Contender != None {
		return nil, fmt.Errorf("unknown contender %q", cfg.Contender)
	}
	var err error
	switch cfg.Framework {
	case "nethttp":
		err = s.nethttp(cfg, auth)
	case "gin":
		err = s.gin(cfg, auth)
	case "echo":
		err = s.echo(ctx, cfg, auth)
	case "fiber":
		err = s.fiber(cfg, auth)
	default:
		err = fmt.Errorf("unknown framework %q", cfg.Framework)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *server) httpServer(h http.Handler) {
	s.serve = func(ln net.Listener) error {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		return srv.Serve(ln)
	}
}

// Every app serves GET /healthz (public), GET /me and GET /sensitive; for
// authgate /sensitive is marked Sensitive (a live session check), for the
// peer it is an ordinary authenticated route, for none a plain route.

func (s *server) nethttp(cfg ServerConfig, auth *core.Authenticator) error {
	wrap := func(h http.Handler) http.Handler { return h }
	sensitive := wrap
	switch cfg.Contender {
	case Authgate:
		wrap, sensitive = nethttpauth.New(auth), nethttpauth.Sensitive
	case Peer:
		mw, err := Auth0Middleware(cfg.Issuer, cfg.JWKSURL, Audience)
		if err != nil {
			return err
		}
		wrap = mw
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", ok)
	mux.Handle("GET /me", wrap(http.HandlerFunc(ok)))
	mux.Handle("GET /sensitive", wrap(sensitive(http.HandlerFunc(ok))))
	s.httpServer(mux)
	return nil
}

func (s *server) gin(cfg ServerConfig, auth *core.Authenticator) error {
	gin.SetMode(gin.ReleaseMode)
	h := func(c *gin.Context) { c.String(http.StatusOK, "ok") }
	var mw, sensitive []gin.HandlerFunc
	switch cfg.Contender {
	case Authgate:
		mw, sensitive = []gin.HandlerFunc{ginauth.New(auth)}, []gin.HandlerFunc{ginauth.Sensitive()}
	case Peer:
		m, err := GinAuth0(cfg.Issuer, cfg.JWKSURL, Audience)
		if err != nil {
			return err
		}
		mw = []gin.HandlerFunc{m}
	}
	e := gin.New()
	e.GET("/healthz", h)
	g := e.Group("/", mw...)
	g.GET("/me", h)
	g.GET("/sensitive", append(sensitive, h)...)
	s.httpServer(e)
	return nil
}

func (s *server) echo(ctx context.Context, cfg ServerConfig, auth *core.Authenticator) error {
	h := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	var mw, sensitive []echo.MiddlewareFunc
	switch cfg.Contender {
	case Authgate:
		mw, sensitive = []echo.MiddlewareFunc{echoauth.New(auth)}, []echo.MiddlewareFunc{echoauth.Sensitive()}
	case Peer:
		ctx, cancel := context.WithCancel(ctx)
		s.cleanup = append(s.cleanup, cancel)
		m, err := EchoJWT(ctx, cfg.JWKSURL)
		if err != nil {
			return err
		}
		mw = []echo.MiddlewareFunc{m}
	}
	e := echo.New()
	e.GET("/healthz", h)
	g := e.Group("", mw...)
	g.GET("/me", h)
	g.GET("/sensitive", h, sensitive...)
	s.httpServer(e)
	return nil
}

func (s *server) fiber(cfg ServerConfig, auth *core.Authenticator) error {
	h := func(c *fiber.Ctx) error { return c.SendString("ok") }
	var mw fiber.Handler
	var sensitive []fiber.Handler
	switch cfg.Contender {
	case Authgate:
		mw, sensitive = fiberauth.New(auth), []fiber.Handler{fiberauth.Sensitive()}
	case Peer:
		mw = FiberContribJWT(cfg.JWKSURL)
	}
	// The same header buffer for every contender: room for authgate's
	// default MaxTokenSize (fasthttp's default 4 KiB would do for these
	// tokens too).
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ReadBufferSize: fiberauth.ReadBufferSize(8192)})
	app.Get("/healthz", h)
	if mw != nil {
		app.Use(mw)
	}
	app.Get("/me", h)
	app.Get("/sensitive", append(sensitive, h)...)
	s.serve = app.Listener
	return nil
}

// ServerMain is the load server command: it parses args (see the flags),
// serves, prints a Ready line on stdout, and stops when its stdin closes
// (the generator that started it is gone) or on SIGINT/SIGTERM.
func ServerMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg ServerConfig
	fs.StringVar(&cfg.Framework, "framework", "nethttp", "nethttp, gin, echo or fiber")
	fs.StringVar(&cfg.Contender, "contender", Authgate, "authgate, peer or none")
	fs.StringVar(&cfg.Store, "store", StoreMemory, "authgate's session store: memory or redis")
	fs.StringVar(&cfg.Issuer, "issuer", "", "issuer URL")
	fs.StringVar(&cfg.JWKSURL, "jwks", "", "JWKS URL")
	fs.StringVar(&cfg.RedisAddr, "redis", "", "Redis host:port (store redis)")
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:0", "listen address")
	fs.IntVar(&cfg.Sessions, "sessions", 1000, "sessions a MemoryStore server opens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := build(ctx, cfg)
	if err != nil {
		return err
	}
	// No graceful stop: the process ends with the run (s.close, whose
	// Redis feed may wait out a blocking read, only runs on failures).
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.close()
		return err
	}
	s.ready.Addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- s.serve(ln) }()
	if err := json.NewEncoder(os.Stdout).Encode(s.ready); err != nil {
		s.close()
		return err
	}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	select {
	case <-ctx.Done():
		_ = ln.Close()
		return nil
	case err := <-done:
		s.close()
		if errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
