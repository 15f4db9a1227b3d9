#!/usr/bin/env bash
# Graph benchmark: `migrate graph` against a Python script (neo4j driver + requests), in one run.
#
#   scripts/bench/graph.sh [NODES=100000] [EDGES=500000] [--no-build]
#
# Fills the Bolt stand-in (Neo4j flavour, on FalkorDB) with a LightRAG-shaped graph, then copies it into the
# Neptune stand-in (HTTPS, on the same FalkorDB) with each tool, resetting the target in between. Wall seconds,
# peak RSS and CPU are each client process's (/usr/bin/time); the stand-ins' and FalkorDB's CPU is not
# counted. Prints a Markdown table with records/s and CPU seconds per 100k records, and writes it to
# .run/bench-graph.md. MIGRATE_BEFORE_BIN (another build, an earlier commit's) adds its copy, in the same run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh
bench_setup "$@"
NODES="${POSITIONAL[0]:-100000}"
EDGES="${POSITIONAL[1]:-500000}"

log "filling the Bolt source with $NODES nodes and $EDGES relationships"
"$PY" scripts/bench/fill_graph.py --url "$BOLT_URL" --user "$BOLT_USER" --password-env BOLT_PASSWORD --nodes "$NODES" --edges "$EDGES" >&2
TOTAL=$((NODES + EDGES))

reset_target() { curl -sf --cacert "$GRAPH_CA" -X POST "$GRAPH_STANDIN_ADMIN/reset" >/dev/null || die "cannot reset the Neptune stand-in"; }
target_count() {
    curl -sf --cacert "$GRAPH_CA" "$NEPTUNE_URL/openCypher" --data-urlencode "query=$1" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["c"])'
}
check_target() {
    local nodes edges
    nodes=$(target_count "MATCH (n) RETURN count(n) AS c")
    edges=$(target_count "MATCH ()-[r]->() RETURN count(r) AS c")
    [[ $nodes == "$NODES" && $edges == "$EDGES" ]] || die "$1 left $nodes nodes and $edges relationships, expected $NODES and $EDGES"
}

reset_target
export MIGRATE_SOURCE_PASSWORD="$BOLT_PASSWORD"
run_tool "migrate graph" "$TOTAL" "$MIGRATE_BIN" graph --source "${BOLT_URL/bolt:\/\//bolt://$BOLT_USER@}" --target "$NEPTUNE_URL" \
    --target-ca-file "$GRAPH_CA" --mapping mappings/lightrag-graph.yaml --batch 500 --concurrency 4 --fresh --checkpoint-dir "$WORK/ckpt" --json
check_target "migrate graph"
if [[ -n ${MIGRATE_BEFORE_BIN:-} ]]; then
    reset_target
    run_tool "migrate graph (before)" "$TOTAL" "$MIGRATE_BEFORE_BIN" graph --source "${BOLT_URL/bolt:\/\//bolt://$BOLT_USER@}" --target "$NEPTUNE_URL" \
        --target-ca-file "$GRAPH_CA" --mapping mappings/lightrag-graph.yaml --batch 500 --concurrency 4 --fresh --checkpoint-dir "$WORK/ckpt-before" --json
    check_target "migrate graph (before)"
fi
reset_target
run_tool "Python (neo4j driver + requests)" "$TOTAL" "$PY" scripts/bench/baseline_graph_py.py --bolt-url "$BOLT_URL" --user "$BOLT_USER" \
    --password-env BOLT_PASSWORD --neptune-url "$NEPTUNE_URL" --ca "$GRAPH_CA" --batch 500
check_target "the Python script"

print_table "Graph: $NODES nodes + $EDGES relationships" \
    "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; Bolt stand-in -> Neptune stand-in (HTTPS), both on FalkorDB, loopback." \
    records | tee .run/bench-graph.md
