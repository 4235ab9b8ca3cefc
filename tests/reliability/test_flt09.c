/*
 * rel-flt09: RELIABILITY.md FLT-09 (a)-(c), resource exhaustion by fault
 * injection.  argv[1] is faultinject.so; every scenario runs in a child
 * started with LD_PRELOAD of it (this process itself is not interposed).
 *
 * Scenario (one fault armed: the N-th malloc/calloc/realloc -- operator
 * new included --, or the K-th pthread_create / timer_create /
 * timer_settime fails):  data_init, oneoff(1), getit(2), a blocking
 * oneoff(0) (makes the library want a follower thread), getit(1); wait;
 * destroy everything.  Pass: every call succeeds or returns ENOMEM /
 * EAGAIN (data_init: NULL + ENOMEM); nothing aborts or hangs; every arm
 * that returned 0 is called (no silently dead timer); after the fault is
 * disarmed, the library works (a one-shot fires, an interval ticks).
 *
 *  - "fresh": the fault hits the first use of the library in a new
 *    process (thread start-up, first allocations), N = 1..60 / K = 1..4;
 *  - "warm": one process sweeps N = 1..200 over the scenario after a
 *    clean warm-up run, until N exceeds the calls the scenario makes.
 */
#include "rel.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mockit.h>

enum { FI_MALLOC, FI_PTHREAD_CREATE, FI_TIMER_CREATE, FI_TIMER_SETTIME };
static const char *kind_names[] = { "malloc", "pthread_create", "timer_create", "timer_settime" };

static void (*fi_set)(int, long, int);
static long (*fi_calls)(int);
static long (*fi_failed)(int);

static const char *fi_path;

/* ---- the child side ---- */

static atomic_int c_s1, c_s2, c_s3, c_s4, c_after;
static atomic_int c_block_release;

static void *count_cb(void *arg) {
    atomic_fetch_add((atomic_int *)((struct data *)arg)->stuff, 1);
    return NULL;
}

static void *block_cb(void *arg) {
    atomic_fetch_add((atomic_int *)((struct data *)arg)->stuff, 1);
    uint64_t dl = mt_now_ns() + 3 * MT_NS_PER_MS;
    while (mt_now_ns() < dl && !atomic_load(&c_block_release)) {}
    return NULL;
}

static bool arm_rc_ok(int rc) { return rc == 0 || rc == ENOMEM || rc == EAGAIN; }

static int wait_count(atomic_int *c, int want, double ms) {
    uint64_t dl = mt_now_ns() + mt_bound_ns(ms);
    while (atomic_load(c) < want && mt_now_ns() < dl) mt_sleep_ns(200000);
    return atomic_load(c) >= want;
}

/* Returns 0, or a code naming the broken check (printed by the child). */
static atomic_int c_blocked;
static struct data s_block[64];

static int scenario(int kind, long n, int blockers, char *why, size_t len) {
    static struct data s1, s2, s3, s4;
    atomic_store(&c_s1, 0);
    atomic_store(&c_s2, 0);
    atomic_store(&c_s3, 0);
    atomic_store(&c_s4, 0);
    s1 = (struct data){ .cb = count_cb, .stuff = &c_s1 };
    s2 = (struct data){ .cb = count_cb, .stuff = &c_s2 };
    s3 = (struct data){ .cb = block_cb, .stuff = &c_s3 };
    s4 = (struct data){ .cb = count_cb, .stuff = &c_s4 };
    if (fi_set && n) fi_set(kind, n, 0);

    errno = 0;
    struct data *d1 = Mockit_data_init();
    if (!d1 && errno != ENOMEM) {
        snprintf(why, len, "data_init: NULL with errno %d", errno);
        return 10;
    }
    if (d1) {
        d1->cb = count_cb;
        d1->stuff = &c_s2;
    }
    struct data *iv = d1 ? d1 : &s2;
    /* For timer_settime, s1 is due in 20 ms: the clock thread (woken from
     * its idle wait by this arm) then surely programs the kernel timer for
     * it, rather than finding it already due after a slow wake-up, so the
     * first fault point is always reached. */
    int rc1 = Mockit_oneoff(kind == FI_TIMER_SETTIME ? 20 : 1, &s1);
    /* alone first: no later arm may re-program the kernel timer for it */
    if (kind == FI_TIMER_SETTIME && rc1 == 0 && !wait_count(&c_s1, 1, 2000)) {
        snprintf(why, len, "oneoff(1) armed alone, never called");
        return 12;
    }
    int rc2 = Mockit_getit(2, iv);
    int rc3 = Mockit_oneoff(0, &s3);
    int rc4 = Mockit_getit(1, &s4);
    int rcs[4] = { rc1, rc2, rc3, rc4 };
    for (int i = 0; i < 4; i++)
        if (!arm_rc_ok(rcs[i])) {
            snprintf(why, len, "arm %d returned %d", i + 1, rcs[i]);
            return 11;
        }
    /* more callbacks blocking at once than idle threads: the library
     * wants new followers (their creation may fail: late, not lost) */
    atomic_store(&c_blocked, 0);
    int armed_blockers = 0;
    for (int i = 0; i < blockers && i < 64; i++) {
        s_block[i] = (struct data){ .cb = block_cb, .stuff = &c_blocked };
        int rc = Mockit_oneoff(0, &s_block[i]);
        if (!arm_rc_ok(rc)) {
            snprintf(why, len, "blocker arm returned %d", rc);
            return 11;
        }
        armed_blockers += rc == 0;
    }
    if (!wait_count(&c_blocked, armed_blockers, 3000)) {
        snprintf(why, len, "%d of %d blocking one-shots called", atomic_load(&c_blocked), armed_blockers);
        return 25;
    }
    /* every arm that returned 0 is called (late maybe, never lost) */
    if (rc1 == 0 && !wait_count(&c_s1, 1, 2000)) { snprintf(why, len, "oneoff(1) armed, never called"); return 12; }
    if (rc2 == 0 && !wait_count(&c_s2, 1, 2000)) { snprintf(why, len, "getit(2) armed, never called"); return 13; }
    if (rc3 == 0 && !wait_count(&c_s3, 1, 2000)) { snprintf(why, len, "oneoff(0) armed, never called"); return 14; }
    if (rc4 == 0 && !wait_count(&c_s4, 1, 2000)) { snprintf(why, len, "getit(1) armed, never called"); return 15; }
    if (fi_set) fi_set(kind, 0, 0);

    int d;
    if (d1 && (d = Mockit_destroy(d1)) != 0) { snprintf(why, len, "destroy(data_init) %d", d); return 16; }
    if (!d1 && (d = Mockit_destroy(&s2)) != (rc2 == 0 ? 0 : EINVAL)) {
        snprintf(why, len, "destroy(getit(2) struct, arm %d) %d", rc2, d);
        return 17;
    }
    if ((d = Mockit_destroy(&s4)) != (rc4 == 0 ? 0 : EINVAL)) {
        snprintf(why, len, "destroy(getit(1) struct, arm %d) %d", rc4, d);
        return 18;
    }
    d = Mockit_destroy(&s1);
    if (d != 0 && d != EINVAL) { snprintf(why, len, "destroy(oneoff 1) %d", d); return 19; }
    d = Mockit_destroy(&s3);
    if (d != 0 && d != EINVAL) { snprintf(why, len, "destroy(oneoff 0) %d", d); return 20; }

    /* the library works afterwards */
    static struct data a1, a2;
    atomic_store(&c_after, 0);
    a1 = (struct data){ .cb = count_cb, .stuff = &c_after };
    a2 = (struct data){ .cb = count_cb, .stuff = &c_after };
    int r;
    if ((r = Mockit_oneoff(0, &a1)) != 0) { snprintf(why, len, "afterwards: oneoff %d", r); return 21; }
    if ((r = Mockit_getit(1, &a2)) != 0) { snprintf(why, len, "afterwards: getit %d", r); return 22; }
    if (!wait_count(&c_after, 4, 2000)) { snprintf(why, len, "afterwards: timers not called"); return 23; }
    if ((r = Mockit_destroy(&a2)) != 0) { snprintf(why, len, "afterwards: destroy %d", r); return 24; }
    return 0;
}

