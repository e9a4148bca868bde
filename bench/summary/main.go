// Command summary turns one raw `go test -bench` run (the output of
// bench/summary.sh) into the summary table of BENCHMARKS.md: medians of each
// benchmark, and each authgate row beside its baseline of the same run as a
// ratio. With -md it replaces the table between the summary markers of that
// file; otherwise it prints the table.
//
//	go run ./bench/summary -raw bench/results/summary-2026-12-03.txt -md BENCHMARKS.md
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// samples holds, per benchmark name (without the -GOMAXPROCS suffix) and
// unit, every value of the run.
type samples map[string]map[string][]float64

var procSuffix = regexp.MustCompile(`-\d+$`)

func parse(r io.Reader) (samples, error) {
	s := samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		if s[name] == nil {
			s[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", sc.Text(), err)
			}
			s[name][f[i+1]] = append(s[name][f[i+1]], v)
		}
	}
	return s, sc.Err()
}

// median of name's unit; ok is false when the run has no such benchmark.
func (s samples) median(name, unit string) (float64, bool) {
	v := slices.Clone(s[name][unit])
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

func dur(ns float64) string {
	switch {
	case ns >= 1000:
		return fmt.Sprintf("%.1f µs", ns/1000)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}

// cell is "34.2 µs, 22 allocs" for one benchmark, or "n/a" when the run lacks it.
func (s samples) cell(name string) string {
	ns, ok := s.median(name, "ns/op")
	if !ok {
		return "n/a"
	}
	out := dur(ns)
	if a, ok := s.median(name, "allocs/op"); ok {
		out += fmt.Sprintf(", %.0f allocs", a)
	}
	return out
}

func (s samples) ratio(num, den string) string {
	a, ok1 := s.median(num, "ns/op")
	b, ok2 := s.median(den, "ns/op")
	if !ok1 || !ok2 || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func (s samples) over(hit, none string) string {
	a, ok1 := s.median(hit, "ns/op")
	b, ok2 := s.median(none, "ns/op")
	if !ok1 || !ok2 {
		return "n/a"
	}
	return "+" + dur(a-b)
}

func table(s samples) string {
	var b strings.Builder
	row := func(cols ...string) { fmt.Fprintf(&b, "| %s |\n", strings.Join(cols, " | ")) }
	row("what", "authgate", "baseline, same run", "authgate ÷ baseline")
	row("---", "---", "---", "---")
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		a := "Authenticate/alg=" + alg + "/impl=authgate"
		g := "Authenticate/alg=" + alg + "/impl=golang-jwt"
		row("fresh "+alg+" token, `core.Authenticate`", s.cell(a), "golang-jwt `Parser.Parse`: "+s.cell(g), s.ratio(a, g))
	}
	row("fresh RS256 token through net/http", s.cell("Peers/nethttp/authgate-fresh"),
		"auth0/go-jwt-middleware: "+s.cell("Peers/nethttp/auth0"), s.ratio("Peers/nethttp/authgate-fresh", "Peers/nethttp/auth0"))
	row("fresh RS256 token, core alone", s.cell("Peers/verify/authgate-core-fresh"),
		"bare `rsa.VerifyPKCS1v15`: "+s.cell("Peers/verify/rsa-verify"), s.ratio("Peers/verify/authgate-core-fresh", "Peers/verify/rsa-verify"))
	row("fresh RS256 token through echo", s.cell("Peers/echo/authgate-fresh"),
		"echo-jwt: "+s.cell("Peers/echo/echo-jwt"), s.ratio("Peers/echo/authgate-fresh", "Peers/echo/echo-jwt"))
	row("fresh RS256 token through fiber", s.cell("Peers/fiber/authgate-fresh"),
		"gofiber/contrib/jwt: "+s.cell("Peers/fiber/contrib-jwt"), s.ratio("Peers/fiber/authgate-fresh", "Peers/fiber/contrib-jwt"))
	for _, fw := range []struct{ name, key, peer, peerName string }{
		{"net/http", "nethttp", "auth0", "auth0"},
		{"gin", "gin", "", ""},
		{"echo", "echo", "echo-jwt", "echo-jwt"},
		{"fiber", "fiber", "contrib-jwt", "contrib/jwt"},
	} {
		hit := "Peers/" + fw.key + "/authgate-cached"
		none := "Peers/" + fw.key + "/noauth"
		base, ratio := "no auth: "+s.cell(none), "over no auth "+s.over(hit, none)
		if fw.peer != "" {
			p := "Peers/" + fw.key + "/" + fw.peer
			base += "; " + fw.peerName + ": " + s.cell(p)
			ratio += "; " + s.ratio(hit, p) + " of " + fw.peerName
		}
		row("cache hit through "+fw.name, s.cell(hit), base, ratio)
	}
	row("sensitive route, live MemoryStore check", s.cell("SessionSensitiveMemoryStore"),
		"plain JWT route (cache hit): "+s.cell("SessionJWTOnly"), s.ratio("SessionSensitiveMemoryStore", "SessionJWTOnly"))
	row("sensitive route against Redis, uncached (client with ContextTimeoutEnabled)", s.cell("SensitiveCheck/sensitive-uncached-ctx"),
		"the store's own check: "+s.cell("SensitiveCheck/store-Check-ctx")+"; PING: "+s.cell("SensitiveCheck/redis-PING"),
		s.ratio("SensitiveCheck/sensitive-uncached-ctx", "SensitiveCheck/store-Check-ctx"))
	row("sensitive route against Redis, uncached (default client)", s.cell("SensitiveCheck/sensitive-uncached"),
		"the store's own check: "+s.cell("SensitiveCheck/store-Check"),
		s.ratio("SensitiveCheck/sensitive-uncached", "SensitiveCheck/store-Check"))
	row("sensitive route against an HTTP session endpoint, uncached", s.cell("SessionSensitiveHTTP/sensitive-uncached"),
		"a Go client's GET of it: "+s.cell("SessionSensitiveHTTP/http-GET"),
		s.ratio("SessionSensitiveHTTP/sensitive-uncached", "SessionSensitiveHTTP/http-GET"))
	return b.String()
}

const begin, end = "<!-- summary:begin -->", "<!-- summary:end -->"

func main() {
	raw := flag.String("raw", "", "raw go test -bench output of one run (required)")
	md := flag.String("md", "", "markdown file whose summary markers to fill (default: print)")
	note := flag.String("note", "", "a line to put above the table (when, commit, load)")
	flag.Parse()
	f, err := os.Open(*raw)
	if err != nil {
		log.Fatal(err)
	}
	s, err := parse(f)
	f.Close()
	if err != nil {
		log.Fatal(err)
	}
	if len(s) == 0 {
		log.Fatalf("%s holds no benchmark results", *raw)
	}
	t := table(s)
	if *note != "" {
		t = *note + "\n\n" + t
	}
	if *md == "" {
		fmt.Print(t)
		return
	}
	doc, err := os.ReadFile(*md)
	if err != nil {
		log.Fatal(err)
	}
	i, j := bytes.Index(doc, []byte(begin)), bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		log.Fatalf("%s has no %s ... %s markers", *md, begin, end)
	}
	out := slices.Concat(doc[:i+len(begin)], []byte("\n"+t), doc[j:])
	if err := os.WriteFile(*md, out, 0o644); err != nil {
		log.Fatal(err)
	}
}
