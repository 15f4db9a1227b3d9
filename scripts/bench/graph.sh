#!/usr/bin/env bash
# Graph benchmark: `migrate graph` against a Python script (neo4j driver + requests), in one run.
#
#   scripts/bench/graph.sh [NODES=100000] [EDGES=500000] [--no-build]
#
# Fills the Bolt stand-in (Neo4j flavour, on FalkorDB) with a LightRAG-shaped graph, then copies it into the
# Neptune stand-in (HTTPS, on the same FalkorDB) with each tool, resetting the target in between. Wall seconds,
# peak RSS and CPU are each client process's (/usr/bin/time); the stand-ins' and FalkorDB's CPU is not
# counted. Prints a Markdown table with records/s and CPU seconds per 100k records, and writes it to
# .run/bench-graph.md.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
NODES=100000
EDGES=500000
BUILD=1
positional=()
for arg in "$@"; do
    case "$arg" in
        --no-build) BUILD=0 ;;
        *) positional+=("$arg") ;;
    esac
done
[[ ${#positional[@]} -ge 1 ]] && NODES="${positional[0]}"
[[ ${#positional[@]} -ge 2 ]] && EDGES="${positional[1]}"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

bash scripts/servers.sh start >&2
# shellcheck source=/dev/null
source .run/servers.env
PY="$MIGRATE_VENV/bin/python"
if ((BUILD)); then
    log "swift build -c release --product migrate"
    mkdir -p .run/bench
    swift build -c release --product migrate >.run/bench/build-graph.log 2>&1 || die "build failed: .run/bench/build-graph.log"
fi
MIGRATE_BIN="${MIGRATE_BIN:-$REPO/.build/release/migrate}"
[[ -x $MIGRATE_BIN ]] || die "migrate binary missing: $MIGRATE_BIN"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

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

ROWS_OUT=()
run_tool() {  # run_tool <name> <command...>
    local name="$1"
    shift
    log "running $name"
    /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { tail -20 "$WORK/err" >&2; die "$name failed"; }
    read -r seconds rss user sys <<<"$(tail -n 1 "$WORK/time")"
    local rate cpu per
    rate=$(python3 -c "print(round($TOTAL / $seconds))")
    cpu=$(python3 -c "print(round($user + $sys, 2))")
    per=$(python3 -c "print(round(($user + $sys) * 100000 / $TOTAL, 2))")
    ROWS_OUT+=("$name|$TOTAL|$seconds|$rate|$(python3 -c "print(round($rss / 1024, 1))")|$cpu|$per")
    log "$name: $seconds s, $rate records/s, peak RSS $((rss / 1024)) MB, CPU $cpu s"
}

reset_target
export MIGRATE_SOURCE_PASSWORD="$BOLT_PASSWORD"
run_tool "migrate graph" "$MIGRATE_BIN" graph --source "${BOLT_URL/bolt:\/\//bolt://$BOLT_USER@}" --target "$NEPTUNE_URL" \
    --target-ca-file "$GRAPH_CA" --mapping mappings/lightrag-graph.yaml --batch 500 --concurrency 4 --fresh --checkpoint-dir "$WORK/ckpt" --json
check_target "migrate graph"
reset_target
run_tool "Python (neo4j driver + requests)" "$PY" scripts/bench/baseline_graph_py.py --bolt-url "$BOLT_URL" --user "$BOLT_USER" \
    --password-env BOLT_PASSWORD --neptune-url "$NEPTUNE_URL" --ca "$GRAPH_CA" --batch 500
check_target "the Python script"

{
    echo "### Graph: $NODES nodes + $EDGES relationships"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; Bolt stand-in -> Neptune stand-in (HTTPS), both on FalkorDB, loopback."
    echo
    echo "| tool | records | seconds | records/s | peak RSS MB | CPU s | CPU s per 100k records |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for row in "${ROWS_OUT[@]}"; do echo "| ${row//|/ | } |"; done
} | tee .run/bench-graph.md
