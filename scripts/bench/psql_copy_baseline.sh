#!/usr/bin/env bash
# Baseline: how fast psql alone reads a whole table in binary COPY format.
#
#   scripts/bench/psql_copy_baseline.sh URL TABLE
#
#   URL    postgres://user@host:port/db (no password in it)
#   TABLE  table name as SQL sees it (unquoted names fold to lower case,
#          e.g. LIGHTRAG_VDB_CHUNKS); schema-qualified names are fine
#
# Runs  psql -c "\copy (select * from TABLE) to '/dev/null' (format binary)"
# once, timed. The password comes from PG_PASSWORD (passed on as PGPASSWORD);
# psql is $PSQL (set by .run/servers.env), else the one in PATH.
# Prints one JSON line: {"tool","rows","seconds","rows_per_s"}.
# This is the read-side ceiling for a single connection: no decoding, no writes.
set -euo pipefail

usage() { echo "usage: $0 URL TABLE   (password in PG_PASSWORD)" >&2; exit 2; }
(($# == 2)) || usage
url="$1"
table="$2"
# The table name is pasted into SQL: allow identifiers only (optionally schema.table).
[[ $table =~ ^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$ ]] \
    || { echo "table name must be a plain identifier (schema.table allowed): $table" >&2; exit 2; }
[[ -n ${PG_PASSWORD:-} ]] || { echo "PG_PASSWORD is not set" >&2; exit 2; }

psql_bin="${PSQL:-$(command -v psql || true)}"
[[ -x $psql_bin ]] || { echo "psql not found: set PSQL or put psql in PATH" >&2; exit 1; }

start_ns=$(date +%s%N)
# psql reports "COPY <rows>" when \copy finishes.
out="$(PGPASSWORD="$PG_PASSWORD" "$psql_bin" -X -v ON_ERROR_STOP=1 "$url" \
    -c "\\copy (select * from $table) to '/dev/null' (format binary)")"
end_ns=$(date +%s%N)

rows="$(sed -n 's/^COPY \([0-9][0-9]*\)$/\1/p' <<<"$out" | tail -n 1)"
[[ -n $rows ]] || { echo "unexpected psql output: $out" >&2; exit 1; }
awk -v rows="$rows" -v ns="$((end_ns - start_ns))" 'BEGIN {
    s = ns / 1e9
    printf "{\"tool\": \"psql \\\\copy binary\", \"rows\": %d, \"seconds\": %.3f, \"rows_per_s\": %.1f}\n",
        rows, s, (s > 0 ? rows / s : 0)
}'