static void load_controls(void) {
    fi_set = (void (*)(int, long, int))dlsym(RTLD_DEFAULT, "mockit_fi_set");
    fi_calls = (long (*)(int))dlsym(RTLD_DEFAULT, "mockit_fi_calls");
    fi_failed = (long (*)(int))dlsym(RTLD_DEFAULT, "mockit_fi_failed");
}

static int kind_of(const char *s) {
    for (int k = 0; k < 4; k++)
        if (strcmp(s, kind_names[k]) == 0) return k;
    return -1;
}

/* --child fresh KIND N: the fault set before the very first library call */
static int child_fresh(int argc, char **argv) {
    load_controls();
    if (!fi_set || argc < 2) return 2;
    int kind = kind_of(argv[0]);
    long n = atol(argv[1]);
    mt_watchdog_arm(30, "FLT09 fresh scenario");
    char why[200] = "";
    int rc = scenario(kind, n, 2, why, sizeof why);
    if (rc) fprintf(stderr, "FLT09 fresh %s N=%ld: check %d: %s\n", argv[0], n, rc, why);
    /* 3: the fault was not reached (N past the calls made): told apart */
    if (!rc && fi_failed(kind) == 0) return 3;
    return rc;
}

/* --child warm KIND MAX: a clean run, then N = 1..MAX in this process */
static int child_warm(int argc, char **argv) {
    load_controls();
    if (!fi_set || argc < 2) return 2;
    int kind = kind_of(argv[0]);
    long max = atol(argv[1]);
    mt_watchdog_arm(120, "FLT09 warm sweep");
    char why[200] = "";
    int rc = scenario(kind, 0, 2, why, sizeof why);
    if (rc) {
        fprintf(stderr, "FLT09 warm %s: clean run: check %d: %s\n", argv[0], rc, why);
        return rc;
    }
    long n;
    for (n = 1; n <= max; n++) {
        /* for pthread_create: ever more blocked callbacks, so that the
         * pool has to grow during the scenario */
        int blockers = kind == FI_PTHREAD_CREATE ? (int)(2 + 3 * n) : 2;
        /* for timer_settime: start from an idle library (the clock thread
         * asleep with nothing armed), where the failed call is the one
         * that should have woken it */
        if (kind == FI_TIMER_SETTIME) mt_sleep_ms(30);
        rc = scenario(kind, n, blockers, why, sizeof why);
        if (rc) {
            fprintf(stderr, "FLT09 warm %s N=%ld: check %d: %s\n", argv[0], n, rc, why);
            return rc;
        }
        if (fi_failed(kind) == 0 && kind != FI_PTHREAD_CREATE) break;   /* fewer calls than n */
    }
    fprintf(stderr, "FLT09 warm %s: swept N = 1..%ld\n", argv[0], n - 1);
    return 0;
}

static int child_selftest(int argc, char **argv) {
    (void)argc;
    (void)argv;
    load_controls();
    if (!fi_set) return 2;
    fi_set(FI_MALLOC, 2, 0);
    void *a = malloc(16), *b = malloc(16), *c = malloc(16);
    fi_set(FI_MALLOC, 0, 0);
    if (!a || b || !c) return 3;
    free(a);
    free(c);
    return 0;
}

/* LOAD-04's regression test (issue 6): the arming thread preempted while
 * the library grew its index, records or heap under its lock stalled every
 * callback for hundreds of ms at nice 19 (page faults of the new memory
 * made those arms take 1.1 ms of CPU).  Here the interposer makes every
 * allocation of 64 KiB or more take 300 ms instead, while a 10 ms interval
 * runs and this thread arms 40,000 one-shots (several such allocations):
 * if one is made under the lock, the interval waits 300 ms for it. */
