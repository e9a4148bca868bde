package authtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Transmitter is a Shared Signals transmitter for tests: an Issuer (its
// keys sign the SETs, its URL is the transmitter's issuer) that serves its
// SSF configuration at /.well-known/ssf-configuration, its JWKS at
// /jwks.json and an RFC 8936 poll endpoint at /poll, and pushes SETs (RFC
// 8935) to a receiver. Its methods are safe for concurrent use.
type Transmitter struct {
	*Issuer
	// Audience is the stream's audience: the aud of every SET it mints.
	Audience string
	// PollToken, when set, is the bearer token the poll endpoint requires.
	PollToken string

	mu      sync.Mutex
	pending []queued // SETs not yet acknowledged or refused, in order
	acked   []string
	errs    map[string]string // jti -> err code
	polls   int
	down    bool
	seq     int
}

type queued struct{ jti, set string }

// NewTransmitter starts a transmitter whose SETs name audience; opts are
// its Issuer's (WithClock sets the SETs' iat, WithAlg their key).
func NewTransmitter(t testing.TB, audience string, opts ...Option) *Transmitter {
	t.Helper()
	tr := &Transmitter{Issuer: New(t, opts...), Audience: audience, errs: map[string]string{}}
	tr.SetHandler(http.HandlerFunc(tr.serve))
	return tr
}

// PollURL is the transmitter's poll endpoint.
func (tr *Transmitter) PollURL() string { return tr.URL + "/poll" }

func (tr *Transmitter) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/ssf-configuration":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": tr.URL, "jwks_uri": tr.JWKSURL(),
			"delivery_methods_supported": []string{"urn:ietf:rfc:8935", "urn:ietf:rfc:8936"},
		})
	case "/jwks.json":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(tr.JWKS())
	case "/poll":
		tr.servePoll(w, r)
	default:
		http.NotFound(w, r)
	}
}

// servePoll answers an RFC 8936 poll: it records the acks and setErrs,
// drops them from the queue, and returns up to maxEvents of the SETs still
// pending (a SET delivered but not acknowledged is delivered again).
func (tr *Transmitter) servePoll(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if tr.PollToken != "" && r.Header.Get("Authorization") != "Bearer "+tr.PollToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var req struct {
		Ack     []string `json:"ack"`
		SetErrs map[string]struct {
			Err         string `json:"err"`
			Description string `json:"description"`
		} `json:"setErrs"`
		MaxEvents         *int `json:"maxEvents"`
		ReturnImmediately bool `json:"returnImmediately"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.polls++
	if tr.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	done := map[string]bool{}
	for _, jti := range req.Ack {
		tr.acked = append(tr.acked, jti)
		done[jti] = true
	}
	for jti, e := range req.SetErrs {
		tr.errs[jti] = e.Err
		done[jti] = true
	}
	tr.pending = slices.DeleteFunc(tr.pending, func(q queued) bool { return done[q.jti] })
	max := len(tr.pending)
	if req.MaxEvents != nil && *req.MaxEvents < max {
		max = *req.MaxEvents
	}
	sets := map[string]string{}
	for _, q := range tr.pending[:max] {
		sets[q.jti] = q.set
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"sets": sets, "moreAvailable": max < len(tr.pending)})
}

// SetPollDown makes the poll endpoint answer 503 (true) or work again.
func (tr *Transmitter) SetPollDown(down bool) {
	tr.mu.Lock()
	tr.down = down
	tr.mu.Unlock()
}

// SET mints a Security Event Token (RFC 8417) of one event: iss, aud, iat
// now, a fresh jti, sub_id (when subject is not nil) and events {event:
// payload}, with typ secevent+jwt, signed by the current signer. mut, when
// not nil, changes the claims before signing (a nil value removes one).
func (tr *Transmitter) SET(event string, subject, payload map[string]any, mut func(Claims)) string {
	return tr.SignSET(nil, tr.SETClaims(event, subject, payload, mut))
}

// SETClaims returns the claims SET would sign.
func (tr *Transmitter) SETClaims(event string, subject, payload map[string]any, mut func(Claims)) Claims {
	tr.mu.Lock()
	tr.seq++
	jti := fmt.Sprintf("set-%d-%d", time.Now().UnixNano(), tr.seq)
	tr.mu.Unlock()
	if payload == nil {
		payload = map[string]any{}
	}
	c := Claims{"iss": tr.URL, "aud": tr.Audience, "iat": tr.now().Unix(), "jti": jti, "events": map[string]any{event: payload}}
	if subject != nil {
		c["sub_id"] = subject
	}
	if mut != nil {
		mut(c)
		for k, v := range c {
			if v == nil {
				delete(c, k)
			}
		}
	}
	return c
}

// SignSET signs claims with the current signer under the header
// {"alg", "kid", "typ": "secevent+jwt"}, changed by header (a nil value
// removes a member).
func (tr *Transmitter) SignSET(header map[string]any, claims Claims) string {
	h := map[string]any{"typ": "secevent+jwt"}
	for k, v := range header {
		h[k] = v
	}
	return tr.Sign(tr.Signer(), h, claims)
}

// JTI returns the jti of a SET minted by SET or SignSET.
func JTI(set string) string {
	parts := strings.Split(set, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := b64dec(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		JTI string `json:"jti"`
	}
	_ = json.Unmarshal(b, &c)
	return c.JTI
}

// Push POSTs set to url as an RFC 8935 push (Content-Type
// application/secevent+jwt; Authorization: Bearer token when token is not
// empty) and returns the status and body of the answer.
func (tr *Transmitter) Push(t testing.TB, url, token, set string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(set)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/secevent+jwt")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}

// Enqueue queues set for the poll endpoint; it returns its jti.
func (tr *Transmitter) Enqueue(set string) string {
	jti := JTI(set)
	tr.mu.Lock()
	tr.pending = append(tr.pending, queued{jti: jti, set: set})
	tr.mu.Unlock()
	return jti
}

// Acked reports whether a poll acknowledged jti.
func (tr *Transmitter) Acked(jti string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Contains(tr.acked, jti)
}

// SetErr returns the err code a poll reported for jti, or "".
func (tr *Transmitter) SetErr(jti string) string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.errs[jti]
}

// Pending is the number of SETs queued and neither acknowledged nor
// refused.
func (tr *Transmitter) Pending() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.pending)
}

// Polls counts the poll requests served.
func (tr *Transmitter) Polls() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.polls
}

func b64dec(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
