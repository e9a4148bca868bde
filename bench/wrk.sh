#!/usr/bin/env bash
# wrk.sh load-tests each example app (examples/nethttp, gin, echo, fiber) over
# loopback with wrk (Debian package "wrk"), without authgate (GET /healthz,
# a public route) and with it (GET /me with a bearer token from the app's
# development issuer, POST /dev/login). Every run is bounded: DURATION per
# run, and each app is stopped before the next starts.
#
#   ./wrk.sh                          # 10s per run, 1 wrk thread, 32 connections
#   DURATION=5s CONNS=64 ./wrk.sh
#   APPS="nethttp fiber" ./wrk.sh
#   BINDIR=/tmp/apps ./wrk.sh         # use binaries built before (go build -o $BINDIR/<app>)
#
# The server and wrk share the machine: on 2 cores, wrk's one thread takes
# roughly one of them, so absolute numbers are lower than on a dedicated
# client. Compare the rows with each other.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
APPS=${APPS:-"nethttp gin echo fiber"}
PORT=${PORT:-18080}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

BIN=$(mktemp -d -t authgate-wrk.XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
	rm -rf "$BIN"
}
trap cleanup EXIT

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(go version), $(wrk -v 2>&1 | head -1)"
echo "# wrk -t$THREADS -c$CONNS -d$DURATION, loopback, token from the dev issuer (EdDSA)"
printf '%-8s %-34s %12s %12s %12s %12s\n' app route req/s p50 p99 non2xx
for app in $APPS; do
	if [ -n "${BINDIR:-}" ] && [ -x "$BINDIR/$app" ]; then
		cp "$BINDIR/$app" "$BIN/$app"
	else
		go build -o "$BIN/$app" "./examples/$app"
	fi
	addr=127.0.0.1:$PORT
	ADDR=$addr "$BIN/$app" >"$BIN/$app.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		curl -fsS "http://$addr/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	tok=$(curl -fsS -X POST -H 'Accept: text/plain' -H 'Content-Type: application/json' \
		-d '{"subject":"bench","roles":["user"]}' "http://$addr/dev/login")
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "http://$addr/me")" = 200 ] ||
		{ echo "$app: /me refused the dev token" >&2; exit 1; }
	for run in "GET /healthz (no authgate)|/healthz|" "GET /me (authgate, bearer)|/me|Authorization: Bearer $tok"; do
		IFS='|' read -r label path header <<<"$run"
		args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --latency --timeout 2s)
		[ -n "$header" ] && args+=(-H "$header")
		out=$(timeout 120 wrk "${args[@]}" "http://$addr$path")
		rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
		p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
		p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
		bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
		printf '%-8s %-34s %12s %12s %12s %12s\n' "$app" "$label" "$rps" "$p50" "$p99" "${bad:-0}"
	done
	kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
	PORT=$((PORT + 1))
done
