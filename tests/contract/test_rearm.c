/*
 * test-rearm: "Arming a struct that is already armed re-arms it with the
 * new time (one struct is one timer)"; timer_id "written by Mockit_oneoff /
 * Mockit_getit": unique per arm, never 0, rewritten on every arm (SPEC 2,
 * header).  RELIABILITY MIS-04.
 */
#include "mtest.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <mockit.h>

#define LOG_CAP 512

static mt_tick ticks[LOG_CAP];
static mt_log tlog;

static void *log_cb(void *arg) {
    uint64_t t = mt_now_ns();
    mt_log_call(((struct data *)arg)->stuff, t, arg);
    return NULL;
}

static void log_reset(void) {
    memset(ticks, 0, sizeof ticks);
    tlog = (mt_log)MT_LOG_INIT(ticks);
}

static void test_MIS04_oneoff_far_then_near(void **state) {
    const bool owned = *(const bool *)*state;
    log_reset();
    static struct data s;
    struct data *d = owned ? Mockit_data_init() : &s;
    assert_non_null(d);
    d->cb = log_cb;
    d->stuff = &tlog;
    d->timer_id = 0;
    assert_int_equal(0, Mockit_oneoff(86400000, d));
    uint64_t id1 = d->timer_id;
    uint64_t t1 = mt_now_ns();
    assert_int_equal(0, Mockit_oneoff(10, d));
    uint64_t id2 = d->timer_id;
    assert_true(id1 != 0 && id2 != 0);
    assert_true(id1 != id2);
    assert_true(MT_WAIT_UNTIL(mt_log_count(&tlog) >= 1, 1000));
    mt_sleep_ms(100);
    assert_int_equal(1, mt_log_count(&tlog));
    MT_ASSERT_UCMP(ticks[0].t, >=, t1 + 10 * MT_NS_PER_MS);
    assert_int_equal(owned ? 0 : EINVAL, Mockit_destroy(d));
}

static void test_MIS04_interval_then_oneoff(void **state) {
    (void)state;
    log_reset();
    static struct data d;
    d = (struct data){ .cb = log_cb, .stuff = &tlog };
    assert_int_equal(0, Mockit_getit(5, &d));
    assert_true(MT_WAIT_UNTIL(mt_log_count(&tlog) >= 3, 1000));
    unsigned c1 = mt_log_count(&tlog);
    uint64_t t1 = mt_now_ns();
    assert_int_equal(0, Mockit_oneoff(20, &d));
    assert_true(MT_WAIT_UNTIL(mt_log_count(&tlog) > c1, 1000));
    mt_sleep_ns(mt_bound_ns(60));
    /* once it fired, the struct is unknown: the interval has stopped */
    assert_int_equal(EINVAL, Mockit_destroy(&d));
    unsigned n = mt_log_count(&tlog);
    assert_true(n <= LOG_CAP);
    unsigned after = 0;
    for (unsigned i = 0; i < n; i++) {
        if (ticks[i].t < t1) continue;   /* old interval calls, before the re-arm */
        after++;
        MT_ASSERT_UCMP(ticks[i].t, >=, t1 + 20 * MT_NS_PER_MS);
    }
    assert_int_equal(1, after);
    mt_sleep_ms(30);
    assert_int_equal(n, mt_log_count(&tlog));
}

static void test_MIS04_oneoff_then_interval(void **state) {
    (void)state;
    log_reset();
    static struct data d;
    d = (struct data){ .cb = log_cb, .stuff = &tlog };
    assert_int_equal(0, Mockit_oneoff(30, &d));
    mt_sleep_ms(5);
    uint64_t t1 = mt_now_ns();
    assert_int_equal(0, Mockit_getit(10, &d));
    mt_sleep_ms(120);
    assert_int_equal(0, Mockit_destroy(&d));
    mt_grid g;
    mt_grid_analyse(&tlog, t1, 0, 10 * MT_NS_PER_MS, &g);
    MT_ASSERT_CMP(g.calls, >=, 3);
    if (g.first_early >= 0)
        fail_msg("call %d ran %lld ns before the new interval's grid point", g.first_early,
                 (long long)g.early_by_ns);
}

/* re-arming an interval moves its grid origin to the new arm call */
static void test_MIS04_rearm_interval_resets_grid(void **state) {
    (void)state;
    log_reset();
    static struct data d;
    d = (struct data){ .cb = log_cb, .stuff = &tlog };
    assert_int_equal(0, Mockit_getit(50, &d));
    mt_sleep_ms(20);
    uint64_t t1 = mt_now_ns();
    assert_int_equal(0, Mockit_getit(50, &d));
    mt_sleep_ms(190);
    assert_int_equal(0, Mockit_destroy(&d));
    mt_grid g;
    mt_grid_analyse(&tlog, t1, 0, 50 * MT_NS_PER_MS, &g);
    MT_ASSERT_CMP(g.calls, >=, 1);
    if (g.first_early >= 0)
        fail_msg("call %d ran %lld ns before the re-armed grid point", g.first_early,
                 (long long)g.early_by_ns);
}

