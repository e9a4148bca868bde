// Package devissuer is a development-only token issuer for the authgate
// example apps. It signs short-lived JWT access tokens with an Ed25519 key
// made in process at start (never written anywhere), opens a session for
// each login in the app's session store, and serves a small browser page to
// try the app.
//
// It exists only while no real issuer is configured: the examples build it
// when AUTHGATE_ISSUER is unset, and then trust its key through
// core.Config.PublicKeys. With a real issuer configured, neither the login
// route nor the dev key exists, so a dev-minted token is refused
// (SECURITY-CATALOG OP-08).
//
// Do not use it in production: anyone who can reach POST /dev/login can
// become any user.
package devissuer

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/golang-jwt/jwt/v5"
)

// Defaults.
const (
	// DefaultIssuer is the "iss" of dev tokens. It is not a URL on purpose:
	// nothing can discover keys for it, so only an app holding the key in
	// memory trusts it.
	DefaultIssuer = "urn:authgate:dev-issuer"
	// DefaultAudience is the "aud" of dev tokens.
	DefaultAudience = "authgate-example"
	// DefaultTokenTTL is the lifetime of a dev token (and its cookie).
	DefaultTokenTTL = 15 * time.Minute
	// MaxTokenTTL bounds TokenTTL.
	MaxTokenTTL = time.Hour
	// CookieName is the cookie the token is set in; authgate reads it by
	// default.
	CookieName = "access_token"
	// Scopes are the scopes every dev token carries.
	Scopes = "profile transfer"

	maxLoginBody = 4 << 10
	maxRoles     = 8
)

// validName is what a dev subject or role may look like.
var validName = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// Sessions opens the server-side session of a dev login. core.MemoryStore
// and the Redis store implement it.
type Sessions interface {
	Create(ctx context.Context, ns core.SessionParams) (s *core.Session, token string, err error)
}

// Options configures New.
type Options struct {
	// Sessions is where logins open sessions; required.
	Sessions Sessions
	// Issuer is the "iss" of minted tokens; default DefaultIssuer.
	Issuer string
	// Audience is the "aud" of minted tokens; default DefaultAudience.
	Audience string
	// TokenTTL is the token and cookie lifetime; default DefaultTokenTTL,
	// at most MaxTokenTTL.
	TokenTTL time.Duration
	// InsecureCookie leaves the Secure attribute off the cookie. Set it only
	// for a plain-HTTP listener on a loopback address, where browsers would
	// otherwise drop the cookie (SECURITY-CATALOG CK-11).
	InsecureCookie bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Issuer is a running dev issuer. It is safe for concurrent use and holds no
// background work.
type Issuer struct {
	opts Options
	key  ed25519.PrivateKey
	kid  string
	jwk  string
}

// New makes a dev issuer with a fresh Ed25519 key.
func New(opts Options) (*Issuer, error) {
	if opts.Sessions == nil {
		return nil, errors.New("devissuer: Options.Sessions is required")
	}
	if opts.Issuer == "" {
		opts.Issuer = DefaultIssuer
	}
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = DefaultTokenTTL
	}
	if opts.TokenTTL < time.Minute || opts.TokenTTL > MaxTokenTTL {
		return nil, fmt.Errorf("devissuer: TokenTTL %v is outside [1m, %v]", opts.TokenTTL, MaxTokenTTL)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	d := &Issuer{opts: opts, key: priv, kid: "dev-" + b64(pub[:6])}
	jwk, err := json.Marshal(map[string]string{
		"kty": "OKP", "crv": "Ed25519", "x": b64(pub), "kid": d.kid, "alg": "EdDSA", "use": "sig",
	})
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	d.jwk = string(jwk)
	return d, nil
}

// Issuer returns the "iss" of the tokens it mints.
func (d *Issuer) Issuer() string { return d.opts.Issuer }

// Audience returns the "aud" of the tokens it mints.
func (d *Issuer) Audience() string { return d.opts.Audience }

// PublicKeys returns the verification key as JWK JSON, for
// core.Config.PublicKeys.
func (d *Issuer) PublicKeys() []string { return []string{d.jwk} }

// Config returns the core.Config fields that trust this issuer. Add the
// session store and anything else before passing it to core.New.
func (d *Issuer) Config() core.Config {
	return core.Config{
		Issuer:                 d.opts.Issuer,
		Audience:               []string{d.opts.Audience},
		PublicKeys:             d.PublicKeys(),
		Algorithms:             []string{"EdDSA"},
		RequireAccessTokenType: true,
	}
}

// Mint signs an access token (RFC 9068 profile, typ "at+jwt") for subject,
// naming session sid, valid for TokenTTL.
func (d *Issuer) Mint(subject, sid string, roles []string) (string, error) {
	now := d.opts.Now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	if roles == nil {
		roles = []string{}
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss":       d.opts.Issuer,
		"aud":       d.opts.Audience,
		"sub":       subject,
		"sid":       sid,
		"jti":       b64(jti),
		"client_id": "authgate-dev-page",
		"scope":     Scopes,
		"roles":     roles,
		"iat":       now.Unix(),
		"exp":       now.Add(d.opts.TokenTTL).Unix(),
	})
	t.Header["typ"] = "at+jwt"
	t.Header["kid"] = d.kid
	return t.SignedString(d.key)
}

