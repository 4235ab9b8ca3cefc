#!/bin/sh
# consumer: `meson install --destdir` gives the layout of SPEC section 4 --
#   PREFIX/lib/libmockit.so.1           PREFIX/include/mockit.h
#   PREFIX/lib/pkgconfig/mockit.pc      PREFIX/share/man/man3/*.3
#   PREFIX/lib/lua/5.x/luamockit.so     PREFIX/share/mockit/valgrind.supp
# and nothing that is not meant for users (static core, test programs).
# usage: layout.sh MESON BUILDDIR PREFIX MAN(true|false) LUA_ABIS(e.g. "5.1 5.4" or "")
meson=$1 builddir=$2 prefix=$3 man=$4 lua_abis=$5
. "$(dirname "$0")/common.sh"
install_build
fail=0
need() {
  if [ -e "$root/$1" ] || [ -L "$root/$1" ]; then
    echo "ok   $1"
  else
    echo "FAIL $1 missing"
    fail=1
  fi
}
need lib/libmockit.so.1
need lib/libmockit.so          # the -lmockit link for compilers
need include/mockit.h
need lib/pkgconfig/mockit.pc
need share/mockit/valgrind.supp
if [ "$man" = true ]; then
  for p in mockit luamockit Mockit_bsleep Mockit_data_init Mockit_destroy \
           Mockit_getit Mockit_gettime Mockit_mstimestamp Mockit_oneoff \
           Mockit_overrun Mockit_version; do
    need share/man/man3/$p.3
    if [ -L "$root/share/man/man3/$p.3" ] && ! [ -e "$root/share/man/man3/$p.3" ]; then
      echo "FAIL share/man/man3/$p.3 is a dangling link"
      fail=1
    fi
  done
fi
for v in $lua_abis; do
  need lib/lua/$v/luamockit.so
done
[ -n "$lua_abis" ] || echo "note: no Lua module in this build (-Dlua=disabled or no Lua found)"

# libmockit.so.1 resolves to the real library, whose SONAME it is.
real=$(readlink -f "$root/lib/libmockit.so.1")
if readelf -d "$real" 2>/dev/null | grep -q 'SONAME.*\[libmockit\.so\.1\]'; then
  echo "ok   lib/libmockit.so.1 -> $(basename "$real") (SONAME libmockit.so.1)"
else
  echo "FAIL lib/libmockit.so.1 does not resolve to a library with SONAME libmockit.so.1"
  fail=1
fi

# Nothing else: every installed path must match one of these.
(cd "$root" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) > "$work/files"
grep -v -E '^(lib/libmockit\.so(\.1(\.[0-9]+)*)?|include/mockit\.h|lib/pkgconfig/mockit\.pc|share/man/man3/[A-Za-z_]+\.3|share/mockit/valgrind\.supp|lib/lua/5\.[1-4]/luamockit\.so)$' \
  "$work/files" > "$work/extra" || true
if [ -s "$work/extra" ]; then
  echo "FAIL installed files that are not part of SPEC section 4:"
  sed 's/^/     /' "$work/extra"
  fail=1
fi
echo "installed under PREFIX=$prefix:"
sed 's/^/     /' "$work/files"
exit $fail
