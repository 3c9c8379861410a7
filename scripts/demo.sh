#!/usr/bin/env bash
# `make demo`: the front door. Installs what is missing, builds, starts a fresh local PostgreSQL
# and Kafka (scripts/dev), migrates, starts the five programs, publishes a sample through
# aimem-ingest (scripts/demo.py: 3 tenants, 24 callers, 102 calls, a few memories), waits
# until the workers stored it, prints one caller's context and the curl commands to try more,
# then serves until Ctrl-C and shuts everything down (SIGTERM to each program, scripts/dev down).
#
#   scripts/demo.sh                   interactive; everything in .run/demo (services, *.log)
#   scripts/demo.sh --check           `make demo-check`: the same in a temporary folder, exits 0
#                                     when the context came back right, stops everything
#   options: --dir DIR (state folder), --no-setup (skip deps.sh and make; AIMEM_BUILD names
#            the build folder), --keep (with --check: keep DIR even on success)
#
# Every run starts from empty services (the demo's own, never .run/dev or a system instance),
# so the check is deterministic. Ports are free ones chosen by the programs (port 0).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
python=${PYTHON:-/usr/bin/python3}

check=0 setup=1 keep=0 dir=
while [ $# -gt 0 ]; do
	case $1 in
	--check) check=1 ;;
	--no-setup) setup=0 ;;
	--keep) keep=1 ;;
	--dir) dir=$2 && shift ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' && exit 0 ;;
	*) echo "demo: unknown option $1" >&2 && exit 2 ;;
	esac
	shift
done
temp_dir=0
if [ -z "$dir" ]; then
	if [ $check -eq 1 ]; then
		dir=$(mktemp -d /tmp/aimem-demo.XXXXXX) && temp_dir=1
	else
		dir=$repo/.run/demo
	fi
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
chmod 755 "$dir" # the postgres user runs the cluster inside
build=${AIMEM_BUILD:-$repo/build}
say() { printf 'demo: %s\n' "$*" >&2; }

if [ $setup -eq 1 ]; then
	if ! bash scripts/deps.sh --check >/dev/null 2>&1; then
		say "installing dependencies (scripts/deps.sh)"
		bash scripts/deps.sh
	fi
	make -s all
fi

names=() pids=()
stopped=0
# SIGTERM each program (newest first), wait for each within a deadline, then stop the services.
# Returns 1 when a program did not exit 0.
shutdown() {
	[ $stopped -eq 1 ] && return 0
	stopped=1
	local i rc=0 st deadline
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
	done
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		deadline=$((SECONDS + 30))
		while kill -0 "${pids[i]}" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
		if kill -0 "${pids[i]}" 2>/dev/null; then
			say "${names[i]} still running after 30s, killing it"
			kill -KILL "${pids[i]}" 2>/dev/null || true
		fi
		st=0 && wait "${pids[i]}" 2>/dev/null || st=$?
		if [ $st -ne 0 ]; then
			say "${names[i]} exited $st (log: $dir/${names[i]}.log)"
			rc=1
		fi
	done
	scripts/dev down --dir "$dir" all >>"$dir/dev.log" 2>&1 || rc=1
	[ $rc -eq 0 ] && say "stopped: every program exited 0, PostgreSQL and Kafka are down"
	return $rc
}

on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	shutdown || rc=1
	if [ $rc -ne 0 ]; then
		for n in "${names[@]}"; do
			echo "--- $dir/$n.log (tail)" >&2
			tail -n 15 "$dir/$n.log" >&2 || true
		done
		say "failed; everything is in $dir"
	elif [ $temp_dir -eq 1 ] && [ $keep -eq 0 ]; then
		rm -rf "$dir"
	fi
	exit $rc
}
trap on_exit EXIT
trap 'exit 0' INT TERM # Ctrl-C: a clean stop is a success

