/*
 * test-overrun: "a callback slower than its interval never runs
 * concurrently with itself; the grid stays on start + k*ms", Mockit_overrun
 * says how many expirations were merged into this call, and -1 / EINVAL
 * anywhere but inside the struct's own callback (SPEC 2, header).
 * RELIABILITY TIM-04, MIS-05.
 */
#include "mtest.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <mockit.h>

#define LOG_CAP 512
#define PERIOD_MS 10

static mt_tick ticks[LOG_CAP];
static mt_log tlog = MT_LOG_INIT(ticks);
static atomic_int inflight, max_inflight;
static atomic_int slow = 1;
static bool was_slow[LOG_CAP];

static void *slow_cb(void *arg) {
    uint64_t t = mt_now_ns();
    int now_in = atomic_fetch_add(&inflight, 1) + 1;
    int m = atomic_load(&max_inflight);
    while (now_in > m && !atomic_compare_exchange_weak(&max_inflight, &m, now_in)) {}
    unsigned i = mt_log_call(&tlog, t, arg);
    bool s = atomic_load(&slow);
    mt_sleep_ms(s ? 25 : 1);
    if (i < LOG_CAP) {
        was_slow[i] = s;
        ticks[i].t_exit = mt_now_ns();
    }
    atomic_fetch_sub(&inflight, 1);
    return NULL;
}

static void test_TIM04_slow_interval_no_overlap_no_burst(void **state) {
    (void)state;
    static struct data d;
    d = (struct data){ .cb = slow_cb };
    const uint64_t P = PERIOD_MS * MT_NS_PER_MS;
    uint64_t start = mt_now_ns();
    assert_int_equal(0, Mockit_getit(PERIOD_MS, &d));
    uint64_t start_hi = mt_now_ns();
    /* 600 ms slow, and at least 12 slow calls (a loaded machine under
     * valgrind may start late); then 300 ms and at least 10 calls fast */
    mt_sleep_until_ns(start + 600 * MT_NS_PER_MS);
    MT_WAIT_UNTIL(mt_log_count(&tlog) >= 12, 600);
    atomic_store(&slow, 0);
    unsigned n_slow = mt_log_count(&tlog);
    mt_sleep_ms(300);
    MT_WAIT_UNTIL(mt_log_count(&tlog) >= n_slow + 10, 300);
    uint64_t t_stop = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&d));
    unsigned n = mt_log_count(&tlog);
    mt_sleep_ms(30);
    assert_int_equal(n, mt_log_count(&tlog));

    /* never concurrently with itself */
    assert_int_equal(1, atomic_load(&max_inflight));

    mt_grid g;
    mt_grid_analyse(&tlog, start, start_hi, P, &g);
    print_message("# %u calls, sum(1+overrun) %llu, max lateness %llu us\n", g.calls,
                  (unsigned long long)g.g_last, (unsigned long long)g.max_late_ns / 1000);
    MT_ASSERT_CMP(g.calls, >=, 5);
    if (g.first_bad_ov >= 0)
        fail_msg("call %d: Mockit_overrun in its own callback gave %d (errno %d)", g.first_bad_ov,
                 ticks[g.first_bad_ov].ov, ticks[g.first_bad_ov].err);
    if (g.first_early >= 0)
        fail_msg("call %d ran %lld ns before its grid point", g.first_early,
                 (long long)g.early_by_ns);
    /* no catch-up burst: the next call's grid point is not before the end
     * of the previous (slow) call */
    if (g.first_burst >= 0)
        fail_msg("call %d (at %llu us) is due before call %d returned (at %llu us): a catch-up burst",
                 g.first_burst, (unsigned long long)(ticks[g.first_burst].t - start) / 1000,
                 g.first_burst - 1,
                 (unsigned long long)(ticks[g.first_burst - 1].t_exit - start) / 1000);
    /* each call after a slow (25 ms) one merged the grid points it ran past */
    for (unsigned k = 1; k < g.calls; k++)
        if (was_slow[k - 1] && ticks[k].ov < 1) {
            for (unsigned j = k >= 3 ? k - 3 : 0; j <= k + 1 && j < g.calls; j++)
                print_message("#   call %u: entry %llu us, exit %llu us, overrun %d, slow %d\n", j,
                              (unsigned long long)(ticks[j].t - start) / 1000,
                              (unsigned long long)(ticks[j].t_exit - start) / 1000, ticks[j].ov,
                              was_slow[j]);
            fail_msg("call %u follows a 25 ms call on a 10 ms grid but reports overrun %d", k,
                     ticks[k].ov);
        }
    /* calls start near their grid points (generous) */
    MT_ASSERT_UCMP(g.max_wait_ns, <, mt_bound_ns(50));
    /* conservation */
    uint64_t points_at_stop = (t_stop - start) / P;
    uint64_t points_at_last = (ticks[g.calls - 1].t - start) / P;
    unsigned slack = mt_time_scale() > 1 ? 3 : 1;
    MT_ASSERT_UCMP(g.g_last, <=, points_at_stop);
    MT_ASSERT_UCMP(g.g_last + slack, >=, points_at_last);
    /* after the callback became fast, calls sit on the grid again */
    if (mt_time_scale() == 1) {
        unsigned fast_no_ov = 0;
        for (unsigned k = 1; k < g.calls; k++)
            if (!was_slow[k - 1] && ticks[k].ov == 0) fast_no_ov++;
        MT_ASSERT_CMP(fast_no_ov, >=, 5);
    }
}

