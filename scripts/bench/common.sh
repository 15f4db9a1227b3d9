# Shared by scripts/bench/vectors.sh and graph.sh: arguments, servers, the release build, timed runs.
# Source it after setting REPO and cd-ing there; call `bench_setup "$@"` to parse [N1] [N2] [--no-build]
# into POSITIONAL, start the servers, build, and set PY, MIGRATE_BIN and WORK.

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

bench_setup() {
    local build=1 arg
    POSITIONAL=()
    for arg in "$@"; do
        case "$arg" in
            --no-build) build=0 ;;
            *) POSITIONAL+=("$arg") ;;
        esac
    done
    bash scripts/servers.sh start >&2
    # shellcheck source=/dev/null
    source .run/servers.env
    PY="$MIGRATE_VENV/bin/python"
    if ((build)); then
        log "swift build -c release --product migrate"
        mkdir -p .run/bench
        swift build -c release --product migrate >.run/bench/build.log 2>&1 || die "build failed: .run/bench/build.log"
    fi
    MIGRATE_BIN="${MIGRATE_BIN:-$REPO/.build/release/migrate}"
    [[ -x $MIGRATE_BIN ]] || die "migrate binary missing: $MIGRATE_BIN"
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
    ROWS_OUT=()
}

# run_tool <name> <units> <command...>: one timed run; appends "name|units|seconds|units/s|RSS MB|CPU s|CPU s per 100k"
# to ROWS_OUT.
run_tool() {
    local name="$1" units="$2"
    shift 2
    log "running $name"
    /usr/bin/time -f '%e %M %U %S' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { tail -20 "$WORK/err" >&2; die "$name failed"; }
    local seconds rss user sys rate cpu per
    read -r seconds rss user sys <<<"$(tail -n 1 "$WORK/time")"
    rate=$(python3 -c "print(round($units / $seconds))")
    cpu=$(python3 -c "print(round($user + $sys, 2))")
    per=$(python3 -c "print(round(($user + $sys) * 100000 / $units, 2))")
    ROWS_OUT+=("$name|$units|$seconds|$rate|$(python3 -c "print(round($rss / 1024, 1))")|$cpu|$per")
    log "$name: $seconds s, $rate per second, peak RSS $((rss / 1024)) MB, CPU $cpu s"
}

# print_table <title> <subtitle> <unit>: the Markdown table of ROWS_OUT.
print_table() {
    echo "### $1"
    echo
    echo "$2"
    echo
    echo "| tool | $3 | seconds | $3/s | peak RSS MB | CPU s | CPU s per 100k $3 |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    local row
    for row in "${ROWS_OUT[@]}"; do echo "| ${row//|/ | } |"; done
}
