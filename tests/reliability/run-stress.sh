#!/bin/sh
# T3 stress runs of RELIABILITY.md: LIFE-07 full (8 threads x 100 000
# operations), LOAD-01..04 and LOAD-09 at catalogue counts.  Prints "name: value"
# figures; exits 1 if any run broke an invariant.
#   sh tests/reliability/run-stress.sh BUILD_DIR [LOAD04_SECONDS]
# (make stress: BUILD_DIR = build).  Needs the built rel-stress and, for the
# thread-cap variant of LOAD-02, mockit-faultinject.so beside it.
set -u
b=${1:-build}
secs=${2:-60}
d="$b/tests/reliability"
s="$d/rel-stress"
[ -x "$s" ] || { echo "run-stress: $s not built (meson compile -C $b)" >&2; exit 2; }
export LD_LIBRARY_PATH="$b/src${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fail=0
run() {
    echo "== $*"
    t0=$(date +%s)
    "$s" "$@" || fail=1
    echo "   ($(( $(date +%s) - t0 )) s)"
}
run life07 8 100000
run load01 1000000
run load02 100000
# LOAD-02 with thread creation capped: the 4th pthread_create and all later
# ones fail (EAGAIN) -- the library runs on the threads it has.
echo "== load02 100000 (pthread_create capped after 3 threads)"
MOCKIT_FI_PTHREAD_CREATE=4 MOCKIT_FI_PERSIST=1 LD_PRELOAD="$d/mockit-faultinject.so" "$s" load02 100000 || fail=1
run load03 32
run load03 1000
# LOAD-04 under the interposer's lock-wait log: a late one-shot is then
# attributed (a library thread that waited >= 10 ms for the lock is on
# stderr with the lock's holder, and every hold of 10 ms or more with the
# holder's CPU time and context switches meanwhile: kept off the CPU, or
# busy; an application thread preempted while it holds the lock is
# mockit(3)'s CAVEAT).
echo "== load04 $secs 4 (lock waits of 10 ms or more logged)"
t0=$(date +%s)
MOCKIT_FI_LOCKWAIT_MIN=10 LD_PRELOAD="$d/mockit-faultinject.so" "$s" load04 "$secs" 4 || fail=1
echo "   ($(( $(date +%s) - t0 )) s)"
# LOAD-09 full form: 64 threads x 1000 Mockit_bsleep(1..50) while timers run
# (about 30 s); its T1 short form is the meson test rel-load09.
echo "== load09 64 1000"
t0=$(date +%s)
"$d/rel-load09" --child load09 64 1000 || fail=1
echo "   ($(( $(date +%s) - t0 )) s)"
[ "$fail" = 0 ] && echo "run-stress: all ok" || echo "run-stress: FAILED"
exit "$fail"