/* many structs: armed far, then re-armed 0-20 ms: one call each, on time */
#define BATCH 20

static struct data batch_d[BATCH];
static atomic_int batch_calls[BATCH];
static _Atomic uint64_t batch_at[BATCH];

static void *batch_cb(void *arg) {
    uint64_t t = mt_now_ns();
    int i = (int)((struct data *)arg - batch_d);
    if (atomic_fetch_add(&batch_calls[i], 1) == 0) atomic_store(&batch_at[i], t);
    return NULL;
}

static void test_MIS04_rearm_random_times(void **state) {
    (void)state;
    uint64_t seed = mt_seed();
    unsigned rounds = (mt_iters(300) + BATCH - 1) / BATCH;
    for (unsigned r = 0; r < rounds; r++) {
        uint64_t due[BATCH];
        for (int i = 0; i < BATCH; i++) {
            atomic_store(&batch_calls[i], 0);
            batch_d[i].cb = batch_cb;
            assert_int_equal(0, Mockit_oneoff(1000 + mt_rand_below(&seed, 1000), &batch_d[i]));
            uint64_t id = batch_d[i].timer_id;
            unsigned ms = mt_rand_below(&seed, 21);
            due[i] = mt_now_ns() + ms * MT_NS_PER_MS;
            assert_int_equal(0, Mockit_oneoff(ms, &batch_d[i]));
            assert_true(batch_d[i].timer_id != id);
        }
        for (int i = 0; i < BATCH; i++)
            assert_true(MT_WAIT_UNTIL(atomic_load(&batch_calls[i]) >= 1, 1000));
        mt_sleep_ms(3);
        for (int i = 0; i < BATCH; i++) {
            assert_int_equal(1, atomic_load(&batch_calls[i]));
            MT_ASSERT_UCMP(atomic_load(&batch_at[i]), >=, due[i]);
        }
    }
    /* and none of the far arms comes back */
    mt_sleep_ms(50);
    for (int i = 0; i < BATCH; i++) assert_int_equal(1, atomic_load(&batch_calls[i]));
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void *never_cb(void *arg) {
    (void)arg;
    return NULL;
}

static void test_MIS04_timer_id_unique_nonzero_rewritten(void **state) {
    (void)state;
    enum { STRUCTS = 100, ARMS = 10 };
    static struct data s[STRUCTS];
    static uint64_t ids[STRUCTS * ARMS];
    struct data *owned = Mockit_data_init();
    assert_non_null(owned);
    assert_null(owned->cb);
    assert_null(owned->stuff);
    assert_true(owned->timer_id == 0);   /* zeroed */
    unsigned n = 0;
    for (int a = 0; a < ARMS; a++) {
        for (int i = 0; i < STRUCTS; i++) {
            s[i].cb = never_cb;
            uint64_t before = s[i].timer_id;
            int rc = (a % 2) ? Mockit_getit(86400000, &s[i]) : Mockit_oneoff(86400000, &s[i]);
            assert_int_equal(0, rc);
            assert_true(s[i].timer_id != 0);
            if (a) assert_true(s[i].timer_id != before);
            ids[n++] = s[i].timer_id;
        }
    }
    owned->cb = never_cb;
    assert_int_equal(0, Mockit_getit(86400000, owned));
    assert_true(owned->timer_id != 0);
    qsort(ids, n, sizeof ids[0], cmp_u64);
    for (unsigned i = 1; i < n; i++)
        if (ids[i] == ids[i - 1]) fail_msg("timer_id %llu given twice", (unsigned long long)ids[i]);
    for (unsigned i = 0; i < n; i++) assert_true(ids[i] != owned->timer_id);
    for (int i = 0; i < STRUCTS; i++) assert_int_equal(0, Mockit_destroy(&s[i]));
    assert_int_equal(0, Mockit_destroy(owned));
}

static const bool f_static = false, f_owned = true;

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_VTEST(test_MIS04_oneoff_far_then_near, f_static),
        MT_VTEST(test_MIS04_oneoff_far_then_near, f_owned),
        MT_TEST(test_MIS04_interval_then_oneoff),
        MT_TEST(test_MIS04_oneoff_then_interval),
        MT_TEST(test_MIS04_rearm_interval_resets_grid),
        MT_TEST(test_MIS04_rearm_random_times),
        MT_TEST(test_MIS04_timer_id_unique_nonzero_rewritten),
    };
    return cmocka_run_group_tests_name("rearm", tests, NULL, NULL);
}
