// Command mcp is an MCP server (the Model Context Protocol, on the official
// Go SDK github.com/modelcontextprotocol/go-sdk) behind authgate: an OAuth
// 2.0 protected resource as the MCP authorization spec requires.
//
//	AUTHGATE_ISSUER=https://id.example.com/ go run ./examples/mcp
//
// The MCP endpoint is the resource: AUTHGATE_RESOURCE, by default
// http://ADDR/mcp (the listener's own URL; set AUTHGATE_RESOURCE to the
// public https URL behind a proxy). With AUTHGATE_ISSUER set, tokens must
// name the resource as their audience (AUTHGATE_AUDIENCE defaults to it),
// every 401 carries resource_metadata="<url>" (RFC 9728) and the metadata
// document is served at /.well-known/oauth-protected-resource/mcp (and
// /.well-known/oauth-protected-resource), naming the issuer as the
// authorization server, so an MCP client discovers where to get a token by
// itself.
//
// Tools: whoami (any valid token) answers the caller's subject and scopes;
// transfer needs the scope "transfer", else the HTTP request is refused with
// 403 insufficient_scope and scope="transfer" (the MCP spec's scope
// challenge, which the SDK's client answers with step-up authorization).
//
// Without AUTHGATE_ISSUER the app runs with the development issuer (package
// devissuer): POST /dev/login mints a token to paste as the Bearer header of
// an MCP client. That issuer is no OAuth server (its "iss" is a URN, its
// key lives in memory), so nothing is discovered in that mode. Other
// variables: see package setup.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/examples/setup"
	"github.com/authgate/authgate/nethttpauth"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// transferScope is the scope the transfer tool needs.
const transferScope = "transfer"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	getenv, err := setup.Environ(os.Environ()) // an unknown AUTHGATE_* variable stops the app
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, getenv, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}

