#!/bin/sh
# ABI-01: libmockit exports exactly the documented functions, each with the
# symbol version recorded in abi/libmockit.so.1.symbols (MOCKIT_1 for the
# nine functions of 1.0), nothing else: no C++ symbol, no helper.  The
# header declares exactly those functions with MOCKIT_API.
# usage: check-symbols.sh LIBRARY SYMBOLS_FILE HEADER
set -u
lib=$1 expected=$2 header=$3
if ! command -v readelf >/dev/null 2>&1; then
  echo "readelf not found (Debian: binutils): skipped"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Defined global symbols of .dynsym as "name version"; the ABS entries are
# the version-definition markers (MOCKIT_1), not symbols.
readelf --dyn-syms -W "$lib" |
  awk '$7 != "UND" && $7 != "ABS" && ($5 == "GLOBAL" || $5 == "WEAK" || $5 == "UNIQUE") {
         n = $8; v = n; sub(/@.*/, "", n)
         if (v ~ /@/) sub(/^[^@]*@+/, "", v); else v = "(none)"
         print n, v }' | sort > "$tmp/actual"
sort "$expected" > "$tmp/expected"

fail=0
if ! diff -u "$tmp/expected" "$tmp/actual" > "$tmp/diff"; then
  echo "FAIL: exported symbols differ from $expected (- expected, + built):"
  cat "$tmp/diff"
  fail=1
else
  echo "ok: $(wc -l < "$tmp/actual") exported symbols, as expected:"
  sed 's/^/     /' "$tmp/actual"
fi
if grep -q '^_Z' "$tmp/actual"; then
  echo "FAIL: C++ symbols are exported:"
  grep '^_Z' "$tmp/actual"
  fail=1
fi
if grep -qv '^Mockit_' "$tmp/actual"; then
  echo "FAIL: symbols outside the Mockit_ namespace are exported"
  fail=1
fi

# Every MOCKIT_API declaration of the header is an expected symbol, and back.
sed -n 's/^MOCKIT_API[^(]*[ *]\(Mockit_[A-Za-z0-9_]*\)(.*/\1/p' "$header" | sort > "$tmp/declared"
cut -d' ' -f1 "$tmp/expected" | sort > "$tmp/names"
if ! diff -u "$tmp/names" "$tmp/declared" > "$tmp/diff2"; then
  echo "FAIL: the MOCKIT_API functions of $header differ from $expected (- list, + header):"
  cat "$tmp/diff2"
  fail=1
else
  echo "ok: the header declares the same $(wc -l < "$tmp/declared") functions"
fi

# The version nodes the library defines: the base (its soname) and MOCKIT_*.
readelf -V -W "$lib" | sed -n 's/.*Flags: [A-Za-z]*  *Index: [0-9]*  *Cnt: [0-9]*  *Name: \(.*\)$/\1/p' > "$tmp/vers"
for v in $(cut -d' ' -f2 "$tmp/expected" | sort -u); do
  if ! grep -qx "$v" "$tmp/vers"; then
    echo "FAIL: version node $v is not defined by $lib"
    fail=1
  fi
done
exit $fail
