#!/usr/bin/env bash
# Build the package and run its tests.
#
#   scripts/test.sh [extra `swift test` arguments]
#
# When .run/servers.env exists (written by `scripts/servers.sh start`), it is
# sourced first, so MIGRATE_IT=1 and the server URLs are set and the
# integration tests run against the local servers; without it they skip.
# The full test output is also kept in .run/swift-test.log.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

if [[ -f .run/servers.env ]]; then
    echo "[test] using servers from .run/servers.env (integration tests enabled)"
    # shellcheck source=/dev/null
    source .run/servers.env
else
    echo "[test] no .run/servers.env: integration tests will skip (run scripts/servers.sh start)"
fi

mkdir -p .run
swift build
# pipefail (set above) makes the pipeline's status swift test's, not tee's.
swift test "$@" 2>&1 | tee .run/swift-test.log