# Fresh services: the demo's previous data would change what it shows.
scripts/dev down --dir "$dir" all >"$dir/dev.log" 2>&1 || true
rm -rf "$dir/pg" "$dir/kafka" "$dir"/*.log "$dir/env"
say "starting PostgreSQL and Kafka in $dir"
scripts/dev up --dir "$dir" all >>"$dir/dev.log" 2>&1 || {
	cat "$dir/dev.log" >&2
	exit 1
}
set -a
# shellcheck disable=SC1091
. "$dir/env"
set +a
pg_base=postgresql://%s@127.0.0.1:$AIMEM_PG_PORT/aimem
AIMEM_DB_URL=$AIMEM_DB_ADMIN_URL "$build/bin/aimem" migrate --dir migrations >"$dir/migrate.log" 2>&1 || {
	cat "$dir/migrate.log" >&2
	exit 1
}

# The HS256 secret ingest and query share (ChatStack's JWT_SECRET_KEY), read from a file.
secret_file=$dir/jwt_secret
(umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n' >"$secret_file")

# start NAME DB_ROLE: runs build/bin/NAME in its own session (Ctrl-C reaches only this script,
# which then stops the programs in order), log in DIR/NAME.log.
start() {
	local name=$1 role=$2
	local -a env=(-u AIMEM_CONFIG AIMEM_HTTP_BIND=127.0.0.1 AIMEM_HTTP_PORT=0 AIMEM_LOG_LEVEL=info
		AIMEM_KAFKA_BOOTSTRAP_SERVERS="$AIMEM_KAFKA_BOOTSTRAP_SERVERS")
	[ -n "$role" ] && env+=(AIMEM_DB_URL="$(printf "$pg_base" "$role")")
	case $name in
	aimem-ingest | aimem-query) env+=(AIMEM_AUTH_JWT_SECRET_FILE="$secret_file") ;;
	aimem-summarizer | aimem-personality) env+=(AIMEM_LEXICONS_DIR="$repo/workers/lexicons") ;;
	esac
	env "${env[@]}" setsid "$build/bin/$name" >"$dir/$name.log" 2>&1 &
	names+=("$name")
	pids+=($!)
}

# port_of NAME: waits for NAME's "ready" line, prints its HTTP port.
port_of() {
	local name=$1 log=$dir/$1.log deadline=$((SECONDS + 30)) port
	while [ $SECONDS -lt $deadline ]; do
		if grep -q '\bready\b' "$log" 2>/dev/null; then
			port=$(sed -n 's/.*http: listening .*port=\([0-9]*\).*/\1/p; s/.*\bready\b.* port=\([0-9]*\).*/\1/p' "$log" | head -n 1)
			[ -n "$port" ] && echo "$port" && return 0
		fi
		for i in "${!names[@]}"; do
			if [ "${names[i]}" = "$name" ] && ! kill -0 "${pids[i]}" 2>/dev/null; then
				say "$name exited before it was ready"
				return 1
			fi
		done
		sleep 0.1
	done
	say "$name not ready within 30s"
	return 1
}

start aimem-memories aimem_worker
start aimem-summarizer aimem_worker
start aimem-personality aimem_worker
start aimem-query aimem_reader
start aimem-ingest ""
declare -A port
for n in "${names[@]}"; do
	port[$n]=$(port_of "$n")
done
ingest=http://127.0.0.1:${port[aimem-ingest]}
query=http://127.0.0.1:${port[aimem-query]}
say "programs ready: ingest ${port[aimem-ingest]}, query ${port[aimem-query]}, metrics of the workers: memories ${port[aimem-memories]}, summarizer ${port[aimem-summarizer]}, personality ${port[aimem-personality]}"

args=(run --ingest "$ingest" --query "$query" --secret-file "$secret_file" --db-url "$AIMEM_DB_ADMIN_URL")
[ $check -eq 1 ] && args+=(--check)
"$python" scripts/demo.py "${args[@]}"

if [ $check -eq 1 ]; then
	exit 0 # on_exit stops everything and reports how the programs exited
fi

token=$("$python" scripts/demo.py token --secret-file "$secret_file" --customer 101)
cat <<MSG

demo: serving. Programs' logs: $dir/*.log. PostgreSQL: $AIMEM_DB_ADMIN_URL, Kafka: $AIMEM_KAFKA_BOOTSTRAP_SERVERS
Try (a token of tenant 101, valid 12 hours; other tenants: 202 and 303):

  TOKEN=$token
  curl -s -H "Authorization: Bearer \$TOKEN" '$query/v3/callers/4155550100/context?summaries=3&format=text'
  curl -s -H "Authorization: Bearer \$TOKEN" '$query/v3/callers?limit=5'
  curl -s -H "Authorization: Bearer \$TOKEN" '$query/v3/search?q=discount&limit=3'
  curl -s -H "Authorization: Bearer \$TOKEN" -d '{"user_id":"4155550100"}' $query/v2/context/enriched
  curl -s -H "Authorization: Bearer \$TOKEN" '$query/v1/memories/user/4155550100'
  curl -s -H "Authorization: Bearer \$TOKEN" -d '{"user_id":"4155550100","thread_id":"CAdemo1","conversation_history":[["user","Hi, this is Kelly Nguyen, I want to add my son as a driver."],["assistant","Sure, Kelly."]]}' $ingest/v2/process-call
  curl -s $query/metrics | head
  $python scripts/demo.py token --secret-file $secret_file --customer 202   # another tenant's token
  scripts/dev psql --dir $dir -c 'select user_id, preferred_name, total_calls from caller_profiles limit 5'

Ctrl-C stops everything.
MSG
# Serve until Ctrl-C (the INT trap) or until a program dies.
while :; do
	for i in "${!pids[@]}"; do
		if ! kill -0 "${pids[i]}" 2>/dev/null; then
			say "${names[i]} stopped unexpectedly (log: $dir/${names[i]}.log)"
			exit 1
		fi
	done
	sleep 1
done
