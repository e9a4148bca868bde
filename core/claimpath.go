package core

import (
	"errors"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Claim names may be dotted paths into nested objects ("ext.sid": Ory
// Hydra puts what the consent step adds under "ext"). A member whose name is
// the whole remaining path is the value; a member whose name is a prefix of
// it up to a dot is descended into. So member names may hold dots
// themselves (Auth0's namespaced "https://example.com/roles" is found as a
// top-level member), and no name is ever split in a way the JSON does not
// bear out. The JWT path and the Introspector read the configured claims
// through the same claimReader.

// The configured claims, as indexes into claimReader.names and bits of
// namedClaims.seen.
const (
	claimSID = iota
	claimTenant
	claimScope
	claimRoles
	claimACR
	claimAMR
	claimAuthTime
	numNamedClaims
)

// namedClaims are the values of the claims ClaimNames names.
type namedClaims struct {
	sid, tenant  string
	scope, roles []string
	acr          string
	amr          []string
	authTime     float64 // a NumericDate; set when seen has bit claimAuthTime
	seen         uint8   // bit i: claim i was read (a second match is refused)
}

// claimReader reads the configured claims out of a JSON object.
type claimReader struct {
	names  [numNamedClaims]string
	dotted bool // some name holds a dot: members may be descended into
}

func newClaimReader(n ClaimNames) claimReader {
	return readerOf([numNamedClaims]string{n.SessionID, n.Tenant, n.Scope, n.Roles})
}

// readerOf reads the claims names names; an empty name is not read.
func readerOf(names [numNamedClaims]string) claimReader {
	r := claimReader{names: names}
	for _, s := range r.names {
		r.dotted = r.dotted || strings.IndexByte(s, '.') >= 0
	}
	return r
}

// pathTarget is a configured claim still looked for: the rest of its path
// below the object being read.
type pathTarget struct {
	path  string
	which uint8
}

// member reads the top-level member name (the decoder positioned at its
// value) when it holds a configured claim, and reports whether it did; the
// caller skips the value otherwise. It does not allocate for top-level
// names (the JWT hot path).
func (r *claimReader) member(name []byte, d *jsontext.Decoder, nc *namedClaims) (bool, error) {
	for i, full := range r.names {
		if full != "" && string(name) == full {
			return true, nc.read(uint8(i), d)
		}
	}
	if !r.dotted {
		return false, nil
	}
	var sub [numNamedClaims]pathTarget
	n := 0
	for i, full := range r.names {
		if rest, ok := below(full, name); ok {
			sub[n] = pathTarget{rest, uint8(i)}
			n++
		}
	}
	if n == 0 {
		return false, nil
	}
	return true, nc.readPaths(d, sub[:n])
}

// below returns the rest of path under a member called name: path is
// name + "." + rest.
func below(path string, name []byte) (string, bool) {
	if len(path) <= len(name)+1 || path[len(name)] != '.' || path[:len(name)] != string(name) {
		return "", false
	}
	return path[len(name)+1:], true
}

// readPaths reads the value at d's position looking for targets: an object
// is walked, any other value holds none of them and is skipped (a claim
// that is not there is absent, as a missing top-level claim is). Depth is
// bounded by the paths: each level consumes a name and a dot.
func (nc *namedClaims) readPaths(d *jsontext.Decoder, targets []pathTarget) error {
	if d.PeekKind() != '{' {
		return d.SkipValue()
	}
	return walkObject(d, func(name []byte, d *jsontext.Decoder) error {
		var sub [numNamedClaims]pathTarget
		n := 0
		for _, t := range targets {
			if string(name) == t.path {
				// checkClaimNames makes sure no configured name is a dotted
				// prefix of another, so no other target wants this value.
				return nc.read(t.which, d)
			}
			if rest, ok := below(t.path, name); ok {
				sub[n] = pathTarget{rest, t.which}
				n++
			}
		}
		if n == 0 {
			return d.SkipValue()
		}
		return nc.readPaths(d, sub[:n])
	})
}

var errClaimTwice = errors.New("a configured claim is found twice (as a top-level name and as a path)")

// read reads configured claim which at d's position. A claim found a second
// time (a top-level "ext.sid" beside "ext":{"sid":...}) fails the token:
// which one the issuer meant cannot be told.
func (nc *namedClaims) read(which uint8, d *jsontext.Decoder) error {
	bit := uint8(1) << which
	if nc.seen&bit != 0 {
		return errClaimTwice
	}
	nc.seen |= bit
	var err error
	switch which {
	case claimSID:
		nc.sid, err = readString(d)
	case claimTenant:
		nc.tenant, err = readString(d)
	case claimScope:
		nc.scope, err = readScopes(d)
	case claimACR:
		nc.acr, err = readString(d)
	case claimAMR:
		nc.amr, err = readStrings(d)
	case claimAuthTime:
		nc.authTime, err = readNumericDate(d)
	default:
		nc.roles, err = readLenientStrings(d)
	}
	return err
}

// lookupBool reads the boolean at path (dotted, as claim names are) in the
// JSON object b. found is false when the path is absent or names something
// that is not a boolean; err is set when b is not a valid JSON object.
func lookupBool(b []byte, path string) (v, found bool, err error) {
	r := getDecoder(b)
	defer putDecoder(r)
	var walk func(d *jsontext.Decoder, path string) error
	walk = func(d *jsontext.Decoder, path string) error {
		if d.PeekKind() != '{' {
			return d.SkipValue()
		}
		return walkObject(d, func(name []byte, d *jsontext.Decoder) error {
			if string(name) == path {
				switch d.PeekKind() {
				case 't', 'f':
					t, err := d.ReadToken()
					if err != nil {
						return err
					}
					if found {
						found = false // twice: cannot tell which
						return errClaimTwice
					}
					v, found = t.Bool(), true
					return nil
				}
				return d.SkipValue()
			}
			if rest, ok := below(path, name); ok {
				return walk(d, rest)
			}
			return d.SkipValue()
		})
	}
	d := r.dec
	if d.PeekKind() != '{' {
		return false, false, errNotJSON
	}
	if err := walk(d, path); err != nil {
		return false, false, err
	}
	if _, err := d.ReadToken(); err != io.EOF {
		return false, false, errors.New("trailing data after the JSON object")
	}
	return v, found, nil
}

// mergeScopes joins the "scope" and "scp" grants without duplicates (an
// issuer asked to emit both, as Ory Hydra's scope_claim "both" does, lists
// every scope twice). With one of them empty the other is returned as is,
// without a copy.
func mergeScopes(scope, scp []string) []string {
	switch {
	case len(scp) == 0:
		return scope
	case len(scope) == 0:
		return scp
	}
	out := make([]string, 0, len(scope)+len(scp))
	for _, list := range [2][]string{scope, scp} {
		for _, s := range list {
			if !containsString(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
