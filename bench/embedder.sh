#!/usr/bin/env bash
# The embedder benchmark (part of `make bench`, issue 15 item 4): passages/s of aimem-embedder
# with the built-in MiniLM, end to end (first produce to last offset stored), one process and
# then two (each on its own core: MiniLM runs on its caller's thread), next to the ceiling
# measured in the same run: the model alone embedding the very passages the worker stored, on
# two threads in batches of 64 (bench/embed_cpu file). AIMEM_BENCH_CALLS call.ended events
# (default 1,000; the transcripts of tests/fixtures, 4 partitions, 100 tenants). Runs its own
# PostgreSQL + Kafka in .run/bench-embedder and stops them after. Needs the model.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${AIMEM_BUILD:-$repo/build}
dir=$repo/.run/bench-embedder
py=/usr/bin/python3
calls=${AIMEM_BENCH_CALLS:-1000}
model=${AIMEM_MINILM_DIR:-${AIMEM_CACHE:-$HOME/.cache/ai-memory}/all-minilm-l6-v2}
if [ ! -f "$model/model.safetensors" ]; then
	echo "bench: embedder: no model in $model (scripts/deps.sh fetches it); skipped"
	exit 0
fi
workers=()

cleanup() {
	for p in "${workers[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$repo/scripts/dev" down --dir "$dir" all >/dev/null 2>&1 || true
}
trap cleanup EXIT

mkdir -p "$dir"
"$repo/scripts/dev" up --dir "$dir" all >/dev/null
set -a
# shellcheck source=/dev/null
. "$dir/env"
set +a
admin=$AIMEM_DB_ADMIN_URL
worker_url="postgresql://aimem_worker@127.0.0.1:$AIMEM_PG_PORT/aimem"
AIMEM_DB_URL=$admin "$build/bin/aimem" migrate --dir "$repo/migrations" >/dev/null
echo "bench: machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"

run=0
# end_to_end PROCESSES: passages/s from the first produce to the last offset stored
end_to_end() {
	local n=$1 t0 t1
	psql "$admin" -qXc "TRUNCATE call_chunks, search_terms, search_stats, consumer_offsets, dead_letters" >/dev/null
	run=$((run + 1))
	local topic="bench.embed.$run.$$"
	$py "$repo/scripts/kafka_admin.py" create-topics --bootstrap "$AIMEM_KAFKA_BOOTSTRAP_SERVERS" \
		--partitions 4 "$topic" >/dev/null
	workers=()
	for i in $(seq "$n"); do
		env AIMEM_DB_URL="$worker_url" AIMEM_TOPICS_CALLS="$topic" AIMEM_CONSUMER_GROUP="bench-$run" \
			AIMEM_HTTP_PORT=0 AIMEM_LOG_LEVEL=warn AIMEM_EMBED_MODEL_DIR="$model" \
			"$build/bin/aimem-embedder" 2>"$dir/worker-$run-$i.log" &
		workers+=($!)
	done
	sleep 3 # joined the group
	t0=$(date +%s.%N)
	$py "$repo/bench/calls.py" produce --bootstrap "$AIMEM_KAFKA_BOOTSTRAP_SERVERS" --topic "$topic" \
		--count "$calls" >/dev/null
	$py "$repo/bench/calls.py" wait --db "$admin" --group "bench-$run" --count "$calls" >/dev/null
	t1=$(date +%s.%N)
	for p in "${workers[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${workers[@]}"; do wait "$p" 2>/dev/null || true; done
	passages=$(psql "$admin" -qXtAc "SELECT count(*) FROM call_chunks")
	rate=$(awk -v n="$passages" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", n/(b-a)}')
}

end_to_end 1
echo "bench: aimem-embedder, 1 process: $calls calls, $passages passages ($(psql "$admin" -qXtAc "SELECT round(avg(words)) FROM call_chunks") words on average) = $rate passages/s end to end"
end_to_end 2
two=$rate
echo "bench: aimem-embedder, 2 processes: $passages passages = $two passages/s end to end"
psql "$admin" -qXtAc "SELECT replace(content, E'\n', ' ') FROM call_chunks" >"$dir/passages.txt"
ceiling=$("$build/bench/embed_cpu" "$model" file "$dir/passages.txt")
echo "bench: $ceiling"
c=$(echo "$ceiling" | sed -n 's/.*: \([0-9.]*\) passages\/s/\1/p')
echo "bench: embedder/ceiling on 2 cores = $two/$c = $(awk -v a="$two" -v b="$c" 'BEGIN{printf "%.0f%%", 100*a/b}')"
