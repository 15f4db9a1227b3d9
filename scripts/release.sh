#!/usr/bin/env bash
# Builds `migrate` for machines without Swift: the Swift runtime and Foundation linked statically, the C
# libraries (libhiredis, libpq, libssl) still shared. Packs dist/migrate-VERSION-linux-ARCH.tar.gz with a
# .sha256 beside it, then checks the packed binary in a clean directory, with no toolchain on PATH and an empty
# environment: it must start, and `ldd` must list no Swift library.
#
#   scripts/release.sh [VERSION]            (default: git describe)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
log() { printf '[release] %s\n' "$*" >&2; }
die() { printf '[release] ERROR: %s\n' "$*" >&2; exit 1; }

VERSION="${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
ARCH="$(uname -m)"
NAME="migrate-$VERSION-linux-$ARCH"
log "swift build -c release --product migrate --static-swift-stdlib"
swift build -c release --product migrate --static-swift-stdlib >&2
BIN="$(swift build -c release --product migrate --static-swift-stdlib --show-bin-path)/migrate"

STAGE="$(mktemp -d)"
CHECK="$(mktemp -d)"
trap 'rm -rf "$STAGE" "$CHECK"' EXIT
mkdir -p "$STAGE/$NAME" dist
cp "$BIN" "$STAGE/$NAME/migrate"
strip "$STAGE/$NAME/migrate" 2>/dev/null || true
cp -r mappings README.md "$STAGE/$NAME/"
# The shared libraries the binary still needs, for the target machine's package manager.
ldd "$STAGE/$NAME/migrate" | awk '{print $1}' | grep -v -E '^(linux-vdso|/lib64/ld-linux)' | sort >"$STAGE/$NAME/SHARED-LIBRARIES"
if grep -qi swift "$STAGE/$NAME/SHARED-LIBRARIES"; then
    die "the binary still links a Swift library: $(grep -i swift "$STAGE/$NAME/SHARED-LIBRARIES" | tr '\n' ' ')"
fi
tar -C "$STAGE" -czf "dist/$NAME.tar.gz" "$NAME"
(cd dist && sha256sum "$NAME.tar.gz" >"$NAME.tar.gz.sha256")

# The check: unpack elsewhere, verify the checksum, run with nothing of the toolchain around.
cp "dist/$NAME.tar.gz" "dist/$NAME.tar.gz.sha256" "$CHECK/"
(cd "$CHECK" && sha256sum -c "$NAME.tar.gz.sha256" >/dev/null) || die "checksum mismatch"
tar -C "$CHECK" -xzf "$CHECK/$NAME.tar.gz"
env -i PATH=/usr/bin:/bin HOME="$CHECK" "$CHECK/$NAME/migrate" --help >"$CHECK/help.txt" 2>&1 || die "the packed binary does not start: $(cat "$CHECK/help.txt")"
grep -q "objects" "$CHECK/help.txt" || die "unexpected --help output"
(cd "$CHECK" && env -i PATH=/usr/bin:/bin HOME="$CHECK" AWS_EC2_METADATA_DISABLED=true "$CHECK/$NAME/migrate" status --checkpoint-dir "$CHECK/none" >/dev/null 2>&1) \
    || die "the packed binary failed 'migrate status'"
log "dist/$NAME.tar.gz ($(du -h "dist/$NAME.tar.gz" | cut -f1)), sha256 $(cut -d' ' -f1 "dist/$NAME.tar.gz.sha256")"
log "shared libraries still needed: $(tr '\n' ' ' <"$STAGE/$NAME/SHARED-LIBRARIES")"
