#!/usr/bin/env bash
# load.sh runs whole servers of each framework (net/http, gin, echo, fiber)
# on loopback under load, each with authgate (MemoryStore, and Redis when
# redis-server is installed), with the framework's peer JWT middleware and
# with no auth, and writes the raw results to
# bench/results/<date>-load-<time>.txt and the tables to the "Whole servers
# under load" section of BENCHMARKS.md. Each server is a process of its own
# on CPU 0, the generator (vegeta, as a library) on CPU 1 (taskset).
#
#   bench/load.sh                         # 5 rounds: 1.5s saturation + 2s fixed rate each (~6 min)
#   ROUNDS=5 SAT_DURATION=3s DURATION=5s bench/load.sh
#   RATE=3000 bench/load.sh               # one fixed rate for every framework
#   FRAMEWORKS=nethttp,fiber MD= bench/load.sh   # a subset, BENCHMARKS.md untouched
#   CLIENTS=1000 FRESH=0.05 SENSITIVE=0.10 BAD=0.02 bench/load.sh   # the mix (the defaults)
#   REDIS=off bench/load.sh
#
# Bounded: the whole run is killed after TIMEOUT (default 15m); every
# server stops when the generator goes (its stdin closes; SIGKILL on the
# generator's death), and the trap kills whatever is left on exit.
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${ROUNDS:-5}
SAT_DURATION=${SAT_DURATION:-1500ms}
DURATION=${DURATION:-2s}
WARMUP=${WARMUP:-250ms}
CONNS=${CONNS:-64}
RATE=${RATE:-0}
RATE_FRACTION=${RATE_FRACTION:-0.5}
FRAMEWORKS=${FRAMEWORKS:-nethttp,gin,echo,fiber}
CLIENTS=${CLIENTS:-1000}
FRESH=${FRESH:-0.05}
SENSITIVE=${SENSITIVE:-0.10}
BAD=${BAD:-0.02}
REDIS=${REDIS:-auto}
TIMEOUT=${TIMEOUT:-15m}
MD=${MD-../BENCHMARKS.md}
OUT=${OUT:-results/$(date -u +%Y-%m-%d)-load-$(date -u +%H%M).txt}

BIN=$(mktemp -d -t authgate-load.XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
	pkill -KILL -f -- "$BIN/load" 2>/dev/null || true # servers of this run only (its temp dir)
	rm -rf "$BIN"
}
trap cleanup EXIT INT TERM

pin=true
if ! command -v taskset >/dev/null; then
	echo "WARNING: taskset (util-linux) not found: server and generator are not pinned to separate cores" >&2
	pin=false
elif [ "$(nproc)" -lt 2 ]; then
	echo "WARNING: fewer than 2 cores: server and generator are not pinned to separate cores" >&2
	pin=false
fi
[ "$REDIS" = auto ] && ! command -v redis-server >/dev/null &&
	echo "NOTE: redis-server not found: the authgate+redis contenders are skipped" >&2

go build -o "$BIN/load" ./cmd/load
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
shown=$OUT
case $OUT in /*) ;; *) shown=bench/$OUT ;; esac
note="Run $(date -u '+%Y-%m-%d %H:%M UTC') at commit $commit: \`ROUNDS=$ROUNDS SAT_DURATION=$SAT_DURATION DURATION=$DURATION bench/load.sh\` (raw: \`$shown\`)."
mdflag=()
[ -n "$MD" ] && mdflag=(-md "$MD")
timeout --kill-after=10s "$TIMEOUT" "$BIN/load" run -frameworks "$FRAMEWORKS" -rounds "$ROUNDS" \
	-sat-duration "$SAT_DURATION" -duration "$DURATION" -warmup "$WARMUP" -conns "$CONNS" \
	-rate "$RATE" -rate-fraction "$RATE_FRACTION" -clients "$CLIENTS" -fresh "$FRESH" \
	-sensitive "$SENSITIVE" -bad "$BAD" -redis "$REDIS" -pin="$pin" -out "$OUT" \
	"${mdflag[@]}" -note "$note" &
PID=$!
wait "$PID"
PID=
echo "raw results: $shown" >&2
