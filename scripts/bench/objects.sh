#!/usr/bin/env bash
# `migrate objects` beside `aws s3 sync` (awscli from PyPI, in its own venv: it pins its own botocore) into one
# moto server with signature checking on, in one run: N small files, then a few large ones. Prints wall time,
# objects/s, MB/s and peak RSS for each. moto is a Python mock of S3, not S3: both tools are held back by it
# alike, so the ratio says more than the absolute numbers.
#
#   scripts/bench/objects.sh [SMALL_FILES=10000] [LARGE_FILES=4] [LARGE_MIB=100] [--no-build]
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$REPO"
log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

build=1
POSITIONAL=()
for arg in "$@"; do
    case "$arg" in --no-build) build=0 ;; *) POSITIONAL+=("$arg") ;; esac
done
SMALL=${POSITIONAL[0]:-10000}
LARGE=${POSITIONAL[1]:-4}
LARGE_MIB=${POSITIONAL[2]:-100}
CONCURRENCY=${CONCURRENCY:-16}
PY="${MIGRATE_VENV:-$REPO/.run/venv}/bin/python"
[[ -x $PY ]] || die "no venv at $PY: run scripts/install-deps.sh"
if ((build)); then
    log "swift build -c release --product migrate"
    swift build -c release --product migrate >/dev/null || die "build failed"
fi
MIGRATE_BIN="${MIGRATE_BIN:-$REPO/.build/release/migrate}"
AWSCLI_VENV="${AWSCLI_VENV:-$REPO/.run/awscli-venv}"
if [[ ! -x $AWSCLI_VENV/bin/aws ]]; then
    log "pip install awscli into $AWSCLI_VENV"
    python3 -m venv "$AWSCLI_VENV"
    "$AWSCLI_VENV/bin/pip" install --quiet --disable-pip-version-check awscli
fi
WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() { [[ -n $MOTO_PID ]] && kill "$MOTO_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$PY" scripts/standins/aws_metadata/moto_fixture.py --info-file "$WORK/moto.json" --bucket bench >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 100); do [[ -s $WORK/moto.json ]] && break; sleep 0.2; done
[[ -s $WORK/moto.json ]] || die "moto did not start: $(tail -5 "$WORK/moto.log")"
eval "$("$PY" -c "import json; i = json.load(open('$WORK/moto.json')); print(f\"export AWS_ACCESS_KEY_ID={i['access_key']} AWS_SECRET_ACCESS_KEY={i['secret_key']} AWS_ENDPOINT_URL=http://127.0.0.1:{i['port']}\")")"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
# The same concurrency and part size for both tools.
export AWS_CONFIG_FILE="$WORK/aws-config"
printf '[default]\ns3 =\n  max_concurrent_requests = %s\n  multipart_threshold = 8MB\n  multipart_chunksize = 8MB\n' "$CONCURRENCY" >"$AWS_CONFIG_FILE"

log "writing $SMALL small files and $LARGE × $LARGE_MIB MiB"
"$PY" - "$WORK" "$SMALL" "$LARGE" "$LARGE_MIB" <<'PYEOF'
import os, sys
work, small, large, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(small):
    d = f"{work}/small/d{i % 100:02d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:06d}.txt", "wb") as f:
        f.write(os.urandom(200 + i % 3800))
os.makedirs(f"{work}/large", exist_ok=True)
for i in range(large):
    with open(f"{work}/large/part{i}.bin", "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
PYEOF

# Runs a command under /usr/bin/time; prints "seconds peak_kb".
timed() {
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; die "$1 failed"; }
    cat "$WORK/time"
}

rows=()
for set in small large; do
    count=$(find "$WORK/$set" -type f | wc -l)
    bytes=$(du -sb "$WORK/$set" | cut -f1)
    read -r m_s m_kb < <(timed "$MIGRATE_BIN" objects --source "$WORK/$set" --target "s3://bench/migrate-$set/" \
        --concurrency "$CONCURRENCY" --checkpoint-dir "$WORK/cp" --fresh)
    read -r a_s a_kb < <(timed "$AWSCLI_VENV/bin/aws" s3 sync --only-show-errors "$WORK/$set" "s3://bench/awscli-$set/")
    rows+=("$(printf '%-6s %7d %9.1f | migrate %7.1f s %8.1f obj/s %7.1f MB/s %7d KB | aws s3 sync %7.1f s %8.1f obj/s %7.1f MB/s %7d KB | %.2f×' \
        "$set" "$count" "$(echo "$bytes / 1000000" | bc -l)" "$m_s" "$(echo "$count / $m_s" | bc -l)" "$(echo "$bytes / 1000000 / $m_s" | bc -l)" "$m_kb" \
        "$a_s" "$(echo "$count / $a_s" | bc -l)" "$(echo "$bytes / 1000000 / $a_s" | bc -l)" "$a_kb" "$(echo "$a_s / $m_s" | bc -l)")")
done
echo "set    objects        MB | migrate objects (concurrency $CONCURRENCY, 8 MiB parts)            | aws s3 sync (max_concurrent_requests $CONCURRENCY, 8 MB chunks)   | speed-up"
printf '%s\n' "${rows[@]}"
