/*
 * test-early: "Never early: a callback never runs before its due time"
 * (SPEC 2, timing guarantees), Mockit_oneoff(0) = as soon as possible.
 *
 * Due is measured from CLOCK_MONOTONIC read BEFORE the arm call; the
 * callback reads the clock on entry.  Strict, ns resolution, no retry.
 */
#include "mtest.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <mockit.h>

/* ---- one-shots ---- */

#define SHOTS_MAX 400

struct shot {
    uint64_t due;
    _Atomic uint64_t at;
    atomic_int calls;
};

static struct shot shots[SHOTS_MAX];
static struct data shot_static[SHOTS_MAX];
static atomic_int shot_total;

static void *shot_cb(void *arg) {
    uint64_t t = mt_now_ns();
    struct shot *s = ((struct data *)arg)->stuff;
    if (atomic_fetch_add(&s->calls, 1) == 0) atomic_store(&s->at, t);
    atomic_fetch_add(&shot_total, 1);
    return NULL;
}

static void test_TIM01_oneoff_never_early(void **state) {
    (void)state;
    uint64_t seed = mt_seed();
    unsigned n = mt_iters(300);
    if (n > SHOTS_MAX) n = SHOTS_MAX;
    struct data *owned[SHOTS_MAX] = { 0 };
    memset(shots, 0, sizeof shots);
    atomic_store(&shot_total, 0);

    for (unsigned i = 0; i < n; i++) {
        unsigned ms = mt_rand_below(&seed, 51);   /* 0..50 ms */
        struct data *d;
        if (i % 2) {
            d = owned[i] = Mockit_data_init();
            assert_non_null(d);
        } else {
            d = &shot_static[i];
        }
        d->cb = shot_cb;
        d->stuff = &shots[i];
        uint64_t t0 = mt_now_ns();
        shots[i].due = t0 + ms * MT_NS_PER_MS;
        assert_int_equal(0, Mockit_oneoff(ms, d));
    }
    assert_true(MT_WAIT_UNTIL(atomic_load(&shot_total) >= (int)n, 2000));
    mt_sleep_ms(60);   /* a second call of any would show now */
    assert_int_equal((int)n, atomic_load(&shot_total));
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(1, atomic_load(&shots[i].calls));
        uint64_t at = atomic_load(&shots[i].at);
        if (at < shots[i].due)
            fail_msg("one-shot %u ran %llu ns early", i,
                     (unsigned long long)(shots[i].due - at));
    }
    /* a fired one-shot of a Mockit_data_init struct is destroyed with 0 */
    for (unsigned i = 0; i < n; i++)
        if (owned[i]) assert_int_equal(0, Mockit_destroy(owned[i]));
}

/* ---- intervals ---- */

#define IV_TIMERS 6
#define IV_LOG 1200

static const unsigned iv_ms[IV_TIMERS] = { 1, 2, 3, 7, 10, 16 };
static mt_tick iv_ticks[IV_TIMERS][IV_LOG];
static mt_log iv_log[IV_TIMERS];
static struct data iv_data[IV_TIMERS];

static void *iv_cb(void *arg) {
    uint64_t t = mt_now_ns();
    struct data *d = arg;
    mt_log_call(d->stuff, t, d);
    return NULL;
}

static void test_TIM01_interval_never_early(void **state) {
    (void)state;
    uint64_t origin[IV_TIMERS];
    for (int i = 0; i < IV_TIMERS; i++) {
        iv_log[i] = (mt_log)MT_LOG_INIT(iv_ticks[i]);
        iv_data[i].cb = iv_cb;
        iv_data[i].stuff = &iv_log[i];
    }
    for (int i = 0; i < IV_TIMERS; i++) {
        origin[i] = mt_now_ns();
        assert_int_equal(0, Mockit_getit(iv_ms[i], &iv_data[i]));
    }
    mt_sleep_ms(800);
    for (int i = 0; i < IV_TIMERS; i++) assert_int_equal(0, Mockit_destroy(&iv_data[i]));
    unsigned after[IV_TIMERS];
    for (int i = 0; i < IV_TIMERS; i++) after[i] = mt_log_count(&iv_log[i]);
    mt_sleep_ms(30);
    for (int i = 0; i < IV_TIMERS; i++) {
        /* nothing after Mockit_destroy returned */
        assert_int_equal(after[i], mt_log_count(&iv_log[i]));
        mt_grid g;
        mt_grid_analyse(&iv_log[i], origin[i], 0, iv_ms[i] * MT_NS_PER_MS, &g);
        MT_ASSERT_CMP(g.calls, >=, 3);
        if (g.first_bad_ov >= 0)
            fail_msg("%u ms timer: Mockit_overrun in its own callback gave %d (errno %d) at call %d",
                     iv_ms[i], iv_ticks[i][g.first_bad_ov].ov, iv_ticks[i][g.first_bad_ov].err,
                     g.first_bad_ov);
        if (g.first_early >= 0)
            fail_msg("%u ms timer: call %d ran %lld ns before its grid point", iv_ms[i],
                     g.first_early, (long long)g.early_by_ns);
    }
}

/* ---- ms == 0 ---- */

static atomic_int zero_calls;
static _Atomic uint64_t zero_at;

static void *zero_cb(void *arg) {
    (void)arg;
    atomic_store(&zero_at, mt_now_ns());
    atomic_fetch_add(&zero_calls, 1);
    return NULL;
}

static void test_MIS03_oneoff_zero_runs_once_asap(void **state) {
    (void)state;
    for (int rep = 0; rep < 20; rep++) {
        static struct data d;
        d = (struct data){ .cb = zero_cb };
        atomic_store(&zero_calls, 0);
        uint64_t t0 = mt_now_ns();
        assert_int_equal(0, Mockit_oneoff(0, &d));
        /* "as soon as possible": generous bound for a loaded machine */
        assert_true(MT_WAIT_UNTIL(atomic_load(&zero_calls) >= 1, 200));
        MT_ASSERT_UCMP(atomic_load(&zero_at), >=, t0);
        mt_sleep_ms(rep == 0 ? 50 : 2);
        assert_int_equal(1, atomic_load(&zero_calls));
        /* caller-owned, fired and returned: the library keeps nothing */
        assert_true(MT_WAIT_UNTIL(Mockit_destroy(&d) == EINVAL, 100));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_TEST(test_TIM01_oneoff_never_early),
        MT_TEST(test_TIM01_interval_never_early),
        MT_TEST(test_MIS03_oneoff_zero_runs_once_asap),
    };
    return cmocka_run_group_tests_name("early", tests, NULL, NULL);
}
