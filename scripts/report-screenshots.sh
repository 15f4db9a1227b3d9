#!/usr/bin/env bash
# Screenshots of report pages (`--report-html`) in headless Chromium, so a person can look at them.
#
#   scripts/report-screenshots.sh [PAGES_DIR] [OUT_DIR]
#
# Every PAGES_DIR/*.html becomes OUT_DIR/NAME.png (1000 px wide, the top of the page) and OUT_DIR/NAME-phone.png
# (390 px wide, a phone). With no PAGES_DIR, the pages come from real runs: the integration suite ReportPages runs
# against the servers (`scripts/servers.sh start` first) and leaves its pages (a clean run, refused records,
# verify differences, a live run with lag, migrate status) in .run/report-pages. OUT_DIR defaults to PAGES_DIR.
#
# Chromium is Debian's `chromium` package. The tests do not need it, so scripts/install-deps.sh does not install
# it: this script installs it when it runs as root with apt-get, and otherwise says how and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

pages=${1:-}
if [[ -z $pages ]]; then
  pages=.run/report-pages
  if [[ -f .run/servers.env ]]; then
    # shellcheck disable=SC1091
    source .run/servers.env
  fi
  if [[ ${MIGRATE_IT:-} != 1 ]]; then
    echo "report-screenshots: no PAGES_DIR given and no servers: run scripts/servers.sh start, or pass a directory of pages" >&2
    exit 1
  fi
  rm -rf "$pages"
  mkdir -p "$pages"
  echo "report-screenshots: rendering pages from real runs (swift test --filter ReportPages)" >&2
  MIGRATE_REPORT_PAGES="$PWD/$pages" flock /tmp/migrate-it.lock swift test --filter 'Integration.ReportPages' >&2
fi
out=${2:-$pages}
mkdir -p "$out"

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "report-screenshots: installing Debian's chromium package" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    browser=$(command -v chromium)
  else
    echo "report-screenshots: SKIPPED: chromium is not installed; install Debian's package (sudo apt-get install chromium) and run again" >&2
    exit 0
  fi
fi

shopt -s nullglob
files=("$pages"/*.html)
if (( ${#files[@]} == 0 )); then
  echo "report-screenshots: no .html pages in $pages" >&2
  exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
for page in "${files[@]}"; do
  name=$(basename "$page" .html)
  for size in "1000,2600:" "390,2000:-phone"; do
    window=${size%%:*}
    suffix=${size#*:}
    # --no-sandbox: root in a container has no user namespaces for Chromium's sandbox. The pages fetch nothing,
    # and --disable-background-networking keeps Chromium itself off the network.
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --disable-background-networking \
      --no-first-run --user-data-dir="$profile" --window-size="$window" \
      --screenshot="$out/$name$suffix.png" "file://$(realpath "$page")" >/dev/null 2>&1
    echo "$out/$name$suffix.png"
  done
done
