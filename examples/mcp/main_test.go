package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/examples/internal/flowtest"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// The tests run the example in process (run, on 127.0.0.1:0) with
// AUTHGATE_ISSUER naming a test authorization server: authtest's issuer
// (real keys, its JWKS, tokens it signs) serving, besides its JWKS, RFC 8414
// metadata with authorization and token endpoints (authorization code with
// PKCE and RFC 8707 resource indicators), so that the SDK's own OAuth client
// can run the whole MCP authorization flow against it.

const (
	clientID    = "mcp-test-client"
	redirectURL = "http://127.0.0.1/callback" // never served: the fetcher reads the redirect
)

// start runs the example against a fresh authorization server that grants
// the scopes allowed (default: profile and transfer); it returns the server
// and the MCP endpoint's URL.
func start(t *testing.T, allowed ...string) (*authServer, string) {
	t.Helper()
	as, app := startEnv(t, allowed, nil)
	return as, app.URL + "/mcp"
}

// startEnv is start with more environment variables, returning the app.
func startEnv(t *testing.T, allowed []string, env map[string]string) (*authServer, *flowtest.App) {
	t.Helper()
	if allowed == nil {
		allowed = []string{"profile", transferScope}
	}
	as := newAuthServer(t, allowed)
	vars := map[string]string{"AUTHGATE_ISSUER": as.iss.URL}
	for k, v := range env {
		vars[k] = v
	}
	return as, flowtest.Start(t, run, vars)
}

// TestDiscovery walks the MCP authorization discovery by hand, as an MCP
// client does it, then uses the SDK's client with a token minted for the
// resource.
func TestDiscovery(t *testing.T) {
	as, mcpURL := start(t)
	ctx := t.Context()
	base := strings.TrimSuffix(mcpURL, "/mcp")

	// 1. An unauthenticated initialize: 401, and the challenge names the metadata.
	resp := post(t, mcpURL, "", initializeBody)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("initialize without a token: %d, want 401", resp.StatusCode)
	}
	ch := bearerChallenge(t, resp)
	metaURL := ch.Params["resource_metadata"]
	if want := base + "/.well-known/oauth-protected-resource/mcp"; metaURL != want {
		t.Fatalf("resource_metadata %q, want %q (challenge %q)", metaURL, want, resp.Header.Get("WWW-Authenticate"))
	}

	// 2. The protected resource metadata: this endpoint, this issuer.
	doc := getJSON(t, metaURL)
	if doc["resource"] != mcpURL {
		t.Fatalf("metadata resource %v, want %q", doc["resource"], mcpURL)
	}
	if servers, _ := doc["authorization_servers"].([]any); len(servers) != 1 || servers[0] != as.iss.URL {
		t.Fatalf("authorization_servers %v, want [%s]", doc["authorization_servers"], as.iss.URL)
	}
	// The SDK's own reader agrees (it checks resource against the endpoint).
	prm, err := oauthex.GetProtectedResourceMetadata(ctx, metaURL, mcpURL, http.DefaultClient)
	if err != nil {
		t.Fatalf("the SDK refuses the metadata: %v", err)
	}
	// The root form too, for clients that try it (MCP discovery order).
	if root := getJSON(t, base+"/.well-known/oauth-protected-resource"); root["resource"] != mcpURL {
		t.Fatalf("root metadata resource %v", root["resource"])
	}

	// 3. The authorization server's RFC 8414 metadata.
	asm := getJSON(t, prm.AuthorizationServers[0]+"/.well-known/oauth-authorization-server")
	if asm["issuer"] != as.iss.URL || asm["token_endpoint"] != as.iss.URL+"/token" || asm["jwks_uri"] != as.iss.JWKSURL() {
		t.Fatalf("authorization server metadata %v", asm)
	}

	// 4. A token for the resource: the SDK's client initializes, lists the
	// tools and calls whoami, which names the token's subject.
	sub := "user-" + rand.Text()[:8]
	tok := as.iss.Token(authtest.Claims{"aud": mcpURL, "sub": sub, "scope": "profile"})
	cs := connect(t, mcpURL, tok)
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"transfer", "whoami"}) {
		t.Fatalf("tools %v", names)
	}
	var me Whoami
	callTool(t, cs, "whoami", nil, &me)
	if me.Subject != sub || me.Issuer != as.iss.URL || !slices.Equal(me.Scopes, []string{"profile"}) {
		t.Fatalf("whoami %+v, want subject %q, issuer %q, scopes [profile]", me, sub, as.iss.URL)
	}
}

