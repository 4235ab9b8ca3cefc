#!/bin/sh
# docs: every page lints clean with `mandoc -Tlint -W warning` (no output at
# all), renders without warnings through groff (what man(1) uses on Debian)
# when groff is installed, names itself in .Dt, and carries the project's
# version in .Os.
# usage: lint.sh VERSION PAGE...
set -u
version=$1; shift
if ! command -v mandoc >/dev/null 2>&1; then
  echo "mandoc not found (Debian: mandoc): skipped"
  exit 77
fi
fail=0
for page in "$@"; do
  name=$(basename "$page" .3)
  out=$(mandoc -Tlint -W warning "$page" 2>&1)
  if [ -n "$out" ]; then
    echo "FAIL $page: mandoc -Tlint -W warning:"
    echo "$out"
    fail=1
  fi
  if command -v groff >/dev/null 2>&1; then
    gout=$(groff -mandoc -ww -z -Tutf8 "$page" 2>&1)
    if [ -n "$gout" ]; then
      echo "FAIL $page: groff -mandoc -ww:"
      echo "$gout"
      out=$gout
      fail=1
    fi
  fi
  upper=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
  if ! grep -qx "\.Dt $upper 3" "$page"; then
    echo "FAIL $page: no '.Dt $upper 3' line"
    fail=1
  fi
  if ! grep -qx "\.Os mockit $version" "$page"; then
    echo "FAIL $page: no '.Os mockit $version' line (the project version)"
    fail=1
  fi
  [ -z "$out" ] && echo "ok   $page"
done
exit $fail
