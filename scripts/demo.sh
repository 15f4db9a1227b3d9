#!/usr/bin/env bash
# The embedded demo: on a fresh machine, install what is needed, start local servers, fill a source the way
# LightRAG stores its data in Redis, and migrate it for real into a 3-primary Redis cluster (standing in for
# ElastiCache cluster mode), with progress and a report; then verify both directions.
#
#   scripts/demo.sh [DOCS]        DOCS documents (default 2000, about 26,000 keys)
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
echo "Reports: .run/demo/redis-report.json, .run/demo/verify-report.json"
echo "Try:     $REDIS_CLI -c -p ${REDIS_CLUSTER_PORTS%% *} HGETALL db1:session:7"
echo "Stop the servers with: scripts/servers.sh stop"
