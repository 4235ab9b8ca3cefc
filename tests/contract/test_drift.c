/*
 * test-drift: "The k-th call is due at start + k*ms on CLOCK_MONOTONIC: no
 * drift, however long the run" (SPEC 2, Mockit_getit), RELIABILITY TIM-03.
 *
 * getit(10) for 2 s.  Strict: no call before its grid point (the grid point
 * of call k is G_k = sum (1 + overrun) over calls 1..k), and the expirations
 * are conserved: G_last is never more than the grid points elapsed, and at
 * most one behind at the last call.  Generous: the lateness of the last 20
 * calls is small and not growing against the first ones (a timer that
 * schedules "now + 10 ms" gains ~50 us per tick: 10 ms after 200 ticks).
 */
#include "mtest.h"

#include <errno.h>
#include <stdio.h>

#include <mockit.h>

#define LOG_CAP 1000
#define PERIOD_MS 10

static mt_tick ticks[LOG_CAP];
static mt_log tlog = MT_LOG_INIT(ticks);

static void *tick_cb(void *arg) {
    uint64_t t = mt_now_ns();
    mt_log_call(&tlog, t, arg);
    return NULL;
}

static void test_TIM03_no_drift(void **state) {
    (void)state;
    static struct data d;
    d = (struct data){ .cb = tick_cb };
    const uint64_t P = PERIOD_MS * MT_NS_PER_MS;

    uint64_t start = mt_now_ns();
    assert_int_equal(0, Mockit_getit(PERIOD_MS, &d));
    mt_sleep_until_ns(start + 2000 * MT_NS_PER_MS);
    uint64_t t_stop = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&d));
    unsigned n = mt_log_count(&tlog);
    mt_sleep_ms(30);
    assert_int_equal(n, mt_log_count(&tlog));   /* none after destroy returned */

    mt_grid g;
    mt_grid_analyse(&tlog, start, 0, P, &g);
    MT_ASSERT_CMP(g.calls, >=, 20);
    if (g.first_bad_ov >= 0)
        fail_msg("Mockit_overrun in the callback gave %d (errno %d) at call %d",
                 ticks[g.first_bad_ov].ov, ticks[g.first_bad_ov].err, g.first_bad_ov);
    if (g.first_early >= 0)
        fail_msg("call %d ran %lld ns before its grid point", g.first_early,
                 (long long)g.early_by_ns);

    /* conservation: sum(1 + overrun) against the grid points elapsed */
    uint64_t elapsed_points = (t_stop - start) / P;
    uint64_t t_last = ticks[g.calls - 1].t;
    uint64_t points_at_last = (t_last - start) / P;
    unsigned slack = mt_time_scale() > 1 ? 3 : 1;
    print_message("# %u calls, sum(1+overrun) %llu, elapsed grid points %llu, "
                  "mean lateness first %llu us last %llu us, max %llu us (call %d)\n",
                  g.calls, (unsigned long long)g.g_last, (unsigned long long)elapsed_points,
                  (unsigned long long)g.mean_late_early_ns / 1000,
                  (unsigned long long)g.mean_late_last_ns / 1000,
                  (unsigned long long)g.max_late_ns / 1000, g.max_late_index);
    MT_ASSERT_UCMP(g.g_last, <=, elapsed_points);
    MT_ASSERT_UCMP(g.g_last + slack, >=, points_at_last);
    MT_ASSERT_UCMP(g.g_last + slack + 1, >=, elapsed_points);

    /* no drift: the lateness stays bounded and does not grow */
    MT_ASSERT_UCMP(g.mean_late_last_ns, <, mt_bound_ns(5));
    MT_ASSERT_UCMP(g.mean_late_last_ns, <, g.mean_late_early_ns + mt_bound_ns(3));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_TEST(test_TIM03_no_drift),
    };
    return cmocka_run_group_tests_name("drift", tests, NULL, NULL);
}
