#!/usr/bin/env bash
# The summarizer benchmark (part of `make bench`), with the limits measured in the same run:
#   1. built-in processing end to end: N call.ended events (default 100,000; 4 partitions,
#      100 tenants) produced while one worker consumes; calls/s from the first produce to the
#      last offset stored, next to the database write ceiling (the same rows upserted again by
#      a plain loop in batches, server-side), then the same with two worker processes;
#   2. LLM-bound: a fake model answering after 1 s, 64 requests in flight, one process;
#   3. freshness (ended_at → the row's commit timestamp) at a steady 500 calls/s;
#   peak RSS of the worker in each run.
# Runs its own PostgreSQL + Kafka in .run/bench-summarizer and stops them after.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${AIMEM_BUILD:-$repo/build}
dir=$repo/.run/bench-summarizer
py=/usr/bin/python3
calls=${AIMEM_BENCH_CALLS:-100000}
llm_calls=${AIMEM_BENCH_LLM_CALLS:-640}
fresh_seconds=${AIMEM_BENCH_FRESH_SECONDS:-30}
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$repo/scripts/dev" down --dir "$dir" all >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$repo/scripts/dev" up --dir "$dir" all >/dev/null
set -a
# shellcheck source=/dev/null
. "$dir/env"
set +a
admin=$AIMEM_DB_ADMIN_URL
worker_url="postgresql://aimem_worker@127.0.0.1:$AIMEM_PG_PORT/aimem"
AIMEM_DB_URL=$admin "$build/bin/aimem" migrate --dir "$repo/migrations" >/dev/null
# commit timestamps for the freshness figure (a restart applies it)
psql "$admin" -qXc "ALTER SYSTEM SET track_commit_timestamp = on" >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl restart -D "$dir/pg/data" -w -s -m fast >/dev/null

echo "bench: machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"

run=0
# start_workers N GROUP TOPIC [ENV...]: N summarizers; their pids in workers[]
start_workers() {
	local n=$1 group=$2 topic=$3
	shift 3
	workers=()
	for i in $(seq "$n"); do
		env AIMEM_DB_URL="$worker_url" AIMEM_TOPICS_CALLS="$topic" AIMEM_CONSUMER_GROUP="$group" \
			AIMEM_HTTP_PORT=0 AIMEM_LOG_LEVEL=warn AIMEM_LEXICONS_DIR="$repo/workers/lexicons" \
			AIMEM_LLM_PROMPT="$repo/workers/summarizer/prompts/summarize.v1.txt" "$@" \
			"$build/bin/aimem-summarizer" 2>"$dir/worker-$run-$i.log" &
		workers+=($!)
		pids+=($!)
	done
}
peak_rss() { # the largest VmHWM of workers[], in MiB
	local max=0 kb
	for p in "${workers[@]}"; do
		kb=$(sed -n 's/^VmHWM:\s*\([0-9]*\) kB/\1/p' "/proc/$p/status" 2>/dev/null || echo 0)
		[ "${kb:-0}" -gt "$max" ] && max=$kb
	done
	echo "$((max / 1024)) MiB"
}
stop_workers() {
	for p in "${workers[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${workers[@]}"; do wait "$p" 2>/dev/null || true; done
}
fresh_tables() {
	psql "$admin" -qXc \
		"TRUNCATE call_summaries, caller_profiles, caller_facts, caller_context, search_postings, consumer_offsets, dead_letters" \
		>/dev/null # TRUNCATE fires no DELETE trigger: the summaries' postings go by name
}
new_topic() {
	run=$((run + 1))
	topic="bench.calls.$run.$$"
	$py "$repo/scripts/kafka_admin.py" create-topics --bootstrap "$AIMEM_KAFKA_BOOTSTRAP_SERVERS" \
		--partitions 4 "$topic" >/dev/null
}
# end_to_end PROCESSES: calls/s, first produce to last offset stored
end_to_end() {
	local n=$1
	fresh_tables
	new_topic
	start_workers "$n" "bench-$run" "$topic"
	sleep 2 # joined the group
	local t0 t1
	t0=$(date +%s.%N)
	$py "$repo/bench/calls.py" produce --bootstrap "$AIMEM_KAFKA_BOOTSTRAP_SERVERS" --topic "$topic" \
		--count "$calls" >/dev/null
	$py "$repo/bench/calls.py" wait --db "$admin" --group "bench-$run" --count "$calls" >/dev/null
	t1=$(date +%s.%N)
	rss=$(peak_rss)
	stop_workers
	rate=$(awk -v n="$calls" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/(b-a)}')
}

