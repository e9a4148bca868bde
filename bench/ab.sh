#!/usr/bin/env bash
# ab.sh compares two test binaries (go test -c) of the same benchmarks,
# interleaved round by round so that a busy machine hurts both sides alike,
# and prints one benchstat table (old vs new).
#
#   go test -c -o /tmp/old.test ./core   # at the old commit
#   go test -c -o /tmp/new.test ./core   # at the new one
#   ROUNDS=8 BENCH=HotPath CPU=1,2 DIR=core ./ab.sh /tmp/old.test /tmp/new.test results/x
#
# Writes <prefix>-old.txt and <prefix>-new.txt (raw) and prints benchstat.
set -euo pipefail
old=$1 new=$2 prefix=$3
ROUNDS=${ROUNDS:-8}
BENCH=${BENCH:-.}
CPU=${CPU:-$(nproc)}
BENCHTIME=${BENCHTIME:-1s}
DIR=${DIR:-.} # the package directory the binaries expect to run in
BENCHSTAT=${BENCHSTAT:-go run golang.org/x/perf/cmd/benchstat@latest}
here=$(pwd)
: >"$prefix-old.txt"
: >"$prefix-new.txt"
for i in $(seq "$ROUNDS"); do
	echo "# round $i/$ROUNDS, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	for side in old new; do
		bin=$old
		[ "$side" = new ] && bin=$new
		(cd "$DIR" && "$bin" -test.run '^$' -test.bench "$BENCH" -test.benchmem -test.count 1 \
			-test.cpu "$CPU" -test.benchtime "$BENCHTIME" -test.timeout 60m) >>"$here/$prefix-$side.txt"
	done
done
$BENCHSTAT old="$prefix-old.txt" new="$prefix-new.txt"
