#!/usr/bin/env bash
# The embedded demo: on a fresh machine, install what is needed, start local servers, fill sources the way
# LightRAG stores its data, and migrate them for real, with progress and a report, then verify each:
#   keys     Redis (db 0 + db 1)           -> a 3-primary Redis cluster (ElastiCache cluster mode)
#   vectors  PostgreSQL + pgvector chunks  -> the Qdrant stand-in, in LightRAG's own Qdrant layout
#   graph    the Bolt stand-in (Neo4j)     -> the Neptune stand-in (openCypher over HTTPS)
#
#   scripts/demo.sh [DOCS]        DOCS documents (default 2000, about 26,000 keys, 4,000 chunks, 2,000 entities)
#
# The servers keep running afterwards so you can look around; `scripts/servers.sh stop` stops them.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
DOCS="${1:-2000}"

echo "== installing dependencies (apt, a Python venv under .run/)"
bash scripts/install-deps.sh
echo "== starting local servers"
bash scripts/servers.sh start
# shellcheck source=/dev/null
source .run/servers.env
echo "== building migrate (release)"
swift build -c release --product migrate 2>&1 | grep -v "prohibited flag" | tail -n 1
MIGRATE="$REPO/.build/release/migrate"

echo "== filling the source $REDIS_SOURCE_URL"
"$MIGRATE_VENV/bin/python" scripts/demo/fill_lightrag_redis.py --url "$REDIS_SOURCE_URL" --docs "$DOCS"
"$REDIS_CLI" -u "$REDIS_CLUSTER_URL" -c FLUSHALL >/dev/null
for port in $REDIS_CLUSTER_PORTS; do "$REDIS_CLI" -p "$port" FLUSHALL >/dev/null; done

mkdir -p .run/demo
echo
echo "== migrate redis: source (db 0 + db 1) -> cluster $REDIS_CLUSTER_URL, db 1 under the prefix db1:"
"$MIGRATE" redis --source "$REDIS_SOURCE_URL" --target "$REDIS_CLUSTER_URL" --db-map 1:db1: \
    --fresh --checkpoint-dir .run/demo/checkpoints --report .run/demo/redis-report.json
echo
echo "== migrate verify redis"
"$MIGRATE" verify redis --source "$REDIS_SOURCE_URL" --target "$REDIS_CLUSTER_URL" --db-map 1:db1: \
    --report .run/demo/verify-report.json

echo
echo "== migrate vectors: pgvector (LightRAG chunks, 2 workspaces) -> Qdrant stand-in $QDRANT_TARGET_URL"
# Start clean: no LightRAG tables or collections left from an earlier run or the tests.
PGPASSWORD="$PG_PASSWORD" "$PSQL" "$PG_SOURCE_URL" -qAt \
    -c "SELECT 'DROP TABLE ' || quote_ident(tablename) || ';' FROM pg_tables WHERE tablename LIKE 'lightrag_vdb_%'" \
    | PGPASSWORD="$PG_PASSWORD" "$PSQL" "$PG_SOURCE_URL" -q >/dev/null
for collection in $(curl -sf -H "api-key: $QDRANT_API_KEY" "$QDRANT_TARGET_URL/collections" \
        | python3 -c 'import json,sys; print(" ".join(c["name"] for c in json.load(sys.stdin)["result"]["collections"]))'); do
    curl -sf -X DELETE -H "api-key: $QDRANT_API_KEY" "$QDRANT_TARGET_URL/collections/$collection" >/dev/null
done
PG_PASSWORD="$PG_PASSWORD" "$MIGRATE_VENV/bin/python" scripts/bench/fill_pgvector.py --url "$PG_SOURCE_URL" --password-env PG_PASSWORD \
    --rows "$((DOCS * 2))" --dim 384 --workspaces ws_a,ws_b >/dev/null
export MIGRATE_SOURCE_PASSWORD="$PG_PASSWORD" MIGRATE_TARGET_API_KEY="$QDRANT_API_KEY"
"$MIGRATE" vectors --source "$PG_SOURCE_URL" --target "$QDRANT_TARGET_URL" --mapping mappings/lightrag.yaml \
    --fresh --checkpoint-dir .run/demo/checkpoints --report .run/demo/vectors-report.json
"$MIGRATE" verify vectors --source "$PG_SOURCE_URL" --target "$QDRANT_TARGET_URL" --mapping mappings/lightrag.yaml \
    --report .run/demo/verify-vectors-report.json

echo
echo "== migrate graph: Bolt stand-in $BOLT_URL -> Neptune stand-in $NEPTUNE_URL"
"$MIGRATE_VENV/bin/python" scripts/bench/fill_graph.py --url "$BOLT_URL" --user "$BOLT_USER" --password-env BOLT_PASSWORD \
    --nodes "$DOCS" --edges "$((DOCS * 4))" >/dev/null
curl -sf --cacert "$GRAPH_CA" -X POST "$GRAPH_STANDIN_ADMIN/reset" >/dev/null
export MIGRATE_SOURCE_PASSWORD="$BOLT_PASSWORD"
GRAPH_SOURCE="${BOLT_URL/bolt:\/\//bolt://$BOLT_USER@}"
"$MIGRATE" graph --source "$GRAPH_SOURCE" --target "$NEPTUNE_URL" --target-ca-file "$GRAPH_CA" \
    --mapping mappings/lightrag-graph.yaml --fresh --checkpoint-dir .run/demo/checkpoints --report .run/demo/graph-report.json
"$MIGRATE" verify graph --source "$GRAPH_SOURCE" --target "$NEPTUNE_URL" --target-ca-file "$GRAPH_CA" \
    --mapping mappings/lightrag-graph.yaml --report .run/demo/verify-graph-report.json

echo
echo "Reports: .run/demo/*-report.json"
echo "Try:     $REDIS_CLI -c -p ${REDIS_CLUSTER_PORTS%% *} HGETALL db1:session:7"
echo "Stop the servers with: scripts/servers.sh stop"
