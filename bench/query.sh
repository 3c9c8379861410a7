#!/usr/bin/env bash
# The query benchmark (part of `make bench`): the live-call context read of aimem-query,
# GET /v3/callers/{id}/context?summaries=5 and POST /v2/context/enriched, for random callers
# of random tenants with valid tokens over 64 keep-alive connections, next to the limits
# measured in the same run on the same machine and database: pgbench running the very same
# statement (bench/query_sql prints it) as aimem_reader in the same one-round-trip
# transaction, and the HTTP ceiling of the same server and load tool (GET /healthz).
#
# Dataset (default 100 tenants x 1,000 callers x 10 calls = 1M summaries, with profiles and
# personality averages; AIMEM_BENCH_TENANTS / _CALLERS / _CALLS change it) in its own
# PostgreSQL in .run/bench-query, kept between runs (seeding takes minutes; a dataset of the
# right size is reused), stopped at the end. Summaries carry no embeddings: the context read
# does not use them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${AIMEM_BUILD:-$repo/build}
dir=$repo/.run/bench-query
py=/usr/bin/python3
psql=/usr/lib/postgresql/15/bin/psql
seconds=${AIMEM_BENCH_SECONDS:-10}
tenants=${AIMEM_BENCH_TENANTS:-100}
callers=${AIMEM_BENCH_CALLERS:-1000}
calls=${AIMEM_BENCH_CALLS:-10}
threads=${AIMEM_BENCH_THREADS:-4}
secret="bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

cleanup() {
	[ -n "${query_pid:-}" ] && kill "$query_pid" 2>/dev/null && wait "$query_pid" 2>/dev/null
	"$repo/scripts/dev" down --dir "$dir" pg >/dev/null 2>&1 || true
}
trap cleanup EXIT

mkdir -p "$dir"
chmod 755 "$dir"
"$repo/scripts/dev" up --dir "$dir" pg >/dev/null
port=$(sed -n 's/^AIMEM_PG_PORT=//p' "$dir/env")
admin="postgresql://postgres@127.0.0.1:$port/aimem_bench"
reader="postgresql://aimem_reader@127.0.0.1:$port/aimem_bench"
want=$((tenants * callers * calls))
have=$($psql -XAtq "postgresql://postgres@127.0.0.1:$port/postgres" -c \
	"SELECT count(*) FROM pg_database WHERE datname = 'aimem_bench'")
if [ "$have" = 1 ]; then
	have=$($psql -XAtq "$admin" -c "SELECT count(*) FROM call_summaries" 2>/dev/null || echo 0)
fi
if [ "$have" != "$want" ]; then
	echo "bench: seeding $tenants tenants x $callers callers x $calls calls (once; kept in $dir)"
	$psql -XAtq "postgresql://postgres@127.0.0.1:$port/postgres" \
		-c "DROP DATABASE IF EXISTS aimem_bench" -c "CREATE DATABASE aimem_bench"
	AIMEM_DB_URL=$admin "$build/bin/aimem" migrate --dir "$repo/migrations" >/dev/null
	t0=$(date +%s)
	$py "$repo/bench/query_fixtures.py" seed-sql "$tenants" "$callers" "$calls" |
		$psql -XAq -v ON_ERROR_STOP=1 "$admin" >/dev/null
	echo "bench: seeded in $(($(date +%s) - t0)) s"
fi
# the stored contexts (caller_context): the fixtures write the tables directly, so the rows the
# workers would have written are derived once by aimem context rebuild (kept with the dataset)
worker="postgresql://aimem_worker@127.0.0.1:$port/aimem_bench"
stored=$($psql -XAtq "$admin" -c "SELECT count(*) FROM caller_context")
if [ "$stored" != $((tenants * callers)) ]; then
	t0=$(date +%s)
	for t in $(seq "$tenants"); do
		AIMEM_DB_URL=$worker "$build/bin/aimem" context rebuild --customer "$t" >/dev/null
	done
	echo "bench: aimem context rebuild of $((tenants * callers)) callers: $(($(date +%s) - t0)) s"
fi
echo "bench: machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)"
echo "bench: dataset: $($psql -XAtq "$admin" -c "SELECT count(DISTINCT customer_id) || ' tenants, ' || count(*) || ' summaries, ' || pg_size_pretty(pg_total_relation_size('call_summaries')) FROM call_summaries")"

# the limits: pgbench in the same pipelined transaction as aimem-query, as aimem_reader: the
# stored context's read (what the routes run), a bare primary-key lookup of the same row (the
# physical limit of the design) and the old per-read derivation (the design it replaced)
for kind in stored pk derived; do
	if [ $kind = derived ]; then "$build/bench/query_sql"; else "$build/bench/query_sql" $kind; fi >"$dir/$kind.sql"
	$py "$repo/bench/query_fixtures.py" pgbench-script "$dir/$kind.sql" "$tenants" "$callers" >"$dir/$kind.pgb"
