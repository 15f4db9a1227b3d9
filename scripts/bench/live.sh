#!/usr/bin/env bash
# Lag of `migrate redis --live` under a write load.
#
#   scripts/bench/live.sh [WRITES] [--no-build]
#
# Seeds the source with 100k keys, starts `migrate redis --live --enable-notifications --json`, runs
# redis-benchmark (SET over 200k random keys, 20 clients, WRITES requests, default 300000) against the source
# during the live phase, waits until nothing is pending, sends SIGINT, and prints the load rate, the largest
# lag and pending count the run showed, how long it took to catch up, and its live counters.
#
# Uses REDIS_SOURCE_URL and REDIS_TARGET_URL (default: .run/servers.env from `scripts/servers.sh start`) and
# FLUSHes both: run it under the integration lock when others share the servers
# (`flock /work/it.lock scripts/bench/live.sh`), or point the variables at servers of your own.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/bench/common.sh
source scripts/bench/common.sh

writes=300000 build=1
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        *) writes="$arg" ;;
    esac
done
if [[ -z ${REDIS_SOURCE_URL:-} ]]; then
    # shellcheck source=/dev/null
    source .run/servers.env
fi
if ((build)); then
    log "swift build -c release --product migrate"
    mkdir -p .run/bench
    swift build -c release --product migrate >.run/bench/build.log 2>&1 || die "build failed: .run/bench/build.log"
fi
MIGRATE_BIN="${MIGRATE_BIN:-$REPO/.build/release/migrate}"
hostport() { local rest="${1#*://}"; rest="${rest##*@}"; echo "${rest%%/*}"; }
src="$(hostport "$REDIS_SOURCE_URL")" dst="$(hostport "$REDIS_TARGET_URL")"
src_cli=(redis-cli -h "${src%:*}" -p "${src##*:}")
WORK="$(mktemp -d)"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

"${src_cli[@]}" FLUSHALL >/dev/null
redis-cli -h "${dst%:*}" -p "${dst##*:}" FLUSHALL >/dev/null
redis-benchmark -h "${src%:*}" -p "${src##*:}" -t set -n 100000 -r 100000 -q >/dev/null 2>&1

"$MIGRATE_BIN" redis --source "$REDIS_SOURCE_URL" --target "$REDIS_TARGET_URL" --live --enable-notifications --fresh \
    --checkpoint-dir "$WORK/checkpoints" --json >"$WORK/out" 2>"$WORK/err" &
pid=$!
until grep -q '"event":"live"' "$WORK/out"; do
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/err" >&2; die "migrate ended before the live phase"; }
    sleep 0.1
done
log "load: $writes SETs"
start=$(date +%s.%N)
redis-benchmark -h "${src%:*}" -p "${src##*:}" -t set -n "$writes" -r 200000 -c 20 -q >"$WORK/load" 2>&1
end=$(date +%s.%N)
until tail -n 1 "$WORK/out" | grep -q '"lag_ms":[0-9]\{1,3\},.*"pending":0,'; do sleep 0.1; done
caught=$(date +%s.%N)
kill -INT "$pid"
status=0
wait "$pid" || status=$?
pid=
python3 - "$WORK/out" "$writes" "$start" "$end" "$caught" "$status" <<'PY'
import json, sys
path, writes, start, end, caught, status = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:6]), sys.argv[6]
events = [json.loads(line) for line in open(path) if line.startswith('{"event":')]
live = [e for e in events if e["event"] == "live"]
report = next(e for e in events if e["event"] == "report")
totals = report["totals"]
print(f"load: {writes:,} SETs in {end - start:.1f} s ({writes / (end - start):,.0f}/s)")
print(f"max lag {max(e['lag_ms'] for e in live):,} ms, max pending {max(e['pending'] for e in live):,} keys, "
      f"caught up {caught - end:.1f} s after the load")
print(f"exit {status}, outcome {report['outcome']}, " + ", ".join(f"{k} {v:,}" for k, v in sorted(totals.items())
                                                                 if k.startswith(("live", "reconcil", "pending"))))
PY
