#!/usr/bin/env bash
# Build the package and run its tests.
#
#   scripts/test.sh [extra `swift test` arguments]
#
# When .run/servers.env exists (written by `scripts/servers.sh start`), the
# servers already run and it is sourced, so MIGRATE_IT=1 and the server URLs are
# set. Otherwise (a fresh machine) this script installs the dependencies, starts
# the servers itself and stops them when it ends. Set MIGRATE_NO_SERVERS=1 to run
# only the tests that need no server.
# The stand-ins' pytest suites run first (venv from scripts/install-deps.sh).
# The full swift test output is also kept in .run/swift-test.log.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

if [[ ! -f .run/servers.env && "${MIGRATE_NO_SERVERS:-}" != 1 ]]; then
    echo "[test] no servers running: installing dependencies and starting them (stopped again at exit)"
    bash scripts/install-deps.sh
    trap 'bash scripts/servers.sh stop' EXIT
    bash scripts/servers.sh start
fi
if [[ -f .run/servers.env ]]; then
    echo "[test] using servers from .run/servers.env (integration tests enabled)"
    # shellcheck source=/dev/null
    source .run/servers.env
else
    echo "[test] MIGRATE_NO_SERVERS=1: integration tests skip"
fi

mkdir -p .run
# The stand-ins' own tests (Qdrant, Bolt, Neptune; they start private instances on free ports)
# run first, so swift test's output stays last. A failure there does not stop
# swift test, but the script still exits non-zero.
standin_status=0
"${MIGRATE_VENV:-.run/venv}/bin/python" -m pytest -q -p no:cacheprovider scripts/standins/test_qdrant_standin.py scripts/graph \
    || standin_status=$?
if ((standin_status)); then
    echo "[test] stand-in tests FAILED (exit $standin_status); running swift test anyway" >&2
fi
swift build
# pipefail (set above) makes the pipeline's status swift test's, not tee's.
swift test "$@" 2>&1 | tee .run/swift-test.log
exit "$standin_status"
