#!/bin/sh
# T3 soak of RELIABILITY.md LOAD-05, shortened: a mixed workload (churn
# threads, 100 intervals of 1-1000 ms, a bsleep loop, a fork every 10 s
# (60 s in runs of an hour or more), SIGSTOP/SIGCONT now and then) for
# SECONDS; samples RSS, fds, kernel timers and library threads and reports
# the RSS slope; each new RSS high after warm-up lists the mappings whose
# Rss changed (heap, arena, stack, library pages).  At the end, with one
# interval left, the library must be back to 3 threads (followers made for
# blocked callbacks leave after 10 s idle).  Exits 1 if an invariant broke.
#   sh tests/reliability/run-soak.sh BUILD_DIR [SECONDS]
# (make soak: BUILD_DIR = build, SECONDS = DURATION, default 600.)
# SOAK_TRACE_MIN=N runs the soak under the fault interposer's trace: each
# allocation of N bytes or more, and its free, is logged with its thread,
# so that an RSS step can be attributed from the log alone.
set -u
b=${1:-build}
secs=${2:-600}
s="$b/tests/reliability/rel-stress"
[ -x "$s" ] || { echo "run-soak: $s not built (meson compile -C $b)" >&2; exit 2; }
export LD_LIBRARY_PATH="$b/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -n "${SOAK_TRACE_MIN:-}" ]; then
    LD_PRELOAD="$b/tests/reliability/mockit-faultinject.so" MOCKIT_FI_TRACE_MIN="$SOAK_TRACE_MIN" \
        "$s" soak "$secs" &
else
    "$s" soak "$secs" &
fi
pid=$!
# stop and continue it every 30 s (a scheduling fault, TIM-08)
(
    while kill -0 "$pid" 2>/dev/null; do
        sleep 30
        kill -STOP "$pid" 2>/dev/null || break
        sleep 0.2
        kill -CONT "$pid" 2>/dev/null || break
    done
) &
stopper=$!
wait "$pid"
rc=$?
kill "$stopper" 2>/dev/null
wait "$stopper" 2>/dev/null
[ "$rc" = 0 ] && echo "run-soak: ok" || echo "run-soak: FAILED ($rc)"
exit "$rc"