#define GROWTH_N 40000
static mt_tick growth_ticks[4096];
static mt_log growth_log = MT_LOG_INIT(growth_ticks);
static void *growth_tick(void *arg) {
    mt_log_call(&growth_log, mt_now_ns(), arg);
    return NULL;
}
static int child_growth(int argc, char **argv) {
    (void)argc;
    (void)argv;
    void (*slow)(size_t, long) = (void (*)(size_t, long))dlsym(RTLD_DEFAULT, "mockit_fi_slow");
    if (!slow) return 2;
    struct data *d = calloc(GROWTH_N, sizeof *d);
    if (!d) return 3;
    static struct data tick;
    tick = (struct data){ .cb = growth_tick };
    uint64_t origin = mt_now_ns();
    if (Mockit_getit(10, &tick)) return 4;
    uint64_t origin_hi = mt_now_ns();
    mt_sleep_ms(50);
    slow(64 * 1024, 300);
    uint64_t t0 = mt_now_ns();
    for (int i = 0; i < GROWTH_N; i++) {
        d[i].cb = count_cb;
        if (Mockit_oneoff(3600000, &d[i])) return 5;
    }
    uint64_t t1 = mt_now_ns();
    slow(0, 0);
    mt_sleep_ms(30);
    Mockit_destroy(&tick);
    for (int i = 0; i < GROWTH_N; i++) Mockit_destroy(&d[i]);
    mt_grid g;   /* the interval's worst wait for a grid point it could serve */
    mt_grid_analyse(&growth_log, origin, origin_hi, 10 * MT_NS_PER_MS, &g);
    printf("# arming %d one-shots took %.0f ms (slowed allocations); interval: %u calls, "
           "worst wait %.1f ms\n", GROWTH_N, (t1 - t0) / 1e6, g.calls, g.max_wait_ns / 1e6);
    fflush(stdout);
    if (t1 - t0 < 600 * MT_NS_PER_MS) return 6;      /* the slow allocations did not happen */
    if (g.first_early >= 0) return 8;
    if (g.max_wait_ns > 150 * MT_NS_PER_MS) return 7;  /* an allocation was made under the lock */
    return 0;
}

/* LOAD-04's regression test (issue 6), the index's shrink: with the lock
 * probe, the longest hold of nearly every 40 s LOAD-04 run (92-168 ms, by
 * the clock thread) came when 90% of its 10,000 one-shots had fired: the
 * index shrank under the lock, and freeing its old array (32768 slots,
 * 128 KiB: glibc's mmap threshold) is a munmap.  The smaller array is now
 * made, and the old one freed, without the lock, as for growth.  Here the
 * interposer makes the shrink's allocation (32 KiB) take 300 ms while a
 * 10 ms interval runs and this thread destroys all but 500 of 20,000
 * one-shots: under the lock, the interval would wait 300 ms for it. */
#define SHRINK_N 20000
static int child_shrink(int argc, char **argv) {
    (void)argc;
    (void)argv;
    void (*slow)(size_t, long) = (void (*)(size_t, long))dlsym(RTLD_DEFAULT, "mockit_fi_slow");
    if (!slow) return 2;
    struct data *d = calloc(SHRINK_N, sizeof *d);
    if (!d) return 3;
    static struct data tick;
    tick = (struct data){ .cb = growth_tick };
    for (int i = 0; i < SHRINK_N; i++) {
        d[i].cb = count_cb;
        if (Mockit_oneoff(3600000, &d[i])) return 5;
    }
    uint64_t origin = mt_now_ns();
    if (Mockit_getit(10, &tick)) return 4;
    uint64_t origin_hi = mt_now_ns();
    mt_sleep_ms(50);
    slow(8 * 1024, 300);
    uint64_t t0 = mt_now_ns();
    for (int i = 0; i < SHRINK_N - 500; i++)
        if (Mockit_destroy(&d[i])) return 5;
    uint64_t t1 = mt_now_ns();
    slow(0, 0);
    mt_sleep_ms(30);
    Mockit_destroy(&tick);
    for (int i = SHRINK_N - 500; i < SHRINK_N; i++) Mockit_destroy(&d[i]);
    mt_grid g;
    mt_grid_analyse(&growth_log, origin, origin_hi, 10 * MT_NS_PER_MS, &g);
    printf("# destroying %d of %d one-shots took %.0f ms (a slowed shrink); interval: %u calls, "
           "worst wait %.1f ms\n", SHRINK_N - 500, SHRINK_N, (t1 - t0) / 1e6, g.calls, g.max_wait_ns / 1e6);
    fflush(stdout);
    if (t1 - t0 < 300 * MT_NS_PER_MS) return 6;      /* the slowed shrink did not happen */
    if (g.first_early >= 0) return 8;
    if (g.max_wait_ns > 150 * MT_NS_PER_MS) return 7;  /* the index shrank under the lock */
    return 0;
}

/* LOAD-04's regression test (issue 6), the clock thread's side: with the
 * hold shim, the clock thread held the lock for up to 171 ms in 60 s runs
 * at nice 19, over half of that time inside timer_settime and
 * pthread_cond_signal: preempted on its way back from the system call.
 * The clock thread now sets the kernel timer without the lock.  Here every
 * timer_settime takes 300 ms instead while a 10 ms interval runs (and a
 * far one-shot keeps a standby): the standby serves the interval while
 * the clock thread is stuck there; under the lock the interval would wait
 * 300 ms each time.  (Each scenario runs in its own child: it logs with
 * growth_tick as the growth scenario does.) */
/* The timers of the scenarios below: a far one-shot (so that a standby
 * patrols) and a 10 ms interval logged in growth_log, whose grid origin
 * lies in [*lo, *hi].  0, or the child's exit status. */
static int far_and_tick(struct data *far, struct data *tick, uint64_t *lo, uint64_t *hi) {
    *far = (struct data){ .cb = count_cb };
    *tick = (struct data){ .cb = growth_tick };
    if (Mockit_oneoff(3600000, far)) return 3;
    *lo = mt_now_ns();
    if (Mockit_getit(10, tick)) return 4;
    *hi = mt_now_ns();
    return 0;
}

/* One of the interposer's knobs: a setter (in ms, 0 off) and its count. */
struct fi_knob {
    void (*set)(long);
    long (*count)(void);
};
static int fi_knob_find(struct fi_knob *k, const char *set, const char *count) {
    k->set = (void (*)(long))dlsym(RTLD_DEFAULT, set);
    k->count = (long (*)(void))dlsym(RTLD_DEFAULT, count);
    return k->set && k->count;
}

