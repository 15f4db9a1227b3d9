#!/usr/bin/env bash
# Redis copy benchmark: `migrate redis` against two baselines.
#
#   scripts/bench/redis.sh [N] [--no-build]
#
#   N           keys to copy (default 1000000): 64-byte strings, ~10% with a 1 h TTL
#   --no-build  do not run `swift build`; use .build/release/migrate as it is
#
# Source: Redis 7 on 127.0.0.1:16379; target: Redis 7 on 127.0.0.1:16380
# (both from scripts/servers.sh, started here if needed). For each tool:
# FLUSHALL the target, run the tool under /usr/bin/time (wall seconds, peak RSS,
# user+sys CPU), then require target DBSIZE == source DBSIZE.
#
# Tools:
#   migrate                  .build/release/migrate redis ... (this project)
#   MIGRATE COPY REPLACE     scripts/bench/baseline_migrate_cmd.py (server-side MIGRATE)
#   redis-py DUMP/RESTORE    scripts/bench/baseline_redispy.py (client-side, pipelined)
#
# Prints a Markdown table and writes it to .run/bench-redis.md. The last column,
# the servers' own CPU (source + target, from INFO cpu), shows the work a
# tool leaves to the servers (MIGRATE does nearly everything server-side).
# Exits 1 when the migrate binary is missing (after running the baselines),
# and when any tool fails or leaves a different number of keys on the target.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

N=1000000
BUILD=1
for arg in "$@"; do
    case "$arg" in
        --no-build) BUILD=0 ;;
        ''|*[!0-9]*) echo "usage: $0 [N] [--no-build]" >&2; exit 2 ;;
        *) N="$arg" ;;
    esac
done

BATCH=1000
SRC_PORT=16379
TGT_PORT=16380
SRC_URL="redis://127.0.0.1:$SRC_PORT"
TGT_URL="redis://127.0.0.1:$TGT_PORT"
OUT_MD=".run/bench-redis.md"
WORK=".run/bench"
MIGRATE_BIN="${MIGRATE_BIN:-.build/release/migrate}"   # override to bench another build
# MIGRATE_BEFORE_BIN: another build (an earlier commit's) measured in the same run, in a row of its own.

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -x /usr/bin/time ]] || die "/usr/bin/time missing: run scripts/install-deps.sh (Debian package 'time')"

# --- servers -----------------------------------------------------------------
bash scripts/servers.sh start >&2
# shellcheck source=/dev/null
source .run/servers.env
PY="$MIGRATE_VENV/bin/python"
cli() { "$REDIS_CLI" -h 127.0.0.1 -p "$1" "${@:2}"; }
mkdir -p "$WORK"

# --- the Swift binary --------------------------------------------------------
migrate_ok=1
if ((BUILD)); then
    log "swift build -c release --product migrate (log: .run/bench/build.log)"
    if ! swift build -c release --product migrate >"$WORK/build.log" 2>&1; then
        tail -n 20 "$WORK/build.log" >&2
        log "release build failed"
        migrate_ok=0
    fi
fi
[[ -x $MIGRATE_BIN ]] || migrate_ok=0

# --- source data -------------------------------------------------------------
log "filling source with $N keys"
"$PY" scripts/bench/fill_redis.py --url "$SRC_URL" --keys "$N" --flush >&2
SRC_KEYS="$(cli "$SRC_PORT" DBSIZE)"
[[ $SRC_KEYS == "$N" ]] || die "source DBSIZE is $SRC_KEYS after filling $N keys"

# used_cpu_user + used_cpu_sys of one server, in seconds.
server_cpu() {
    cli "$1" INFO cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ { s += $2 } END { printf "%.3f", s }'
}

# Table rows, one per tool: name|keys|seconds|peak_kb|cpu_s|server_cpu_s
ROWS=()

