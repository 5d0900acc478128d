#!/usr/bin/env bash
# bench.sh measures POST /v1/payments end to end (HTTP, auth, idempotency,
# token consumption, mock processor at zero latency, durable SQLite) and, on
# the same machine in the same run, a bare Gin handler doing the same JSON
# work: the ceiling.
#
#   (a) acpgw, closed loop: as many payments/s as CONCURRENCY workers get
#   (b) acpgw, open loop at RATE/s: latency from each scheduled send time
#   (c) bare Gin server, the same closed loop as (a)
#
# and prints payments/s, p50 and p99 of each and (a)/(c).
#
# Environment: DURATION (10s), CONCURRENCY (32), RATE (1000), WARMUP (2s),
# PORT (18080), BARE_PORT (18090), BIN_DIR (bin), KEEP=1 keeps the temp dir
# (config, logs, JSON reports, SQLite file).
#
# PROFILE=1 is accepted but does nothing: acpgw serves no pprof endpoint
# (nothing imports net/http/pprof), so there is no CPU profile to fetch
# without changing acpgw. Profile the load tool's own side with
# `go test -cpuprofile` on package api's benchmarks instead.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-32}
RATE=${RATE:-1000}
WARMUP=${WARMUP:-2s}
PORT=${PORT:-18080}
BARE_PORT=${BARE_PORT:-18090}
BIN_DIR=${BIN_DIR:-bin}
KEEP=${KEEP:-0}
PROFILE=${PROFILE:-0}

echo "== building into $BIN_DIR/"
mkdir -p "$BIN_DIR"
go build -o "$BIN_DIR/acpgw" ./cmd/acpgw
go build -o "$BIN_DIR/acpgw-load" ./cmd/acpgw-load
load="$BIN_DIR/acpgw-load"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/acpgw-bench.XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ $KEEP == 1 ]]; then
		echo "== kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

# stop PID: ends one server this script started and forgets it.
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() pid
	for pid in "${pids[@]}"; do
		[[ $pid == "$1" ]] || keep+=("$pid")
	done
	pids=("${keep[@]}")
}

# wait_ready URL PID LOG: polls URL until it answers 200, failing (with the
# log's tail) if the process exits or 15 s pass.
wait_ready() {
	local url=$1 pid=$2 log=$3 i
	for ((i = 0; i < 150; i++)); do
		if curl -fsS -o /dev/null "$url" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bench: server exited before $url answered; its log:" >&2
			tail -n 40 "$log" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "bench: $url not ready after 15 s; log tail:" >&2
	tail -n 40 "$log" >&2
	return 1
}

if [[ $PROFILE == 1 ]]; then
	echo "== PROFILE=1: skipped, acpgw has no pprof endpoint"
fi

# The config and the database live in different directories: acpgw watches
# its config file's directory for reloads, and with SQLite beside it every
# WAL write would wake the watcher (about 6% of acpgw's CPU in a profile).
mkdir -p "$tmp/conf" "$tmp/data"
cat >"$tmp/conf/bench.yaml" <<EOF
server: {listen: "127.0.0.1:$PORT"}
store: {driver: sqlite, dsn: "$tmp/data/acpgw.db"}
vault: {keys: [{id: k1, key: "$(head -c32 /dev/urandom | base64)"}]}
agents: [{id: bench-agent, api_key: bench-agent-key}]
processors:
  mock: {type: mock, latency: 0s, fees: {percent: 2.9, fixed: 30, currency: usd}}
merchants:
  - {id: bench, api_key: bench-merchant-key, processors: [mock]}
EOF

echo "== host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $(go version)"

echo "== starting acpgw on 127.0.0.1:$PORT (log: $tmp/acpgw.log)"
"$BIN_DIR/acpgw" serve --config "$tmp/conf/bench.yaml" >"$tmp/acpgw.log" 2>&1 &
acpgw_pid=$!
pids+=("$acpgw_pid")
wait_ready "http://127.0.0.1:$PORT/readyz" "$acpgw_pid" "$tmp/acpgw.log"

common=(--concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --json)
acpgw_args=(--url "http://127.0.0.1:$PORT" --merchant bench
	--merchant-key bench-merchant-key --agent-key bench-agent-key)

echo "== (a) acpgw closed loop, $CONCURRENCY workers, $DURATION"
"$load" run "${acpgw_args[@]}" "${common[@]}" >"$tmp/a.json"

echo "== (b) acpgw open loop at $RATE/s, $DURATION"
"$load" run "${acpgw_args[@]}" "${common[@]}" --rate "$RATE" >"$tmp/b.json"

stop "$acpgw_pid"

echo "== starting bare Gin server on 127.0.0.1:$BARE_PORT"
"$load" bare-server --listen "127.0.0.1:$BARE_PORT" >"$tmp/bare.log" 2>&1 &
bare_pid=$!
pids+=("$bare_pid")
wait_ready "http://127.0.0.1:$BARE_PORT/healthz" "$bare_pid" "$tmp/bare.log"

echo "== (c) bare Gin closed loop, $CONCURRENCY workers, $DURATION"
"$load" run --bare --url "http://127.0.0.1:$BARE_PORT" "${common[@]}" >"$tmp/c.json"

stop "$bare_pid"

echo
"$load" summary --ceiling bare-closed --min-ratio 25 --max-open-p99 2ms \
	acpgw-closed="$tmp/a.json" acpgw-open="$tmp/b.json" bare-closed="$tmp/c.json"