/* The interposer's counting switch and one of its count readers
 * (mockit_fi_wakeups or mockit_fi_lib_allocs). */
struct fi_counts {
    void (*on)(int);
    void (*get)(long *);
};
static int fi_counts_find(struct fi_counts *c, const char *get) {
    c->on = (void (*)(int))dlsym(RTLD_DEFAULT, "mockit_fi_count_wakeups");
    c->get = (void (*)(long *))dlsym(RTLD_DEFAULT, get);
    return c->on && c->get;
}

/* The 10 ms interval's longest gap between two calls, the second made
 * from `from` to `to`. */
static uint64_t longest_tick_gap(uint64_t from, uint64_t to) {
    uint64_t worst = 0;
    unsigned calls = mt_log_count(&growth_log);
    for (unsigned i = 1; i < calls && i < 4096; i++) {
        if (growth_ticks[i].t < from) continue;
        if (growth_ticks[i].t > to) break;
        uint64_t gap = growth_ticks[i].t - growth_ticks[i - 1].t;
        if (gap > worst) worst = gap;
    }
    return worst;
}

/* The end of a scenario that held the arming thread's mutexes: holds
 * off, every timer destroyed, the interval's calls analysed. */
static void hold_scenario_end(struct fi_knob *k, struct data *far, struct data *tick, struct data *shots, int n,
                              uint64_t origin, uint64_t origin_hi, mt_grid *g) {
    k->set(0);
    mt_sleep_ms(50);
    Mockit_destroy(tick);
    for (int i = 0; i < n; i++) Mockit_destroy(&shots[i]);
    Mockit_destroy(far);
    mt_grid_analyse(&growth_log, origin, origin_hi, 10 * MT_NS_PER_MS, g);
}

static int child_settime(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct fi_knob k;
    if (!fi_knob_find(&k, "mockit_fi_slow_settime", "mockit_fi_slowed_settime")) return 2;
    static struct data far, tick;
    uint64_t origin, origin_hi;
    int rc = far_and_tick(&far, &tick, &origin, &origin_hi);
    if (rc) return rc;
    mt_sleep_ms(100);
    k.set(300);
    mt_sleep_ms(1500);
    k.set(0);
    long n = k.count();
    mt_sleep_ms(400);   /* the last slowed call returns */
    Mockit_destroy(&tick);
    Mockit_destroy(&far);
    mt_grid g;
    mt_grid_analyse(&growth_log, origin, origin_hi, 10 * MT_NS_PER_MS, &g);
    printf("# every timer_settime 300 ms for 1.5 s (%ld of them): interval %u calls, worst wait %.1f ms\n", n,
           g.calls, g.max_wait_ns / 1e6);
    fflush(stdout);
    if (n < 2) return 6;   /* the slow calls did not happen */
    if (g.first_early >= 0) return 8;
    if (g.max_wait_ns > 150 * MT_NS_PER_MS) return 7;   /* timer_settime under the lock */
    return 0;
}

/* LOAD-04's regression test (issue 6), the arming thread: with 424fbc7's
 * library, 1 of 62 LOAD-04 runs had a one-shot 541 ms late, the library's
 * threads having waited up to 478.8 ms for the scheduler's lock while the
 * application thread holding it (inside Mockit_oneoff, at nice 19 beside
 * four busy processes) waited for a CPU.  An arm now takes no lock when a
 * library thread already wakes before its deadline (Scheduler::submit).
 * Here the interposer makes every mutex this thread takes stay held for
 * 300 ms, as that preemption did, while it arms 20 far one-shots (due
 * after the one far_and_tick arms) beside a 10 ms interval: the interval
 * must not wait (it waited 300 ms behind the first arm before), and the
 * thread must have taken no mutex.  A destroy
 * afterwards still takes the lock: that hold shows the interposer works. */
static int child_armhold(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct fi_knob k;
    if (!fi_knob_find(&k, "mockit_fi_hold_locks", "mockit_fi_held_locks")) return 2;
    enum { SHOTS = 20 };
    static struct data far, tick, shots[SHOTS];
    uint64_t origin, origin_hi;
    int rc = far_and_tick(&far, &tick, &origin, &origin_hi);
    if (rc) return rc;
    mt_sleep_ms(100);
    k.set(300);
    for (int i = 0; i < SHOTS; i++) {
        shots[i] = (struct data){ .cb = count_cb };
        /* due after the far one-shot: while the interval's callback runs
         * (its entry out of the heap) the library's next look is that far
         * timer, and a shot due before it must take the lock (nobody else
         * would look in time); at 600 s the first shot did, once in a CI
         * run (a 310 ms gap) */
        if (Mockit_oneoff(7200000 + (uint32_t)i, &shots[i])) return 3;
        mt_sleep_ms(50);
    }
    long while_arming = k.count();
    uint64_t end = mt_now_ns();
    if (Mockit_destroy(&shots[0])) return 5;   /* takes the lock: held 300 ms */
    long after_destroy = k.count();
    mt_grid g;
    hold_scenario_end(&k, &far, &tick, shots + 1, SHOTS - 1, origin, origin_hi, &g);
    /* the calls up to the end of the arming only: the destroy's hold
     * afterwards is meant to stall it */
    uint64_t worst = longest_tick_gap(0, end);
    printf("# 20 arms with every mutex of the arming thread held 300 ms: %ld mutexes taken; interval's "
           "longest gap %.1f ms; the destroy took %ld\n",
           while_arming, worst / 1e6, after_destroy - while_arming);
    fflush(stdout);
    if (after_destroy - while_arming < 1) return 6;   /* the interposer did not hold: cannot tell */
    if (g.first_early >= 0) return 8;
    if (while_arming != 0 || worst > 150 * MT_NS_PER_MS) return 7;
    return 0;
}