done
pgb() { pgbench -n -M prepared -c "$1" -j 2 -T "$seconds" -f "$dir/$2.pgb" "$reader" 2>&1; }
tps() { sed -n 's/^tps = \([0-9.]*\).*/\1/p' | cut -d. -f1; }
pgb 4 stored >/dev/null # warm the cache
pg_tps=$(pgb "$threads" stored | tps)
pk_tps=$(pgb "$threads" pk | tps)
old_tps=$(pgb "$threads" derived | tps)
echo "bench: pgbench, $threads connections: stored context read $pg_tps tx/s, primary-key select-only $pk_tps tx/s, old derivation $old_tps tx/s"

AIMEM_HTTP_PORT=0 AIMEM_AUTH_JWT_SECRET=$secret AIMEM_DB_URL=$reader AIMEM_HTTP_THREADS=$threads \
	"$build/bin/aimem-query" 2>"$dir/query.log" &
query_pid=$!
hport=
for _ in $(seq 400); do # poll for the ready line (20 s at most)
	hport=$(sed -n 's/.* ready .*port=\([0-9]*\).*/\1/p' "$dir/query.log" 2>/dev/null | head -1)
	[ -n "$hport" ] && break
	kill -0 "$query_pid" 2>/dev/null || break
	sleep 0.05
done
[ -n "$hport" ] || { echo "bench: aimem-query did not start"; cat "$dir/query.log"; exit 1; }

$py "$repo/bench/query_fixtures.py" requests "$secret" "$hport" "$tenants" "$callers" 20000 context >"$dir/context.req"
$py "$repo/bench/query_fixtures.py" requests "$secret" "$hport" "$tenants" "$callers" 20000 enriched >"$dir/enriched.req"
lg="$build/bench/loadgen --port $hport --connections 64"
$lg --requests "$dir/context.req" --seconds 3 >/dev/null # warm up: connections and plans
echo "bench: HTTP ceiling, GET /healthz: $($lg --method GET --path /healthz --seconds 5 | sed 's/^loadgen: //')"
# the server's own CPU (user + system ticks of /proc/PID/stat) per request of a closed loop,
# and PostgreSQL's (every postgres process of the cluster, the bench's only client then)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pg_ticks() { cat /proc/[0-9]*/stat 2>/dev/null | awk '$2 == "(postgres)" {t += $14 + $15} END {print t + 0}'; }
cpu_us() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.0f", 1e6*t/hz/n}'; }
served() { sed -n 's/^loadgen: \([0-9]*\) requests.*/\1/p'; }
t0=$(ticks "$query_pid") p0=$(pg_ticks)
ctx=$($lg --requests "$dir/context.req" --seconds "$seconds")
t1=$(ticks "$query_pid") p1=$(pg_ticks)
echo "bench: GET /v3/callers/{id}/context?summaries=5, closed loop: $ctx"
echo "bench: CPU per context read: aimem-query $(cpu_us $((t1 - t0)) "$(echo "$ctx" | served)") us (issue 16 target <= 40 us), PostgreSQL $(cpu_us $((p1 - p0)) "$(echo "$ctx" | served)") us"
t0=$(ticks "$query_pid")
enr=$($lg --requests "$dir/enriched.req" --seconds "$seconds")
t1=$(ticks "$query_pid")
echo "bench: POST /v2/context/enriched, closed loop: $enr"
echo "bench: CPU per enriched read: aimem-query $(cpu_us $((t1 - t0)) "$(echo "$enr" | served)") us"
rate() { sed -n "s|.*= \([0-9]*\) req/s.*|\1|p"; }
ctx_rate=$(echo "$ctx" | rate)
paced_at=$((ctx_rate / 2))
paced=$($lg --requests "$dir/context.req" --seconds "$seconds" --rate "$paced_at")
echo "bench: GET /v3/callers/{id}/context, $paced_at/s offered (half the closed-loop rate): $paced"
p1k=$($lg --requests "$dir/context.req" --connections 8 --seconds "$seconds" --rate 1000 --floor /healthz)
echo "bench: GET /v3/callers/{id}/context, 1000/s offered over 8 connections, after its floor:"
echo "$p1k" | sed 's/^/bench:   /'
penr=$($lg --requests "$dir/enriched.req" --seconds "$seconds" --rate "$paced_at")
echo "bench: POST /v2/context/enriched, $paced_at/s offered: $penr"
rss=$(awk '/VmHWM/{print $2}' "/proc/$query_pid/status")
echo "bench: aimem-query peak RSS $((rss / 1024)) MiB (target <= 64 MiB)"
p99() { sed -n 's/.* p99 \([0-9.]*\).*/\1/p'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.0f%%", 100*a/b}'; }
echo "bench: context/pgbench primary-key select-only = $ctx_rate/$pk_tps = $(pct "$ctx_rate" "$pk_tps") (target >= 60%); stored read/pk in pgbench = $(pct "$pg_tps" "$pk_tps"); stored/old derivation in pgbench = $(pct "$pg_tps" "$old_tps"); p99 at $paced_at/s = $(echo "$paced" | p99) ms, closed loop (64 in flight) = $(echo "$ctx" | p99) ms"
