#!/bin/sh
# ABI-02: abidiff of the freshly built libmockit against the committed
# baseline abi/libmockit.so.1.abi.  Fails on any removed or changed
# function and on any change to the public types (struct data: size,
# offsets, field types).  Added functions alone pass, with a notice:
# tests/abi/check-symbols.sh then insists that the symbol list and the
# baseline be updated on purpose (abi/README.md).
# usage: check-abi.sh BASELINE LIBRARY HEADERS_DIR
set -u
baseline=$1 lib=$2 hdrs=$3

if ! command -v abidiff >/dev/null 2>&1; then
  echo "abidiff not found (Debian: abigail-tools): skipped"
  exit 77
fi
# Without DWARF abidiff sees symbols only (and says nothing about types).
if ! readelf -S -W "$lib" | grep -q '\.debug_info'; then
  echo "$lib has no debug information (a -g build is needed): skipped"
  exit 77
fi
# The baseline is of one architecture (struct data differs on ILP32).
want=$(sed -n "1s/.*architecture='\([^']*\)'.*/\1/p" "$baseline")
have=$(abidw --exported-interfaces-only --no-corpus-path "$lib" | sed -n "1s/.*architecture='\([^']*\)'.*/\1/p")
if [ -n "$want" ] && [ "$want" != "$have" ]; then
  echo "baseline is for $want, this build is $have: skipped"
  exit 77
fi

diff_abi() {
  abidiff --headers-dir1 "$hdrs" --headers-dir2 "$hdrs" \
          --exported-interfaces-only "$@" "$baseline" "$lib"
}

out=$(diff_abi 2>&1); rc=$?
echo "$ abidiff --headers-dir1 $hdrs --headers-dir2 $hdrs --exported-interfaces-only $baseline $lib"
[ -n "$out" ] && echo "$out"
echo "abidiff exit status: $rc"
if [ "$rc" -eq 0 ]; then
  echo "ok: the ABI of $lib matches the baseline"
  exit 0
fi
if [ $((rc & 3)) -ne 0 ]; then
  echo "FAIL: abidiff could not compare (error or usage)"
  exit 1
fi
if [ $((rc & 8)) -ne 0 ]; then
  echo "FAIL: incompatible ABI change (a function was removed)"
  exit 1
fi
# rc & 4: some change.  Only additions?
diff_abi --no-added-syms >/dev/null 2>&1; rc2=$?
if [ "$rc2" -eq 0 ]; then
  echo "notice: functions were added; compatible if they are in a new version"
  echo "node (MOCKIT_1.1) and the baseline is updated: abi/update-baseline.sh"
  exit 0
fi
echo "FAIL: ABI change to an existing function or to struct data (see above)."
echo "That needs SONAME libmockit.so.2; see abi/README.md."
exit 1
