package flowtest

import (
	"context"
	"strings"
	"testing"

	"github.com/authgate/authgate/core"
	"github.com/authgate/authgate/core/authtest"
	"github.com/authgate/authgate/redisstore"
	"github.com/redis/go-redis/v9"
)

// DPoP runs the app with AUTHGATE_DPOP and AUTHGATE_PUBLIC_ORIGIN (issue
// 20, RFC 9449): allowed (a DPoP-bound token needs its proof and is
// refused as Bearer, plain bearer tokens still pass, a proof is accepted
// once), required (bearer tokens refused, the banner says so), a public
// origin behind a proxy (htu checked against it, X-Forwarded-Host
// ignored), the start errors, and two instances sharing AUTHGATE_REDIS_URL
// where a proof used at one is a replay at the other.
func DPoP(t *testing.T, run Run) {
	iss := authtest.New(t)
	key := authtest.NewDPoPKey("ES256")
	bound := iss.BoundToken(key, nil)
	base := func(mode string) map[string]string {
		return map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": authtest.DefaultAudience, "AUTHGATE_DPOP": mode}
	}
	dpop := func(htu, proof string) Req {
		if proof == "" {
			proof = key.Proof("GET", htu, bound, nil)
		}
		return Req{Method: "GET", Path: "/me", Header: map[string]string{"Authorization": "DPoP " + bound, "DPoP": proof}}
	}

	t.Run("allowed", func(t *testing.T) {
		app := Start(t, run, base("allowed"))
		app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: iss.Token(nil)}, 200)
		r := app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: bound}, 401) // RFC 9449 section 7.2: no downgrade
		if ch := strings.Join(r.Header.Values("Www-Authenticate"), " | "); !strings.Contains(ch, `DPoP realm=`) || !strings.Contains(ch, `algs="ES256 EdDSA PS256 RS256"`) {
			t.Errorf("challenge %q lacks the DPoP challenge", ch)
		}
		proof := key.Proof("GET", app.URL+"/me", bound, nil)
		if me := app.Expect(t, dpop("", proof), 200).JSON(t); me["sub"] != "user-1" {
			t.Fatalf("/me = %v", me)
		}
		r = app.Expect(t, dpop("", proof), 401) // the same proof again: RFC 9449 section 11.1
		if ch := strings.Join(r.Header.Values("Www-Authenticate"), " "); !strings.Contains(ch, `error="invalid_dpop_proof"`) {
			t.Errorf("replay: challenge %q, want invalid_dpop_proof", ch)
		}
		app.Expect(t, dpop(app.URL+"/admin", ""), 401) // a proof for another URI
		if !strings.Contains(app.Output(), "DPoP allowed") {
			t.Errorf("the banner's mode does not say DPoP is allowed:\n%s", app.Output())
		}
	})

	t.Run("required", func(t *testing.T) {
		app := Start(t, run, base("required"))
		r := app.Expect(t, Req{Method: "GET", Path: "/me", Bearer: iss.Token(nil)}, 401)
		if ch := r.Header.Values("Www-Authenticate"); len(ch) != 1 || !strings.HasPrefix(ch[0], "DPoP ") {
			t.Errorf("required: challenges %q, want the DPoP one alone", ch)
		}
		app.Expect(t, dpop(app.URL+"/me", ""), 200)
		app.Expect(t, Req{Method: "GET", Path: "/admin", Bearer: iss.Token(authtest.Claims{"roles": []string{"admin"}})}, 401)
		if out := app.Output(); !strings.Contains(out, "DPoP required") || strings.Contains(out, `curl -i -H "Authorization: Bearer`) {
			t.Errorf("required: the banner proposes bearer requests or does not say DPoP is required:\n%s", out)
		}
	})

	t.Run("a public origin behind a proxy", func(t *testing.T) {
		env := base("allowed")
		env["AUTHGATE_PUBLIC_ORIGIN"] = "https://api.example.com"
		app := Start(t, run, env)
		app.Expect(t, dpop("https://api.example.com/me", ""), 200)
		app.Expect(t, dpop(app.URL+"/me", ""), 401) // the backend's own address is not the public one
		q := dpop("https://evil.example/me", "")
		q.Header["X-Forwarded-Host"], q.Header["X-Forwarded-Proto"] = "evil.example", "https"
		app.Expect(t, q, 401)
	})

	t.Run("start errors", func(t *testing.T) {
		for _, c := range []struct {
			name string
			env  map[string]string
			want string
		}{
			{"an unknown mode", base("maybe"), "AUTHGATE_DPOP"},
			{"a public origin without DPoP", map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a", "AUTHGATE_PUBLIC_ORIGIN": "https://api.example.com"}, "AUTHGATE_PUBLIC_ORIGIN"},
			{"a public origin with a path", map[string]string{"AUTHGATE_ISSUER": iss.URL, "AUTHGATE_AUDIENCE": "a", "AUTHGATE_DPOP": "allowed", "AUTHGATE_PUBLIC_ORIGIN": "https://api.example.com/v1"}, "PublicOrigin"},
			{"required with the development issuer", map[string]string{"AUTHGATE_DPOP": "required"}, "AUTHGATE_DPOP=required"},
		} {
			if err := StartErr(t, run, c.env); !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
			}
		}
	})

	t.Run("two instances sharing Redis: a proof used at one is a replay at the other", func(t *testing.T) {
		addr := StartRedis(t)
		rdb := redis.NewClient(&redis.Options{Addr: addr, DB: 2})
		t.Cleanup(func() { _ = rdb.Close() })
		login, err := redisstore.New(context.Background(), rdb, redisstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = login.Close() })
		// A session in Redis, so that the instances' live checks (made
		// until their revocation feed has caught up) find it.
		s, _, err := login.Create(context.Background(), core.SessionParams{Subject: "user-1", Issuer: iss.URL})
		if err != nil {
			t.Fatal(err)
		}
		tok := iss.BoundToken(key, authtest.Claims{"sid": s.ID})
		env := base("allowed")
		env["AUTHGATE_PUBLIC_ORIGIN"] = "https://api.example.com" // both instances behind one public name
		env["AUTHGATE_REDIS_URL"] = "redis://" + addr + "/2"
		a, b := Start(t, run, env), Start(t, run, env)
		req := func() Req {
			return Req{Method: "GET", Path: "/me", Header: map[string]string{"Authorization": "DPoP " + tok,
				"DPoP": key.Proof("GET", "https://api.example.com/me", tok, nil)}}
		}
		q := req()
		a.Expect(t, q, 200)
		b.Expect(t, q, 401)
		b.Expect(t, req(), 200)
		if !strings.Contains(a.Output(), "replay record in Redis") {
			t.Errorf("the banner's mode does not say proofs are remembered in Redis:\n%s", a.Output())
		}
	})
}
