#!/usr/bin/env bash
# The `aimem summarize` benchmark (part of `make bench`): N call.ended events in a JSON Lines
# file (the hand-written transcripts of tests/fixtures/transcripts with fresh ids, as
# bench/calls.py builds them) through the built-in processors on one core (taskset -c 0), with
# the JSON lines written to /dev/null; printed next to the limits measured in the same run on
# the same machine:
#   - the issue's floor: 5,000 calls/s on one core;
#   - the CPU ceiling of the same work without reading or printing: decode + summary +
#     personality in a loop (bench/summarize_cpu).
# No services needed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${AIMEM_BUILD:-$repo/build}
count=${AIMEM_BENCH_CALLS:-20000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

/usr/bin/python3 - "$repo" "$count" >"$dir/events.jsonl" <<'PY'
import json, sys, uuid
sys.path.insert(0, sys.argv[1] + "/bench")
from calls import templates
base = templates()
for i in range(int(sys.argv[2])):
    t = base[i % len(base)]
    print(json.dumps(dict(t, event_id=str(uuid.UUID(int=i + 1)), customer_id=1 + i % 100,
                          user_id=f"555{i % 1000:07d}", call_id=f"CB{i:032x}")))
PY
lex=$repo/workers/lexicons
echo "bench: machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
"$build/bench/summarize_cpu" "$lex" "$dir/events.jsonl" | sed 's/^/bench: limit, /'
start=$(date +%s.%N)
AIMEM_LEXICONS_DIR=$lex taskset -c 0 "$build/bin/aimem" summarize "$dir/events.jsonl" >/dev/null
end=$(date +%s.%N)
awk -v n="$count" -v a="$start" -v b="$end" 'BEGIN{printf "bench: aimem summarize, built-in, %d calls on one core: %.0f calls/s (%.2f s; floor 5000 calls/s)\n", n, n / (b - a), b - a}'
