package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/nethttpauth"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// minimal is the smallest compliant setup, as docs/mcp.md shows it: the
// SDK's handler behind nethttpauth.New, the metadata document beside it.
// Tools get no per-request caller here (Protect adds that).
func minimal(ctx context.Context, issuer, resource string, server *mcp.Server) (http.Handler, error) {
	auth, err := core.New(ctx, core.Config{
		Issuer:   issuer,
		Audience: []string{resource}, // tokens issued for this MCP server only
		ProtectedResource: &core.ProtectedResource{
			Resource:             resource, // e.g. https://mcp.example.com/mcp
			AuthorizationServers: []string{issuer},
		},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, p := range auth.ResourceMetadataPaths() {
		mux.Handle("GET "+p, nethttpauth.ResourceMetadata(auth))
	}
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux.Handle("/mcp", nethttpauth.New(auth)(mcpHandler))
	return mux, nil
}

type pong struct {
	Pong bool `json:"pong"`
}

// TestMinimal: the minimal setup is enough for the SDK's OAuth client to
// discover the authorization server, get a token for the resource and call
// a tool.
func TestMinimal(t *testing.T) {
	as := newAuthServer(t, []string{"profile"})
	srv := httptest.NewUnstartedServer(nil)
	resource := "http://" + srv.Listener.Addr().String() + "/mcp"
	s := mcp.NewServer(&mcp.Implementation{Name: "minimal", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "ping"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, pong, error) {
		return nil, pong{Pong: true}, nil
	})
	h, err := minimal(t.Context(), as.iss.URL, resource, s)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)

	if r := post(t, resource, "", initializeBody); bearerChallenge(t, r).Params["resource_metadata"] == "" {
		t.Fatalf("401 without resource_metadata: %q", r.Header.Get("WWW-Authenticate"))
	}
	oh, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		PreregisteredClient:      &oauthex.ClientCredentials{ClientID: clientID},
		RedirectURL:              redirectURL,
		AuthorizationCodeFetcher: as.approve,
	})
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: resource, OAuthHandler: oh}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	var out pong
	callTool(t, cs, "ping", nil, &out)
	if !out.Pong {
		t.Fatal("no pong")
	}
	if g := as.grants(); len(g) != 1 || g[0].resource != resource {
		t.Fatalf("authorizations %+v", g)
	}
}
