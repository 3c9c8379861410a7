#!/usr/bin/env bash
# The personality worker benchmark (part of `make bench`): aimem-personality with the built-in
# scorer consumes N call.ended events already in Kafka (the hand-written transcripts of
# tests/fixtures/transcripts, 100 tenants, 1,000 callers each, as bench/calls.py builds them)
# into personality_metrics and personality_averages; printed next to the limits measured in the
# same run on the same machine:
#   - the CPU ceiling of the worker's own work: decode + score on one core (no Kafka, no
#     database), and the CPU time of one 5,000-word call (bench/personality_cpu);
#   - pgbench on the same database with the per-call form of the writes (the metrics upsert
#     and the caller's averages recomputed, two statements per call), 50 calls per transaction,
#     one connection. Since the worker writes a tenant's calls of a batch in two statements
#     (apply_batch), this is the ceiling of the per-call form it replaced, not of the worker:
#     the worker now beats it.
#
# Runs its own PostgreSQL + Kafka in .run/bench-personality and stops them after.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${AIMEM_BUILD:-$repo/build}
dir=$repo/.run/bench-personality
py=/usr/bin/python3
count=${AIMEM_BENCH_CALLS:-20000}
pgbin=/usr/lib/postgresql/15/bin

cleanup() {
	[ -n "${worker_pid:-}" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
	"$repo/scripts/dev" down --dir "$dir" all >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$repo/scripts/dev" up --dir "$dir" all >/dev/null
bootstrap=$(sed -n 's/^AIMEM_KAFKA_BOOTSTRAP_SERVERS=//p' "$dir/env")
admin=$(sed -n 's/^AIMEM_DB_ADMIN_URL=//p' "$dir/env")
worker_url=${admin/postgres@/aimem_worker@}
AIMEM_DB_URL=$admin "$build/bin/aimem" migrate >/dev/null
topic="bench.pers.$$"
$py "$repo/scripts/kafka_admin.py" create-topics --bootstrap "$bootstrap" --partitions 4 "$topic" >/dev/null

echo "bench: machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)"

# limit 1: the worker's own CPU work, one core
mapfile -t fixtures < <(ls "$repo"/tests/fixtures/transcripts/[0-9][0-9]_*.json | grep -v '\.expect\.json$')
"$build/bench/personality_cpu" "$repo/workers/lexicons" "${fixtures[@]}" | sed 's/^/bench: limit, /'

# limit 2: PostgreSQL doing the same writes (50 calls per transaction, one connection)
{
	echo '\set c random(1, 100)'
	echo 'BEGIN;'
	echo "SELECT set_config('app.current_tenant', :c::text, true);"
	for _ in $(seq 50); do
		cat <<'SQL'
\set u random(1, 200)
INSERT INTO personality_metrics (customer_id, call_id, user_id, measured_at, openness, conscientiousness, extraversion, agreeableness, neuroticism, formality, directness, detail_orientation, patience, technical_comfort, frustration_level, satisfaction_level, urgency_level, confidence, processor, event_id, source_topic, source_partition, source_offset) VALUES (:c, 'CB' || md5(random()::text), :u::text, now(), 55.1, 48.2, 61.3, 70.4, 40.5, 66.6, 52.7, 58.8, 49.9, 50.1, 30.2, 71.3, 45.4, 0.61, 'bench', gen_random_uuid(), 't', 0, 0) ON CONFLICT (customer_id, call_id) DO NOTHING;
INSERT INTO personality_averages AS a (customer_id, user_id, call_count, avg_openness, avg_conscientiousness, avg_extraversion, avg_agreeableness, avg_neuroticism, avg_formality, avg_directness, avg_detail_orientation, avg_patience, avg_technical_comfort, recent_frustration, recent_satisfaction, recent_urgency, satisfaction_trend, frustration_trend) SELECT :c, :u::text, n, o, o, o, o, o, o, o, o, o, o, rf, rs, rs, CASE WHEN n < 5 THEN 'stable' WHEN rs - bs >= 10 THEN 'improving' ELSE 'stable' END, CASE WHEN n < 5 THEN 'stable' WHEN rf - bf >= 10 THEN 'declining' ELSE 'stable' END FROM (SELECT count(*) AS n, round(sum(w * openness::numeric) / sum(w), 1) AS o, round(sum(w * conscientiousness::numeric) / sum(w), 1) AS o2, round(sum(w * extraversion::numeric) / sum(w), 1) AS o3, round(sum(w * agreeableness::numeric) / sum(w), 1) AS o4, round(sum(w * neuroticism::numeric) / sum(w), 1) AS o5, round(sum(w * formality::numeric) / sum(w), 1) AS o6, round(sum(w * directness::numeric) / sum(w), 1) AS o7, round(sum(w * detail_orientation::numeric) / sum(w), 1) AS o8, round(sum(w * patience::numeric) / sum(w), 1) AS o9, round(sum(w * technical_comfort::numeric) / sum(w), 1) AS o10, round(sum(w * frustration_level::numeric) FILTER (WHERE rn <= 3) / sum(w) FILTER (WHERE rn <= 3), 1) AS rf, round(sum(w * satisfaction_level::numeric) FILTER (WHERE rn <= 3) / sum(w) FILTER (WHERE rn <= 3), 1) AS rs, round(sum(w * urgency_level::numeric) FILTER (WHERE rn <= 3) / sum(w) FILTER (WHERE rn <= 3), 1) AS ru, round(sum(w * frustration_level::numeric) FILTER (WHERE rn > 3) / sum(w) FILTER (WHERE rn > 3), 1) AS bf, round(sum(w * satisfaction_level::numeric) FILTER (WHERE rn > 3) / sum(w) FILTER (WHERE rn > 3), 1) AS bs FROM (SELECT *, greatest(confidence::numeric, 0.01) AS w, row_number() OVER (ORDER BY measured_at DESC, call_id DESC) AS rn FROM personality_metrics WHERE customer_id = :c AND user_id = :u::text) m) g WHERE n > 0 ON CONFLICT (customer_id, user_id) DO UPDATE SET call_count = excluded.call_count, avg_openness = excluded.avg_openness, recent_frustration = excluded.recent_frustration, updated_at = now() WHERE (a.call_count, a.avg_openness) IS DISTINCT FROM (excluded.call_count, excluded.avg_openness);
SQL
	done
	echo 'COMMIT;'
} >"$dir/pgbench.sql"
# warm up (the end-to-end run below has about one call per caller too)
"$pgbin/pgbench" -n -M prepared -c 1 -t 100 -f "$dir/pgbench.sql" "$worker_url" >/dev/null 2>&1
tps=$("$pgbin/pgbench" -n -M prepared -c 1 -T 10 -f "$dir/pgbench.sql" "$worker_url" 2>/dev/null |
	sed -n 's/^tps = \([0-9.]*\).*/\1/p')
echo "bench: per-call writes, PostgreSQL alone (pgbench -M prepared, 2 statements per call, 50 calls/transaction, 1 connection; the worker batches per tenant and beats this): $(awk -v t="$tps" 'BEGIN{printf "%.0f", t * 50}') calls/s"
"$pgbin/psql" -q "$admin" -c "TRUNCATE personality_metrics, personality_averages" >/dev/null

# end to end: N events waiting in the topic, then the worker drains them
$py "$repo/bench/calls.py" produce --bootstrap "$bootstrap" --topic "$topic" --count "$count" --tenants 100 >/dev/null
group="bench-pers-$$"
AIMEM_DB_URL=$worker_url AIMEM_KAFKA_BOOTSTRAP_SERVERS=$bootstrap AIMEM_TOPICS_CALLS=$topic \
	AIMEM_CONSUMER_GROUP=$group AIMEM_HTTP_PORT=0 AIMEM_LEXICONS_DIR=$repo/workers/lexicons \
	"$build/bin/aimem-personality" 2>"$dir/worker.log" &
worker_pid=$!
secs=$($py "$repo/bench/calls.py" wait --db "$admin" --group "$group" --count "$count" --timeout 600)
read -r utime stime < <(awk '{print $14, $15}' "/proc/$worker_pid/stat")
ticks=$(getconf CLK_TCK)
rows=$("$pgbin/psql" -qtA "$admin" -c "SELECT count(*) FROM personality_metrics")
echo "bench: end to end, built-in scorer, $count calls already in Kafka (4 partitions, 100 tenants): $(awk -v n="$count" -v s="$secs" 'BEGIN{printf "%.0f calls/s (%.2f s)", n / s, s}'), $rows metrics rows"
echo "bench: worker CPU per call end to end: $(awk -v u="$utime" -v s="$stime" -v t="$ticks" -v n="$count" 'BEGIN{printf "%.1f us", (u + s) / t / n * 1e6}')"