/* ---- Mockit_overrun out of context ---- */

static void expect_overrun_einval(const struct data *d) {
    errno = 0;
    assert_int_equal(-1, Mockit_overrun(d));
    assert_int_equal(EINVAL, errno);
}

static void *never_cb(void *arg) {
    (void)arg;
    return NULL;
}

static void test_MIS05_overrun_outside_callback(void **state) {
    (void)state;
    static struct data armed, idle;
    armed = idle = (struct data){ .cb = never_cb };
    expect_overrun_einval(NULL);
    expect_overrun_einval(&idle);
    assert_int_equal(0, Mockit_getit(100000, &armed));
    expect_overrun_einval(&armed);
    struct data *owned = Mockit_data_init();
    assert_non_null(owned);
    expect_overrun_einval(owned);
    owned->cb = never_cb;
    assert_int_equal(0, Mockit_getit(100000, owned));
    expect_overrun_einval(owned);
    assert_int_equal(0, Mockit_destroy(owned));
    assert_int_equal(0, Mockit_destroy(&armed));
}

/* A's callback asks about B (armed, ticking) and about itself */
static struct data oa, ob;
static atomic_int a_calls, a_bad, b_calls;
static int a_bad_rc, a_bad_errno;
static atomic_int a_self_bad;

static void *a_cb(void *arg) {
    atomic_fetch_add(&a_calls, 1);
    errno = 0;
    int rc = Mockit_overrun(&ob);
    if (rc != -1 || errno != EINVAL) {
        a_bad_rc = rc;
        a_bad_errno = errno;
        atomic_fetch_add(&a_bad, 1);
    }
    if (Mockit_overrun(arg) < 0) atomic_fetch_add(&a_self_bad, 1);
    return NULL;
}

static void *b_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&b_calls, 1);
    mt_sleep_ms(2);   /* often running while A asks */
    return NULL;
}

static void test_MIS05_overrun_from_other_timers_callback(void **state) {
    (void)state;
    oa = (struct data){ .cb = a_cb };
    ob = (struct data){ .cb = b_cb };
    assert_int_equal(0, Mockit_getit(3, &ob));
    assert_int_equal(0, Mockit_getit(2, &oa));
    assert_true(MT_WAIT_UNTIL(atomic_load(&a_calls) >= 50 && atomic_load(&b_calls) >= 10, 3000));
    assert_int_equal(0, Mockit_destroy(&oa));
    assert_int_equal(0, Mockit_destroy(&ob));
    if (atomic_load(&a_bad))
        fail_msg("Mockit_overrun(other timer) from a callback gave %d errno %d (%d times)",
                 a_bad_rc, a_bad_errno, atomic_load(&a_bad));
    assert_int_equal(0, atomic_load(&a_self_bad));
}

/* inside a one-shot's own callback: a count (0), as decided for the ABI */
static atomic_int os_done;
static int os_rc;

static void *oneshot_cb(void *arg) {
    os_rc = Mockit_overrun(arg);
    atomic_store(&os_done, 1);
    return NULL;
}

static void test_MIS05_overrun_in_oneshot_callback(void **state) {
    (void)state;
    static struct data d;
    d = (struct data){ .cb = oneshot_cb };
    os_rc = -2;
    assert_int_equal(0, Mockit_oneoff(1, &d));
    assert_true(MT_WAIT_UNTIL(atomic_load(&os_done), 1000));
    assert_int_equal(0, os_rc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_TEST(test_TIM04_slow_interval_no_overlap_no_burst),
        MT_TEST(test_MIS05_overrun_outside_callback),
        MT_TEST(test_MIS05_overrun_from_other_timers_callback),
        MT_TEST(test_MIS05_overrun_in_oneshot_callback),
    };
    return cmocka_run_group_tests_name("overrun", tests, NULL, NULL);
}
