package core

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for the answers of the two backends authgate asks over HTTP
// (OP-05, SS-10, SS-11): an RFC 7662 introspection endpoint and a session
// endpoint. The fuzz input is the HTTP response: its status, its header
// lines and its body, serialised to HTTP/1.1 wire bytes and parsed by
// net/http's own response reader (as the Transport does with a socket), then
// handed to the real client code (redirect policy, body cap, decoding).
//
// Properties: no panic; the body is never read past the cap; nothing but a
// 200 whose JSON object unambiguously says "active": true, with a sub and
// with every present member of the right type and matching the
// configuration, lets a token in (fail closed); what is let in carries the
// answer's own fields; refusals are 401 or 503 and echo no token or secret.
//
// The seeds below run as ordinary tests. Fuzz with e.g.
//
//	go test -run '^$' -fuzz '^FuzzIntrospectionResponse$' -fuzztime 5m -parallel=1 ./core
//	go test -run '^$' -fuzz '^FuzzSessionEndpointResponse$' -fuzztime 5m -parallel=1 ./core

const (
	backendMaxBody = 2048 // small, so that the fuzzer crosses it
	backendToken   = "opaqueFuzzToken-0123456789abcdef_XYZ"
	backendSecret  = "client-secret-9f8e7d"
	backendIssuer  = "https://as.example"
	backendSID     = "sid-marker-4d2c"
	backendAPIKey  = "Bearer api-key-77aa"
)

// countingBody counts and keeps the bytes read through it.
type countingBody struct {
	r    io.ReadCloser
	n    int64
	data bytes.Buffer
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.data.Write(p[:n])
	return n, err
}

func (c *countingBody) Close() error { return c.r.Close() }

// wireTransport answers every request with one response parsed from raw
// HTTP/1.1 bytes by http.ReadResponse, or, when body is set, with status
// 200 and that body.
type wireTransport struct {
	raw  []byte
	body io.ReadCloser
	req  *http.Request
	got  *countingBody
}

func (t *wireTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.req = req
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	var resp *http.Response
	if t.body != nil {
		resp = &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Body: t.body, ContentLength: -1, Request: req}
	} else {
		var err error
		resp, err = http.ReadResponse(bufio.NewReader(bytes.NewReader(t.raw)), req)
		if err != nil {
			return nil, err
		}
	}
	t.got = &countingBody{r: resp.Body}
	resp.Body = t.got
	return resp, nil
}