/* LOAD-04's regression test (issue 6), a batch of arms: in LOAD-04 runs
 * the arming thread (nice 19, beside busy processes) held the lock for
 * 184-488 ms, preempted inside it, and one run failed (a one-shot 531.7
 * ms late).  Counting its holds in an 8 s run without load: 86 holds in
 * the 4 ms it took to arm 10,000 timers, 0.7 ms in all, of two kinds:
 * applying the 256 submitted arms when their slots ran out (42 holds,
 * 0.44 ms) and installing grown tables (15 growths, 0.26 ms).  Both are
 * now the library's: a submitter kicks the clock thread to apply the
 * submitted arms long before the slots run out (and waits for it when
 * they do), and grown tables are made by the arming thread without the
 * lock when room runs low, then installed by the next library thread
 * that holds it (Scheduler::submit, wait_for_room, offer_room).  Here
 * every mutex the arming thread takes is held 250 ms, beside a 10 ms
 * interval, while it arms 2,000 far one-shots in batches of 16 with 5 ms
 * pauses (time for a kicked clock thread to come, as on a machine with a
 * CPU to spare): no hold of the scheduler lock, so no gap of 250 ms.  (A
 * growth mutex taken with trylock is not held by the interposer; it stalls
 * nobody anyway.)  Before, the slot refills and the 3 holds per growth
 * each stalled the interval: 35 mutexes taken, a 510 ms gap. */
static int child_batchhold(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct fi_knob k;
    if (!fi_knob_find(&k, "mockit_fi_hold_locks", "mockit_fi_held_locks")) return 2;
    enum { SHOTS = 2000, BATCH = 16 };
    static struct data far, tick, shots[SHOTS];
    uint64_t origin, origin_hi;
    int rc = far_and_tick(&far, &tick, &origin, &origin_hi);
    if (rc) return rc;
    mt_sleep_ms(100);
    uint64_t begin = mt_now_ns();
    k.set(250);
    for (int i = 0; i < SHOTS; i++) {
        shots[i] = (struct data){ .cb = count_cb };
        /* after the far one-shot (see child_armhold) */
        if (Mockit_oneoff(7200000 + (uint32_t)i, &shots[i])) return 3;
        if (i % BATCH == BATCH - 1) mt_sleep_ms(5);
    }
    long while_arming = k.count();
    uint64_t end = mt_now_ns();
    mt_grid g;
    hold_scenario_end(&k, &far, &tick, shots, SHOTS, origin, origin_hi, &g);
    uint64_t worst = longest_tick_gap(begin, end);
    printf("# %d arms in batches of %d, every mutex of the arming thread held 250 ms: %ld mutexes taken in "
           "%.2f s; interval's longest gap %.1f ms\n",
           SHOTS, BATCH, while_arming, (end - begin) / 1e9, worst / 1e6);
    fflush(stdout);
    if (g.first_early >= 0) return 8;
    if (worst > 150 * MT_NS_PER_MS) return 7;
    return 0;
}

/* LOAD-04's regression test (issue 6), the standby's patrol: one LOAD-04
 * run on the Intel VM had a one-shot 1192 ms late, the clock thread having
 * waited 1074.6 ms for the lock held by a follower; in a 20 s run the
 * standby took the lock about once per deadline (12,137 holds beside the
 * clock thread's 34,827), to find each time that the clock thread had
 * served it.  It now sets its next wake-up without the lock while the
 * clock thread keeps up (Scheduler::patrol).  Here the interposer holds
 * every mutex a follower takes for 100 ms, beside a 10 ms interval that
 * the clock thread serves: in 2 s the followers may take the lock a few
 * times (a clock thread kSignalBackstop late on a busy machine is covered
 * under it), not once per tick (about 18 with holds this long). */
static int child_standbyhold(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct fi_knob k;
    if (!fi_knob_find(&k, "mockit_fi_hold_follower_locks", "mockit_fi_held_follower_locks")) return 2;
    static struct data far, tick;
    uint64_t origin, origin_hi;
    int rc = far_and_tick(&far, &tick, &origin, &origin_hi);
    if (rc) return rc;
    mt_sleep_ms(200);   /* the followers are made and patrol */
    k.set(100);
    uint64_t t0 = mt_now_ns();
    mt_sleep_ms(2000);
    long n = k.count();
    uint64_t end = mt_now_ns();
    k.set(0);
    mt_sleep_ms(150);   /* a hold under way ends */
    Mockit_destroy(&tick);
    Mockit_destroy(&far);
    mt_grid g;
    mt_grid_analyse(&growth_log, origin, origin_hi, 10 * MT_NS_PER_MS, &g);
    uint64_t worst = longest_tick_gap(t0, end);
    printf("# 2 s with every mutex a follower takes held 100 ms: %ld taken; interval %u calls, longest gap "
           "%.1f ms\n",
           n, g.calls, worst / 1e6);
    fflush(stdout);
    if (g.first_early >= 0) return 8;
    if (n > 4) return 7;
    return 0;
}

/* LOAD-04's regression test (issue 6), wake-ups: with the hold shim, the
 * clock thread's pthread_cond_signal calls under the lock were the largest
 * share of its long holds in 60 s runs at nice 19 (2957 in 40 s, nearly
 * all as it started a callback and poked or named the standby): preempted
 * on its way back from the kernel, it held the lock.  The library threads
 * now sleep on futex words and every wake-up is sent after the unlock.
 * A follower made for blocked callbacks is created after the unlock too.
 * Here the interposer counts the wake-ups made (condition-variable signals,
 * futex wakes, tgkill) and the threads created, and those made while
 * holding a mutex, in a load that makes all the kinds: an arm that wakes
 * the idle clock thread, pokes of the standby by near one-shots, a
 * callback that blocks 30 ms (the standby takes the next timer and names
 * a successor), 6 one-shots due at once that block 60 ms each (the pool
 * grows), and a destroy that waits for a running callback.  Each one-shot
 * must also be called exactly once. */
#define WK_SHOTS 2048
static atomic_int wk_calls;
static void *wk_slow_cb(void *arg) {
    (void)arg;
    mt_sleep_ms(30);
    return NULL;
}
static void *wk_block_cb(void *arg) {
    count_cb(arg);
    mt_sleep_ms(60);
    return NULL;
}
static atomic_int wk_destroy_started;
static void *wk_destroyed_cb(void *arg) {
    (void)arg;
    atomic_store(&wk_destroy_started, 1);
    mt_sleep_ms(50);
    return NULL;
}
/* LOAD-04's regression test (issue 6), the start: the first arm made the
 * two followers under the lock, with the clock thread already running;
 * one LOAD-04 run had the clock thread wait 135.9 ms for it (the arming
 * thread preempted in those pthread_creates).  They are made after the
 * unlock now; only the clock thread, which the start waits for, is made
 * under it.  Counted from before the first arm. */