# a warm-up pass: the broker's JVM and PostgreSQL's caches are cold
calls_saved=$calls
calls=5000
end_to_end 1
calls=$calls_saved

end_to_end 1
one=$rate
echo "bench: built-in, 1 process: $calls calls (4 partitions, 100 tenants) = $one calls/s end to end, peak RSS $rss"
ceiling=$($py "$repo/bench/calls.py" ceiling --db "$admin")
echo "bench: database write ceiling (the same rows, plain upsert loop, 1 connection): $ceiling"
ceil_rate=${ceiling%% *}
echo "bench: worker/ceiling = $one/$ceil_rate = $(awk -v a="$one" -v b="$ceil_rate" 'BEGIN{printf "%.0f%%", 100*a/b}')"
end_to_end 2
echo "bench: built-in, 2 processes: $calls calls = $rate calls/s end to end, peak RSS $rss (target >= 5000)"

# LLM-bound: every answer takes 1 s
fresh_tables
new_topic
$py "$repo/bench/calls.py" fakellm --delay 1 >"$dir/fakellm.url" &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/fakellm.url" ] && break; sleep 0.1; done
start_workers 1 "bench-$run" "$topic" AIMEM_PROCESSOR=llm AIMEM_LLM_BASE_URL="$(cat "$dir/fakellm.url")" \
	AIMEM_LLM_MODEL=bench AIMEM_LLM_MAX_IN_FLIGHT=64 AIMEM_BATCH_MAX_EVENTS=640 AIMEM_BATCH_MAX_WAIT=1s
sleep 2
t0=$(date +%s.%N)
$py "$repo/bench/calls.py" produce --bootstrap "$AIMEM_KAFKA_BOOTSTRAP_SERVERS" --topic "$topic" \
	--count "$llm_calls" >/dev/null
$py "$repo/bench/calls.py" wait --db "$admin" --group "bench-$run" --count "$llm_calls" >/dev/null
t1=$(date +%s.%N)
rss=$(peak_rss)
stop_workers
llm=$(awk -v n="$llm_calls" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", n/(b-a)}')
wrong=$(psql "$admin" -qXtAc \
	"SELECT count(*) FROM call_summaries WHERE processor <> 'llm:bench/v1' OR needs_reprocess")
echo "bench: LLM-bound (1 s per answer, 64 in flight, 1 process): $llm_calls calls = $llm calls/s, peak RSS $rss, rows not from the model: $wrong (target >= 50 calls/s)"

# freshness at a steady 500 calls/s
fresh_tables
new_topic
start_workers 1 "bench-$run" "$topic"
sleep 2
fresh_calls=$((500 * fresh_seconds))
$py "$repo/bench/calls.py" produce --bootstrap "$AIMEM_KAFKA_BOOTSTRAP_SERVERS" --topic "$topic" \
	--count "$fresh_calls" --rate 500 --ended-now >/dev/null
$py "$repo/bench/calls.py" wait --db "$admin" --group "bench-$run" --count "$fresh_calls" >/dev/null
rss=$(peak_rss)
stop_workers
echo "bench: freshness at 500 calls/s for ${fresh_seconds}s (call end → row committed): $($py "$repo/bench/calls.py" freshness --db "$admin"), peak RSS $rss"
