#!/usr/bin/env bash
# bench.sh measures POST /v1/payments end to end (HTTP, auth, idempotency,
# token consumption, mock processor at zero latency, durable SQLite or
# PostgreSQL) and, on the same machine in the same run, a bare Gin handler
# doing the same JSON work: the ceiling.
#
#   (a) acpgw, closed loop: as many payments/s as CONCURRENCY workers get
#   (b) acpgw, open loop at RATE/s: latency from each scheduled send time
#   (d) DELEGATE=1 only: acpgw, closed loop on POST
#       /agentic_commerce/delegate_payment (a new token per request; its
#       payments/s column counts tokens issued)
#   (c) bare Gin server, the same closed loop as (a)
#
# and prints payments/s, p50, p99 and max latency, errors, CPU/op and (a)/(c)
# of each. CPU/op is the server process's user+system CPU time (utime+stime
# of /proc/PID/stat, in getconf CLK_TCK ticks) over the measured window only
# (not token setup or warm-up), divided by the successful requests in that
# window; the load tool shares the machine but is not counted.
#
# Environment: DURATION (10s), CONCURRENCY (32), RATE (1000), WARMUP (2s),
# PORT (18080), BARE_PORT (18090), DEBUG_PORT (16060), BIN_DIR (bin),
# KEEP=1 keeps the temp dir (config, logs, JSON reports, SQLite file, CPU
# profile); a run that fails keeps it anyway and says where. Ports that are
# already taken stop the script before it builds anything.
#
#   STORE=postgres  runs acpgw on PostgreSQL instead of SQLite: creates the
#                   database acpgw_bench_<pid> through PG_DSN (default
#                   postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable,
#                   a user that may CREATE DATABASE; needs psql), runs
#                   `acpgw migrate` on it, and drops it at the end. When
#                   the server runs on this machine (its data directory's
#                   postmaster.pid is readable here), the table gets a
#                   "db CPU/op" column: PostgreSQL's user+sys CPU (the
#                   postmaster and its backends) per success over the
#                   measured window.
#   DELEGATE=1      adds run (d).
#   PROFILE=1       starts acpgw with --debug-listen 127.0.0.1:DEBUG_PORT and
#                   saves a CPU profile of run (a)'s measured window (after
#                   warm-up) as acpgw-cpu.pprof in the temp dir, and run
#                   (b)'s as acpgw-open-cpu.pprof, then prints the top of
#                   `go tool pprof -top` of each; with DELEGATE=1, run
#                   (d)'s as acpgw-delegate-cpu.pprof too.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-10s}
CONCURRENCY=${CONCURRENCY:-32}
RATE=${RATE:-1000}
WARMUP=${WARMUP:-2s}
PORT=${PORT:-18080}
BARE_PORT=${BARE_PORT:-18090}
DEBUG_PORT=${DEBUG_PORT:-16060}
BIN_DIR=${BIN_DIR:-bin}
KEEP=${KEEP:-0}
PROFILE=${PROFILE:-0}
STORE=${STORE:-sqlite}
PG_DSN=${PG_DSN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DELEGATE=${DELEGATE:-0}
CLK_TCK=$(getconf CLK_TCK)

case $STORE in
sqlite) ;;
postgres)
	if ! command -v psql >/dev/null 2>&1; then
		echo "bench: STORE=postgres needs psql (apt-get install postgresql-client)" >&2
		exit 2
	fi
	;;
*)
	echo "bench: STORE must be sqlite or postgres, not $STORE" >&2
	exit 2
	;;
esac

# require_free PORT: fails if something already accepts connections on
# 127.0.0.1:PORT; otherwise wait_ready could take another server's answer
# for ours (and --server-pid would name a process that exited).
require_free() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		echo "bench: 127.0.0.1:$1 is already in use; choose another port (PORT, BARE_PORT, DEBUG_PORT)" >&2
		exit 1
	fi
}
require_free "$PORT"
require_free "$BARE_PORT"
if [[ $PROFILE == 1 ]]; then
	require_free "$DEBUG_PORT"
fi