static int child_startcreates(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct fi_counts k;
    if (!fi_counts_find(&k, "mockit_fi_wakeups")) return 2;
    static struct data shot;
    shot = (struct data){ .cb = count_cb, .stuff = &wk_calls };
    k.on(1);
    if (Mockit_oneoff(1, &shot)) return 3;
    for (int i = 0; i < 2000 && !atomic_load(&wk_calls); i++) mt_sleep_ms(1);
    mt_sleep_ms(50);
    k.on(0);
    long w[5];
    k.get(w);
    printf("# the first arm: %ld threads created, %ld of them under a lock; the one-shot ran %d time(s)\n", w[3],
           w[4], atomic_load(&wk_calls));
    fflush(stdout);
    if (atomic_load(&wk_calls) != 1) return 4;
    if (w[3] != 3) return 6;   /* the clock thread and two followers */
    if (w[4] > 1) return 7;
    return 0;
}

static int child_wakeups(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct fi_counts k;
    if (!fi_counts_find(&k, "mockit_fi_wakeups")) return 2;
    static struct data shots[WK_SHOTS], far, tick, slow;
    for (int i = 0; i < WK_SHOTS; i++) shots[i] = (struct data){ .cb = count_cb, .stuff = &wk_calls };
    if (Mockit_oneoff(1, &shots[0])) return 3;   /* threads started before counting */
    mt_sleep_ms(50);
    k.on(1);
    int n = 1;
    for (; n <= 5; n++) {   /* the clock thread sleeps with nothing armed: the arm wakes it */
        if (Mockit_oneoff(2, &shots[n])) return 3;
        mt_sleep_ms(20);
    }
    far = (struct data){ .cb = count_cb, .stuff = &wk_calls };
    tick = (struct data){ .cb = growth_tick };
    slow = (struct data){ .cb = wk_slow_cb };
    if (Mockit_oneoff(3600000, &far)) return 3;
    uint64_t origin = mt_now_ns();
    if (Mockit_getit(10, &tick)) return 4;
    uint64_t origin_hi = mt_now_ns();
    if (Mockit_getit(100, &slow)) return 4;
    uint64_t end = mt_now_ns() + 1500 * MT_NS_PER_MS;
    while (mt_now_ns() < end && n + 2 <= WK_SHOTS) {
        if (Mockit_oneoff(3, &shots[n++]) || Mockit_oneoff(6, &shots[n++])) return 3;
        mt_sleep_ms(5);
    }
    for (int i = 0; i < 6 && n < WK_SHOTS; i++) {   /* blocked callbacks: the pool grows */
        shots[n].cb = wk_block_cb;
        if (Mockit_oneoff(5, &shots[n++])) return 3;
    }
    static struct data doomed;   /* destroyed while its callback runs: the destroyer is woken */
    doomed = (struct data){ .cb = wk_destroyed_cb };
    if (Mockit_oneoff(1, &doomed)) return 3;
    for (int i = 0; i < 2000 && !atomic_load(&wk_destroy_started); i++) mt_sleep_ms(1);
    if (!atomic_load(&wk_destroy_started)) return 6;
    if (Mockit_destroy(&doomed)) return 9;
    mt_sleep_ms(250);
    k.on(0);
    long w[5];
    k.get(w);
    Mockit_destroy(&tick);
    Mockit_destroy(&slow);
    Mockit_destroy(&far);
    mt_grid g;
    mt_grid_analyse(&growth_log, origin, origin_hi, 10 * MT_NS_PER_MS, &g);
    printf("# %d one-shots (%d called), an interval, a blocking interval: %ld wake-ups, %ld of them "
           "under a lock, %ld futex wakes; %ld threads made, %ld under a lock; interval worst wait %.1f ms\n",
           n, atomic_load(&wk_calls), w[0], w[1], w[2], w[3], w[4], g.max_wait_ns / 1e6);
    fflush(stdout);
    if (atomic_load(&wk_calls) != n) return 5;   /* a one-shot lost or called twice */
    if (g.first_early >= 0) return 8;
    if (w[0] < 20 || w[3] < 1) return 6;   /* too few wake-ups or no new thread: cannot tell */
    if (w[1] != 0 || w[4] != 0) return 7;   /* a wake-up or a thread made under the lock */
    return 0;
}

/* LOAD-04: does a library thread allocate while it holds the lock?  A
 * thread preempted inside malloc (or the page faults of a large
 * reallocation) there stalls every callback.  Two places did:
 *  - the heap of armed timers grew in finish(), when a callback's timer
 *    was re-queued into a full array (with a million timers, a 12 MiB
 *    reallocation and copy under the lock);
 *  - a follower made as a callback blocked allocated its context.
 * The load: RQ_K intervals whose callbacks all block at once (so the pool
 * grows), and, each time they all block, far one-shots are armed until the
 * heap holds a power of two less 4 entries: when they are let go, their K
 * re-queues overflow an array sized by doubling.  The interposer counts
 * the allocations made by the library's threads, and those made while
 * such a thread held a mutex (none of this load arms from a callback or
 * shrinks the index, which allocate holding only grow_mu_). */
#define RQ_K 8
static atomic_int rq_inside[16], rq_round, rq_calls, rq_stop;   /* inside: per round (mod 16) */
static void *rq_block_cb(void *arg) {
    (void)arg;
    int round = atomic_load(&rq_round);
    atomic_fetch_add(&rq_calls, 1);
    atomic_fetch_add(&rq_inside[round % 16], 1);
    for (int i = 0; i < 5000 && atomic_load(&rq_round) == round && !atomic_load(&rq_stop); i++) mt_sleep_ms(1);
    atomic_fetch_sub(&rq_inside[round % 16], 1);
    return NULL;
}
/* The pool, when the K blocking callbacks were not all inside in time:
 * how many library threads there are, and in which state (R running,
 * S sleeping), so a stalled dispatch can be told from a missing thread. */
