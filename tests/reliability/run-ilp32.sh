#!/bin/sh
# rel-ilp32 (RELIABILITY.md MIS-09 on i386, BND-05 on ILP32): builds the
# library and test_ilp32.c with -m32, checks that <mockit.h> compiles there
# as strict C99, and runs the test.  meson.build registers it only when the
# compilers can link -m32 programs (Debian: g++-multilib).
#   sh run-ilp32.sh CC CXX SOURCE_ROOT OUT_DIR
set -eu
cc=$1 cxx=$2 src=$3 out=$4
mkdir -p "$out"
inc="-I$src/include -I$src/src"
# the library as meson builds it: hidden visibility, the version script
# (which fails the link if an exported name is missing), -z nodelete
$cxx -m32 -std=c++20 -O2 -fPIC -shared -fno-rtti -fvisibility=hidden -pthread $inc \
    -Wl,--version-script="$src/src/libmockit.map" -Wl,-z,nodelete -Wl,-soname,libmockit.so.1 \
    "$src"/src/abi/mockit.cpp "$src"/src/core/*.cpp -o "$out/libmockit.so.1" -lrt
$cc -m32 -std=c99 -pedantic -Werror -Wall -Wextra -fsyntax-only -I"$src/include" "$src/tests/reliability/mis09_c99.c"
echo "ok MIS-09: <mockit.h> compiles with -m32 -std=c99 -pedantic -Werror"
$cc -m32 -std=c11 -Wall -Wextra -Werror -pthread -I"$src/include" "$src/tests/reliability/test_ilp32.c" \
    "$out/libmockit.so.1" -Wl,-rpath,"$out" -o "$out/ilp32"
class=$(od -An -tx1 -j4 -N1 "$out/libmockit.so.1" | tr -d ' ')
[ "$class" = 01 ] || { echo "FAIL: libmockit.so.1 is not a 32-bit ELF"; exit 1; }
echo "ok MIS-09: libmockit.so.1 and the test build and link with -m32 (the layout asserts hold)"
# Run it natively if the kernel executes i386 programs, else under
# qemu-i386 (Debian: qemu-user, which `make check` installs); else the
# run is skipped (77), the build checks above having passed.
rc=0
"$out/ilp32" 2>/dev/null || rc=$?
if [ "$rc" = 126 ]; then
    if command -v qemu-i386 >/dev/null; then
        echo "(this kernel does not execute i386 programs: running under qemu-i386)"
        exec qemu-i386 "$out/ilp32"
    fi
    echo "SKIP: the kernel does not execute i386 programs and qemu-i386 is missing"
    exit 77
fi
"$out/ilp32"
