#!/bin/sh
# Long libFuzzer runs, at most JOBS targets at a time (the CI machine has 2 cores):
#   tests/fuzz/long.sh SECONDS target...
# Logs and crashers go to build/fuzz/long/<target>.log and build/fuzz/long/<target>/;
# a summary line per target (executions, exit status) to build/fuzz/long/summary.txt.
set -u
secs=${1:?seconds}
shift
jobs=${JOBS:-2}
out=build/fuzz/long
mkdir -p "$out"
run_one() {
	t=$1
	mkdir -p "build/fuzz/corpus-$t" "$out/$t"
	start=$(date +%s)
	build/fuzz/"$t" -max_total_time="$secs" -timeout=5 -print_final_stats=1 \
		-artifact_prefix="$out/$t/" "build/fuzz/corpus-$t" "tests/fuzz/seeds/$t" \
		>"$out/$t.log" 2>&1
	rc=$?
	end=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log")
	echo "$t rc=$rc secs=$((end - start)) execs=${execs:-?} corpus=$(ls "build/fuzz/corpus-$t" | wc -l) artifacts=$(ls "$out/$t" | wc -l)" \
		>>"$out/summary.txt"
}
n=0
for t in "$@"; do
	run_one "$t" &
	n=$((n + 1))
	if [ "$n" -ge "$jobs" ]; then
		wait
		n=0
	fi
done
wait
