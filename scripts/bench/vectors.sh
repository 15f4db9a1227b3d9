#!/usr/bin/env bash
# Vectors benchmark: `migrate vectors` against baselines, in one run.
#
#   scripts/bench/vectors.sh [ROWS=100000] [DIM=1536] [--no-build]
#
# Fills LightRAG's chunks table (two workspaces, Unicode content) in the pgvector server of scripts/servers.sh,
# then measures:
#   read   psql's own binary \copy of the table to /dev/null, against `migrate vectors --dry-run` (reads with
#          binary COPY, decodes every vector and payload, checksums; writes nothing)
#   copy   the table into the Qdrant stand-in in LightRAG's layout: `migrate vectors --mapping
#          mappings/lightrag.yaml` against a Python script (psycopg + qdrant-client, REST), same stand-in
# Wall seconds, peak RSS and CPU are each client process's, from /usr/bin/time. The stand-in (one Python
# process) caps what any client can upsert; its CPU is not counted. Prints a Markdown table and writes it to
# .run/bench-vectors.md. MIGRATE_BEFORE_BIN (another build, an earlier commit's) adds its copy, in the same run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh
bench_setup "$@"
ROWS="${POSITIONAL[0]:-100000}"
DIM="${POSITIONAL[1]:-1536}"

log "filling lightrag_vdb_chunks with $ROWS rows x $DIM dims"
PG_PASSWORD="$PG_PASSWORD" "$PY" scripts/bench/fill_pgvector.py --url "$PG_SOURCE_URL" --password-env PG_PASSWORD \
    --rows "$ROWS" --dim "$DIM" --workspaces ws_a,ws_b >&2


export MIGRATE_SOURCE_PASSWORD="$PG_PASSWORD" MIGRATE_TARGET_API_KEY="$QDRANT_API_KEY"
TOTAL=$ROWS
run_tool "read: psql \\copy binary" "$TOTAL" env PG_PASSWORD="$PG_PASSWORD" bash scripts/bench/psql_copy_baseline.sh "$PG_SOURCE_URL" lightrag_vdb_chunks
run_tool "read: migrate vectors --dry-run" "$TOTAL" "$MIGRATE_BIN" vectors --source "$PG_SOURCE_URL" --target "$QDRANT_TARGET_URL" \
    --table lightrag_vdb_chunks --dry-run --batch 500 --json
curl -s -X DELETE -H "api-key: $QDRANT_API_KEY" "$QDRANT_TARGET_URL/collections/lightrag_vdb_chunks" >/dev/null || true
run_tool "copy: migrate vectors" "$TOTAL" "$MIGRATE_BIN" vectors --source "$PG_SOURCE_URL" --target "$QDRANT_TARGET_URL" \
    --mapping mappings/lightrag.yaml --batch 128 --concurrency 4 --fresh --checkpoint-dir "$WORK/ckpt" --json
count=$(curl -s -X POST -H "api-key: $QDRANT_API_KEY" -H 'Content-Type: application/json' -d '{"exact":true}' \
    "$QDRANT_TARGET_URL/collections/lightrag_vdb_chunks/points/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["count"])')
[[ $count == "$TOTAL" ]] || die "migrate left $count points, expected $TOTAL"
if [[ -n ${MIGRATE_BEFORE_BIN:-} ]]; then
    curl -s -X DELETE -H "api-key: $QDRANT_API_KEY" "$QDRANT_TARGET_URL/collections/lightrag_vdb_chunks" >/dev/null || true
    run_tool "copy: migrate vectors (before)" "$TOTAL" "$MIGRATE_BEFORE_BIN" vectors --source "$PG_SOURCE_URL" --target "$QDRANT_TARGET_URL" \
        --mapping mappings/lightrag.yaml --batch 128 --concurrency 4 --fresh --checkpoint-dir "$WORK/ckpt-before" --json
fi
run_tool "copy: Python (psycopg + qdrant-client)" "$TOTAL" env PG_PASSWORD="$PG_PASSWORD" "$PY" scripts/bench/baseline_vectors_py.py \
    --pg-url "$PG_SOURCE_URL" --password-env PG_PASSWORD --qdrant-url "$QDRANT_TARGET_URL" --api-key "$QDRANT_API_KEY" \
    --collection lightrag_vdb_chunks_python --batch 128

print_table "Vectors: $ROWS rows x $DIM dims" \
    "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; PostgreSQL 18 + pgvector -> Qdrant stand-in (scripts/standins), loopback." \
    rows | tee .run/bench-vectors.md
