/*
 * rel-flt08: RELIABILITY.md FLT-08 (a) and (d), the destructive tier.
 * They change the machine's clock, so they run only as root with
 * MOCKIT_DESTRUCTIVE=1 (`make check-destructive`), never in `make check`,
 * and put the clock back however the program ends.
 *
 * FLT-08a  CLOCK_REALTIME stepped +1 h, then -1 h from the true time, then
 *          restored, while a 5 s one-shot, a 10 ms interval and a 2 s
 *          Mockit_bsleep run.  Pass: timers and the sleep keep to
 *          CLOCK_MONOTONIC (the one-shot neither early nor late by the
 *          step, the interval on its grid with Sigma(1+overrun) conserved
 *          and no catch-up burst); Mockit_gettime and Mockit_mstimestamp
 *          follow the step.
 * FLT-08d  NTP slew: adjtimex frequency +500 ppm for 10 s, then -500 ppm
 *          for 10 s, then restored, under a 10 ms interval.  Pass: the
 *          slew was in effect (CLOCK_MONOTONIC ran 500 +- 150 ppm away
 *          from CLOCK_MONOTONIC_RAW: else the check proves nothing) and
 *          the interval follows CLOCK_MONOTONIC: TIM-03 holds against it.
 */
#include "rel.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include <mockit.h>

/* ---- putting the clock back ---- */

static int64_t real_minus_mono;   /* CLOCK_REALTIME - CLOCK_MONOTONIC before any step, ns */
static volatile sig_atomic_t stepped, slewed;
static long saved_freq;
static int saved_status;

