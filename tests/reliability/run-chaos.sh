#!/bin/sh
# FUZZ-05 (RELIABILITY.md B10): the chaos build.  Configures BUILD_DIR
# (default build-chaos/ in the source tree) with -Dchaos=true, which makes
# MOCKIT_CHAOS_POINT() (src/core/chaos.hpp) yield or sleep 0-200 us at the
# core's race windows, builds what the tests need and reruns with it:
#   LIFE-01..08   rel-life, one CMocka filter per item (LIFE-09/10 are
#                 process exit and thread exit, not race windows)
#   LUA-02        run.lua "LUA-02" under Lua 5.4
#   LUA-03        run.lua "LUA-03" under Lua 5.4 and the host_close C host
# Pass: the same invariants as the plain run (the tests' own checks).
#
#   sh tests/reliability/run-chaos.sh [BUILD_DIR] [ROUNDS]
#
# ROUNDS (default 1) repeats the whole set; MOCKIT_TEST_SCALE is passed on
# (nightly: ROUNDS=3 MOCKIT_TEST_SCALE=10).  Exit 0 when everything passed,
# 1 otherwise (the failing runs' output is printed).  Lua parts are
# skipped, with a note, when the Lua 5.4 module or host was not built.
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
b=${1:-"$root/build-chaos"}
case "$b" in /*) ;; *) b="$PWD/$b" ;; esac
rounds=${2:-1}
case "$rounds" in *[!0-9]*|'') echo "usage: $0 [BUILD_DIR] [ROUNDS]" >&2; exit 2 ;; esac

if [ ! -f "$b/build.ninja" ]; then
    mkdir -p "$b"
    meson setup "$b" "$root" --libdir=lib -Dchaos=true -Dbench=false -Dman=false \
        -Dlua_versions=lua5.4 >"$b/setup.log" 2>&1 || {
        cat "$b/setup.log" >&2
        echo "run-chaos: meson setup failed (remove $b to retry)" >&2
        exit 2
    }
fi
if [ "$(meson introspect "$b" --buildoptions | python3 -c '
import json, sys
print([o["value"] for o in json.load(sys.stdin) if o["name"] == "chaos"][0])')" != "True" ]; then
    echo "run-chaos: $b is not configured with -Dchaos=true" >&2
    exit 2
fi
# Only what the tests below need (the Lua ones when they are configured).
targets=tests/reliability/rel-life
meson introspect "$b" --targets >"$b/targets.json"
for t in bindings/lua/lua5.4/luamockit.so tests/lua/host_close; do
    if grep -q "\"$b/$t\"" "$b/targets.json"; then targets="$targets ${t%.so}"; fi
done
if ! meson compile -C "$b" -j "${JOBS:-2}" $targets >"$b/compile.log" 2>&1; then
    tail -30 "$b/compile.log" >&2
    echo "run-chaos: build failed (log: $b/compile.log)" >&2
    exit 1
fi

life="$b/tests/reliability/rel-life"
mod=$(ls "$b"/bindings/lua/lua5.4/luamockit.so 2>/dev/null || true)
host="$b/tests/lua/host_close"
lua=$(command -v lua5.4 || true)

fails=0
runs=0
log="$b/chaos-run.log"
: >"$log"
run() {   # run NAME CMD...
    name=$1
    shift
    runs=$((runs + 1))
    t0=$(date +%s.%N)
    if "$@" >"$b/chaos-last.out" 2>&1; then
        st=ok
    else
        st="FAIL (status $?)"
        fails=$((fails + 1))
    fi
    t1=$(date +%s.%N)
    line=$(printf '%-8s %-40s %6.1f s' "$st" "$name" "$(echo "$t1 - $t0" | bc)")
    echo "$line"
    { echo "== $line"; cat "$b/chaos-last.out"; } >>"$log"
    if [ "$st" != ok ]; then tail -40 "$b/chaos-last.out" | sed 's/^/    /'; fi
}

# A chaos point that blocks (yield, sleep) costs a trip through the run
# queue: on a loaded machine tens of ms where the plain build takes
# microseconds (LIFE-02's "self-destroy does not wait" bound is 20 ms).
# The tests' time bounds are scaled as under the sanitizers; counts,
# return values and ordering checks are unchanged.
export MOCKIT_TEST_TIME_SCALE="${MOCKIT_TEST_TIME_SCALE:-5}"
echo "run-chaos: $b (chaos build), $rounds round(s), MOCKIT_TEST_SCALE=${MOCKIT_TEST_SCALE:-1}, MOCKIT_TEST_TIME_SCALE=$MOCKIT_TEST_TIME_SCALE"
r=1
while [ "$r" -le "$rounds" ]; do
    for id in 01 02 03 04 05 06 07 08; do
        run "LIFE-$id (rel-life test_LIFE${id}*)" "$life" "test_LIFE${id}*"
    done
    if [ -n "$mod" ] && [ -n "$lua" ]; then
        for id in LUA-02 LUA-03; do
            run "$id (run.lua, Lua 5.4)" env LUA_CPATH="$(dirname "$mod")/?.so;;" "$lua" "$root/tests/lua/run.lua" "$id"
        done
    else
        echo "run-chaos: no Lua 5.4 module or interpreter: LUA-02/03 (run.lua) skipped"
    fi
    if [ -n "$mod" ] && [ -x "$host" ]; then
        run "LUA-03 (host_close)" env LUA_CPATH="$(dirname "$mod")/?.so" "$host"
    else
        echo "run-chaos: no host_close: its LUA-03 run skipped"
    fi
    r=$((r + 1))
done
echo "run-chaos: $runs runs, $fails failed (full output: $log)"
[ "$fails" -eq 0 ]