// TestRefused: tokens the resource must not accept, and the scope challenge.
func TestRefused(t *testing.T) {
	as, mcpURL := start(t)
	ctx := t.Context()
	metaURL := strings.TrimSuffix(mcpURL, "/mcp") + "/.well-known/oauth-protected-resource/mcp"

	for name, tok := range map[string]string{
		// signed by the issuer, but for another resource
		"another audience": as.iss.Token(authtest.Claims{"aud": "http://127.0.0.1:1/mcp", "scope": "profile"}),
		// the default audience of authtest: not this resource either
		"default audience": as.iss.Token(authtest.Claims{"scope": "profile"}),
		"expired":          as.iss.Token(authtest.Claims{"aud": mcpURL, "exp": time.Now().Add(-time.Hour).Unix()}),
		"not a token":      "not-a-token",
	} {
		t.Run(name, func(t *testing.T) {
			resp := post(t, mcpURL, tok, initializeBody)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("initialize: %d, want 401", resp.StatusCode)
			}
			ch := bearerChallenge(t, resp)
			if ch.Params["error"] != "invalid_token" || ch.Params["resource_metadata"] != metaURL {
				t.Fatalf("challenge %q", resp.Header.Get("WWW-Authenticate"))
			}
			client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
			if cs, err := client.Connect(ctx, transport(mcpURL, tok), nil); err == nil {
				cs.Close()
				t.Fatal("the SDK client connected")
			}
		})
	}

	// A valid token without the scope "transfer": whoami works, transfer
	// is refused at the HTTP layer with the MCP scope challenge.
	sub := "user-" + rand.Text()[:8]
	narrow := as.iss.Token(authtest.Claims{"aud": mcpURL, "sub": sub, "scope": "profile"})
	cs := connect(t, mcpURL, narrow)
	var me Whoami
	callTool(t, cs, "whoami", nil, &me)
	if me.Subject != sub {
		t.Fatalf("whoami %+v", me)
	}
	// The SDK binds the MCP session to the caller (TokenInfo.UserID): another
	// user's valid token cannot use its session id.
	if cs.ID() == "" {
		t.Fatal("no MCP session id")
	}
	hijack := as.iss.Token(authtest.Claims{"aud": mcpURL, "sub": "mallory", "scope": "profile"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, mcpURL, strings.NewReader(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+hijack)
	req.Header.Set("Mcp-Session-Id", cs.ID())
	req.Header.Set("Mcp-Protocol-Version", cs.InitializeResult().ProtocolVersion)
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hr.Body)
	hr.Body.Close()
	if hr.StatusCode != http.StatusForbidden {
		t.Fatalf("another user on the session: %d %s, want 403", hr.StatusCode, body)
	}

	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "transfer", Arguments: TransferIn{To: "bob", Amount: 100}}); err == nil {
		t.Fatal("transfer without the scope succeeded")
	}
	resp := post(t, mcpURL, narrow, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"transfer","arguments":{"to":"bob","amount":100}}}`)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tools/call transfer without the scope: %d, want 403", resp.StatusCode)
	}
	ch := bearerChallenge(t, resp)
	if ch.Params["error"] != "insufficient_scope" || ch.Params["scope"] != transferScope || ch.Params["resource_metadata"] != metaURL {
		t.Fatalf("scope challenge %q", resp.Header.Get("WWW-Authenticate"))
	}
	// In a batch too (protocol 2025-03-26).
	resp = post(t, mcpURL, narrow, `[{"jsonrpc":"2.0","id":3,"method":"tools/list"},{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"transfer","arguments":{}}}]`)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a batch calling transfer without the scope: %d, want 403", resp.StatusCode)
	}

	// With the scope, transfer runs for the token's subject.
	wide := as.iss.Token(authtest.Claims{"aud": mcpURL, "sub": sub, "scope": "profile transfer"})
	var out TransferOut
	callTool(t, connect(t, mcpURL, wide), "transfer", TransferIn{To: "bob", Amount: 100}, &out)
	if out != (TransferOut{From: sub, To: "bob", Amount: 100}) {
		t.Fatalf("transfer %+v", out)
	}
}

// TestSDKOAuthClient: the SDK's own OAuth client (auth.AuthorizationCodeHandler)
// starts with no token and finds everything itself: the 401's
// resource_metadata, the metadata, the authorization server's metadata; it
// authorizes with PKCE and resource=<the endpoint>, gets a token for the
// resource, and retries. On transfer's 403 insufficient_scope it steps up
// (SEP-2350) for the scope the challenge names.
func TestSDKOAuthClient(t *testing.T) {
	as, mcpURL := start(t)
	ctx := t.Context()
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient:      &oauthex.ClientCredentials{ClientID: clientID, Issuer: as.iss.URL},
		RedirectURL:              redirectURL,
		AuthorizationCodeFetcher: as.approve,
	})
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: mcpURL, OAuthHandler: h}, nil)
	if err != nil {
		t.Fatalf("connect with the SDK's OAuth client: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	grants := as.grants()
	if len(grants) != 1 || grants[0].resource != mcpURL {
		t.Fatalf("authorizations %+v, want one for resource %q", grants, mcpURL)
	}
	var me Whoami
	callTool(t, cs, "whoami", nil, &me)
	if me.Subject != as.subject || me.Issuer != as.iss.URL {
		t.Fatalf("whoami %+v, want subject %q", me, as.subject)
	}
	if slices.Contains(me.Scopes, transferScope) {
		t.Fatalf("the first token already holds %q: %v (no step-up to test)", transferScope, me.Scopes)
	}

	var out TransferOut
	callTool(t, cs, "transfer", TransferIn{To: "bob", Amount: 7}, &out)
	if out != (TransferOut{From: as.subject, To: "bob", Amount: 7}) {
		t.Fatalf("transfer %+v", out)
	}
	grants = as.grants()
	if len(grants) != 2 || !slices.Contains(grants[1].scopes, transferScope) || grants[1].resource != mcpURL {
		t.Fatalf("authorizations %+v, want a second one (step-up) with scope %q", grants, transferScope)
	}
	callTool(t, cs, "whoami", nil, &me)
	if !slices.Contains(me.Scopes, transferScope) {
		t.Fatalf("after step-up, whoami scopes %v", me.Scopes)
	}
}

// TestSDKOAuthClientDenied: when the authorization server does not grant
// the scope, the step-up's token still lacks it and transfer stays refused.
func TestSDKOAuthClientDenied(t *testing.T) {
	as, mcpURL := start(t, "profile")
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient:      &oauthex.ClientCredentials{ClientID: clientID},
		RedirectURL:              redirectURL,
		AuthorizationCodeFetcher: as.approve,
	})
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: mcpURL, OAuthHandler: h}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "transfer", Arguments: TransferIn{To: "bob", Amount: 7}}); err == nil {
		t.Fatalf("transfer without the scope was not refused by HTTP (403): result %+v", res)
	}
	if n := len(as.grants()); n != 2 {
		t.Fatalf("%d authorizations, want 2 (the step-up was tried)", n)
	}
}

// TestRevoked: a session the issuer ends (OpenID back-channel logout,
// AUTHGATE_CLIENT_ID) is refused on the MCP endpoint at once, in the middle
// of an MCP session, with the 401 challenge naming the metadata.
func TestRevoked(t *testing.T) {
	as, app := startEnv(t, nil, map[string]string{"AUTHGATE_CLIENT_ID": clientID})
	mcpURL := app.URL + "/mcp"
	sid, other := "sid-"+rand.Text()[:8], "sid-"+rand.Text()[:8]
	tok := as.iss.Token(authtest.Claims{"aud": mcpURL, "sid": sid, "scope": "profile"})
	kept := as.iss.Token(authtest.Claims{"aud": mcpURL, "sid": other, "scope": "profile"})
	cs, csKept := connect(t, mcpURL, tok), connect(t, mcpURL, kept)
	var me Whoami
	callTool(t, cs, "whoami", nil, &me)

	logout := as.iss.Sign(as.iss.Signer(), nil, authtest.Claims{
		"iss": as.iss.URL, "aud": clientID, "iat": time.Now().Unix(), "jti": rand.Text(), "sid": sid,
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	})
	resp, err := http.PostForm(app.URL+"/backchannel-logout", url.Values{"logout_token": {logout}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("back-channel logout: %d", resp.StatusCode)
	}
	if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "whoami"}); err == nil {
		t.Fatal("whoami succeeded after the session was revoked")
	}
	r := post(t, mcpURL, tok, initializeBody)
	if ch := bearerChallenge(t, r); r.StatusCode != http.StatusUnauthorized || ch.Params["resource_metadata"] == "" {
		t.Fatalf("after logout: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	callTool(t, csKept, "whoami", nil, &me) // another session is untouched
}

// TestDevelopmentIssuer: without AUTHGATE_ISSUER (go run ./examples/mcp),
// a token from POST /dev/login works as the MCP client's bearer token.
// The development issuer is no OAuth server, so no metadata is published.
func TestDevelopmentIssuer(t *testing.T) {
	app := flowtest.Start(t, run, nil)
	mcpURL := app.URL + "/mcp"
	if r := post(t, mcpURL, "", initializeBody); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("initialize without a token: %d", r.StatusCode)
	}
	sub := "dev-" + rand.Text()[:8]
	req, _ := http.NewRequest(http.MethodPost, app.URL+"/dev/login", strings.NewReader(url.Values{"subject": {sub}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dev login: %d %s", resp.StatusCode, tok)
	}
	var me Whoami
	callTool(t, connect(t, mcpURL, strings.TrimSpace(string(tok))), "whoami", nil, &me)
	if me.Subject != sub {
		t.Fatalf("whoami %+v, want subject %q", me, sub)
	}
	if !strings.Contains(app.Output(), "TOKEN=$(curl") {
		t.Fatalf("the banner does not say how to get a token:\n%s", app.Output())
	}
}

// TestStartErrors: a default resource that cannot be one (http on a
// non-loopback address) stops the app, saying to set AUTHGATE_RESOURCE.
func TestStartErrors(t *testing.T) {
	iss := authtest.New(t)
	err := flowtest.StartErr(t, run, map[string]string{"AUTHGATE_ISSUER": iss.URL, "ADDR": "0.0.0.0:0"})
	if !strings.Contains(err.Error(), "set AUTHGATE_RESOURCE") {
		t.Fatalf("start-up error %q does not name AUTHGATE_RESOURCE", err)
	}
	err = flowtest.StartErr(t, run, map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_RESOURCE": "http://mcp.example.com/mcp"})
	if !strings.Contains(err.Error(), "AUTHGATE_RESOURCE") || !strings.Contains(err.Error(), "https") {
		t.Fatalf("start-up error %q", err)
	}
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`

