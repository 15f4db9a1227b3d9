#!/usr/bin/env bash
# Super node: one node with DEGREE relationships (500,000 by default) moves with memory bounded by the batch.
#
#   scripts/bench/supernode.sh [DEGREE=500000] [--no-build]
#
# Starts a private Bolt stand-in (this checkout's, Neo4j flavour) over its own FalkorDB graph, makes a hub
# node with DEGREE DIRECTED relationships to 1,000 leaves, and runs `migrate graph --export-csv` on it (the
# bulk-load CSV writer: no target server in the way), with /usr/bin/time. Prints the wall time, peak RSS and
# the records the stand-in examined; MIGRATE_BEFORE_BIN (another build) adds its row, in the same run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh
# The servers of `scripts/servers.sh` (FalkorDB); already running when .run/servers.env is sourced.
if [[ -z ${FALKORDB_PORT:-} ]]; then
    bench_setup "$@"
else
    POSITIONAL=()
    build=1
    for arg in "$@"; do [[ $arg == --no-build ]] && build=0 || POSITIONAL+=("$arg"); done
    PY="$MIGRATE_VENV/bin/python"
    if ((build)); then
        log "swift build -c release --product migrate"
        swift build -c release --product migrate >&2 || die "build failed"
    fi
    MIGRATE_BIN="${MIGRATE_BIN:-$REPO/.build/release/migrate}"
    WORK="$(mktemp -d)"
    ROWS_OUT=()
fi
DEGREE="${POSITIONAL[0]:-500000}"
GRAPH="supernode_$$"

"$PY" scripts/graph/bolt_standin.py --flavor neo4j --falkordb-port "$FALKORDB_PORT" --graph "$GRAPH" --port-file "$WORK/port" \
    2>"$WORK/standin.log" &
STANDIN=$!
trap 'kill -9 $STANDIN 2>/dev/null; redis-cli -p "$FALKORDB_PORT" GRAPH.DELETE "$GRAPH" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [[ -s $WORK/port ]] && break; sleep 0.1; done
PORT="$(cat "$WORK/port")"

log "filling $GRAPH: a hub with $DEGREE relationships to 1,000 leaves"
falkor() { redis-cli -p "$FALKORDB_PORT" GRAPH.QUERY "$GRAPH" "$1" >/dev/null; }
falkor "UNWIND range(0, 999) AS i CREATE (:base:person {entity_id: 'leaf ' + toString(i), entity_type: 'person', i: i})"
falkor "CREATE (:base:organization {entity_id: 'hub', entity_type: 'organization', i: -1})"
falkor "CREATE INDEX FOR (n:base) ON (n.i)"
falkor "MATCH (h:base {i: -1}) UNWIND range(0, $((DEGREE - 1))) AS j MATCH (l:base {i: j % 1000}) \
CREATE (h)-[:DIRECTED {weight: 1.5, description: 'hub to leaf ' + toString(j), keywords: 'k', source_id: 'chunk-' + toString(j)}]->(l)"

supernode_run() {
    local name="$1" bin="$2"
    bolt() { "$PY" - "$PORT" "$1" <<'EOF'
import sys
from neo4j import GraphDatabase
with GraphDatabase.driver(f"bolt://127.0.0.1:{sys.argv[1]}", auth=("neo4j", "test-pass")) as driver, driver.session() as session:
    print(session.run(sys.argv[2]).single()[0])
EOF
    }
    bolt "CALL standin.resetExamined()" >/dev/null 2>&1 || true
    rm -rf "$WORK/csv"
    MIGRATE_SOURCE_PASSWORD=test-pass run_tool "$name" "$((DEGREE + 1001))" "$bin" graph --source "bolt://neo4j@127.0.0.1:$PORT" \
        --target "https://127.0.0.1:8182" --export-csv "$WORK/csv" --mapping mappings/lightrag-graph.yaml --batch 500 --fresh \
        --checkpoint-dir "$WORK/ckpt-$name" --json
    log "$name: the stand-in examined $(bolt 'CALL standin.examined()') records"
}
supernode_run "migrate graph" "$MIGRATE_BIN"
[[ -n ${MIGRATE_BEFORE_BIN:-} ]] && supernode_run "migrate graph (before)" "$MIGRATE_BEFORE_BIN"
print_table "Super node: one node with $DEGREE relationships" \
    "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; private Bolt stand-in -> bulk-load CSV files, batch 500." records
