package redisstore

import (
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/storekit"
	"github.com/redis/go-redis/v9"
)

// FuzzParseEntry feeds arbitrary revocation-stream entries to the feed's
// parser (RD-06): whoever can write to the stream chooses the fields. The
// fields are given as "name\x00value\x00name\x00value…", as go-redis hands
// them over (string values). Properties: no panic; an entry is accepted only
// when it is exactly what the revoking scripts write (version 1, a usable
// sid, bounded subject and issuer, a positive time), and then it carries
// those fields; an accepted entry can only add a revocation.
//
//	go test -run '^$' -fuzz '^FuzzParseEntry$' -fuzztime 5m -parallel=1 ./redisstore
func FuzzParseEntry(f *testing.F) {
	f.Add("1700000000000-0", "v\x001\x00sid\x00s-1\x00sub\x00u1\x00iss\x00https://id.example\x00at\x001700000000000")
	f.Add("1-1", "v\x002\x00sid\x00s-1\x00sub\x00u1\x00iss\x00\x00at\x001")
	f.Add("1-1", "v\x001\x00sid\x00../x\x00sub\x00\x00iss\x00\x00at\x001")
	f.Add("1-1", "v\x001\x00sid\x00s-1\x00sub\x00\x00iss\x00\x00at\x00-5")
	f.Add("1-1", "v\x001\x00sid\x00s-1\x00sub\x00\x00iss\x00\x00at\x0099999999999999999999")
	f.Add("1-1", "v\x001\x00sid\x00s-1\x00sub\x00\x00iss\x00\x00at\x001\x00x\x00y")
	f.Add("x", "")
	f.Fuzz(func(t *testing.T, id, fields string) {
		values := map[string]any{}
		parts := strings.Split(fields, "\x00")
		for i := 0; i+1 < len(parts); i += 2 {
			values[parts[i]] = parts[i+1]
		}
		r, ok := parseEntry(redis.XMessage{ID: id, Values: values})
		if !ok {
			if r != (core.Revocation{}) {
				t.Fatalf("refused entry returned %+v", r)
			}
			return
		}
		str := func(k string) string { s, _ := values[k].(string); return s }
		if len(values) > maxEntryFields || str("v") != "1" || !storekit.ValidSessionID(r.SessionID) || r.Behind {
			t.Fatalf("accepted %q as %+v", values, r)
		}
		if r.SessionID != str("sid") || r.Subject != str("sub") || r.Issuer != str("iss") ||
			len(r.Subject) > maxSubjectLen || len(r.Issuer) > maxIssuerLen {
			t.Fatalf("accepted %q as %+v", values, r)
		}
		at, err := strconv.ParseInt(str("at"), 10, 64)
		if err != nil || at <= 0 || r.At.UnixMilli() != at {
			t.Fatalf("accepted at %q as %v", str("at"), r.At)
		}
	})
}