// post sends an MCP message as the streamable HTTP transport does.
func post(t *testing.T, u, token, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// bearerChallenge parses the response's WWW-Authenticate with the SDK's
// parser and returns its Bearer challenge.
func bearerChallenge(t *testing.T, resp *http.Response) oauthex.Challenge {
	t.Helper()
	cs, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
	if err != nil {
		t.Fatalf("WWW-Authenticate %q: %v", resp.Header.Values("WWW-Authenticate"), err)
	}
	for _, c := range cs {
		if c.Scheme == "bearer" {
			return c
		}
	}
	t.Fatalf("no Bearer challenge in %q", resp.Header.Values("WWW-Authenticate"))
	return oauthex.Challenge{}
}

func getJSON(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return m
}

// transport is the SDK's streamable client transport sending token.
func transport(endpoint, token string) *mcp.StreamableClientTransport {
	return &mcp.StreamableClientTransport{
		Endpoint:   endpoint,
		HTTPClient: &http.Client{Transport: bearer{token: token, next: http.DefaultTransport}},
		MaxRetries: -1,
	}
}

// connect opens an SDK client session with token; closed when t ends.
func connect(t *testing.T, endpoint, token string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), transport(endpoint, token), nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// callTool calls a tool and decodes its structured result into out.
func callTool(t *testing.T, cs *mcp.ClientSession, name string, args, out any) {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("%s: tool error %v", name, res.GetError())
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v in %s", name, err, b)
	}
}

