#!/usr/bin/env bash
# otel-ab.sh compares otelauth's hot path with and without the Observer,
# interleaved: one process per side and round, the order of the sides
# alternating between rounds, so that the drifting load of a shared machine
# falls on both sides alike (a single -count run measures one side entirely
# before the other).
#
#   go test -c -o /tmp/otelauth.test ./otelauth
#   ROUNDS=8 BENCH='HotPath$/cache-hit' ./bench/otel-ab.sh /tmp/otelauth.test > out.txt
#   go run golang.org/x/perf/cmd/benchstat@latest -col /observer out.txt
#
# BENCH is a -test.bench pattern without the trailing /observer= part; CPU
# the -test.cpu list (default 2; "1,2" for the parallel benchmark).
set -euo pipefail
BIN=${1:?usage: otel-ab.sh TESTBINARY}
ROUNDS=${ROUNDS:-8}
BENCH=${BENCH:-HotPath\$/cache-hit}
CPU=${CPU:-2}
BENCHTIME=${BENCHTIME:-1s}
cd "$(dirname "$0")/../otelauth"
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version)"
echo "# $BIN -test.bench '$BENCH/observer=(none|otel)\$' -test.cpu $CPU -test.benchtime $BENCHTIME, $ROUNDS rounds interleaved"
header=1
for ((i = 0; i < ROUNDS; i++)); do
	sides=(none otel)
	if ((i % 2)); then sides=(otel none); fi
	echo "# round $i $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
	for side in "${sides[@]}"; do
		"$BIN" -test.run '^$' -test.bench "$BENCH/observer=$side\$" -test.benchmem \
			-test.cpu "$CPU" -test.count 1 -test.benchtime "$BENCHTIME" |
			grep -E '^(Benchmark|goos|goarch|pkg|cpu)' | { if ((header)); then cat; else grep '^Benchmark'; fi; } || true
		header=0
	done
done
