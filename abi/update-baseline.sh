#!/bin/sh
# Re-record the ABI baseline of libmockit.so.1 from a build, on purpose.
# Read abi/README.md first: a baseline is updated only after a reviewed,
# deliberate ABI change (a new function in a new version node), never to
# make tests/abi pass after an accident.
#
# usage: abi/update-baseline.sh [BUILDDIR]     (default: build)
# Writes abi/libmockit.so.1.abi (abidw, public types only) and
# abi/libmockit.so.1.symbols (the exported symbols and their versions),
# then shows what changed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
builddir=${1:-$root/build}
lib=$builddir/src/libmockit.so.1

command -v abidw >/dev/null || { echo "abidw not found (Debian: abigail-tools)" >&2; exit 1; }
[ -f "$lib" ] || { echo "$lib not found: build first (meson compile -C $builddir)" >&2; exit 1; }
readelf -S -W "$lib" | grep -q '\.debug_info' ||
  { echo "$lib has no debug information: build with -g (buildtype debug or debugoptimized)" >&2; exit 1; }

# --headers-dir keeps only the types of the public header; --short-locs
# keeps file names (abidiff needs them to tell public types from private
# ones) without the build folder's paths; no DT_NEEDED, no corpus path.
abidw --headers-dir "$root/include" \
      --exported-interfaces-only \
      --no-corpus-path --no-comp-dir-path --short-locs --no-elf-needed \
      --out-file "$here/libmockit.so.1.abi" "$lib"

# name version, one a line, sorted; the version-definition markers (ABS) are
# not symbols.
readelf --dyn-syms -W "$lib" |
  awk '$7 != "UND" && $7 != "ABS" && ($5 == "GLOBAL" || $5 == "WEAK") {
         n = $8; v = n; sub(/@.*/, "", n); sub(/^[^@]*@+/, "", v); print n, v }' |
  sort > "$here/libmockit.so.1.symbols"

echo "wrote $here/libmockit.so.1.abi and $here/libmockit.so.1.symbols"
if git -C "$root" rev-parse >/dev/null 2>&1; then
  git -C "$root" --no-pager diff --stat -- abi/ || true
  git -C "$root" --no-pager diff -- abi/libmockit.so.1.symbols || true
fi