static int64_t ts_ns(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int set_realtime_ns(int64_t ns) {
    struct timespec t = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
    return clock_settime(CLOCK_REALTIME, &t);
}

/* async-signal-safe: clock_gettime, clock_settime and adjtimex are */
static void restore_clock(void) {
    if (stepped) {
        set_realtime_ns(ts_ns(CLOCK_MONOTONIC) + real_minus_mono);
        stepped = 0;
    }
    if (slewed) {
        struct timex tx = { .modes = ADJ_FREQUENCY | ADJ_STATUS, .freq = saved_freq, .status = saved_status };
        adjtimex(&tx);
        slewed = 0;
    }
}

static void on_fatal(int sig) {
    restore_clock();
    signal(sig, SIG_DFL);
    raise(sig);
}

static bool destructive_allowed(void) {
    const char *e = getenv("MOCKIT_DESTRUCTIVE");
    return e && strcmp(e, "1") == 0 && geteuid() == 0;
}

/* ---- a 10 ms interval logging its calls ---- */

static mt_tick ticks[4096];
static mt_log tick_log = MT_LOG_INIT(ticks);
static void *tick_cb(void *arg) {
    mt_log_call(&tick_log, mt_now_ns(), arg);
    return NULL;
}

static uint64_t shot_at;
static void *shot_cb(void *arg) {
    (void)arg;
    __atomic_store_n(&shot_at, mt_now_ns(), __ATOMIC_RELEASE);
    return NULL;
}

/* Mockit_mstimestamp against CLOCK_REALTIME read just before: within 1 s */
static void expect_wall_clock_follows(const char *when) {
    int64_t real_ms = ts_ns(CLOCK_REALTIME) / 1000000;
    uint64_t ms = 0;
    assert_int_equal(0, Mockit_mstimestamp(&ms));
    time_t secs = 0;
    long msec = 0;
    assert_int_equal(0, Mockit_gettime(&secs, &msec));
    print_message("# %s: CLOCK_REALTIME %lld ms, Mockit_mstimestamp %llu, Mockit_gettime %lld.%03ld\n", when,
                  (long long)real_ms, (unsigned long long)ms, (long long)secs, msec);
    MT_ASSERT_CMP(llabs((long long)ms - (long long)real_ms), <, 1000);
    MT_ASSERT_CMP(llabs((long long)secs * 1000 + msec - (long long)real_ms), <, 1000);
}

static void check_interval(uint64_t origin, uint64_t origin_hi, uint64_t t_end, const char *what) {
    mt_grid g;
    mt_grid_analyse(&tick_log, origin, origin_hi, 10 * MT_NS_PER_MS, &g);
    uint64_t expected = (t_end - origin) / (10 * MT_NS_PER_MS);
    print_message("# %s: %u calls, grid points %llu of %llu, max lateness %.3f ms\n", what, g.calls,
                  (unsigned long long)g.g_last, (unsigned long long)expected, g.max_wait_ns / 1e6);
    assert_true(g.first_early < 0);
    assert_true(g.first_bad_ov < 0);
    assert_true(g.first_burst < 0);
    MT_ASSERT_UCMP(g.g_last + 1 + mt_bound_ns(20) / (10 * MT_NS_PER_MS), >=, expected);
    MT_ASSERT_UCMP(g.g_last, <=, expected);
    MT_ASSERT_UCMP(g.max_wait_ns, <, mt_bound_ns(50));
}

/* ---- FLT-08a ---- */

struct sleeper { uint64_t took; int rc; };
static void *sleeper_main(void *arg) {
    struct sleeper *s = arg;
    uint64_t t0 = mt_now_ns();
    s->rc = Mockit_bsleep(2000, NULL, NULL);
    s->took = mt_now_ns() - t0;
    return NULL;
}

static void test_FLT08a_realtime_step_leaves_timers_alone(void **state) {
    (void)state;
    if (!destructive_allowed()) skip();
    tick_log = (mt_log)MT_LOG_INIT(ticks);
    static struct data tick, shot;
    tick = (struct data){ .cb = tick_cb };
    shot = (struct data){ .cb = shot_cb };
    uint64_t origin = mt_now_ns();
    assert_int_equal(0, Mockit_getit(10, &tick));
    uint64_t origin_hi = mt_now_ns();
    uint64_t shot_due = mt_now_ns() + 5000 * MT_NS_PER_MS;
    assert_int_equal(0, Mockit_oneoff(5000, &shot));
    mt_sleep_ms(500);
    struct sleeper sl = { 0, -1 };
    pthread_t st;
    mt_thread_start(&st, "mt-sleeper", sleeper_main, &sl);   /* 2 s, spans both steps */
    mt_sleep_ms(500);

    stepped = 1;
    assert_int_equal(0, set_realtime_ns(ts_ns(CLOCK_MONOTONIC) + real_minus_mono + 3600 * INT64_C(1000000000)));
    expect_wall_clock_follows("after +1 h");
    mt_sleep_ms(1000);
    assert_int_equal(0, set_realtime_ns(ts_ns(CLOCK_MONOTONIC) + real_minus_mono - 3600 * INT64_C(1000000000)));
    expect_wall_clock_follows("after -1 h");
    mt_sleep_ms(1000);
    restore_clock();
    expect_wall_clock_follows("restored");

    pthread_join(st, NULL);
    print_message("# Mockit_bsleep(2000) across the steps: rc %d, took %.3f ms\n", sl.rc, sl.took / 1e6);
    assert_int_equal(0, sl.rc);
    MT_ASSERT_UCMP(sl.took, >=, 2000 * MT_NS_PER_MS);
    MT_ASSERT_UCMP(sl.took, <, 2000 * MT_NS_PER_MS + mt_bound_ns(200));

    MT_WAIT_UNTIL(__atomic_load_n(&shot_at, __ATOMIC_ACQUIRE) != 0, 7000);
    uint64_t at = __atomic_load_n(&shot_at, __ATOMIC_ACQUIRE);
    uint64_t t_end = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&tick));
    assert_int_not_equal(0, at);
    print_message("# 5 s one-shot: %.3f ms after its due time\n", ((double)at - (double)shot_due) / 1e6);
    MT_ASSERT_UCMP(at, >=, shot_due);   /* shot_due was read before the arm call */
    MT_ASSERT_UCMP(at, <, shot_due + mt_bound_ns(200));
    check_interval(origin, origin_hi, t_end, "10 ms interval across the steps");
}

/* ---- FLT-08d ---- */