// run serves the app until ctx ends. Once listening it sends its base URL on
// ready, when ready is not nil.
func run(ctx context.Context, getenv func(string) string, out io.Writer, ready chan<- string) error {
	addr := getenv("ADDR")
	if addr == "" {
		addr = setup.DefaultAddr
	}
	// Listen first: the default resource is the listener's own URL, so that
	// ADDR=127.0.0.1:0 gets a correct one.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	base := setup.URL(ln.Addr())
	app, err := setup.FromEnv(ctx, mcpEnv(getenv, base+"/mcp"))
	if err != nil {
		if getenv("AUTHGATE_ISSUER") != "" && getenv("AUTHGATE_RESOURCE") == "" && strings.Contains(err.Error(), "ProtectedResource.Resource") {
			err = fmt.Errorf("%w; the default resource is this listener's URL, %s/mcp: set AUTHGATE_RESOURCE to the MCP endpoint's public https URL", err, base)
		}
		return err
	}
	defer app.Close()
	stopAdmin, err := app.ServeAdmin(app.Auth.StatusHandler()) // AUTHGATE_ADMIN_ADDR only: never the public port
	if err != nil {
		return err
	}
	defer stopAdmin()

	resource := app.Auth.ResourceMetadataURL() != "" // AUTHGATE_RESOURCE (or its default): RFC 9728
	path, endpoint := "/mcp", base+"/mcp"
	if r := mcpEnv(getenv, endpoint)("AUTHGATE_RESOURCE"); r != "" {
		u, err := url.Parse(r)
		if err != nil {
			return fmt.Errorf("AUTHGATE_RESOURCE: %w", err)
		}
		path, endpoint = u.EscapedPath(), r
		if path == "" {
			path = "/"
		}
	}

	mux := http.NewServeMux()
	for _, p := range app.Auth.ResourceMetadataPaths() { // the metadata document, outside the middleware
		mux.Handle("GET "+p, nethttpauth.ResourceMetadata(app.Auth))
	}
	if app.Dev != nil { // development issuer only: gone when AUTHGATE_ISSUER is set
		mux.Handle("POST /dev/login", app.Dev.Login())
	}
	if app.BackchannelLogout != nil { // AUTHGATE_ISSUER and AUTHGATE_CLIENT_ID: the issuer's logouts
		mux.Handle("POST /backchannel-logout", nethttpauth.BackchannelLogout(app.BackchannelLogout))
	}
	// The one line: authgate in front of the SDK's streamable HTTP handler.
	mux.Handle(path, nethttpauth.New(app.Auth)(Protect(app.Auth, newServer())))

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "authgate MCP example listening on %s\nmode: %s\nMCP endpoint: %s\n", base, app.Mode, endpoint)
	if resource {
		fmt.Fprintf(out, "protected resource metadata: %s\n\n"+
			"An MCP client discovers the authorization server from the 401's resource_metadata:\n\n"+
			"  curl -i -X POST %s   # 401, WWW-Authenticate: Bearer ... resource_metadata=\"...\"\n\n",
			app.Auth.ResourceMetadataURL(), endpoint)
	}
	if app.Dev != nil {
		fmt.Fprintf(out, "\n*** DEVELOPMENT MODE: anyone who can reach this server can log in as anyone. ***\n"+
			"The development issuer is no OAuth server: MCP clients cannot discover it. Mint a token and\n"+
			"give it to the client as its Bearer token:\n\n"+
			"  TOKEN=$(curl -s -H 'Accept: text/plain' -d subject=alice %s/dev/login)\n"+
			"  curl -i -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\\n"+
			"    -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"curl\",\"version\":\"1\"}}}' %s\n\n",
			base, endpoint)
	}
	if ready != nil {
		ready <- base
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// mcpEnv is getenv with the MCP defaults: with a real issuer
// (AUTHGATE_ISSUER), AUTHGATE_RESOURCE defaults to endpoint and
// AUTHGATE_AUDIENCE to the resource, since an MCP server accepts only tokens
// issued for it (its canonical URL is their audience). The development
// issuer names no URL an MCP client could discover, so without
// AUTHGATE_ISSUER nothing is defaulted.
func mcpEnv(getenv func(string) string, endpoint string) func(string) string {
	return func(name string) string {
		v := getenv(name)
		if v != "" || getenv("AUTHGATE_ISSUER") == "" {
			return v
		}
		switch name {
		case "AUTHGATE_RESOURCE":
			return endpoint
		case "AUTHGATE_AUDIENCE":
			if r := getenv("AUTHGATE_RESOURCE"); r != "" {
				return r
			}
			return endpoint
		}
		return v
	}
}

// newServer is the MCP server and its tools.
func newServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "authgate-mcp-example", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "whoami", Description: "The authenticated caller: subject, issuer and scopes of the access token."}, whoami)
	mcp.AddTool(s, &mcp.Tool{Name: "transfer", Description: "Transfer an amount (needs the scope \"transfer\")."}, transfer)
	return s
}

// Whoami is the result of the whoami tool.
type Whoami struct {
	Subject string   `json:"subject"`
	Issuer  string   `json:"issuer"`
	Scopes  []string `json:"scopes"`
}

func whoami(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, Whoami, error) {
	p, err := principal(req)
	if err != nil {
		return nil, Whoami{}, err
	}
	return nil, Whoami{Subject: p.Subject, Issuer: p.Issuer, Scopes: slices.Clone(p.Scopes)}, nil
}

// TransferIn is the input of the transfer tool.
type TransferIn struct {
	To     string `json:"to" jsonschema:"the recipient"`
	Amount int    `json:"amount" jsonschema:"the amount, in cents"`
}

// TransferOut is the result of the transfer tool.
type TransferOut struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Amount int    `json:"amount"`
}

func transfer(_ context.Context, req *mcp.CallToolRequest, in TransferIn) (*mcp.CallToolResult, TransferOut, error) {
	p, err := principal(req)
	if err != nil {
		return nil, TransferOut{}, err
	}
	if !p.HasScope(transferScope) { // Protect refuses it first; this holds if the tool is ever reached another way
		return nil, TransferOut{}, errors.New("insufficient scope: transfer needs the scope " + transferScope)
	}
	if in.To == "" || in.Amount <= 0 {
		return nil, TransferOut{}, errors.New("transfer needs a recipient and a positive amount")
	}
	return nil, TransferOut{From: p.Subject, To: in.To, Amount: in.Amount}, nil
}

