#!/usr/bin/env bash
# The built-in embedder's cost (part of `make bench`, issue 15): lib/minilm (all-MiniLM-L6-v2 on
# OpenBLAS) through bench/embed_cpu, on one core (taskset -c 0) for the per-passage figures,
# then two threads on two cores; each figure printed next to the ceiling measured in the same
# run (a bare sgemm on the encoder's own shape). Needs the model (scripts/deps.sh puts it in
# $AIMEM_CACHE/all-minilm-l6-v2; AIMEM_MINILM_DIR overrides); no services.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${AIMEM_BUILD:-$repo/build}
dir=${AIMEM_MINILM_DIR:-${AIMEM_CACHE:-$HOME/.cache/ai-memory}/all-minilm-l6-v2}
if [ ! -f "$dir/model.safetensors" ]; then
	echo "bench: embed: no model in $dir (scripts/deps.sh fetches it); skipped"
	exit 0
fi
echo "bench: machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
taskset -c 0 "$build/bench/embed_cpu" "$dir" | sed 's/^/bench: /'
"$build/bench/embed_cpu" "$dir" threads | grep 'two threads' | sed 's/^/bench: /'
