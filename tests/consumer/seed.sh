#!/bin/sh
# consumer: the usage notes' t.c (tests/demo/seed.c, verbatim), built as a
# user builds it against an installed mockit -- nothing but
#   cc -Wall -Werror t.c $(pkg-config --cflags --libs mockit)
# -- and run; its output must be what the notes promise.  About 15 s: a
# 1 s sleep, a one-shot after 3 s, then an interval of 3 s for 10 s.
# usage: seed.sh MESON BUILDDIR PREFIX SEED_C
meson=$1 builddir=$2 prefix=$3 seed=$4
. "$(dirname "$0")/common.sh"
install_build
command -v pkg-config >/dev/null || { echo "pkg-config not found: skipped"; exit 77; }

# The installed .pc names the configured prefix ($prefix), but the files are
# under $root: point the prefix variable there (the .pc derives includedir
# and libdir from it).  PKG_CONFIG_LIBDIR keeps any system mockit.pc out.
export PKG_CONFIG_PATH="$root/lib/pkgconfig"
export PKG_CONFIG_LIBDIR="$root/lib/pkgconfig"
flags=$(pkg-config --define-variable=prefix="$root" --cflags --libs mockit) ||
  { echo "FAIL: pkg-config --cflags --libs mockit"; exit 1; }
echo "pkg-config --cflags --libs mockit: $flags"
case "$flags" in
  *"-I$root/include"*"-L$root/lib"*|*"-L$root/lib"*"-I$root/include"*) ;;
  *) echo "FAIL: the flags do not point into the installed tree $root"; exit 1 ;;
esac

cp "$seed" "$work/t.c"
cd "$work"
${CC:-cc} -Wall -Werror t.c $flags -o t > cc.log 2>&1 ||
  { echo "FAIL: cc -Wall -Werror t.c $flags"; cat cc.log; exit 1; }
readelf -d t | grep -q 'NEEDED.*\[libmockit\.so\.1\]' ||
  { echo "FAIL: t does not depend on libmockit.so.1"; readelf -d t | grep NEEDED; exit 1; }

start=$(date +%s)
LD_LIBRARY_PATH="$root/lib" timeout 60 ./t > out.txt 2> err.txt
rc=$?
end=$(date +%s)
echo "./t: exit status $rc after about $((end - start)) s; output:"
sed 's/^/     | /' out.txt err.txt
fail=0
[ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc"; fail=1; }
[ -s err.txt ] && { echo "FAIL: output on stderr"; fail=1; }
# The notes' promises: a full sleep, the one-shot, destroy 0, and "enough
# time for the interval callback to be called 3 times" in 10 s of 3 s.
cat > want.txt <<'WANT'
done sleeping. Time left: 0, error: 0
called one-shot callback
res is 0
called interval callback
called interval callback
called interval callback
WANT
if ! diff -u want.txt out.txt; then
  echo "FAIL: output differs from the usage notes' (- expected, + actual)"
  fail=1
fi
[ "$fail" -eq 0 ] && echo "ok: the notes' C example works as shown"
exit $fail