// LoginResponse is the JSON answer of a dev login.
type LoginResponse struct {
	AccessToken string   `json:"access_token"`
	TokenType   string   `json:"token_type"`
	ExpiresIn   int      `json:"expires_in"`
	Subject     string   `json:"sub"`
	SessionID   string   `json:"sid"`
	Roles       []string `json:"roles"`
}

// Login returns the handler of POST /dev/login. It reads a subject and
// optional roles (form fields subject and roles, roles repeated or
// comma-separated; or JSON {"subject": "...", "roles": [...]}), opens a
// session, mints a token naming it, sets the access_token cookie (HttpOnly,
// SameSite=Strict, Path=/, Max-Age = token lifetime, Secure unless
// InsecureCookie) and answers the token as JSON — or as bare text when the
// request asks for "Accept: text/plain", for shell scripts.
//
// Cross-site requests are refused (403) by net/http's
// CrossOriginProtection, so another site cannot log a browser in as someone
// else (login CSRF).
func (d *Issuer) Login() http.Handler {
	return http.NewCrossOriginProtection().Handler(http.HandlerFunc(d.login))
}

func (d *Issuer) login(w http.ResponseWriter, r *http.Request) {
	subject, roles, err := readLogin(w, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s, _, err := d.opts.Sessions.Create(r.Context(), core.SessionParams{
		Subject:  subject,
		Issuer:   d.opts.Issuer,
		Scopes:   strings.Fields(Scopes),
		Roles:    roles,
		Metadata: map[string]string{"user_agent": truncate(r.UserAgent(), 200), "via": "dev-login"},
	})
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, core.ErrTooManySessions) {
			status = http.StatusConflict
		}
		writeJSON(w, status, map[string]string{"error": "cannot open a session"})
		return
	}
	tok, err := d.Mint(subject, s.ID, roles)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "cannot mint a token"})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    tok,
		Path:     "/",
		MaxAge:   int(d.opts.TokenTTL / time.Second),
		HttpOnly: true,
		Secure:   !d.opts.InsecureCookie,
		SameSite: http.SameSiteStrictMode,
	})
	w.Header().Set("Cache-Control", "no-store")
	if accepts(r, "text/plain") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintln(w, tok)
		return
	}
	writeJSON(w, http.StatusOK, LoginResponse{
		AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(d.opts.TokenTTL / time.Second),
		Subject: subject, SessionID: s.ID, Roles: roles,
	})
}

// readLogin parses and validates the login request.
func readLogin(w http.ResponseWriter, r *http.Request) (subject string, roles []string, err error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	var raw []string
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var in struct {
			Subject string   `json:"subject"`
			Roles   []string `json:"roles"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			return "", nil, errors.New("body is not valid JSON {\"subject\": ..., \"roles\": [...]}")
		}
		subject, raw = in.Subject, in.Roles
	} else {
		if err := r.ParseForm(); err != nil {
			return "", nil, errors.New("body is not a valid form")
		}
		subject = r.PostForm.Get("subject")
		for _, v := range r.PostForm["roles"] {
			raw = append(raw, strings.Split(v, ",")...)
		}
	}
	subject = strings.TrimSpace(subject)
	if !validName.MatchString(subject) {
		return "", nil, errors.New("subject must be 1-64 characters of A-Z a-z 0-9 . _ @ -")
	}
	roles = []string{}
	for _, role := range raw {
		role = strings.TrimSpace(role)
		if role == "" {
			continue
		}
		if !validName.MatchString(role) {
			return "", nil, errors.New("a role must be 1-64 characters of A-Z a-z 0-9 . _ @ -")
		}
		roles = append(roles, role)
	}
	if len(roles) > maxRoles {
		return "", nil, fmt.Errorf("at most %d roles", maxRoles)
	}
	return subject, roles, nil
}

// accepts reports whether the request's Accept header names media type mt
// explicitly.
func accepts(r *http.Request, mt string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		t, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && t == mt {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
