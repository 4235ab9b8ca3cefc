#!/bin/sh
# make bench: mockit beside its alternatives, all measured in one run on
# this machine; writes bench/RESULTS.md and bench/lateness-cdf.svg.
#
#   sh bench/run.sh BUILDDIR
#
# Environment: BENCH_RUNS (default 3: every figure is the median of that
# many runs, with min-max), BENCH_QUICK=1 (tiny sizes: to try the script,
# not for figures), BENCH_OUT (raw data; default BUILDDIR/bench-out),
# BENCH_RESULTS / BENCH_SVG (where the report goes; default beside this
# script, or in BENCH_OUT for a quick run).  Designs whose dependency is missing are skipped and say so.
# About 7 minutes on this 2-core machine while other jobs run (load 3-5).
set -eu

[ $# -ge 1 ] || { echo "usage: sh bench/run.sh BUILDDIR" >&2; exit 2; }
B=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${BENCH_OUT:-$B/bench-out}
RUNS=${BENCH_RUNS:-3}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then   # a quick run never replaces the real report
  RESULTS=${BENCH_RESULTS:-$OUT/RESULTS.md}
  SVG=${BENCH_SVG:-$OUT/lateness-cdf.svg}
else
  RESULTS=${BENCH_RESULTS:-$HERE/RESULTS.md}
  SVG=${BENCH_SVG:-$HERE/lateness-cdf.svg}
fi

# The bench programs are built only with -Dbench=true.
if [ ! -x "$B/bench/bench-lateness" ]; then
  meson configure "$B" -Dbench=true >/dev/null
fi
if ! meson compile -C "$B" >/dev/null 2>&1; then
  echo "bench: the full build failed; building the bench programs only" >&2
  meson compile -C "$B" bench-lateness bench-oneshots bench-idle >/dev/null
  meson compile -C "$B" bench-armcost >/dev/null 2>&1 || true
fi

LAT=$B/bench/bench-lateness
ONE=$B/bench/bench-oneshots
IDLE=$B/bench/bench-idle
ARM=$B/bench/bench-armcost

if [ "$QUICK" = 1 ]; then
  TICKS=50; FAR=10000; TPT_FAR=100; N1M=20000; N_SIGEV=5000; N_SIGEVT=1000
  N_TPT=300; MAX_MK=100000; MAX_KT=5000; MAX_TPT=500; LUA_N=5000; IDLE_MS=300
  GB="--benchmark_min_time=0.01 --benchmark_repetitions=1"; GB_FAR=10000
  SETUP_IDLE=1; SETUP_FAR=2
else
  TICKS=2000; FAR=1000000; TPT_FAR=4096; N1M=1000000; N_SIGEV=1000000; N_SIGEVT=10000
  N_TPT=10000; MAX_MK=10000000; MAX_KT=1000000; MAX_TPT=1000000; LUA_N=100000; IDLE_MS=3000
  # Arm cost while dispatching is bimodal on 2 cores, for the same library:
  # about 155 ns while the arming thread and the library's threads share a
  # CPU (taskset -c 0 gives that every time), 200-220 ns while the lock's
  # cache line moves between CPUs.  Where the scheduler puts them changes
  # from run to run, so 3 short repetitions can all land in one mode.
  GB="--benchmark_min_time=0.2 --benchmark_repetitions=$((RUNS * 2 + 1))"; GB_FAR=1000000
  SETUP_IDLE=2; SETUP_FAR=6
fi

rm -rf "$OUT"
mkdir -p "$OUT"
T_BEGIN=$(date +%s)
LOAD_BEGIN=$(cut -d' ' -f1-3 /proc/loadavg)
say() {
  echo "bench: $*" >&2
  echo "$(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg): $*" >> "$OUT/progress.txt"
}

has_libuv=0
"$LAT" --versions | grep -q '"libuv": ""' || has_libuv=1
DESIGNS="cns cns-slack1 sigev-thread-id sigev-thread tpt mockit"
[ $has_libuv = 1 ] && DESIGNS="cns cns-slack1 sigev-thread-id sigev-thread tpt libuv mockit"

"$LAT" --versions > "$OUT/versions.jsonl"

# ---- 1. lateness of a 10 ms interval timer, idle and with 1M far timers.
# All designs of one run run at once (one process each, each on its own
# phase of the 10 ms grid, 1.25 ms apart), with cyclictest beside them.
for r in $(seq 1 "$RUNS"); do
  for sc in idle far; do
    say "lateness run $r/$RUNS ($sc): $TICKS ticks of 10 ms"
    if [ $sc = idle ]; then setup=$SETUP_IDLE; else setup=$SETUP_FAR; fi
    now=$("$LAT" --now)
    start=$((now + setup * 1000000000))
    i=0
    for d in $DESIGNS; do
      far=0
      if [ $sc = far ]; then
        far=$FAR
        [ "$d" = tpt ] && far=$TPT_FAR
      fi
      "$LAT" --design "$d" --ticks "$TICKS" --far "$far" --start-ns "$start" \
        --phase-us $((i * 1250)) --run "$r" --slot $((i + 10 * r)) \
        --samples "$OUT/lat-$sc-$d-$r.txt" > "$OUT/lat-$sc-$d-$r.jsonl" 2>>"$OUT/stderr.txt" &
      i=$((i + 1))
    done
    if command -v cyclictest >/dev/null 2>&1; then
      # SCHED_OTHER like the others; --laptop: leave cpu_dma_latency alone.
      ( sleep "$setup"; cyclictest -t1 -i 10000 -d 0 -l "$TICKS" -v -N --laptop -q \
          > "$OUT/cyclictest-$sc-$r.raw" 2>>"$OUT/stderr.txt" || true ) &
    fi
    wait
  done
done

# ---- 2. one-shots: spread over 1 s, and all due at once.  One design at a
# time (these are throughput figures).
ONESHOT_DESIGNS="mockit sigev-thread-id sigev-thread tpt"
[ $has_libuv = 1 ] && ONESHOT_DESIGNS="mockit libuv sigev-thread-id sigev-thread tpt"
n_for() {
  case $1 in
    mockit|libuv) echo "$N1M" ;;
    sigev-thread-id) echo "$N_SIGEV" ;;
    sigev-thread) echo "$N_SIGEVT" ;;
    tpt) echo "$N_TPT" ;;
  esac
}
for r in $(seq 1 "$RUNS"); do
  for m in spread burst; do
    say "one-shots run $r/$RUNS ($m)"
    s=50
    for d in $ONESHOT_DESIGNS; do
      "$ONE" --design "$d" --mode "$m" --n "$(n_for "$d")" --run "$r" --slot $s \
        >> "$OUT/oneshots.jsonl" 2>>"$OUT/stderr.txt" || say "oneshots $d $m failed"
      s=$((s + 1))
    done
  done
