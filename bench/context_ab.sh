#!/usr/bin/env bash
# A/B of two aimem-query binaries on bench/query.sh's database (run query.sh first: it seeds and
# rebuilds the stored contexts): OLD (argument 1, e.g. the per-read derivation of 305a8e0^:
#   git archive 305a8e0^ | tar -x -C /tmp/old && make -C /tmp/old build/bin/aimem-query)
# against build/bin/aimem-query, alternating on the same
# machine minutes, 3 rounds of 10 s closed loop (64 connections) per route. Tenants and callers as
# query.sh's AIMEM_BENCH_TENANTS/_CALLERS (default here 20 x 1000).
set -euo pipefail
old=${1:?usage: bench/context_ab.sh OLD_AIMEM_QUERY}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$repo/.run/bench-query
build=${AIMEM_BUILD:-$repo/build}
tenants=${AIMEM_BENCH_TENANTS:-20}
callers=${AIMEM_BENCH_CALLERS:-1000}
tmp=$(mktemp -d)
"$repo/scripts/dev" up --dir "$dir" pg >/dev/null
port=$(sed -n 's/^AIMEM_PG_PORT=//p' "$dir/env")
reader="postgresql://aimem_reader@127.0.0.1:$port/aimem_bench"
secret="bench-secret-ab-0123456789abcdef0123456789"
start() { AIMEM_HTTP_PORT=0 AIMEM_AUTH_JWT_SECRET=$secret AIMEM_DB_URL=$reader AIMEM_HTTP_THREADS=4 "$1" 2>"$2" >/dev/null & echo $!; }
waitport() { for _ in $(seq 400); do p=$(sed -n 's/.* ready .*port=\([0-9]*\).*/\1/p' "$1" | head -1); [ -n "$p" ] && { echo "$p"; return; }; sleep 0.05; done; }
old_pid=$(start "$old" "$tmp/old.log")
new_pid=$(start $build/bin/aimem-query "$tmp/new.log")
trap 'kill $old_pid $new_pid 2>/dev/null; "$repo/scripts/dev" down --dir "$dir" pg >/dev/null 2>&1; rm -rf "$tmp"' EXIT
op=$(waitport "$tmp/old.log"); np=$(waitport "$tmp/new.log")
for v in old new; do
	p=$op; [ $v = new ] && p=$np
	for r in context enriched; do
		/usr/bin/python3 $repo/bench/query_fixtures.py requests "$secret" "$p" "$tenants" "$callers" 20000 $r >$tmp/$v-$r.req
	done
	$build/bench/loadgen --port $p --connections 64 --requests $tmp/$v-context.req --seconds 3 >/dev/null
done
rate() { sed -n "s|.*= \([0-9]*\) req/s.*|\1|p"; }
for round in 1 2 3; do
	for r in context enriched; do
		for v in old new; do
			p=$op; [ $v = new ] && p=$np
			out=$($build/bench/loadgen --port $p --connections 64 --requests $tmp/$v-$r.req --seconds 10)
			echo "ab: round $round $r $v $(echo "$out" | rate) req/s | $out"
		done
	done
	echo "ab: round $round healthz(new) $($build/bench/loadgen --port $np --method GET --path /healthz --seconds 5 | rate) req/s"
done
