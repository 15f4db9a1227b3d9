#!/usr/bin/env bash
# Run the kill -9 matrices (Tests/IntegrationTests/KillMatrixTests.swift) and print a summary table.
#
#   scripts/kill-matrix.sh [seed]
#
# Each store (keys, pgvector → Qdrant, Bolt → Neptune) is copied by the CLI with --rate, killed with SIGKILL
# 20 times (early, right after a checkpoint write, or at a random moment; seeded, the seed is printed),
# resumed to the end, verified with `migrate verify`, and compared directly with its source. A seed replays
# the same kill moments. Servers come from .run/servers.env (scripts/servers.sh start), or from the
# directory in $MIGRATE_RUN_DIR; set $MIGRATE_IT_LOCK to a lock file shared with other test runs to take it
# while the tests run. The full output, every kill point included, is kept in .run/kill-matrix.log.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
RUN_DIR="${MIGRATE_RUN_DIR:-$REPO/.run}"
if [[ ! -f "$RUN_DIR/servers.env" ]]; then
    echo "[kill-matrix] no $RUN_DIR/servers.env: start the servers with scripts/servers.sh start" >&2
    exit 2
fi
set -a
# shellcheck source=/dev/null
[[ -f "$RUN_DIR/deps.env" ]] && source "$RUN_DIR/deps.env"
# shellcheck source=/dev/null
source "$RUN_DIR/servers.env"
set +a
export MIGRATE_IT=1
if [[ $# -gt 0 ]]; then
    export MIGRATE_KILL_SEED="$1"
fi

swift build --build-tests >/dev/null
mkdir -p .run
log=.run/kill-matrix.log
command=(swift test --skip-build --filter KillMatrixTests)
if [[ -n "${MIGRATE_IT_LOCK:-}" ]]; then
    command=(flock "$MIGRATE_IT_LOCK" "${command[@]}")
fi
status=0
"${command[@]}" >"$log" 2>&1 || status=$?

grep '^kill-matrix .* seed=' "$log" | sed 's/^kill-matrix /seed: /'
echo
echo "| store | kills | early | after checkpoint | random | source | target | missing | extra | changed | verify exit | seconds |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
grep '^kill-matrix .* summary ' "$log" | awk '{
    row = "| " $2
    for (i = 4; i <= NF; i++) { split($i, pair, "="); row = row " | " pair[2] }
    print row " |"
}'
echo
if ((status)); then
    grep -E '✘|Expectation failed' "$log" | head -20 >&2 || true
    echo "[kill-matrix] FAILED (exit $status); see $log" >&2
else
    echo "[kill-matrix] passed; every kill point is in $log"
fi
exit "$status"
