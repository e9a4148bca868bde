package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// maxInput bounds a token read from an argument or stdin: the largest
// MaxTokenSize core accepts (64 KiB), and a little room for a "Bearer "
// prefix and whitespace.
const maxInput = 64<<10 + 64

// readToken returns the token of arg ("" or "-": read stdin, at most
// maxInput bytes), with surrounding whitespace and a "Bearer " prefix (a
// pasted Authorization header value) removed.
func readToken(arg string, stdin io.Reader, stderr io.Writer) (string, error) {
	s := arg
	if arg == "" || arg == "-" {
		if f, ok := stdin.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprintln(stderr, "authgate: reading the token from the terminal; end it with a newline and Ctrl-D")
			}
		}
		b, err := io.ReadAll(io.LimitReader(stdin, maxInput+1))
		if err != nil {
			return "", fmt.Errorf("reading the token from stdin: %w", err)
		}
		if len(b) > maxInput {
			return "", fmt.Errorf("the input is larger than %d bytes: not a token authgate would accept", maxInput)
		}
		s = string(b)
	} else if len(s) > maxInput {
		return "", fmt.Errorf("the token is larger than %d bytes: not a token authgate would accept", maxInput)
	}
	s = strings.TrimSpace(s)
	if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
		s = strings.TrimSpace(s[7:])
	}
	if s == "" {
		return "", errors.New("no token: give it as an argument, or on stdin with -")
	}
	return s, nil
}

// decoded is a compact JWS taken apart without any verification.
type decoded struct {
	header, payload []byte // the decoded JSON, as sent
	sigLen          int    // bytes of signature (never shown)
	h               map[string]any
	c               map[string]any // nil when the payload is not a JSON object
	cErr            error          // why c is nil
}

// decodeToken splits tok into its three segments, decodes them and parses
// the header (which must be a JSON object) and the claims. It never panics
// on any input and names what is wrong.
func decodeToken(tok string) (*decoded, error) {
	parts := strings.Split(tok, ".")
	switch n := len(parts); {
	case n == 5:
		return nil, errors.New("5 segments: an encrypted token (JWE), which authgate does not accept; it needs a signed JWT (3 segments)")
	case n != 3:
		return nil, fmt.Errorf("%d segment(s) separated by dots: a JWT has 3 (header.payload.signature); this may be an opaque token", n)
	}
	names := []string{"header", "payload", "signature"}
	var raw [3][]byte
	for i, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("the %s segment is empty", names[i])
		}
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			if _, err2 := base64.URLEncoding.DecodeString(p); err2 == nil {
				return nil, fmt.Errorf("the %s segment has '=' padding: JWTs use unpadded base64url (RFC 7515 section 2)", names[i])
			}
			if _, err2 := base64.RawStdEncoding.DecodeString(p); err2 == nil {
				return nil, fmt.Errorf("the %s segment is standard base64 ('+' or '/'), not base64url (RFC 7515 section 2)", names[i])
			}
			return nil, fmt.Errorf("the %s segment is not base64url: %v", names[i], err)
		}
		raw[i] = b
	}
	d := &decoded{header: raw[0], payload: raw[1], sigLen: len(raw[2])}
	if err := jsonObject(raw[0], &d.h); err != nil {
		return nil, fmt.Errorf("the header is not a JSON object: %v", err)
	}
	d.cErr = jsonObject(raw[1], &d.c)
	return d, nil
}

// jsonObject parses b as one JSON object of valid UTF-8 (numbers kept as
// json.Number) into *m.
func jsonObject(b []byte, m *map[string]any) error {
	if !utf8.Valid(b) {
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return errors.New("not valid JSON")
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return errors.New("a JSON value that is not an object")
	}
	*m = obj
	return nil
}

// str returns m[name] when it is a string.
func str(m map[string]any, name string) (string, bool) {
	s, ok := m[name].(string)
	return s, ok
}

// number returns m[name] when it is a JSON number.
func number(m map[string]any, name string) (float64, bool) {
	n, ok := m[name].(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// strings returns m[name] as a list: a string is a list of one.
func stringList(m map[string]any, name string) ([]string, bool) {
	switch v := m[name].(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// indent pretty-prints JSON as sent (member order and numbers kept).
func indent(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}
