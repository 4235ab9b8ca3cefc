#!/bin/sh
# docs: every function that libmockit exports has a page.  A symbol is
# documented when a page names it with .Nm in its NAME section and a page
# file of that name is installed: either MANDIR/<symbol>.3 itself, or a link
# <symbol>.3=<target>.3 (installed by man/meson.build) to a page that names
# it.  Conversely every Mockit_* name a page documents must be exported.
# usage: check-symbols.sh LIBRARY MANDIR [LINK=TARGET ...]
set -u
lib=$1 mandir=$2; shift 2
links="$*"
if ! command -v nm >/dev/null 2>&1; then
  echo "nm not found (Debian: binutils): skipped"
  exit 77
fi
syms=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "W" || $2 == "D" || $2 == "B" { sub(/@.*/, "", $3); print $3 }' | sort -u)
if [ -z "$syms" ]; then
  echo "FAIL: no defined dynamic symbols in $lib"
  exit 1
fi

# The names a page documents: the .Nm lines of its NAME section.
names_of() {
  awk '/^\.Sh /{ sec = $2 } sec == "NAME" && /^\.Nm / { print $2 }' "$1"
}

fail=0
for s in $syms; do
  target=
  if [ -f "$mandir/$s.3" ]; then
    target=$s.3
  else
    for l in $links; do
      [ "${l%%=*}" = "$s.3" ] && target=${l#*=}
    done
  fi
  if [ -z "$target" ]; then
    echo "FAIL $s: exported, but there is no page $s.3 and no link of that name"
    fail=1
  elif ! [ -f "$mandir/$target" ]; then
    echo "FAIL $s: $s.3 links to $target, which does not exist"
    fail=1
  elif ! names_of "$mandir/$target" | grep -qx "$s"; then
    echo "FAIL $s: $target does not list '.Nm $s' in its NAME section"
    fail=1
  else
    echo "ok   $s -> $target"
  fi
done

for page in "$mandir"/*.3; do
  for n in $(names_of "$page" | grep '^Mockit_'); do
    if ! printf '%s\n' $syms | grep -qx "$n"; then
      echo "FAIL $(basename "$page") documents $n, which libmockit does not export"
      fail=1
    fi
  done
done
exit $fail
