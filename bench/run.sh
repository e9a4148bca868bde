#!/usr/bin/env bash
# run.sh runs every side-by-side benchmark of the bench module and prints
# benchstat tables and the ratios the performance targets are stated in.
#
#   ./run.sh                      # -count 6, -benchtime 1s
#   COUNT=10 BENCHTIME=2s ./run.sh
#   BENCH='Peers/nethttp' ./run.sh  # a subset
#   OUT=results.txt ./run.sh      # keep the raw output (default: a temp file)
#   TESTBIN=/tmp/bench.test ./run.sh  # run a test binary built before (go test -c)
#
# Measure on an idle machine: the benchmarks use every core.
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
BENCH=${BENCH:-.}
OUT=${OUT:-$(mktemp -t authgate-bench.XXXXXX)}
BENCHSTAT=${BENCHSTAT:-go run golang.org/x/perf/cmd/benchstat@latest}

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${TESTBIN:-}" ]; then # a test binary built before: go test -c -o $TESTBIN .
	echo "# $TESTBIN -test.run '^\$' -test.bench '$BENCH' -test.benchmem -test.count $COUNT -test.benchtime $BENCHTIME"
	"$TESTBIN" -test.run '^$' -test.bench "$BENCH" -test.benchmem -test.count "$COUNT" -test.benchtime "$BENCHTIME" -test.timeout 120m | tee "$OUT"
else
	echo "# go test -run '^\$' -bench '$BENCH' -benchmem -count $COUNT -benchtime $BENCHTIME -timeout 120m ."
	go test -run '^$' -bench "$BENCH" -benchmem -count "$COUNT" -benchtime "$BENCHTIME" -timeout 120m . | tee "$OUT"
fi
echo "# raw results: $OUT"
echo

$BENCHSTAT "$OUT"
echo

# Ratios behind the targets (means of the runs above).
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkPeers\//, "", name)
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "ns/op") { ns[name] += $i; n[name]++ }
		if ($(i+1) == "allocs/op") { al[name] += $i }
	}
}
function t(k) { return (k in n) ? ns[k] / n[k] : 0 }
function a(k) { return (k in n) ? al[k] / n[k] : 0 }
function ratio(label, x, y) {
	if (t(x) > 0 && t(y) > 0) printf "%-72s %8.3f  (%s %.0f ns / %s %.0f ns)\n", label, t(x) / t(y), x, t(x), y, t(y)
}
function over(label, x, y) {
	if (t(x) > 0 && t(y) > 0) printf "%-72s %8.0f ns\n", label, t(x) - t(y)
}
END {
	print "# time ratios (lower is better for authgate)"
	ratio("fresh token, net/http: authgate / golang-jwt parse+verify (<= 1)", "nethttp/authgate-fresh", "verify/golang-jwt-parse")
	ratio("fresh token, net/http: authgate / hand-written golang-jwt middleware", "nethttp/authgate-fresh", "nethttp/golang-jwt-mw")
	ratio("fresh token, core alone: authgate / bare RSA verify (stretch <= 1.25)", "verify/authgate-core-fresh", "verify/rsa-verify")
	ratio("fresh token, net/http: authgate / bare RSA verify", "nethttp/authgate-fresh", "verify/rsa-verify")
	ratio("fresh token, net/http: authgate / auth0 (<= 0.60)", "nethttp/authgate-fresh", "nethttp/auth0")
	if (a("nethttp/auth0") > 0) printf "%-72s %8.3f  (%.0f / %.0f allocs)\n", "fresh token, net/http: allocs authgate / auth0 (<= 0.50)", a("nethttp/authgate-fresh") / a("nethttp/auth0"), a("nethttp/authgate-fresh"), a("nethttp/auth0")
	ratio("fresh token, echo: authgate / echo-jwt (< 1)", "echo/authgate-fresh", "echo/echo-jwt")
	ratio("fresh token, fiber: authgate / contrib-jwt (< 1)", "fiber/authgate-fresh", "fiber/contrib-jwt")
	ratio("cache disabled, net/http: authgate / auth0", "nethttp/authgate-nocache", "nethttp/auth0")
	ratio("cache hit, net/http: auth0 / authgate (>= 20)", "nethttp/auth0", "nethttp/authgate-cached")
	ratio("cache hit, net/http: golang-jwt-mw / authgate (>= 20)", "nethttp/golang-jwt-mw", "nethttp/authgate-cached")
	ratio("cache hit, echo: echo-jwt / authgate (>= 20)", "echo/echo-jwt", "echo/authgate-cached")
	ratio("cache hit, fiber: contrib-jwt / authgate (>= 20)", "fiber/contrib-jwt", "fiber/authgate-cached")
	over("cache hit, net/http: authgate - noauth (<= ~1000 ns)", "nethttp/authgate-cached", "nethttp/noauth")
	over("cache hit, gin: authgate - noauth (<= ~1000 ns)", "gin/authgate-cached", "gin/noauth")
	over("cache hit, echo: authgate - noauth (<= ~1000 ns)", "echo/authgate-cached", "echo/noauth")
	over("cache hit, fiber: authgate - noauth (<= ~1000 ns)", "fiber/authgate-cached", "fiber/noauth")
	print "# RunParallel speed-up on all cores (serial ns/op / parallel ns/op)"
	split("verify/rsa-verify verify/authgate-core-fresh verify/authgate-core-cached nethttp/noauth nethttp/authgate-cached nethttp/authgate-fresh nethttp/auth0 gin/authgate-cached echo/authgate-cached fiber/authgate-cached fiber/authgate-fresh", ks, " ")
	for (i = 1; i in ks; i++) {
		k = ks[i]; p = k; sub(/\//, "-par/", p)
		ratio("speed-up " k, k, p)
	}
}' "$OUT"
