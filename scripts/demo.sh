#!/usr/bin/env bash
# `make demo`: the front door. Installs what is missing, builds, starts the local PostgreSQL
# and Kafka (scripts/dev, in .run/dev), applies the migrations with `aimem migrate`, and
# prints how to reach everything. The services keep running until `make demo-down`.
#
# Today the demo stops at a migrated, empty database and a broker with the design's topics;
# the pipeline programs (ingest, workers, query API) join it as they land.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if ! bash scripts/deps.sh --check >/dev/null 2>&1; then
	echo "demo: installing dependencies (scripts/deps.sh)" >&2
	bash scripts/deps.sh
fi
make -s all
scripts/dev up all >/dev/null
set -a
# shellcheck disable=SC1091
. .run/dev/env
set +a
AIMEM_DB_URL=$AIMEM_DB_ADMIN_URL build/bin/aimem migrate --dir migrations

cat <<MSG

demo: PostgreSQL (pgvector, RLS schema) at $AIMEM_DB_ADMIN_URL
demo: Kafka at $AIMEM_KAFKA_BOOTSTRAP_SERVERS with topics aimem.calls.v1 and aimem.memories.v1

Try:
  scripts/dev psql -c '\\dt'                    # the tables
  scripts/dev psql -c 'select * from schema_migrations'
  scripts/dev status                           # what runs, on which ports
  make demo-down                               # stop everything
MSG