static int rq_task(pid_t tid, const char *comm, void *arg) {
    if (strncmp(comm, "mockit", 6) != 0) return 0;
    char path[64], buf[256], st = '?';
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *rp = strrchr(buf, ')');
        if (rp && rp[1]) st = rp[2];
    }
    int *n = arg;
    n[0]++;
    if (st == 'R') n[1]++;
    return 0;
}
static int rq_not_inside(int rounds) {
    int n[2] = { 0, 0 };
    mt_foreach_task(rq_task, n);
    printf("# round %d: %d of %d blocking callbacks inside after 10 s (%d calls so far); "
           "%d library threads, %d of them running\n",
           rounds, atomic_load(&rq_inside[rounds % 16]), RQ_K, atomic_load(&rq_calls), n[0], n[1]);
    fflush(stdout);
    return 6;
}
static int child_requeue(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct fi_counts k;
    if (!fi_counts_find(&k, "mockit_fi_lib_allocs")) return 2;
    static struct data iv[RQ_K], far[4096];
    static atomic_int far_calls;
    far[0] = (struct data){ .cb = count_cb, .stuff = &far_calls };
    if (Mockit_oneoff(3600000, &far[0])) return 3;   /* threads started before counting */
    mt_sleep_ms(20);
    k.on(1);
    for (int i = 0; i < RQ_K; i++) {
        iv[i] = (struct data){ .cb = rq_block_cb };
        if (Mockit_getit(2, &iv[i])) return 4;
    }
    int n = 1, rounds = 0;
    for (int target = 64; target <= 4096; target *= 2, rounds++) {
        /* all K inside, called since the last release */
        if (!MT_WAIT_UNTIL(atomic_load(&rq_inside[rounds % 16]) == RQ_K, 10000)) return rq_not_inside(rounds);
        for (; n < target - 4; n++) {
            far[n] = (struct data){ .cb = count_cb, .stuff = &far_calls };
            if (Mockit_oneoff(3600000, &far[n])) return 3;
        }
        atomic_fetch_add(&rq_round, 1);   /* let them go: K re-queues */
    }
    if (!MT_WAIT_UNTIL(atomic_load(&rq_inside[rounds % 16]) == RQ_K, 10000)) return rq_not_inside(rounds);
    k.on(0);
    long a[2];
    k.get(a);
    atomic_store(&rq_stop, 1);
    for (int i = 0; i < RQ_K; i++) Mockit_destroy(&iv[i]);
    for (int i = 0; i < n; i++) Mockit_destroy(&far[i]);
    printf("# %d rounds of %d blocked intervals re-queued beside up to %d far one-shots (%d calls): "
           "%ld allocations by library threads, %ld of them holding a mutex\n",
           rounds, RQ_K, n, atomic_load(&rq_calls), a[0], a[1]);
    fflush(stdout);
    if (atomic_load(&far_calls) != 0) return 5;   /* a far one-shot called early */
    if (a[0] < 1) return 8;   /* the pool did not grow: cannot tell */
    if (a[1] != 0) return 7;   /* an allocation under the lock */
    return 0;
}

/* ---- the test side ---- */

static pid_t spawn_preloaded(const char *mode, char *const args[]) {
    setenv("LD_PRELOAD", fi_path, 1);
    pid_t pid = rel_spawn(mode, args, NULL);
    unsetenv("LD_PRELOAD");
    return pid;
}

static int run_preloaded(const char *mode, char *const args[], double ms) {
    pid_t pid = spawn_preloaded(mode, args);
    int st = rel_wait(pid, ms, NULL);
    if (st == -1) return -1;
    if (WIFSIGNALED(st)) return -100 - WTERMSIG(st);
    return WEXITSTATUS(st);
}

static void test_FLT09_interposer_works(void **state) {
    (void)state;
    int rc = run_preloaded("selftest", NULL, 5000);
    if (rc) fail_msg("the interposer does not work (%d)", rc);
}

static void fresh_sweep(const char *kind, long max) {
    long reached = 0;
    int failed = 0;
    char first[160] = "";
    for (long n = 1; n <= max; n++) {
        char nb[24];
        snprintf(nb, sizeof nb, "%ld", n);
        char *args[] = { (char *)kind, nb, NULL };
        int rc = run_preloaded("fresh", args, 10000);
        if (rc == 3) break;   /* N past the calls the scenario makes */
        reached = n;
        if (rc == 0) continue;
        /* keep sweeping: report every N that breaks */
        char msg[160];
        if (rc == -1) snprintf(msg, sizeof msg, "N=%ld: the process hung", n);
        else if (rc <= -100) snprintf(msg, sizeof msg, "N=%ld: the process died of signal %d", n, -rc - 100);
        else snprintf(msg, sizeof msg, "N=%ld: check %d failed (see the child's message)", n, rc);
        print_message("# %s %s\n", kind, msg);
        if (!failed++) snprintf(first, sizeof first, "%s", msg);
    }
    print_message("# fresh %s: N = 1..%ld swept, %d failed\n", kind, reached, failed);
    if (failed) fail_msg("%s: %d of %ld fault points broke a check; first: %s", kind, failed, reached, first);
    MT_ASSERT_CMP(reached, >=, 1);
}

static void warm_sweep(const char *kind, long max) {
    char mb[24];
    snprintf(mb, sizeof mb, "%ld", max);
    char *args[] = { (char *)kind, mb, NULL };
    int rc = run_preloaded("warm", args, 120000);
    if (rc == -1) fail_msg("warm %s sweep: the process hung", kind);
    if (rc <= -100) fail_msg("warm %s sweep: the process died of signal %d", kind, -rc - 100);
    if (rc) fail_msg("warm %s sweep: check %d failed (see the child's message)", kind, rc);
}

static void test_LOAD04_issue6_growth_allocates_without_the_lock(void **state) {
    (void)state;
    int rc = run_preloaded("growth", NULL, 60000);
    if (rc == 7) fail_msg("the interval stalled: an allocation of the growth was made under the lock");
    if (rc) fail_msg("growth scenario failed (%d)", rc);
}

