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
# .run/bench-vectors.md.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
ROWS=100000
DIM=1536
BUILD=1
positional=()
for arg in "$@"; do
    case "$arg" in
        --no-build) BUILD=0 ;;
        *) positional+=("$arg") ;;
    esac
done
[[ ${#positional[@]} -ge 1 ]] && ROWS="${positional[0]}"
[[ ${#positional[@]} -ge 2 ]] && DIM="${positional[1]}"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

bash scripts/servers.sh start >&2
# shellcheck source=/dev/null
source .run/servers.env
PY="$MIGRATE_VENV/bin/python"
if ((BUILD)); then
    log "swift build -c release --product migrate"
    swift build -c release --product migrate >.run/bench/build-vectors.log 2>&1 || die "build failed: .run/bench/build-vectors.log"
fi
MIGRATE_BIN="${MIGRATE_BIN:-$REPO/.build/release/migrate}"
[[ -x $MIGRATE_BIN ]] || die "migrate binary missing: $MIGRATE_BIN"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

log "filling lightrag_vdb_chunks with $ROWS rows x $DIM dims"
PG_PASSWORD="$PG_PASSWORD" "$PY" scripts/bench/fill_pgvector.py --url "$PG_SOURCE_URL" --password-env PG_PASSWORD \
    --rows "$ROWS" --dim "$DIM" --workspaces ws_a,ws_b >&2

ROWS_OUT=()
# run_tool <name> <rows> <command...>: one timed run; prints its row.
run_tool() {
    local name="$1" rows="$2"
    shift 2
    local tfile="$WORK/time"
    log "running $name"
    /usr/bin/time -f '%e %M %U %S' -o "$tfile" "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; die "$name failed"; }
    read -r seconds rss user sys <<<"$(tail -n 1 "$tfile")"
    local rate cpu
    rate=$(python3 -c "print(round($rows / $seconds))")
    cpu=$(python3 -c "print(round($user + $sys, 2))")
    ROWS_OUT+=("$name|$rows|$seconds|$rate|$(python3 -c "print(round($rss / 1024, 1))")|$cpu")
    log "$name: $seconds s, $rate rows/s, peak RSS $((rss / 1024)) MB, CPU $cpu s"
}

export MIGRATE_SOURCE_PASSWORD="$PG_PASSWORD" MIGRATE_TARGET_API_KEY="$QDRANT_API_KEY"
TOTAL=$((ROWS))
run_tool "read: psql \\copy binary" "$TOTAL" env PG_PASSWORD="$PG_PASSWORD" bash scripts/bench/psql_copy_baseline.sh "$PG_SOURCE_URL" lightrag_vdb_chunks
run_tool "read: migrate vectors --dry-run" "$TOTAL" "$MIGRATE_BIN" vectors --source "$PG_SOURCE_URL" --target "$QDRANT_TARGET_URL" \
    --table lightrag_vdb_chunks --dry-run --batch 500 --json
curl -s -X DELETE -H "api-key: $QDRANT_API_KEY" "$QDRANT_TARGET_URL/collections/lightrag_vdb_chunks" >/dev/null || true
run_tool "copy: migrate vectors" "$TOTAL" "$MIGRATE_BIN" vectors --source "$PG_SOURCE_URL" --target "$QDRANT_TARGET_URL" \
    --mapping mappings/lightrag.yaml --batch 128 --concurrency 4 --fresh --checkpoint-dir "$WORK/ckpt" --json
count=$(curl -s -X POST -H "api-key: $QDRANT_API_KEY" -H 'Content-Type: application/json' -d '{"exact":true}' \
    "$QDRANT_TARGET_URL/collections/lightrag_vdb_chunks/points/count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["count"])')
[[ $count == "$TOTAL" ]] || die "migrate left $count points, expected $TOTAL"
run_tool "copy: Python (psycopg + qdrant-client)" "$TOTAL" env PG_PASSWORD="$PG_PASSWORD" "$PY" scripts/bench/baseline_vectors_py.py \
    --pg-url "$PG_SOURCE_URL" --password-env PG_PASSWORD --qdrant-url "$QDRANT_TARGET_URL" --api-key "$QDRANT_API_KEY" \
    --collection lightrag_vdb_chunks_python --batch 128

{
    echo "### Vectors: $ROWS rows x $DIM dims"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; PostgreSQL 18 + pgvector -> Qdrant stand-in (scripts/standins), loopback."
    echo
    echo "| tool | rows | seconds | rows/s | peak RSS MB | CPU s |"
    echo "|---|---:|---:|---:|---:|---:|"
    for row in "${ROWS_OUT[@]}"; do echo "| ${row//|/ | } |"; done
} | tee .run/bench-vectors.md
