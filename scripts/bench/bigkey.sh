#!/usr/bin/env bash
# Big-key benchmark: one large hash copied by `migrate redis`, chunked (staging key, HSCAN/HSET chunks,
# RENAME) beside DUMP/RESTORE of the same key, with peak RSS next to the key size.
#
#   scripts/bench/bigkey.sh [MB] [--no-build]
#
#   MB          size of the hash's values in MB (default 1024): fields of 1000-byte values
#   --no-build  use .build/release/migrate as it is
#
# Starts its own source and target redis-server on 127.0.0.1:16941/16942 (stopped at the end), fills the
# source, then for each path FLUSHALLs the target, runs migrate under /usr/bin/time (wall seconds, peak RSS)
# and requires HLEN on the target to equal the source's. DUMP/RESTORE (--big-key-bytes above the key's size)
# holds the whole payload in memory, so it runs only when MB <= 512 (DUMP_MAX_MB). Prints a Markdown table
# and writes it to .run/bench-bigkey.md.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
MB=1024
BUILD=1
for arg in "$@"; do
    case "$arg" in
        --no-build) BUILD=0 ;;
        ''|*[!0-9]*) echo "usage: $0 [MB] [--no-build]" >&2; exit 2 ;;
        *) MB="$arg" ;;
    esac
done
DUMP_MAX_MB="${DUMP_MAX_MB:-512}"
SRC_PORT=16941
TGT_PORT=16942
MIGRATE_BIN="${MIGRATE_BIN:-.build/release/migrate}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server)}"
REDIS_CLI="${REDIS_CLI:-$(command -v redis-cli)}"
log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing: run scripts/install-deps.sh (Debian package 'time')"

if ((BUILD)); then
    log "swift build -c release --product migrate"
    mkdir -p .run
    swift build -c release --product migrate >.run/bench-bigkey-build.log 2>&1 || die "build failed: .run/bench-bigkey-build.log"
fi
[[ -x $MIGRATE_BIN ]] || die "migrate binary missing: $MIGRATE_BIN"

WORK="$(mktemp -d)"
cleanup() {
    for port in $SRC_PORT $TGT_PORT; do "$REDIS_CLI" -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
for port in $SRC_PORT $TGT_PORT; do
    mkdir -p "$WORK/$port"
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK/$port" --daemonize yes \
        --logfile "$WORK/$port/log" >/dev/null
done
for _ in $(seq 50); do "$REDIS_CLI" -p $TGT_PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
cli() { "$REDIS_CLI" -p "$1" "${@:2}"; }

FIELDS=$((MB * 1000))
log "filling big:hash with $FIELDS fields of 1000 bytes ($MB MB of values)"
python3 - "$FIELDS" <<'PY' | "$REDIS_CLI" -p $SRC_PORT --pipe >/dev/null
import sys
fields = int(sys.argv[1])
value = b"v" * 1000
out = sys.stdout.buffer
for start in range(0, fields, 1000):
    parts = [b"HSET", b"big:hash"]
    for index in range(start, min(start + 1000, fields)):
        parts += [b"f%d" % index, value]
    out.write(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
PY
[[ $(cli $SRC_PORT hlen big:hash) == "$FIELDS" ]] || die "source fill incomplete"
MEMORY=$(cli $SRC_PORT memory usage big:hash)
log "big:hash uses $((MEMORY / 1048576)) MB on the source (MEMORY USAGE)"

ROWS=()
run_path() {
    local name="$1" threshold="$2"
    cli $TGT_PORT flushall >/dev/null
    log "running $name"
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$MIGRATE_BIN" redis --source "redis://127.0.0.1:$SRC_PORT" --target "redis://127.0.0.1:$TGT_PORT" \
        --checkpoint-dir "$WORK/checkpoints-$threshold" --big-key-bytes "$threshold" >"$WORK/out" 2>"$WORK/err" \
        || { tail -20 "$WORK/err" "$WORK/out" >&2; die "$name failed"; }
    [[ $(cli $TGT_PORT hlen big:hash) == "$FIELDS" ]] || die "$name: target HLEN differs"
    local seconds rss
    read -r seconds rss <<<"$(tail -n 1 "$WORK/time")"
    ROWS+=("| $name | $((MEMORY / 1048576)) MB | $seconds | $(python3 -c "print(round($MB / $seconds, 1))") | $((rss / 1024)) MB |")
    log "$name: $seconds s, peak RSS $((rss / 1024)) MB"
}
run_path "chunked (staging key, 1 MiB threshold)" 1048576
if ((MB <= DUMP_MAX_MB)); then
    run_path "DUMP/RESTORE (whole key)" $((MEMORY * 2))
else
    ROWS+=("| DUMP/RESTORE (whole key) | $((MEMORY / 1048576)) MB | skipped: over DUMP_MAX_MB=$DUMP_MAX_MB | | |")
fi

mkdir -p .run
{
    echo "### One big hash ($MB MB of values, $FIELDS fields): chunked path vs DUMP/RESTORE"
    echo
    echo "| path | key size (MEMORY USAGE) | seconds | MB/s (values) | peak RSS of migrate |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
} | tee .run/bench-bigkey.md