static void test_LOAD04_issue6_index_shrinks_without_the_lock(void **state) {
    (void)state;
    int rc = run_preloaded("shrink", NULL, 60000);
    if (rc == 7) fail_msg("the interval stalled: the index shrank under the lock");
    if (rc) fail_msg("shrink scenario failed (%d)", rc);
}

static void test_LOAD04_issue6_kernel_timer_set_without_the_lock(void **state) {
    (void)state;
    int rc = run_preloaded("settime", NULL, 60000);
    if (rc == 7) fail_msg("the interval stalled: the kernel timer was set under the lock");
    if (rc) fail_msg("settime scenario failed (%d)", rc);
}

static void test_LOAD04_issue6_wakeups_sent_without_the_lock(void **state) {
    (void)state;
    int rc = run_preloaded("wakeups", NULL, 60000);
    if (rc == 7) fail_msg("a library thread was woken or made by a call under the lock");
    if (rc) fail_msg("wakeups scenario failed (%d)", rc);
}

static void test_LOAD04_issue6_start_makes_followers_without_the_lock(void **state) {
    (void)state;
    int rc = run_preloaded("startcreates", NULL, 60000);
    if (rc == 7) fail_msg("the first arm made a follower while holding a lock");
    if (rc) fail_msg("startcreates scenario failed (%d)", rc);
}

static void test_LOAD04_issue6_arming_thread_preempted_holding_nothing(void **state) {
    (void)state;
    int rc = run_preloaded("armhold", NULL, 60000);
    if (rc == 7) fail_msg("the arming thread took the lock: the interval waited while it was held");
    if (rc) fail_msg("armhold scenario failed (%d)", rc);
}

static void test_LOAD04_issue6_batch_of_arms_leaves_the_lock_to_the_library(void **state) {
    (void)state;
    int rc = run_preloaded("batchhold", NULL, 60000);
    if (rc == 7) fail_msg("the arming thread took the lock: the interval waited while it was held");
    if (rc) fail_msg("batchhold scenario failed (%d)", rc);
}

static void test_LOAD04_issue6_standby_patrols_without_the_lock(void **state) {
    (void)state;
    int rc = run_preloaded("standbyhold", NULL, 60000);
    if (rc == 7) fail_msg("the standby took the lock while the clock thread kept up");
    if (rc) fail_msg("standbyhold scenario failed (%d)", rc);
}

static void test_LOAD04_issue6_library_threads_allocate_without_the_lock(void **state) {
    (void)state;
    int rc = run_preloaded("requeue", NULL, 60000);
    if (rc == 7) fail_msg("a library thread allocated while holding the lock");
    if (rc) fail_msg("requeue scenario failed (%d)", rc);
}

static void test_FLT09a_malloc_fails_at_first_use(void **state) { (void)state; fresh_sweep("malloc", 60); }
static void test_FLT09a_malloc_fails_while_warm(void **state) { (void)state; warm_sweep("malloc", 200); }
static void test_FLT09b_pthread_create_fails_at_first_use(void **state) { (void)state; fresh_sweep("pthread_create", 4); }
static void test_FLT09b_pthread_create_fails_while_warm(void **state) { (void)state; warm_sweep("pthread_create", 10); }
static void test_FLT09c_timer_create_fails_at_first_use(void **state) { (void)state; fresh_sweep("timer_create", 3); }
static void test_FLT09c_timer_settime_fails_at_first_use(void **state) { (void)state; fresh_sweep("timer_settime", 10); }
static void test_FLT09c_timer_settime_fails_while_warm(void **state) { (void)state; warm_sweep("timer_settime", 50); }

static const struct rel_child children[] = {
    { "fresh", child_fresh },
    { "warm", child_warm },
    { "selftest", child_selftest },
    { "growth", child_growth },
    { "shrink", child_shrink },
    { "settime", child_settime },
    { "wakeups", child_wakeups },
    { "startcreates", child_startcreates },
    { "requeue", child_requeue },
    { "armhold", child_armhold },
    { "standbyhold", child_standbyhold },
    { "batchhold", child_batchhold },
    { NULL, NULL },
};

int main(int argc, char **argv) {
    int st;
    if (rel_main_prologue(argc, argv, children, &st)) return st;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FAULTINJECT.so [test-filter]\n", argv[0]);
        return 2;
    }
    static char path[4096];
    if (!realpath(argv[1], path)) snprintf(path, sizeof path, "%s", argv[1]);
    fi_path = path;
    if (argc > 2) cmocka_set_test_filter(argv[2]);
    else cmocka_set_test_filter("*");
    const struct CMUnitTest tests[] = {
        MT_TEST(test_FLT09_interposer_works),
        MT_TEST(test_LOAD04_issue6_growth_allocates_without_the_lock),
        MT_TEST(test_LOAD04_issue6_index_shrinks_without_the_lock),
        MT_TEST(test_LOAD04_issue6_kernel_timer_set_without_the_lock),
        MT_TEST(test_LOAD04_issue6_wakeups_sent_without_the_lock),
        MT_TEST(test_LOAD04_issue6_start_makes_followers_without_the_lock),
        MT_TEST(test_LOAD04_issue6_library_threads_allocate_without_the_lock),
        MT_TEST(test_LOAD04_issue6_arming_thread_preempted_holding_nothing),
        MT_TEST(test_LOAD04_issue6_standby_patrols_without_the_lock),
        MT_TEST(test_LOAD04_issue6_batch_of_arms_leaves_the_lock_to_the_library),
        MT_TEST(test_FLT09a_malloc_fails_at_first_use),
        MT_TEST(test_FLT09a_malloc_fails_while_warm),
        MT_TEST(test_FLT09b_pthread_create_fails_at_first_use),
        MT_TEST(test_FLT09b_pthread_create_fails_while_warm),
        MT_TEST(test_FLT09c_timer_create_fails_at_first_use),
        MT_TEST(test_FLT09c_timer_settime_fails_at_first_use),
        MT_TEST(test_FLT09c_timer_settime_fails_while_warm),
    };
    return cmocka_run_group_tests_name("rel-flt09", tests, NULL, NULL);
}
