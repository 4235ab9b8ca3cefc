/*
 * test-isolation: "callbacks run on library threads, never on the caller's.
 * One slow or blocked callback does not delay other timers' callbacks (as
 * long as only a few block at once)" (SPEC 2, timing guarantees).
 * RELIABILITY LOAD-03 (small form), FLT-02.
 *
 * A 10 ms interval ticks while 1 (then 3) one-shot callbacks block on a
 * semaphore for 1 s.  Strict: never early, conservation.  Generous: worst
 * lateness < 50 ms (x20 under valgrind), ticks keep coming while blocked.
 */
#include "mtest.h"

#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <mockit.h>

#define LOG_CAP 1000
#define PERIOD_MS 10
#define MAX_BLOCKERS 3

static mt_tick ticks[LOG_CAP];
static mt_log tlog;
static atomic_int on_caller_thread;
static pid_t main_tid;

static void *tick_cb(void *arg) {
    uint64_t t = mt_now_ns();
    if (mt_gettid() == main_tid) atomic_fetch_add(&on_caller_thread, 1);
    mt_log_call(&tlog, t, arg);
    return NULL;
}

static sem_t sem;
static atomic_int blocked_in, blocked_out, sem_timeouts;
static _Atomic uint64_t last_entry, first_exit;

static void *blocker_cb(void *arg) {
    (void)arg;
    uint64_t t = mt_now_ns();
    if (mt_gettid() == main_tid) atomic_fetch_add(&on_caller_thread, 1);
    uint64_t prev = atomic_load(&last_entry);
    while (t > prev && !atomic_compare_exchange_weak(&last_entry, &prev, t)) {}
    atomic_fetch_add(&blocked_in, 1);
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += 5 + (time_t)(mt_time_scale() * 2);
    while (sem_clockwait(&sem, CLOCK_MONOTONIC, &dl) != 0) {
        if (errno != EINTR) {
            atomic_fetch_add(&sem_timeouts, 1);
            break;
        }
    }
    uint64_t e = mt_now_ns(), f = 0;
    while (!atomic_compare_exchange_weak(&first_exit, &f, e) && (f == 0 || e < f)) {}
    atomic_fetch_add(&blocked_out, 1);
    return NULL;
}

static void run_blocked(int nblock) {
    static struct data tick, blk[MAX_BLOCKERS];
    tick = (struct data){ .cb = tick_cb };
    memset(ticks, 0, sizeof ticks);
    tlog = (mt_log)MT_LOG_INIT(ticks);
    atomic_store(&blocked_in, 0);
    atomic_store(&blocked_out, 0);
    atomic_store(&last_entry, 0);
    atomic_store(&first_exit, 0);
    atomic_store(&on_caller_thread, 0);
    main_tid = mt_gettid();
    assert_int_equal(0, sem_init(&sem, 0, 0));

    const uint64_t P = PERIOD_MS * MT_NS_PER_MS;
    uint64_t origin = mt_now_ns();
    assert_int_equal(0, Mockit_getit(PERIOD_MS, &tick));
    for (int i = 0; i < nblock; i++) {
        blk[i] = (struct data){ .cb = blocker_cb };
        assert_int_equal(0, Mockit_oneoff(50, &blk[i]));
    }
    assert_true(MT_WAIT_UNTIL(atomic_load(&blocked_in) == nblock, 1000));
    mt_sleep_ms(1000);
    for (int i = 0; i < nblock; i++) sem_post(&sem);
    assert_true(MT_WAIT_UNTIL(atomic_load(&blocked_out) == nblock, 1000));
    mt_sleep_ms(100);
    uint64_t t_stop = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&tick));
    sem_destroy(&sem);
    assert_int_equal(0, atomic_load(&sem_timeouts));
    assert_int_equal(0, atomic_load(&on_caller_thread));

    mt_grid g;
    mt_grid_analyse(&tlog, origin, 0, P, &g);
    uint64_t w0 = atomic_load(&last_entry), w1 = atomic_load(&first_exit);
    unsigned during = 0;
    for (unsigned k = 0; k < g.calls; k++)
        if (ticks[k].t > w0 && ticks[k].t < w1) during++;
    uint64_t window_points = (w1 - w0) / P;
    print_message("# %d blocked: %u ticks, %u while all were blocked (%llu grid points), "
                  "max lateness %llu us (call %d)\n",
                  nblock, g.calls, during, (unsigned long long)window_points,
                  (unsigned long long)g.max_wait_ns / 1000, g.max_wait_index);
    if (g.first_bad_ov >= 0)
        fail_msg("call %d: Mockit_overrun gave %d", g.first_bad_ov, ticks[g.first_bad_ov].ov);
    if (g.first_early >= 0)
        fail_msg("call %d ran %lld ns before its grid point", g.first_early,
                 (long long)g.early_by_ns);
    unsigned slack = mt_time_scale() > 1 ? 3 : 1;
    MT_ASSERT_UCMP(g.g_last, <=, (t_stop - origin) / P);
    MT_ASSERT_UCMP(g.g_last + slack, >=, (ticks[g.calls - 1].t - origin) / P);
    /* the blocked callbacks did not hold the ticker up */
    MT_ASSERT_UCMP(g.max_wait_ns, <, mt_bound_ns(50));
    MT_ASSERT_UCMP(during * 2, >=, window_points / (unsigned)mt_time_scale());
}

static void test_LOAD03_one_blocked_callback_does_not_delay_interval(void **state) {
    (void)state;
    run_blocked(1);
}

static void test_LOAD03_three_blocked_callbacks_do_not_delay_interval(void **state) {
    (void)state;
    run_blocked(3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_TEST(test_LOAD03_one_blocked_callback_does_not_delay_interval),
        MT_TEST(test_LOAD03_three_blocked_callbacks_do_not_delay_interval),
    };
    return cmocka_run_group_tests_name("isolation", tests, NULL, NULL);
}
