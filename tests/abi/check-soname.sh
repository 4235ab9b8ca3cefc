#!/bin/sh
# ABI-01: SONAME libmockit.so.1, and FLAGS_1 NODELETE (linked -z nodelete:
# dlclose never unmaps code that library threads run).
# usage: check-soname.sh LIBRARY
set -u
lib=$1
if ! command -v readelf >/dev/null 2>&1; then
  echo "readelf not found (Debian: binutils): skipped"
  exit 77
fi
dyn=$(readelf -d -W "$lib")
fail=0
if echo "$dyn" | grep -q '(SONAME).*\[libmockit\.so\.1\]'; then
  echo "ok: SONAME libmockit.so.1"
else
  echo "FAIL: SONAME is not libmockit.so.1:"
  echo "$dyn" | grep SONAME
  fail=1
fi
if echo "$dyn" | grep '(FLAGS_1)' | grep -qw NODELETE; then
  echo "ok: FLAGS_1 NODELETE"
else
  echo "FAIL: FLAGS_1 lacks NODELETE (link with -Wl,-z,nodelete):"
  echo "$dyn" | grep FLAGS
  fail=1
fi
if echo "$dyn" | grep -q '(TEXTREL)'; then
  echo "FAIL: text relocations"
  fail=1
fi
exit $fail
