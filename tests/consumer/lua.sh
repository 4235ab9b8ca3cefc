#!/bin/sh
# consumer: a Lua 5.4 script uses the installed luamockit with nothing but
# LUA_CPATH=PREFIX/lib/lua/5.4/?.so (and LD_LIBRARY_PATH for libmockit.so.1,
# which a real install in a system prefix does not need).  Skipped (77)
# when this build has no Lua 5.4 module.
# usage: lua.sh MESON BUILDDIR PREFIX SCRIPT
meson=$1 builddir=$2 prefix=$3 script=$4
. "$(dirname "$0")/common.sh"
command -v lua5.4 >/dev/null || { echo "lua5.4 not found: skipped"; exit 77; }
install_build
mod=$root/lib/lua/5.4/luamockit.so
[ -f "$mod" ] || { echo "$mod not installed (Lua module not built): skipped"; exit 77; }
LUA_PATH= LUA_CPATH="$root/lib/lua/5.4/?.so" LD_LIBRARY_PATH="$root/lib" \
  EXPECT_MODULE="$mod" timeout 30 lua5.4 "$script"