done

# ---- 4. arm + destroy from an application thread (Google Benchmark).
if [ -x "$ARM" ]; then
  say "arm+destroy (Google Benchmark)"
  # shellcheck disable=SC2086
  "$ARM" --bg=none $GB --benchmark_out="$OUT/armcost-none.json" --benchmark_out_format=json \
    > "$OUT/armcost-none.txt" 2> "$OUT/armcost-none.err" || say "armcost none failed"
  # shellcheck disable=SC2086
  "$ARM" --bg=far --far "$GB_FAR" --design mockit $GB --benchmark_out="$OUT/armcost-far.json" \
    --benchmark_out_format=json > "$OUT/armcost-far.txt" 2> "$OUT/armcost-far.err" || say "armcost far failed"
  for d in mockit posix; do
    # shellcheck disable=SC2086
    "$ARM" --bg=busy --design $d $GB --benchmark_out="$OUT/armcost-busy-$d.json" \
      --benchmark_out_format=json > "$OUT/armcost-busy-$d.txt" 2> "$OUT/armcost-busy-$d.err" \
      || say "armcost busy $d failed"
  done
else
  say "Google Benchmark not found: arm+destroy skipped"
fi

# ---- 5. idle wake-ups (the three designs side by side: they sleep).
say "idle wake-ups"
IDLE_DESIGNS="mockit sigev-thread"
[ $has_libuv = 1 ] && IDLE_DESIGNS="mockit sigev-thread libuv"
for r in $(seq 1 "$RUNS"); do
  for d in $IDLE_DESIGNS; do
    "$IDLE" --design "$d" --ms "$IDLE_MS" --run "$r" > "$OUT/idle-$d-$r.jsonl" 2>>"$OUT/stderr.txt" &
  done
  wait
done

# ---- 6. Lua: luamockit beside luv (Lua 5.4).
LUA=$(command -v lua5.4 || true)
MOD=$B/bindings/lua/lua5.4
if [ -n "$LUA" ]; then
  say "Lua: luamockit vs luv"
  for r in $(seq 1 "$RUNS"); do
    for d in luamockit luv; do
      LUA_CPATH="$MOD/?.so;;" "$LUA" "$HERE/lua/lua_bench.lua" "$d" "$LUA_N" "$r" \
        >> "$OUT/lua.jsonl" 2>>"$OUT/stderr.txt" || say "lua $d failed"
    done
  done
  if [ -f "$HERE/lua/lua_vs_luv.lua" ]; then
    LUA_CPATH="$MOD/?.so;;" "$LUA" "$HERE/lua/lua_vs_luv.lua" > "$OUT/lua_vs_luv.txt" 2>&1 || true
  fi
  "$LUA" -v > "$OUT/lua-version.txt" 2>&1 || true
  "$LUA" -e 'local ok, uv = pcall(require, "luv"); print(ok and uv.version_string() or "none")' \
    > "$OUT/luv-version.txt" 2>&1 || true
else
  say "lua5.4 not found: the Lua part is skipped"
fi

# ---- 3. the largest number of live timers (once: a capacity, not a timing).
# Run last: thread per timer leaves tens of thousands of threads exiting,
# and the arm+destroy timings right after it came out 30% slower (load
# average 1540 at their start in one run).
say "max live timers"
for d in $ONESHOT_DESIGNS; do
  case $d in
    mockit|libuv) n=$MAX_MK ;;
    tpt) n=$MAX_TPT ;;
    *) n=$MAX_KT ;;
  esac
  "$ONE" --design "$d" --mode maxlive --n "$n" --slot 60 \
    >> "$OUT/oneshots.jsonl" 2>>"$OUT/stderr.txt" || say "maxlive $d failed"
done

T_END=$(date +%s)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
echo "{\"test\": \"meta\", \"seconds\": $((T_END - T_BEGIN)), \"runs\": $RUNS, \"quick\": $QUICK, \"load_begin\": \"$LOAD_BEGIN\", \"load_end\": \"$LOAD_END\"}" > "$OUT/meta.jsonl"
command -v cyclictest >/dev/null 2>&1 && cyclictest --help 2>&1 | head -1 > "$OUT/cyclictest-version.txt" || true

python3 "$HERE/report.py" "$OUT" "$RESULTS" "$SVG"
say "done in $((T_END - T_BEGIN)) s: $RESULTS"
