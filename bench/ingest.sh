#!/usr/bin/env bash
# The ingest benchmark (part of `make bench`): POST /v3/calls with a realistic 8 KB transcript
# over 64 keep-alive connections, next to the limits measured in the same run on the same
# machine: the raw producer rate of the same events (no HTTP), and the HTTP ceiling of the
# same server and load tool (GET /healthz). Then redaction (issue 20): the same closed loop
# against three servers, rotated over 3 rounds on the same minutes: "before" (the gateway as it
# was before lib/redact: 38e6cdb^, built once from git history into $AIMEM_BUILD/bench-base, or
# AIMEM_BENCH_BASE_INGEST), "none" (this build, redact.kinds=none) and "with" (this build). It
# prints each one's median rate and its own CPU per request, the target ratio (with / before,
# >= 90%) and the scan's own cost (with / none); then the redactor alone on the transcript.
#
# Runs its own PostgreSQL-free service set in .run/bench (Kafka only) and stops it after.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${AIMEM_BUILD:-$repo/build}
dir=$repo/.run/bench
py=/usr/bin/python3
seconds=${AIMEM_BENCH_SECONDS:-10}
secret="bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

cleanup() {
	[ -n "${ingest_pid:-}" ] && kill "$ingest_pid" 2>/dev/null && wait "$ingest_pid" 2>/dev/null
	for p in ${ab_pids:-}; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	"$repo/scripts/dev" down --dir "$dir" all >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$repo/scripts/dev" up --dir "$dir" kafka >/dev/null
bootstrap=$(sed -n 's/^AIMEM_KAFKA_BOOTSTRAP_SERVERS=//p' "$dir/env")
topic="bench.calls.$$"
raw_topic="bench.raw.$$"
$py "$repo/scripts/kafka_admin.py" create-topics --bootstrap "$bootstrap" --partitions 4 \
	"$topic" "$raw_topic" aimem.memories.v1 >/dev/null
$py "$repo/bench/fixtures.py" body >"$dir/call.json"
$py "$repo/bench/fixtures.py" event >"$dir/event.json"
token=$($py "$repo/bench/fixtures.py" token "$secret")

echo "bench: machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)"
echo "bench: event size $(wc -c <"$dir/event.json") bytes, body size $(wc -c <"$dir/call.json") bytes"

# a fresh broker's JVM is cold: one unmeasured run first, or the raw figure flatters ingest
"$build/bench/produce_raw" "$bootstrap" "$raw_topic" "$dir/event.json" 20000 >/dev/null
raw=$("$build/bench/produce_raw" "$bootstrap" "$raw_topic" "$dir/event.json" 20000)
echo "bench: raw producer (idempotent, acks=all, no HTTP): $raw"

AIMEM_HTTP_PORT=0 AIMEM_AUTH_JWT_SECRET=$secret AIMEM_KAFKA_BOOTSTRAP_SERVERS=$bootstrap \
	AIMEM_TOPICS_CALLS=$topic AIMEM_HTTP_THREADS=${AIMEM_BENCH_THREADS:-4} \
	"$build/bin/aimem-ingest" 2>"$dir/ingest.log" &
ingest_pid=$!
port=
for _ in $(seq 400); do # poll for the ready line (20 s at most)
	port=$(sed -n 's/.* ready .*port=\([0-9]*\).*/\1/p' "$dir/ingest.log" 2>/dev/null | head -1)
	[ -n "$port" ] && break
	kill -0 "$ingest_pid" 2>/dev/null || break
	sleep 0.05
done
[ -n "$port" ] || { echo "bench: aimem-ingest did not start"; cat "$dir/ingest.log"; exit 1; }

lg="$build/bench/loadgen --port $port --connections 64"
ceiling=$($lg --method GET --path /healthz --seconds 5)
echo "bench: HTTP ceiling, GET /healthz, 64 connections: $ceiling"
max=$($lg --path /v3/calls --body "$dir/call.json" --header "Authorization: Bearer $token" --seconds "$seconds")
echo "bench: POST /v3/calls, 64 connections, closed loop: $max"
paced=$($lg --path /v3/calls --body "$dir/call.json" --header "Authorization: Bearer $token" --seconds "$seconds" --rate 2000)
echo "bench: POST /v3/calls, 64 connections, 2000/s offered: $paced"

raw2=$("$build/bench/produce_raw" "$bootstrap" "$raw_topic" "$dir/event.json" 20000)
echo "bench: raw producer again, after the HTTP runs: $raw2"

rate() { sed -n "s|.*= \([0-9]*\) $1.*|\1|p"; }
# the machine's noise moves the raw rate by 2x between runs: compare with the mean of the
# measurements taken before and after the HTTP runs
raw_rate=$(( ($(echo "$raw" | rate "events/s") + $(echo "$raw2" | rate "events/s")) / 2 ))
max_rate=$(echo "$max" | rate "req/s")
p99=$(echo "$paced" | sed -n 's/.* p99 \([0-9.]*\).*/\1/p')
paced_rate=$(echo "$paced" | rate "req/s")
echo "bench: ingest/raw = $max_rate/$raw_rate (mean raw) = $(awk -v a="$max_rate" -v b="$raw_rate" 'BEGIN{printf "%.0f%%", 100*a/b}') (target >= 50%)"
echo "bench: at $paced_rate req/s offered 2000/s: p99 = $p99 ms (target <= 20 ms)"

# ---- redaction: with and without, alternating on the same minutes ---------------------------
start_ingest() { # binary log [VAR=value ...]: starts it in this shell (ab_pids for cleanup)
	local bin=$1 log=$2
	shift 2
	env AIMEM_HTTP_PORT=0 AIMEM_AUTH_JWT_SECRET=$secret AIMEM_KAFKA_BOOTSTRAP_SERVERS=$bootstrap \
		AIMEM_TOPICS_CALLS=$topic AIMEM_HTTP_THREADS=${AIMEM_BENCH_THREADS:-4} "$@" "$bin" \
		>/dev/null 2>"$log" &
	ab_pids="${ab_pids:-} $!"
}
port_of() { # log: the port of its ready line (20 s at most)
	for _ in $(seq 400); do
		p=$(sed -n 's/.* ready .*port=\([0-9]*\).*/\1/p' "$1" 2>/dev/null | head -1)
		[ -n "$p" ] && { echo "$p"; return; }
		sleep 0.05
	done
	echo "bench: no ready line in $1" >&2
	cat "$1" >&2
	exit 1
}
kill "$ingest_pid" && wait "$ingest_pid" 2>/dev/null || true
ingest_pid=
# "before": the gateway as it was when redaction came (the build before lib/redact, 38e6cdb^),
# built once from this repository's history into $build/bench-base (AIMEM_BENCH_BASE_INGEST
# names another binary); "none": this build with redact.kinds=none (the scan left out, the
# metadata still spliced in); "with": this build as shipped.
base=${AIMEM_BENCH_BASE_INGEST:-$build/bench-base/aimem-ingest}
if [ ! -x "$base" ] && [ -z "${AIMEM_BENCH_BASE_INGEST:-}" ] &&
	git -C "$repo" rev-parse -q --verify 38e6cdb^ >/dev/null 2>&1; then
	src=$dir/base-src
	rm -rf "$src" && mkdir -p "$src" "$build/bench-base"
	git -C "$repo" archive 38e6cdb^ | tar -x -C "$src"
	if make -C "$src" -j"$(nproc)" build/bin/aimem-ingest >"$dir/base-build.log" 2>&1; then
		cp "$src/build/bin/aimem-ingest" "$base"
	else
		echo "bench: the build before redaction failed (see $dir/base-build.log): compared with redact.kinds=none only"
	fi
	rm -rf "$src"
fi
variants="none with"
if [ -x "$base" ]; then
	variants="before none with"
	start_ingest "$base" "$dir/ingest-before.log"
	before_pid=$!
	before_port=$(port_of "$dir/ingest-before.log")
fi
start_ingest "$build/bin/aimem-ingest" "$dir/ingest-none.log" AIMEM_REDACT_KINDS=none
none_pid=$!
start_ingest "$build/bin/aimem-ingest" "$dir/ingest-with.log"
with_pid=$!
none_port=$(port_of "$dir/ingest-none.log")
with_port=$(port_of "$dir/ingest-with.log")
# the server's own CPU (user + system ticks of /proc/PID/stat) per request served: less moved
# by the other processes on the machine than the closed-loop rate
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A cpu=() reqs=() rates=()
for round in 1 2 3; do
	order=$variants # each variant first in one round: none always runs on a warmer broker
	[ $round = 2 ] && order=$(echo "$variants" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}')
	[ $round = 3 ] && order=$(echo "$variants" | awk '{printf "%s ", $NF; for (i = 1; i < NF; i++) printf "%s ", $i}')
	for v in $order; do
		pid_var=${v}_pid port_var=${v}_port
		pid=${!pid_var} p=${!port_var}
		t0=$(ticks "$pid")
		out=$("$build/bench/loadgen" --port "$p" --connections 64 --path /v3/calls --body "$dir/call.json" \
			--header "Authorization: Bearer $token" --seconds "$seconds")
		cpu[$v]=$((${cpu[$v]:-0} + $(ticks "$pid") - t0))
		reqs[$v]=$((${reqs[$v]:-0} + $(echo "$out" | sed -n 's/^loadgen: \([0-9]*\) requests.*/\1/p')))
		r=$(echo "$out" | rate "req/s")
		rates[$v]="${rates[$v]:-} $r"
		echo "bench: redaction round $round, $v: $r req/s"
	done
done
median() { printf '%s\n' $1 | sort -n | sed -n 2p; }
us() { awk -v t="${cpu[$1]}" -v n="${reqs[$1]}" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.0f", 1e6*t/hz/n}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f%%", 100*a/b}'; }
for v in $variants; do
	echo "bench: $v: median $(median "${rates[$v]}") req/s, aimem-ingest CPU $(us "$v") us per request (all rounds)"
done
mw=$(median "${rates[with]}")
if [ -n "${rates[before]:-}" ]; then
	mb=$(median "${rates[before]}")
	echo "bench: POST /v3/calls with redaction / before redaction ($base): $mw/$mb req/s = $(pct "$mw" "$mb")" \
		"(target >= 90%); CPU per request $(us with) / $(us before) us = $(pct "$(us with)" "$(us before)")"
fi
mo=$(median "${rates[none]}")
echo "bench: the scan's own cost, this build with redaction / redact.kinds=none: $mw/$mo req/s = $(pct "$mw" "$mo")," \
	"CPU per request $(us with) / $(us none) us (+$(($(us with) - $(us none))) us)"
for _ in $(seq 2000); do cat "$dir/call.json"; done >"$dir/calls.jsonl"
cost=$("$build/tests/redact_text" <"$dir/calls.jsonl" 2>&1 >/dev/null | tail -1)
echo "bench: the redactor alone on this transcript ($(wc -c <"$dir/call.json") bytes): ${cost#redact_text: }"