// principal is the authgate principal of the HTTP request that carried this
// MCP request. The SDK hands each request's TokenInfo to the tool in
// req.Extra (a tool's context belongs to the MCP session, not to the HTTP
// request that carried the call, so core.PrincipalFrom(ctx) is not used).
func principal(req *mcp.CallToolRequest) (*core.Principal, error) {
	if req.Extra != nil && req.Extra.TokenInfo != nil {
		if p, ok := req.Extra.TokenInfo.Extra[principalKey].(*core.Principal); ok {
			return p, nil
		}
	}
	return nil, errors.New("no authenticated caller") // unreachable behind Protect
}

// principalKey is where tokenInfo keeps the principal in TokenInfo.Extra.
const principalKey = "authgate.principal"

// Protect serves the MCP server over the SDK's streamable HTTP transport,
// behind authgate's middleware (nethttpauth.New), which has already refused
// every request without a valid token for this resource:
//
//   - the SDK's auth.RequireBearerToken hands authgate's principal to the
//     SDK as its TokenInfo (UserID issuer+subject: the SDK binds each MCP
//     session to that caller, and tools read req.Extra.TokenInfo). It reads
//     the token from "Authorization: Bearer" only, as the MCP spec sends it:
//     a token authgate accepted from elsewhere (a DPoP-bound token, a
//     cookie) gets the SDK's 401 here (with resource_metadata too);
//   - a tools/call of a tool that needs a scope goes through
//     nethttpauth.RequireScopes first, so a token without the scope gets the
//     HTTP 403 insufficient_scope challenge (with scope= and
//     resource_metadata=) that the MCP authorization spec asks for.
func Protect(a *core.Authenticator, s *mcp.Server) http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	inner := auth.RequireBearerToken(tokenInfo, &auth.RequireBearerTokenOptions{
		ResourceMetadataURL:    a.ResourceMetadataURL(),
		AllowMissingExpiration: true, // authgate has checked exp when the token has one (an introspected opaque token may not)
	})(h)
	gates := make(map[string]http.Handler, len(toolScopes)) // scope: inner behind its check
	for _, scope := range toolScopes {
		gates[scope] = nethttpauth.RequireScopes(inner, scope)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			inner.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, mcp.DefaultMaxRequestBodyBytes))
		if err != nil {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var need []string
		for _, name := range calledTools(body) {
			if scope, ok := toolScopes[name]; ok && !slices.Contains(need, scope) {
				need = append(need, scope)
			}
		}
		switch len(need) {
		case 0:
			inner.ServeHTTP(w, r)
		case 1:
			gates[need[0]].ServeHTTP(w, r) // its marker checks the scope, then inner serves
		default: // a JSON-RPC batch (protocol 2025-03-26 only) calling tools of several scopes
			http.Error(w, "a batch may call tools of one scope only: send the calls one by one", http.StatusBadRequest)
		}
	})
}

// toolScopes are the tools that need a scope, and that scope.
var toolScopes = map[string]string{"transfer": transferScope}

// calledTools returns the tool names of the tools/call requests in a
// JSON-RPC message or batch. A body that does not parse names none (the
// SDK then answers it with its own error).
func calledTools(body []byte) []string {
	type call struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	var msgs []call
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		if json.Unmarshal(body, &msgs) != nil {
			return nil
		}
	} else {
		var m call
		if json.Unmarshal(body, &m) != nil {
			return nil
		}
		msgs = []call{m}
	}
	var names []string
	for _, m := range msgs {
		if m.Method == "tools/call" {
			names = append(names, m.Params.Name)
		}
	}
	return names
}

// tokenInfo is the SDK's TokenVerifier over authgate: the token was verified
// by the middleware before; this reads the principal it left in the request.
func tokenInfo(_ context.Context, _ string, r *http.Request) (*auth.TokenInfo, error) {
	p, ok := nethttpauth.Principal(r)
	if !ok {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{
		UserID:     p.Issuer + " " + p.Subject,
		Scopes:     slices.Clone(p.Scopes),
		Expiration: p.ExpiresAt,
		Extra:      map[string]any{principalKey: p},
	}, nil
}
