package core

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-json-experiment/json"
)

// WellKnownProtectedResource is the well-known path of the OAuth 2.0
// protected resource metadata document (RFC 9728 section 3).
const WellKnownProtectedResource = "/.well-known/oauth-protected-resource"

// ProtectedResource describes this API as an OAuth 2.0 protected resource
// (RFC 9728), as MCP clients discover it. Set as Config.ProtectedResource,
// every WWW-Authenticate challenge carries resource_metadata="<MetadataURL>"
// (RFC 9728 section 5.1) and [Authenticator.ResourceMetadata] is the
// document to serve (each adapter's ResourceMetadata handler serves it).
type ProtectedResource struct {
	// Resource is the resource identifier: an https URL (http only for a
	// loopback host) without query or fragment, e.g. "https://api.example.com/mcp".
	// Required.
	Resource string
	// AuthorizationServers are the issuer identifiers of the authorization
	// servers whose tokens the resource accepts (their RFC 8414 metadata is
	// at <issuer>/.well-known/oauth-authorization-server). At least one.
	AuthorizationServers []string
	// ScopesSupported lists the scopes the resource uses in authorization
	// requests; optional.
	ScopesSupported []string
	// MetadataURL is where the document is served. Default: the well-known
	// URL of Resource (RFC 9728 section 3.1): the well-known path inserted
	// between the host and the resource's path,
	// "https://api.example.com/.well-known/oauth-protected-resource/mcp".
	MetadataURL string
}

// resourceMeta is the checked ProtectedResource and its rendered document.
type resourceMeta struct {
	url   string   // MetadataURL
	paths []string // the paths the document answers at
	doc   []byte
}

// resourceDoc is the RFC 9728 section 2 document authgate serves.
// resource_signing_alg_values_supported is left out: it lists algorithms
// for signing resource responses, and authgate signs none.
type resourceDoc struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported,omitempty"`
	BearerMethods        []string `json:"bearer_methods_supported"`
	DPoPAlgs             []string `json:"dpop_signing_alg_values_supported,omitempty"`
	DPoPRequired         bool     `json:"dpop_bound_access_tokens_required,omitzero"`
}

// maxResourceMetaField bounds each string of the document.
const maxResourceMetaField = 2048

func checkResourceURL(field, s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case s == "" || len(s) > maxResourceMetaField || err != nil || u.Host == "" || u.User != nil:
		return nil, configErr("ProtectedResource.%s %q is not an absolute URL", field, s)
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return nil, configErr("ProtectedResource.%s %q has a query or fragment (RFC 9728 section 1.2)", field, s)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	default:
		return nil, configErr("ProtectedResource.%s %q must use https (http only on a loopback host)", field, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\' {
			return nil, configErr("ProtectedResource.%s holds a character a challenge cannot carry", field)
		}
	}
	return u, nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// newResourceMeta checks pr and renders its document; dpop is the
// authenticator's DPoP verifier (nil when DPoP is off).
func newResourceMeta(pr *ProtectedResource, cfg *Config, dpop *dpopVerifier) (*resourceMeta, error) {
	if pr == nil {
		return nil, nil
	}
	ru, err := checkResourceURL("Resource", pr.Resource)
	if err != nil {
		return nil, err
	}
	if len(pr.AuthorizationServers) == 0 {
		return nil, configErr("ProtectedResource.AuthorizationServers is empty: name the issuer of the tokens")
	}
	for _, as := range pr.AuthorizationServers {
		if _, err := checkResourceURL("AuthorizationServers", as); err != nil {
			return nil, err
		}
	}
	for _, s := range pr.ScopesSupported {
		if s == "" || len(s) > maxResourceMetaField || strings.ContainsAny(s, " \"\\") {
			return nil, configErr("ProtectedResource.ScopesSupported holds an unusable scope")
		}
	}
	m := &resourceMeta{url: pr.MetadataURL}
	if m.url == "" {
		path := strings.TrimSuffix(ru.EscapedPath(), "/")
		m.url = ru.Scheme + "://" + ru.Host + WellKnownProtectedResource + path
	}
	mu, err := checkResourceURL("MetadataURL", m.url)
	if err != nil {
		return nil, err
	}
	m.paths = []string{mu.EscapedPath()}
	if m.paths[0] != WellKnownProtectedResource && strings.HasPrefix(m.paths[0], WellKnownProtectedResource+"/") {
		m.paths = append(m.paths, WellKnownProtectedResource) // clients that try the root form too
	}
	d := resourceDoc{
		Resource:             pr.Resource,
		AuthorizationServers: slices.Clone(pr.AuthorizationServers),
		ScopesSupported:      slices.Clone(pr.ScopesSupported),
		BearerMethods:        bearerMethods(cfg),
	}
	if dpop != nil {
		d.DPoPAlgs = dpop.algs
		d.DPoPRequired = !dpop.bearerAll
	}
	if m.doc, err = json.Marshal(d); err != nil {
		return nil, err
	}
	m.doc = append(m.doc, '\n')
	return m, nil
}

// bearerMethods are the RFC 6750 methods of cfg's token sources:
// "header" always, "query" with QueryParam. A cookie or custom header is
// no RFC 6750 method and is not listed.
func bearerMethods(cfg *Config) []string {
	out := []string{"header"}
	if cfg.QueryParam != "" {
		out = append(out, "query")
	}
	return out
}

// ResourceMetadata returns the RFC 9728 document (Config.ProtectedResource)
// as the response to a GET of one of [Authenticator.ResourceMetadataPaths]:
// 200, application/json, cacheable for an hour. ok is false when no
// ProtectedResource is configured (serve 404). Adapters' ResourceMetadata
// handlers write it.
func (a *Authenticator) ResourceMetadata() (resp Response, ok bool) {
	if a.resource == nil {
		return Response{}, false
	}
	h := make(http.Header, 2)
	h["Content-Type"] = []string{"application/json"}
	h["Cache-Control"] = []string{"public, max-age=3600"}
	return Response{Status: http.StatusOK, Header: h, Body: a.resource.doc}, true
}

// ResourceMetadataPaths returns the paths the metadata document is served
// at: the path of MetadataURL, and the bare well-known path when that one
// is path-suffixed (RFC 9728 section 3.1). Nil without a ProtectedResource.
func (a *Authenticator) ResourceMetadataPaths() []string {
	if a.resource == nil {
		return nil
	}
	return slices.Clone(a.resource.paths)
}

// ResourceMetadataURL returns the URL sent as resource_metadata in every
// challenge, or "" without a ProtectedResource.
func (a *Authenticator) ResourceMetadataURL() string {
	if a.resource == nil {
		return ""
	}
	return a.resource.url
}

// writeResourceMetadata writes the RFC 9728 section 5.1 parameter.
func writeResourceMetadata(b *strings.Builder, u string) {
	if u != "" {
		b.WriteString(", resource_metadata=")
		writeQuoted(b, u)
	}
}
