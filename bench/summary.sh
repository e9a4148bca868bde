#!/usr/bin/env bash
# summary.sh: one run of the summary benchmarks (COUNT rounds each, default 6)
# written to bench/results/summary-<date>.txt, then the summary table of
# BENCHMARKS.md regenerated from that run alone. Run it on an idle machine;
# the Redis row needs redis-server on PATH (or REDIS_URL).
#
#   bench/summary.sh            # from the repository root
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-1s}
raw=bench/results/summary-$(date -u +%Y-%m-%d).txt
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
{
	(cd core && go test -run '^$' -bench 'Authenticate$|SessionJWTOnly$|SessionSensitiveMemoryStore$|SessionSensitiveHTTP' \
		-benchmem -count "$COUNT" -benchtime "$BENCHTIME" .)
	(cd bench && go test -run '^$' -bench 'Peers/(verify|nethttp|gin|echo|fiber)$/' \
		-benchmem -count "$COUNT" -benchtime "$BENCHTIME" .)
	(cd redisstore && go test -run '^$' -bench 'SensitiveCheck' -benchmem -count "$COUNT" -benchtime "$BENCHTIME" .)
} >"$raw"
note="Run $(date -u '+%Y-%m-%d %H:%M UTC') at commit $(git rev-parse --short HEAD), $COUNT rounds, load average before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg) (raw: \`$raw\`)."
go run ./bench/summary -raw "$raw" -md BENCHMARKS.md -note "$note"
echo "summary of $raw written to BENCHMARKS.md"