# run_tool <name> <command...>: one timed, verified run.
run_tool() {
    local name="$1"; shift
    local slug tfile before after wall rss user sys tgt_keys
    slug="$(tr -c 'A-Za-z0-9' '_' <<<"$name")"
    tfile="$WORK/$slug.time"
    cli "$TGT_PORT" FLUSHALL >/dev/null
    before="$(awk -v a="$(server_cpu $SRC_PORT)" -v b="$(server_cpu $TGT_PORT)" 'BEGIN { print a + b }')"
    log "running $name"
    if ! /usr/bin/time -f '%e %M %U %S' -o "$tfile" "$@" >"$WORK/$slug.out" 2>"$WORK/$slug.err"; then
        tail -n 20 "$WORK/$slug.err" >&2
        die "$name failed (stderr: $WORK/$slug.err)"
    fi
    after="$(awk -v a="$(server_cpu $SRC_PORT)" -v b="$(server_cpu $TGT_PORT)" 'BEGIN { print a + b }')"
    # The format line is the last one (time prepends a line for non-zero exits).
    read -r wall rss user sys < <(tail -n 1 "$tfile")
    tgt_keys="$(cli "$TGT_PORT" DBSIZE)"
    if [[ $tgt_keys != "$SRC_KEYS" ]]; then
        die "$name: target DBSIZE $tgt_keys != source DBSIZE $SRC_KEYS"
    fi
    ROWS+=("$name|$tgt_keys|$wall|$rss|$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')|$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.2f", b - a }')")
    log "$name: $tgt_keys keys in ${wall}s"
}

if ((migrate_ok)); then
    run_tool migrate "$MIGRATE_BIN" redis --source "$SRC_URL" --target "$TGT_URL" \
        --batch "$BATCH" --fresh --checkpoint-dir .run/bench-ckpt --json
fi
if [[ -n ${MIGRATE_BEFORE_BIN:-} ]]; then
    run_tool "migrate (before)" "$MIGRATE_BEFORE_BIN" redis --source "$SRC_URL" --target "$TGT_URL" \
        --batch "$BATCH" --fresh --checkpoint-dir .run/bench-ckpt-before --json
fi
run_tool "MIGRATE COPY REPLACE" "$PY" scripts/bench/baseline_migrate_cmd.py \
    --source "$SRC_URL" --target "$TGT_URL" --batch "$BATCH"
run_tool "redis-py DUMP/RESTORE" "$PY" scripts/bench/baseline_redispy.py \
    --source "$SRC_URL" --target "$TGT_URL" --batch "$BATCH"

# --- report ------------------------------------------------------------------
# ratio vs migrate = migrate's keys/s / that tool's keys/s (> 1: migrate is faster).
{
    echo "### Redis copy: $N keys"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; Redis $("$REDIS_SERVER" --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') -> same, 127.0.0.1:$SRC_PORT -> :$TGT_PORT;" \
        "64-byte string values, ~10% with TTL; batch $BATCH. Seconds, RSS and CPU are the client process's (/usr/bin/time);" \
        "server CPU is source + target (INFO cpu)."
    echo
    printf '%s\n' "${ROWS[@]}" | awk -F'|' '
        BEGIN {
            print "| tool | keys | seconds | keys/s | peak RSS MB | CPU s | ratio vs migrate | server CPU s |"
            print "|---|---:|---:|---:|---:|---:|---:|---:|"
        }
        { name[NR] = $1; keys[NR] = $2; sec[NR] = $3; rss[NR] = $4; cpu[NR] = $5; scpu[NR] = $6
          kps[NR] = ($3 > 0) ? $2 / $3 : 0
          if ($1 == "migrate") ref = kps[NR] }
        END {
            for (i = 1; i <= NR; i++) {
                ratio = (ref > 0 && kps[i] > 0) ? sprintf("%.2f", ref / kps[i]) : "n/a"
                printf "| %s | %d | %.2f | %.0f | %.1f | %.2f | %s | %s |\n",
                    name[i], keys[i], sec[i], kps[i], rss[i] / 1024, cpu[i], ratio, scpu[i]
            }
        }'
    if ((!migrate_ok)); then
        echo
        echo "migrate: not measured (binary missing)."
    fi
} | tee "$OUT_MD"

if ((!migrate_ok)); then
    echo "migrate binary missing" >&2
    exit 1
fi
