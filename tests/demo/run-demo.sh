#!/bin/sh
# make demo: the usage notes' examples, built and run the way a user does,
# against an installed copy of mockit.
# Usage: run-demo.sh <destdir> <prefix>   (the library is installed at destdir/prefix)
set -eu
root=$1
prefix=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export PKG_CONFIG_PATH="$root$prefix/lib/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$root"      # the .pc names $prefix; it lives under $root
export LD_LIBRARY_PATH="$root$prefix/lib"

echo "== C: the notes' t.c, built with: cc -Wall t.c \$(pkg-config --cflags --libs mockit)"
cp "$here/seed.c" "$work/t.c"
(cd "$work" && cc -Wall t.c $(pkg-config --cflags --libs mockit) -o t)
echo "== running ./t (about 15 s: a 1 s sleep, a one-shot at 3 s, an interval of 3 s for 10 s)"
start=$(date +%s.%N)
stdbuf -oL "$work/t" | while IFS= read -r line; do
  awk -v s="$start" -v n="$(date +%s.%N)" -v l="$line" 'BEGIN { printf "[%6.3f s] %s\n", n - s, l }'
done

lua=lua5.4
cmod="$root$prefix/lib/lua/5.4"
if command -v "$lua" >/dev/null && [ -f "$cmod/luamockit.so" ]; then
  for demo in seed_poll seed_wait; do
    [ -f "$here/$demo.lua" ] || continue
    echo "== Lua: $demo.lua with LUA_CPATH=$cmod/?.so"
    LUA_CPATH="$cmod/?.so" "$lua" "$here/$demo.lua"
  done
else
  echo "== Lua demos skipped: $lua or luamockit.so not found under $cmod"
fi
