#!/usr/bin/env bash
# The embedded demo: on a fresh machine, install what is needed, start local servers, fill sources the way
# LightRAG stores its data, describe the application's environment in two .env files, then plan and run the
# migration of the whole stack from one configuration (scripts/demo/migration.yaml), each phase verified:
#   keys     Redis (db 0 + db 1)           -> a 3-primary Redis cluster (ElastiCache cluster mode)
#   vectors  PostgreSQL + pgvector chunks, entities, relationships -> the Qdrant stand-in, in LightRAG's own Qdrant layout
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

echo "== filling the vector source: LightRAG chunks, entities and relationships in pgvector, 2 workspaces"
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
# LightRAG's entity and relationship vector tables, as LightRAG's PGVectorStorage creates them.
PGPASSWORD="$PG_PASSWORD" "$PSQL" "$PG_SOURCE_URL" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE TABLE lightrag_vdb_entity (id VARCHAR(255), workspace VARCHAR(255), entity_name VARCHAR(512), content TEXT,
    content_vector VECTOR(384), create_time TIMESTAMP(0) WITH TIME ZONE, update_time TIMESTAMP(0) WITH TIME ZONE,
    chunk_ids VARCHAR(255)[] NULL, file_path TEXT NULL, PRIMARY KEY (workspace, id));
CREATE TABLE lightrag_vdb_relation (id VARCHAR(255), workspace VARCHAR(255), source_id VARCHAR(512), target_id VARCHAR(512),
    content TEXT, content_vector VECTOR(384), create_time TIMESTAMP(0) WITH TIME ZONE, update_time TIMESTAMP(0) WITH TIME ZONE,
    chunk_ids VARCHAR(255)[] NULL, file_path TEXT NULL, PRIMARY KEY (workspace, id));
INSERT INTO lightrag_vdb_entity
    SELECT 'ent-' || md5(i::text), w, 'Entity ' || i, 'Entity ' || i || ' description',
           ARRAY(SELECT (random() - 0.5 + i * 0)::real FROM generate_series(1, 384))::vector(384),
           now(), now(), ARRAY['chunk-' || md5(i::text)], 'docs/e.md'
    FROM generate_series(1, $DOCS) AS i, unnest(ARRAY['ws_a', 'ws_b']) AS w;
INSERT INTO lightrag_vdb_relation
    SELECT 'rel-' || md5(i::text), w, 'Entity ' || i, 'Entity ' || (i + 1), 'Entity ' || i || ' relates to Entity ' || (i + 1),
           ARRAY(SELECT (random() - 0.5 + i * 0)::real FROM generate_series(1, 384))::vector(384),
           now(), now(), ARRAY['chunk-' || md5(i::text)], 'docs/r.md'
    FROM generate_series(1, $DOCS) AS i, unnest(ARRAY['ws_a', 'ws_b']) AS w;
SQL
echo "== filling the graph source (Bolt stand-in $BOLT_URL)"
"$MIGRATE_VENV/bin/python" scripts/bench/fill_graph.py --url "$BOLT_URL" --user "$BOLT_USER" --password-env BOLT_PASSWORD \
    --nodes "$DOCS" --edges "$((DOCS * 4))" >/dev/null
curl -sf --cacert "$GRAPH_CA" -X POST "$GRAPH_STANDIN_ADMIN/reset" >/dev/null

# The application's environment today and after cutover, as .env files (secrets stay in them).
mkdir -p .run/demo
PG_HOST_PORT="${PG_SOURCE_URL#postgres://migrate@}"
cat > .run/demo/app.env <<ENV
REDIS_URI=$REDIS_SOURCE_URL
VECTOR_STORAGE=PGVectorStorage
POSTGRES_HOST=${PG_HOST_PORT%%:*}
POSTGRES_PORT=$(echo "$PG_HOST_PORT" | sed -E 's/^[^:]+:([0-9]+).*/\1/')
POSTGRES_USER=migrate
POSTGRES_PASSWORD=$PG_PASSWORD
POSTGRES_DATABASE=${PG_SOURCE_URL##*/}
GRAPH_STORAGE=Neo4JStorage
NEO4J_URI=$BOLT_URL
NEO4J_USERNAME=$BOLT_USER
NEO4J_PASSWORD=$BOLT_PASSWORD
ENV
cat > .run/demo/aws.env <<ENV
REDIS_URI=$REDIS_CLUSTER_URL
QDRANT_URL=$QDRANT_TARGET_URL
QDRANT_API_KEY=$QDRANT_API_KEY
NEPTUNE_ENDPOINT=$NEPTUNE_URL
NEPTUNE_CA_FILE=$GRAPH_CA
ENV

echo
echo "== migrate plan: inventory every source, check every target, estimate the time (writes nothing)"
"$MIGRATE" plan --config scripts/demo/migration.yaml
echo
echo "== migrate run: keys -> cluster $REDIS_CLUSTER_URL, vectors -> Qdrant stand-in, graph -> Neptune stand-in; each verified"
"$MIGRATE" run --config scripts/demo/migration.yaml --fresh --report .run/demo/run-report.json

echo
echo "Report:  .run/demo/run-report.json   Checkpoints: migrate status --checkpoint-dir .run/demo/checkpoints"
echo "Try:     $REDIS_CLI -c -p ${REDIS_CLUSTER_PORTS%% *} HGETALL db1:session:7"
echo "Stop the servers with: scripts/servers.sh stop"