/* one slew phase: CLOCK_MONOTONIC's rate against CLOCK_MONOTONIC_RAW, ppm */
static double slew_phase(long ppm, int seconds) {
    struct timex tx = { .modes = ADJ_FREQUENCY, .freq = ppm * 65536 };
    assert_true(adjtimex(&tx) >= 0);
    mt_sleep_ms(1000);   /* let the timekeeping take the new rate in */
    int64_t m0 = ts_ns(CLOCK_MONOTONIC), r0 = ts_ns(CLOCK_MONOTONIC_RAW);
    mt_sleep_ms((unsigned)seconds * 1000);
    int64_t m1 = ts_ns(CLOCK_MONOTONIC), r1 = ts_ns(CLOCK_MONOTONIC_RAW);
    double rate = ((double)(m1 - m0) / (double)(r1 - r0) - 1.0) * 1e6;
    print_message("# adjtimex freq %+ld ppm: CLOCK_MONOTONIC ran %+.1f ppm against CLOCK_MONOTONIC_RAW\n", ppm,
                  rate);
    return rate;
}

static void test_FLT08d_ntp_slew_interval_follows_monotonic(void **state) {
    (void)state;
    if (!destructive_allowed()) skip();
    mt_watchdog_arm(90, "FLT-08d (two 11 s slew phases)");
    struct timex now = { .modes = 0 };
    assert_true(adjtimex(&now) >= 0);
    saved_freq = now.freq;
    saved_status = now.status;
    tick_log = (mt_log)MT_LOG_INIT(ticks);
    static struct data tick;
    tick = (struct data){ .cb = tick_cb };
    uint64_t origin = mt_now_ns();
    assert_int_equal(0, Mockit_getit(10, &tick));
    uint64_t origin_hi = mt_now_ns();
    slewed = 1;
    double up = slew_phase(500, 10), down = slew_phase(-500, 10);
    restore_clock();
    uint64_t t_end = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&tick));
    /* the slew really happened, or nothing below would be tested */
    MT_ASSERT_CMP((long long)up, >, 350);
    MT_ASSERT_CMP((long long)up, <, 650);
    MT_ASSERT_CMP((long long)down, <, -350);
    MT_ASSERT_CMP((long long)down, >, -650);
    check_interval(origin, origin_hi, t_end, "10 ms interval under the slew");
    /* TIM-03 against CLOCK_MONOTONIC: e_k = t_k - (origin + G_k * 10 ms) */
    mt_grid g;
    mt_grid_analyse(&tick_log, origin, origin_hi, 10 * MT_NS_PER_MS, &g);
    double slope = g.drift_slope_ns, last = g.mean_err_last100_ns;
    print_message("# drift against CLOCK_MONOTONIC: slope %.4f us per tick, mean lateness of the last 100 %.3f ms\n",
                  slope / 1e3, last / 1e6);
    /* 500 ppm of 10 ms is 5 us per tick: a schedule kept on RAW would show it */
    MT_ASSERT_CMP((long long)fabs(slope), <, 1000);
    MT_ASSERT_CMP((long long)last, <, (long long)mt_bound_ns(3));
}

/* a failed check leaves the test by longjmp: put the clock back first */
static int flt08_teardown(void **state) {
    restore_clock();
    return mt_teardown(state);
}
#define FLT08_TEST(f) cmocka_unit_test_setup_teardown(f, mt_setup, flt08_teardown)

int main(int argc, char **argv) {
    int st;
    if (rel_main_prologue(argc, argv, NULL, &st)) return st;
    real_minus_mono = ts_ns(CLOCK_REALTIME) - ts_ns(CLOCK_MONOTONIC);
    atexit(restore_clock);
    int fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGALRM };
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], on_fatal);
    if (!destructive_allowed())
        fprintf(stderr, "rel-flt08: skipped: changes the clock; run as root with MOCKIT_DESTRUCTIVE=1\n");
    const struct CMUnitTest tests[] = {
        FLT08_TEST(test_FLT08a_realtime_step_leaves_timers_alone),
        FLT08_TEST(test_FLT08d_ntp_slew_interval_follows_monotonic),
    };
    return cmocka_run_group_tests_name("rel-flt08", tests, NULL, NULL);
}