echo "== building into $BIN_DIR/"
mkdir -p "$BIN_DIR"
go build -o "$BIN_DIR/acpgw" ./cmd/acpgw
go build -o "$BIN_DIR/acpgw-load" ./cmd/acpgw-load
load="$BIN_DIR/acpgw-load"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/acpgw-bench.XXXXXX")
pids=()
db_args=() # --db-pid of a PostgreSQL server on this machine
pg_db=""
cleanup() {
	local rc=$? pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $pg_db ]]; then
		psql "$PG_DSN" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null || true
	fi
	if [[ $rc != 0 ]]; then
		# A failed run keeps everything: the server logs say why.
		echo "bench: failed (exit $rc); kept $tmp; server logs:" "$tmp"/*.log >&2
	elif [[ $KEEP == 1 ]]; then
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


# The config and the database live in different directories: acpgw watches
# its config file's directory for reloads, and with SQLite beside it every
# WAL write would wake the watcher (about 6% of acpgw's CPU in a profile).
mkdir -p "$tmp/conf" "$tmp/data"
store_yaml="{driver: sqlite, dsn: \"$tmp/data/acpgw.db\"}"
if [[ $STORE == postgres ]]; then
	pg_db="acpgw_bench_$$"
	echo "== creating PostgreSQL database $pg_db"
	psql "$PG_DSN" -qc "CREATE DATABASE $pg_db"
	# PostgreSQL's own CPU, when it runs here: its postmaster (the first
	# line of postmaster.pid in its data directory) and the backends it
	# forks. SHOW data_directory needs a superuser or
	# pg_read_all_settings; without it, or with a remote server, the
	# column is left out.
	pg_dir=$(psql "$PG_DSN" -Atc 'SHOW data_directory' 2>/dev/null || true)
	if [[ -n $pg_dir && -r $pg_dir/postmaster.pid ]]; then
		pg_pid=$(head -1 "$pg_dir/postmaster.pid")
		if [[ $(cat "/proc/$pg_pid/comm" 2>/dev/null) == postgres* ]]; then
			db_args=(--db-pid "$pg_pid")
		fi
	fi
	if [[ ${#db_args[@]} == 0 ]]; then
		echo "bench: PostgreSQL's CPU is not measured (not on this machine, or its data directory is not readable)" >&2
	fi
	# PG_DSN with its database replaced by the bench's own.
	bench_dsn=$(sed -E "s#^(postgres(ql)?://[^/?]+)(/[^?]*)?#\1/$pg_db#" <<<"$PG_DSN")
	store_yaml="{driver: postgres, dsn: \"$bench_dsn\"}"
fi
cat >"$tmp/conf/bench.yaml" <<EOF
server: {listen: "127.0.0.1:$PORT"}
store: $store_yaml
vault: {keys: [{id: k1, key: "$(head -c32 /dev/urandom | base64)"}]}
agents: [{id: bench-agent, api_key: bench-agent-key}]
processors:
  mock: {type: mock, latency: 0s, fees: {percent: 2.9, fixed: 30, currency: usd}}
merchants:
  - {id: bench, api_key: bench-merchant-key, processors: [mock]}
EOF

echo "== host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $(go version)"

if [[ $STORE == postgres ]]; then
	"$BIN_DIR/acpgw" migrate --config "$tmp/conf/bench.yaml"
fi

serve_args=(serve --config "$tmp/conf/bench.yaml")
if [[ $PROFILE == 1 ]]; then
	serve_args+=(--debug-listen "127.0.0.1:$DEBUG_PORT")
fi
# profile NAME sets profile_args: with PROFILE=1, the load tool's flags that
# save a CPU profile of its run's measured window as $tmp/NAME.pprof.
profile() {
	profile_args=()
	if [[ $PROFILE == 1 ]]; then
		profile_args=(--pprof-url "http://127.0.0.1:$DEBUG_PORT" --cpu-profile "$tmp/$1.pprof")
	fi
}
echo "== starting acpgw on 127.0.0.1:$PORT, store $STORE (log: $tmp/acpgw.log)"
"$BIN_DIR/acpgw" "${serve_args[@]}" >"$tmp/acpgw.log" 2>&1 &
acpgw_pid=$!
pids+=("$acpgw_pid")
wait_ready "http://127.0.0.1:$PORT/readyz" "$acpgw_pid" "$tmp/acpgw.log"

common=(--concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --json --clk-tck "$CLK_TCK")
acpgw_args=(--url "http://127.0.0.1:$PORT" --merchant bench
	--merchant-key bench-merchant-key --agent-key bench-agent-key --server-pid "$acpgw_pid" "${db_args[@]}")

echo "== (a) acpgw closed loop, $CONCURRENCY workers, $DURATION"
profile acpgw-cpu
"$load" run "${acpgw_args[@]}" "${common[@]}" "${profile_args[@]}" >"$tmp/a.json"

echo "== (b) acpgw open loop at $RATE/s, $DURATION"
profile acpgw-open-cpu
"$load" run "${acpgw_args[@]}" "${common[@]}" --rate "$RATE" "${profile_args[@]}" >"$tmp/b.json"

reports=(acpgw-closed="$tmp/a.json" acpgw-open="$tmp/b.json")
if [[ $DELEGATE == 1 ]]; then
	echo "== (d) acpgw delegate_payment closed loop, $CONCURRENCY workers, $DURATION"
	profile acpgw-delegate-cpu
	"$load" run --delegate "${acpgw_args[@]}" "${common[@]}" "${profile_args[@]}" >"$tmp/d.json"
	reports+=(acpgw-delegate="$tmp/d.json")
fi

stop "$acpgw_pid"

echo "== starting bare Gin server on 127.0.0.1:$BARE_PORT"
"$load" bare-server --listen "127.0.0.1:$BARE_PORT" >"$tmp/bare.log" 2>&1 &
bare_pid=$!
pids+=("$bare_pid")
wait_ready "http://127.0.0.1:$BARE_PORT/healthz" "$bare_pid" "$tmp/bare.log"

echo "== (c) bare Gin closed loop, $CONCURRENCY workers, $DURATION"
"$load" run --bare --url "http://127.0.0.1:$BARE_PORT" "${common[@]}" --server-pid "$bare_pid" >"$tmp/c.json"
reports+=(bare-closed="$tmp/c.json")

stop "$bare_pid"

echo
echo "== acpgw on $STORE; CPU/op: server user+sys CPU per success over the measured window"
# The targets of issue 10: closed loop at 40% of the bare ceiling or more,
# open-loop p99 at 5 ms or less.
"$load" summary --ceiling bare-closed --min-ratio 40 --max-open-p99 5ms "${reports[@]}"

# show_profile RUN NAME prints the top of $tmp/NAME.pprof, run RUN's
# profile (kept as $tmp/NAME-top.txt).
show_profile() {
	echo
	echo "== CPU profile of ($1)'s measured window: $tmp/$2.pprof (KEEP=1 keeps it)"
	go tool pprof -top -nodecount=25 "$BIN_DIR/acpgw" "$tmp/$2.pprof" >"$tmp/$2-top.txt" 2>&1
	cat "$tmp/$2-top.txt"
}
if [[ $PROFILE == 1 ]]; then
	show_profile a acpgw-cpu
	show_profile b acpgw-open-cpu
	if [[ $DELEGATE == 1 ]]; then
		show_profile d acpgw-delegate-cpu
	fi
fi
