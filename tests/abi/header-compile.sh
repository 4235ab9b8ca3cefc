#!/bin/sh
# MIS-09 / ABI-01: <mockit.h> stands alone and compiles cleanly as strict C
# (C99 and C11, -pedantic -Werror -Wall -Wextra and a few more) and as C++
# (C++11, C++17, C++20, -Werror); a program that includes nothing else can
# use every type of the prototypes and sleep() (the usage notes' example
# does).  With a multilib compiler, the ILP32 layout is checked too.
# usage: header-compile.sh 'CC' 'CXX' INCLUDE_DIR LAYOUT_C
set -u
cc=$1 cxx=$2 inc=$3 layout=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

cat > "$tmp/only.c" <<'SRC'
#include <mockit.h>
/* Only the header: every type and call of the API must resolve. */
static void *cb(void *arg) { return arg; }
int main(void)
{
    struct data d = { cb, NULL, 0 };
    ssize_t left = 0;
    int error = 0;
    time_t secs = 0;
    long ms = 0;
    uint64_t stamp = 0;
    uint32_t n = 1;
    (void)Mockit_bsleep(n, &left, &error);
    (void)Mockit_gettime(&secs, &ms);
    (void)Mockit_mstimestamp(&stamp);
    (void)Mockit_oneoff(n, &d);
    (void)Mockit_getit(n, &d);
    (void)Mockit_overrun(&d);
    (void)Mockit_destroy(&d);
    (void)Mockit_data_init;
    (void)sleep;
    return Mockit_version()[0] == '\0';
}
SRC
cp "$tmp/only.c" "$tmp/only.cpp"

try() {
  label=$1; shift
  if out=$("$@" 2>&1); then
    echo "ok   $label"
  else
    echo "FAIL $label"
    echo "  \$ $*"
    echo "$out" | sed 's/^/  /'
    fail=1
  fi
}

cwarn="-Wall -Wextra -Werror -pedantic -Wstrict-prototypes -Wmissing-prototypes -Wundef -Wshadow -Wcast-qual"
for std in c99 c11 gnu99; do
  try "C $std: $cwarn" $cc -std=$std $cwarn -I"$inc" -fsyntax-only "$tmp/only.c"
done
try "C gnu89: -Wall -Wextra -Werror" \
  $cc -std=gnu89 -Wall -Wextra -Werror -I"$inc" -fsyntax-only "$tmp/only.c"
for std in c++11 c++17 c++20; do
  try "C++ $std: -Wall -Wextra -Werror -pedantic" \
    $cxx -std=$std -Wall -Wextra -Werror -pedantic -Wold-style-cast -Wzero-as-null-pointer-constant \
      -x c++ -I"$inc" -fsyntax-only "$tmp/only.cpp"
done
try "C11 struct data layout (_Static_assert)" \
  $cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$inc" -fsyntax-only "$layout"

# ILP32 (i386) layout, when the compiler can target it.
printf '#include <stdint.h>\nint main(void) { return 0; }\n' > "$tmp/m32.c"
if $cc -m32 -fsyntax-only "$tmp/m32.c" >/dev/null 2>&1; then
  try "C11 struct data layout, -m32" \
    $cc -m32 -std=c11 -Wall -Wextra -Werror -pedantic -I"$inc" -fsyntax-only "$layout"
else
  echo "note: $cc -m32 cannot build here (no gcc-multilib): ILP32 layout not checked"
fi
exit $fail