// bearer adds the Authorization header to each request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// authServer is the test authorization server: authtest's issuer with an
// authorization endpoint that approves at once for one user (the consent
// page of a real server) and a token endpoint, for the one pre-registered
// public client. It checks what a real one checks: client and redirect URI,
// PKCE S256, a single use of each code, and the resource indicator, which
// becomes the token's audience.
type authServer struct {
	iss     *authtest.Issuer
	subject string
	allowed []string // the scopes the user may be granted

	mu     sync.Mutex
	codes  map[string]*grant
	issued []grant
}

type grant struct {
	resource, challenge string
	scopes              []string
}

func newAuthServer(t *testing.T, allowed []string) *authServer {
	as := &authServer{
		iss: authtest.New(t), subject: "user-" + rand.Text()[:8],
		allowed: allowed, codes: map[string]*grant{},
	}
	as.iss.SetHandler(http.HandlerFunc(as.serve))
	return as
}

func (as *authServer) grants() []grant {
	as.mu.Lock()
	defer as.mu.Unlock()
	return slices.Clone(as.issued)
}

func (as *authServer) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                as.iss.URL,
			"jwks_uri":                              as.iss.JWKSURL(),
			"authorization_endpoint":                as.iss.URL + "/authorize",
			"token_endpoint":                        as.iss.URL + "/token",
			"response_types_supported":              []string{"code"},
			"grant_types_supported":                 []string{"authorization_code"},
			"code_challenge_methods_supported":      []string{"S256"},
			"token_endpoint_auth_methods_supported": []string{"none"},
			"scopes_supported":                      as.allowed,
		})
	case "/jwks.json":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(as.iss.JWKS())
	case "/authorize":
		as.authorize(w, r)
	case "/token":
		as.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (as *authServer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("response_type") != "code", q.Get("client_id") != clientID, q.Get("redirect_uri") != redirectURL:
		http.Error(w, "bad client, redirect_uri or response_type", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE S256 required", http.StatusBadRequest)
		return
	case q.Get("resource") == "":
		http.Error(w, "resource indicator required (RFC 8707)", http.StatusBadRequest)
		return
	}
	g := &grant{resource: q.Get("resource"), challenge: q.Get("code_challenge")}
	for _, s := range strings.Fields(q.Get("scope")) {
		if slices.Contains(as.allowed, s) {
			g.scopes = append(g.scopes, s)
		}
	}
	if len(g.scopes) == 0 {
		g.scopes = []string{"profile"}
	}
	code := rand.Text()
	as.mu.Lock()
	as.codes[code] = g
	as.mu.Unlock()
	to, _ := url.Parse(redirectURL)
	to.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

func (as *authServer) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	f := r.PostForm
	as.mu.Lock()
	g := as.codes[f.Get("code")]
	delete(as.codes, f.Get("code")) // one use
	as.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	client := f.Get("client_id")
	if id, _, ok := r.BasicAuth(); ok { // a public client may still send its id so (golang.org/x/oauth2's auto-detection)
		client = id
	}
	switch {
	case g == nil, client != clientID, f.Get("redirect_uri") != redirectURL,
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge, f.Get("resource") != g.resource:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	as.mu.Lock()
	as.issued = append(as.issued, *g)
	as.mu.Unlock()
	scope := strings.Join(g.scopes, " ")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": as.iss.Token(authtest.Claims{"aud": g.resource, "sub": as.subject, "scope": scope}),
		"token_type":   "Bearer",
		"expires_in":   300,
		"scope":        scope,
	})
}

// approve is the SDK's AuthorizationCodeFetcher: it follows the
// authorization URL as the user's browser would, and reads the code and
// state from the redirect to redirectURL.
func (as *authServer) approve(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args.URL, nil)
	if err != nil {
		return nil, err
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("authorize: %d %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), redirectURL+"?") {
		return nil, errors.New("authorize: redirected to " + resp.Header.Get("Location"))
	}
	return &auth.AuthorizationResult{Code: loc.Query().Get("code"), State: loc.Query().Get("state")}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