// wireResponse builds the bytes of an HTTP/1.1 response: a status within
// 100…999, the non-empty lines of header, an empty line, body.
func wireResponse(status int, header string, body []byte) []byte {
	code := status % 1000
	if code < 0 {
		code = -code
	}
	if code < 100 {
		code += 100
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %03d X\r\n", code)
	for _, line := range strings.Split(header, "\n") {
		if line = strings.TrimSuffix(line, "\r"); line != "" {
			b.WriteString(line)
			b.WriteString("\r\n")
		}
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// parsedStatus is the status net/http reads from raw, or 0 when it cannot
// read a response at all.
func parsedStatus(raw []byte) int {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// backendSeed is one seed response and whether it must let the token in.
type backendSeed struct {
	name   string
	status int
	header string
	body   string
	admit  bool
}

const jsonCT = "Content-Type: application/json"

// chunked encodes body as one chunk and the last chunk.
func chunked(body string) string { return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body) }

func introspectionSeeds() []backendSeed {
	exp := fuzzNow.Unix() + 3600
	valid := fmt.Sprintf(`{"active":true,"sub":"u1","sid":"s-1","scope":"a b","exp":%d,"iss":%q,"aud":["api"],"token_type":"access_token","tenant":"acme","roles":["admin"]}`, exp, backendIssuer)
	return []backendSeed{
		{"valid", 200, jsonCT, valid, true},
		{"valid, minimal", 200, jsonCT, `{"active":true,"sub":"u1"}`, true},
		{"valid, aud as a string, bearer token_type", 200, jsonCT, `{"active":true,"sub":"u1","aud":"api","token_type":"Bearer"}`, true},
		{"valid, chunked", 200, jsonCT + "\nTransfer-Encoding: chunked", "1a\r\n" + `{"active":true,"sub":"u1"}` + "\r\n0\r\n\r\n", true},
		{"valid, exact Content-Length", 200, jsonCT + "\nContent-Length: 26", `{"active":true,"sub":"u1"}`, true},
		{"valid body, text/html content-type (the body decides)", 200, "Content-Type: text/html", `{"active":true,"sub":"u1"}`, true},
		{"inactive", 200, jsonCT, `{"active":false}`, false},
		{"inactive with members", 200, jsonCT, `{"active":false,"sub":"u1","scope":"admin"}`, false},
		{"active missing", 200, jsonCT, `{"sub":"u1"}`, false},
		{"sub missing", 200, jsonCT, `{"active":true}`, false},
		{"sub empty", 200, jsonCT, `{"active":true,"sub":""}`, false},
		{"active a string", 200, jsonCT, `{"active":"true","sub":"u1"}`, false},
		{"active a number", 200, jsonCT, `{"active":1,"sub":"u1"}`, false},
		{"active null", 200, jsonCT, `{"active":null,"sub":"u1"}`, false},
		{"active an array", 200, jsonCT, `{"active":[true],"sub":"u1"}`, false},
		{"Active capitalised", 200, jsonCT, `{"Active":true,"sub":"u1"}`, false},
		{"sub a number", 200, jsonCT, `{"active":true,"sub":7}`, false},
		// The configured claims are read as in a JWT: scope a string or a
		// list, merged with scp; roles a string or a list; other shapes
		// grant nothing.
		{"scope a list", 200, jsonCT, `{"active":true,"sub":"u1","scope":["admin"]}`, true},
		{"scope and scp, merged", 200, jsonCT, `{"active":true,"sub":"u1","scope":"a b","scp":["b","c"]}`, true},
		{"scope a number grants nothing", 200, jsonCT, `{"active":true,"sub":"u1","scope":7}`, true},
		{"roles a string", 200, jsonCT, `{"active":true,"sub":"u1","roles":"admin"}`, true},
		{"roles a mixed list grants nothing", 200, jsonCT, `{"active":true,"sub":"u1","roles":["admin",1]}`, true},
		{"sid a number", 200, jsonCT, `{"active":true,"sub":"u1","sid":7}`, false},
		{"tenant a list", 200, jsonCT, `{"active":true,"sub":"u1","tenant":["a"]}`, false},
		{"exp a string", 200, jsonCT, `{"active":true,"sub":"u1","exp":"9999999999"}`, false},
		{"duplicate active", 200, jsonCT, `{"active":false,"active":true,"sub":"u1"}`, false},
		{"duplicate active, escaped name", 200, jsonCT, `{"active":false,"\u0061ctive":true,"sub":"u1"}`, false},
		{"duplicate sub", 200, jsonCT, `{"active":true,"sub":"u1","sub":"admin"}`, false},
		{"exp passed", 200, jsonCT, fmt.Sprintf(`{"active":true,"sub":"u1","exp":%d}`, fuzzNow.Unix()-1), false},
		{"exp now", 200, jsonCT, fmt.Sprintf(`{"active":true,"sub":"u1","exp":%d}`, fuzzNow.Unix()), false},
		{"exp huge", 200, jsonCT, `{"active":true,"sub":"u1","exp":1e300}`, false},
		{"exp beyond float64", 200, jsonCT, `{"active":true,"sub":"u1","exp":1e999}`, false},
		{"exp beyond int64", 200, jsonCT, `{"active":true,"sub":"u1","exp":9223372036854775808}`, false},
		{"exp max int64", 200, jsonCT, `{"active":true,"sub":"u1","exp":9223372036854775807}`, false},
		{"exp hugely negative", 200, jsonCT, `{"active":true,"sub":"u1","exp":-1e300}`, false},
		{"exp null", 200, jsonCT, `{"active":true,"sub":"u1","exp":null}`, false},
		{"foreign iss", 200, jsonCT, `{"active":true,"sub":"u1","iss":"https://evil.example"}`, false},
		{"foreign aud", 200, jsonCT, `{"active":true,"sub":"u1","aud":["other"]}`, false},
		{"aud a number", 200, jsonCT, `{"active":true,"sub":"u1","aud":1}`, false},
		{"refresh token", 200, jsonCT, `{"active":true,"sub":"u1","token_type":"refresh_token"}`, false},
		{"unusable sid", 200, jsonCT, `{"active":true,"sub":"u1","sid":"../x"}`, false},
		{"invalid UTF-8 in sub", 200, jsonCT, "{\"active\":true,\"sub\":\"u\xff1\"}", false},
		{"truncated JSON", 200, jsonCT, `{"active":true,"sub":"u1"`, false},
		{"truncated by Content-Length", 200, jsonCT + "\nContent-Length: 40", `{"active":true,"sub":"u1"}`, false},
		{"trailing garbage", 200, jsonCT, `{"active":true,"sub":"u1"} x`, false},
		{"two objects", 200, jsonCT, `{"active":false}{"active":true,"sub":"u1"}`, false},
		{"a JSON array", 200, jsonCT, `[{"active":true,"sub":"u1"}]`, false},
		{"JSON null", 200, jsonCT, `null`, false},
		{"empty body", 200, jsonCT, ``, false},
		{"not JSON", 200, "Content-Type: text/html", `<html>active</html>`, false},
		{"BOM", 200, jsonCT, "\ufeff" + `{"active":true,"sub":"u1"}`, false},
		{"deep nesting of an unread member", 200, jsonCT, `{"active":true,"sub":"u1","x":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`, true},
		{"oversized", 200, jsonCT, `{"active":true,"sub":"u1","pad":"` + strings.Repeat("x", backendMaxBody) + `"}`, false},
		{"oversized, chunked", 200, "Transfer-Encoding: chunked", chunked(`{"active":true,"sub":"u1","pad":"` + strings.Repeat("x", backendMaxBody) + `"}`), false},
		{"bad chunking", 200, "Transfer-Encoding: chunked", "zz\r\n" + `{"active":true,"sub":"u1"}`, false},
		{"bad Content-Length", 200, "Content-Length: -1", `{"active":true,"sub":"u1"}`, false},
		{"201", 201, jsonCT, `{"active":true,"sub":"u1"}`, false},
		{"204", 204, jsonCT, `{"active":true,"sub":"u1"}`, false},
		{"302 to elsewhere", 302, "Location: https://evil.example/introspect", `{"active":true,"sub":"u1"}`, false},
		{"307", 307, "Location: /again", `{"active":true,"sub":"u1"}`, false},
		{"304", 304, "", ``, false},
		{"401", 401, "WWW-Authenticate: Basic", `{"active":true,"sub":"u1"}`, false},
		{"500", 500, jsonCT, `{"active":true,"sub":"u1"}`, false},
		{"503", 503, "Retry-After: 1", ``, false},
		{"100 Continue", 100, "", `{"active":true,"sub":"u1"}`, false},
	}
}

func sessionEndpointSeeds() []backendSeed {
	return []backendSeed{
		{"200", 200, jsonCT, `{"id":"x"}`, true},
		{"200, empty", 200, "", ``, true},
		{"200, HTML (body ignored)", 200, "Content-Type: text/html", `<html>`, true},
		{"200 whose body says inactive (body ignored: a dead session is 404 or 410)", 200, jsonCT, `{"active":false}`, true},
		{"200, over the cap (read up to it)", 200, "", strings.Repeat("x", 3*backendMaxBody), true},
		{"200, truncated by Content-Length (status decides)", 200, "Content-Length: 99", `{}`, true},
		{"404", 404, "", ``, false},
		{"410", 410, "", `{"active":true}`, false},
		{"204", 204, "", ``, false},
		{"201", 201, "", ``, false},
		{"301", 301, "Location: https://evil.example/", ``, false},
		{"302 to login", 302, "Location: /login", `<html>`, false},
		{"304", 304, "", ``, false},
		{"401", 401, "", ``, false},
		{"403", 403, "", ``, false},
		{"429", 429, "Retry-After: 5", ``, false},
		{"500", 500, "", `{"active":true}`, false},
		{"502", 502, "", ``, false},
		{"503", 503, "", ``, false},
		{"100 Continue", 100, "", ``, false},
		{"status out of range", 1200, "", ``, true}, // 1200 % 1000 = 200
		{"bad Content-Length", 200, "Content-Length: x", ``, false},
		{"bad chunking", 200, "Transfer-Encoding: chunked", "zz\r\n", true}, // status line read: 200
	}
}

// swapOpaque hands each fuzz input a fresh Introspector (no negative cache
// carried over) behind one Authenticator.
type swapOpaque struct{ in *Introspector }

func (s *swapOpaque) AuthenticateOpaque(ctx context.Context, tok string) (*Session, error) {
	return s.in.AuthenticateOpaque(ctx, tok)
}

func backendAuth(tb testing.TB, op OpaqueAuthenticator) *Authenticator {
	tb.Helper()
	a, err := New(context.Background(), Config{Opaque: op, Now: func() time.Time { return fuzzNow },
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

func newFuzzIntrospector(tb testing.TB, tr http.RoundTripper) *Introspector {
	in, err := NewIntrospector(IntrospectionOptions{
		Endpoint: "https://as.example/introspect", ClientID: "rs-1", ClientSecret: backendSecret,
		Issuer: backendIssuer, Audience: []string{"api"}, Client: &http.Client{Transport: tr},
		MaxBody: backendMaxBody, Timeout: 10 * time.Second, Now: func() time.Time { return fuzzNow },
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { in.Close() })
	return in
}

// introspectionVerdict is the reference reading of an introspection answer
// that was let in: body must be one JSON object with unique member names,
// "active" exactly true, a non-empty string sub, and every other member the
// introspector reads absent, null or of the right type and matching. It
// returns why the answer should not have been admitted, or "".
func introspectionVerdict(body []byte, p *Principal) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "not a JSON object"
	}
	m := map[string]json.RawMessage{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return "bad member name"
		}
		name := k.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "bad member value"
		}
		if _, dup := m[name]; dup {
			return "duplicate member " + name
		}
		m[name] = raw
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return "unterminated object"
	}
	if _, err := dec.Token(); err != io.EOF {
		return "data after the object"
	}
	present := func(name string) bool { r, ok := m[name]; return ok && string(r) != "null" }
	str := func(name string) (string, bool) {
		var s string
		if !present(name) {
			return "", true
		}
		return s, json.Unmarshal(m[name], &s) == nil
	}
	if string(m["active"]) != "true" {
		return "active is not true"
	}
	sub, ok := str("sub")
	if !ok || sub == "" || sub != p.Subject {
		return fmt.Sprintf("sub %q vs principal %q", sub, p.Subject)
	}
	sid, ok := str("sid")
	if !ok || sid != p.SessionID || (sid != "" && !validSessionID(sid)) {
		return fmt.Sprintf("sid %q vs principal %q", sid, p.SessionID)
	}
	if tt, ok := str("token_type"); !ok || (tt != "" && !strings.EqualFold(tt, "access_token") && !strings.EqualFold(tt, "bearer")) {
		return "token_type " + tt
	}
	if iss, ok := str("iss"); !ok || (iss != "" && iss != backendIssuer) {
		return "iss " + iss
	}
	if p.Issuer != backendIssuer {
		return "principal issuer " + p.Issuer
	}
	if _, ok := m["exp"]; ok {
		var exp float64
		if json.Unmarshal(m["exp"], &exp) != nil || exp <= float64(fuzzNow.Unix()) || !fuzzNow.Before(p.ExpiresAt) {
			return fmt.Sprintf("exp %s (principal %v)", m["exp"], p.ExpiresAt)
		}
	}
	if present("aud") {
		var one string
		var many []any
		switch {
		case json.Unmarshal(m["aud"], &one) == nil:
			if one != "api" {
				return "aud " + one
			}
		case json.Unmarshal(m["aud"], &many) == nil:
			if !slices.Contains(many, any("api")) {
				return "aud names no accepted audience"
			}
		default:
			return "aud of the wrong type"
		}
	}
	// scope and scp: a space-delimited string (SP only; a token with a
	// character outside %x21 / %x23-5B / %x5D-7E is dropped) or a list of
	// strings; any other shape grants nothing; both merged, first seen first.
	var scopes []string
	for _, name := range []string{"scope", "scp"} {
		for _, s := range lenientList(m[name], true) {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	if !slices.Equal(scopes, p.Scopes) {
		return fmt.Sprintf("scope %s, scp %s vs %q", m["scope"], m["scp"], p.Scopes)
	}
	tenant, ok := str("tenant")
	if !ok || tenant != p.Tenant {
		return "tenant " + tenant
	}
	if roles := lenientList(m["roles"], false); !slices.Equal(roles, p.Roles) {
		return fmt.Sprintf("roles %s vs %q", m["roles"], p.Roles)
	}
	return ""
}

// lenientList is the oracle's reading of a scope (split set) or roles
// member: a string, or a list of strings only; anything else is nothing.
func lenientList(raw json.RawMessage, split bool) []string {
	var one string
	var many []any
	switch {
	case raw == nil || string(raw) == "null":
		return nil
	case json.Unmarshal(raw, &one) == nil:
		if !split {
			return []string{one}
		}
		var out []string
		for _, tok := range strings.Split(one, " ") {
			if tok != "" && !strings.ContainsFunc(tok, func(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' || r == '\\' }) {
				out = append(out, tok)
			}
		}
		return out
	case json.Unmarshal(raw, &many) == nil:
		var out []string
		for _, x := range many {
			s, ok := x.(string)
			if !ok {
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	return nil
}

// checkIntrospection runs one response through an Authenticator whose
// Opaque is a fresh Introspector, and checks the properties.
func checkIntrospection(t *testing.T, a *Authenticator, sw *swapOpaque, tr *wireTransport, code int) (admitted bool) {
	t.Helper()
	sw.in = newFuzzIntrospector(t, tr)
	p, err := a.Authenticate(context.Background(), fuzzReq{http.Header{"Authorization": {"Bearer " + backendToken}}})
	if tr.req == nil || tr.req.Method != http.MethodPost {
		t.Fatalf("no introspection request made")
	}
	if tr.got != nil && tr.got.n > backendMaxBody+1 {
		t.Fatalf("read %d bytes of the answer, cap %d", tr.got.n, backendMaxBody)
	}
	if err != nil {
		if p != nil {
			t.Fatal("principal returned with an error")
		}
		e := asError(err)
		switch e.Status {
		case http.StatusUnauthorized:
			// A refusal of the token itself needs an answer that was read:
			// a 200 whose body is a JSON object with a boolean "active".
			if code != 200 || tr.got == nil {
				t.Fatalf("401 for a response with status %d", code)
			}
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader(tr.got.data.Bytes()))
			dec.UseNumber() // 1e999 is JSON, if no float64
			if dec.Decode(&m) != nil {
				t.Fatalf("401 for an answer that is not a JSON object: %v", err)
			}
			if _, ok := m["active"].(bool); !ok {
				t.Fatalf("401 for an answer without a boolean active: %v", err)
			}
		case http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d: %v", e.Status, err)
		}
		resp := a.render(err)
		out := string(resp.Body) + fmt.Sprint(resp.Header) + err.Error()
		if strings.Contains(out, backendToken) || strings.Contains(out, backendSecret) {
			t.Fatalf("refusal carries the token or the client secret: %q", out)
		}
		return false
	}
	if code != 200 {
		t.Fatalf("admitted on status %d", code)
	}
	if tr.got == nil || tr.got.n > backendMaxBody {
		t.Fatalf("admitted with a body over the cap")
	}
	if why := introspectionVerdict(tr.got.data.Bytes(), p); why != "" {
		t.Fatalf("admitted, but the answer is not an unambiguous active one: %s\nbody %q\nprincipal %+v", why, tr.got.data.Bytes(), p)
	}
	if p.Kind != KindOpaque || !p.SessionChecked {
		t.Fatalf("principal %+v", p)
	}
	var claims map[string]any
	if err := p.Decode(&claims); err != nil || claims["sub"] != p.Subject {
		t.Fatalf("claims %v (%v) do not carry the subject %q", claims, err, p.Subject)
	}
	return true
}

// FuzzIntrospectionResponse fuzzes the RFC 7662 endpoint's answer.
func FuzzIntrospectionResponse(f *testing.F) {
	for _, s := range introspectionSeeds() {
		f.Add(s.status, s.header, []byte(s.body))
	}
	sw := &swapOpaque{}
	a := backendAuth(f, sw)
	f.Fuzz(func(t *testing.T, status int, header string, body []byte) {
		raw := wireResponse(status, header, body)
		checkIntrospection(t, a, sw, &wireTransport{raw: raw}, parsedStatus(raw))
	})
}

// checkSessionEndpoint runs one response through an HTTPSessionChecker and
// checks the properties: active exactly on a 200 status, revoked without an
// error on 404 and 410, an error otherwise; never more than the cap read;
// errors carry neither the session id nor the API key.
func checkSessionEndpoint(t *testing.T, tr *wireTransport, code int) (admitted bool) {
	t.Helper()
	c, err := NewHTTPSessionChecker(HTTPSessionOptions{
		URL: "https://id.example/api/sessions/{sid}", Header: http.Header{"Authorization": {backendAPIKey}},
		Client: &http.Client{Transport: tr}, MaxBody: backendMaxBody, Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Check(context.Background(), backendSID)
	if tr.req == nil || tr.req.URL.Path != "/api/sessions/"+backendSID || tr.req.Header.Get("Authorization") != backendAPIKey {
		t.Fatalf("request %+v", tr.req)
	}
	if tr.got != nil && tr.got.n > backendMaxBody {
		t.Fatalf("read %d bytes of the answer, cap %d", tr.got.n, backendMaxBody)
	}
	admitted = err == nil && st == StateActive
	if admitted != (code == http.StatusOK) {
		t.Fatalf("status %d: state %v, error %v", code, st, err)
	}
	if !admitted && st != StateRevoked {
		t.Fatalf("state %v with error %v", st, err)
	}
	if (code == http.StatusNotFound || code == http.StatusGone) != (err == nil && st == StateRevoked) {
		t.Fatalf("status %d: state %v, error %v", code, st, err)
	}
	if err != nil && (strings.Contains(err.Error(), backendSID) || strings.Contains(err.Error(), "api-key") || strings.Contains(err.Error(), "id.example")) {
		t.Fatalf("error carries the sid, key or URL: %v", err)
	}
	return admitted
}

// FuzzSessionEndpointResponse fuzzes the HTTP session endpoint's answer.
func FuzzSessionEndpointResponse(f *testing.F) {
	for _, s := range sessionEndpointSeeds() {
		f.Add(s.status, s.header, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, header string, body []byte) {
		raw := wireResponse(status, header, body)
		checkSessionEndpoint(t, &wireTransport{raw: raw}, parsedStatus(raw))
	})
}

// TestBackendSeedsDecide pins the verdict of every seed: the fuzz
// properties only say what must never be let in; this says that valid
// answers are.
func TestBackendSeedsDecide(t *testing.T) {
	sw := &swapOpaque{}
	a := backendAuth(t, sw)
	for _, s := range introspectionSeeds() {
		t.Run("introspection/"+s.name, func(t *testing.T) {
			raw := wireResponse(s.status, s.header, []byte(s.body))
			if got := checkIntrospection(t, a, sw, &wireTransport{raw: raw}, parsedStatus(raw)); got != s.admit {
				t.Fatalf("admitted %v, want %v", got, s.admit)
			}
		})
	}
	for _, s := range sessionEndpointSeeds() {
		t.Run("session/"+s.name, func(t *testing.T) {
			raw := wireResponse(s.status, s.header, []byte(s.body))
			if got := checkSessionEndpoint(t, &wireTransport{raw: raw}, parsedStatus(raw)); got != s.admit {
				t.Fatalf("admitted %v, want %v", got, s.admit)
			}
		})
	}
}

// endless is a body that never ends.
type endless struct{ closed bool }

func (e *endless) Read(p []byte) (int, error) {
	if e.closed {
		return 0, errors.New("read after close")
	}
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}
func (e *endless) Close() error { e.closed = true; return nil }

// TestBackendEndlessBody: an answer that never ends is read only up to the
// cap, then refused (introspection: the answer is incomplete) or decided by
// its status (session endpoint: 200 is active, the body is ignored).
func TestBackendEndlessBody(t *testing.T) {
	sw := &swapOpaque{}
	a := backendAuth(t, sw)
	tr := &wireTransport{body: &endless{}}
	if checkIntrospection(t, a, sw, tr, 200) {
		t.Fatal("an endless introspection answer let the token in")
	}
	if tr.got.n != backendMaxBody+1 || !tr.body.(*endless).closed {
		t.Fatalf("read %d bytes (cap %d), closed %v", tr.got.n, backendMaxBody, tr.body.(*endless).closed)
	}
	tr = &wireTransport{body: &endless{}}
	if !checkSessionEndpoint(t, tr, 200) {
		t.Fatal("a 200 with an endless body is not active")
	}
	if tr.got.n != backendMaxBody || !tr.body.(*endless).closed {
		t.Fatalf("read %d bytes (cap %d), closed %v", tr.got.n, backendMaxBody, tr.body.(*endless).closed)
	}
}
