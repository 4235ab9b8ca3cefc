/*
 * rel-bnd: RELIABILITY.md B2, boundaries of the time arithmetic seen from
 * the API.  BND-01 (ms -> timespec edges, one-shots and bsleep measured),
 * BND-02 (huge one-shots and intervals beside a 2 ms interval whose
 * expirations are all accounted for), BND-05 (a huge bsleep interrupted
 * again and again, resumed with what is left).  BND-03 runs this program
 * and TIM-03 in a time namespace where CLOCK_MONOTONIC reads ~31 years
 * (run-timens.sh); with MOCKIT_EXPECT_TIMENS=1 the first test checks that.
 * BND-04 (white-box schedule maths) is test_bnd04.cpp.
 */
#include "rel.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mockit.h>

static void test_BND03_clock_is_where_expected(void **state) {
    (void)state;
    const char *e = getenv("MOCKIT_EXPECT_TIMENS");
    uint64_t now_s = mt_now_ns() / 1000000000ull;
    print_message("# CLOCK_MONOTONIC reads %llu s\n", (unsigned long long)now_s);
    if (e && *e == '1') MT_ASSERT_UCMP(now_s, >=, 1000000000ull);
}

/* ---- BND-01 ---- */

static const uint32_t edges[] = { 1, 999, 1000, 1001, 2147, 2148, 4294, 4295, 4296 };
#define NEDGES (sizeof edges / sizeof edges[0])

static struct data e_d[NEDGES];
static uint64_t e_armed[NEDGES];
static _Atomic uint64_t e_fired[NEDGES];
static atomic_int e_calls[NEDGES];

static void *edge_cb(void *arg) {
    uint64_t t = mt_now_ns();
    size_t i = (size_t)((struct data *)arg - e_d);
    atomic_store(&e_fired[i], t);
    atomic_fetch_add(&e_calls[i], 1);
    return NULL;
}

struct sleeper {
    uint32_t ms;
    int rc;
    ssize_t left;
    int err;
    uint64_t took;
};

static void *sleeper_main(void *arg) {
    struct sleeper *s = arg;
    uint64_t t0 = mt_now_ns();
    s->rc = Mockit_bsleep(s->ms, &s->left, &s->err);
    s->took = mt_now_ns() - t0;
    return NULL;
}

static void test_BND01_ms_edges_oneoff_and_bsleep(void **state) {
    (void)state;
    mt_watchdog_arm(30, "BND01 edges");
    /* the bsleeps run in threads beside the one-shots: 4.3 s in all */
    static struct sleeper sl[NEDGES];
    pthread_t th[NEDGES];
    for (size_t i = 0; i < NEDGES; i++) {
        sl[i] = (struct sleeper){ .ms = edges[i], .rc = -1, .left = -1, .err = -1 };
        mt_thread_start(&th[i], "mt-bsleep", sleeper_main, &sl[i]);
    }
    for (size_t i = 0; i < NEDGES; i++) {
        e_d[i] = (struct data){ .cb = edge_cb };
        e_armed[i] = mt_now_ns();
        assert_int_equal(0, Mockit_oneoff(edges[i], &e_d[i]));
    }
    for (size_t i = 0; i < NEDGES; i++) pthread_join(th[i], NULL);
    assert_true(MT_WAIT_UNTIL(atomic_load(&e_calls[NEDGES - 1]) == 1, 1000));
    mt_sleep_ms(20);
    for (size_t i = 0; i < NEDGES; i++) {
        uint64_t due = e_armed[i] + edges[i] * MT_NS_PER_MS;
        uint64_t fired = atomic_load(&e_fired[i]);
        assert_int_equal(1, atomic_load(&e_calls[i]));
        if (fired < due) fail_msg("oneoff(%u) early by %llu ns", edges[i], (unsigned long long)(due - fired));
        if (fired - due > mt_bound_ns(50))
            fail_msg("oneoff(%u) late by %.1f ms", edges[i], (fired - due) / 1e6);
        assert_int_equal(0, sl[i].rc);
        assert_int_equal(0, sl[i].left);
        assert_int_equal(0, sl[i].err);
        if (sl[i].took < edges[i] * MT_NS_PER_MS) fail_msg("bsleep(%u) short", edges[i]);
        if (sl[i].took - edges[i] * MT_NS_PER_MS > mt_bound_ns(50))
            fail_msg("bsleep(%u) took %.1f ms", edges[i], sl[i].took / 1e6);
    }
}

/* ---- BND-02 ---- */

#define B2_LOG 4096
static mt_tick b2_ticks[B2_LOG];
static mt_log b2_log = MT_LOG_INIT(b2_ticks);
static atomic_int huge_calls;

static void *huge_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&huge_calls, 1);
    return NULL;
}

static void *two_cb(void *arg) {
    uint64_t t = mt_now_ns();
    mt_log_call(&b2_log, t, arg);
    return NULL;
}

static void test_BND02_huge_beside_tiny_all_accounted(void **state) {
    (void)state;
    static struct data h[5], two;
    for (int i = 0; i < 5; i++) h[i] = (struct data){ .cb = huge_cb };
    two = (struct data){ .cb = two_cb };
    const uint64_t P = 2 * MT_NS_PER_MS;
    assert_int_equal(0, Mockit_oneoff(UINT32_MAX, &h[0]));
    assert_int_equal(0, Mockit_oneoff(INT32_MAX, &h[1]));
    assert_int_equal(0, Mockit_oneoff((uint32_t)INT32_MAX + 1u, &h[2]));
    assert_int_equal(0, Mockit_getit(UINT32_MAX, &h[3]));
    uint64_t origin = mt_now_ns();
    assert_int_equal(0, Mockit_getit(2, &two));
    assert_int_equal(0, Mockit_getit((uint32_t)INT32_MAX + 1u, &h[4]));
    double run_ms = mt_under_valgrind() ? 2000 : 1000;
    mt_sleep_until_ns(origin + (uint64_t)(run_ms * 1e6));
    uint64_t t_end = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&two));
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = mt_now_ns();
        assert_int_equal(0, Mockit_destroy(&h[i]));
        MT_ASSERT_UCMP(mt_now_ns() - t0, <, mt_bound_ns(10));
    }
    assert_int_equal(0, atomic_load(&huge_calls));
    mt_grid g;
    mt_grid_analyse(&b2_log, origin, 0, P, &g);
    print_message("# 2 ms interval: %u calls, %llu grid points in %.0f ms, max late %.2f ms\n", g.calls,
                  (unsigned long long)g.g_last, (t_end - origin) / 1e6, g.max_late_ns / 1e6);
    if (g.first_early >= 0) fail_msg("call %d early by %lld ns", g.first_early, (long long)g.early_by_ns);
    assert_int_equal(-1, g.first_bad_ov);
    /* strict conservation: the last call served every grid point passed
     * when it was dispatched (at most one more passed before it began) */
    const mt_tick *last = &b2_ticks[g.calls - 1];
    uint64_t passed = (last->t - origin) / P;
    MT_ASSERT_UCMP(g.g_last, <=, passed);
    MT_ASSERT_UCMP(g.g_last + 1, >=, passed);
    /* 500 (1000 under valgrind) +- 2, given generous lateness of the last call */
    uint64_t expected = (t_end - origin) / P;
    MT_ASSERT_UCMP(g.g_last + 2 + mt_bound_ns(10) / P, >=, expected);
    MT_ASSERT_UCMP(g.g_last, <=, expected + 2);
}

/* ---- BND-05 ---- */

static atomic_int alrm;
static void on_alrm(int sig) {
    (void)sig;
    atomic_fetch_add(&alrm, 1);
}

struct kicker { pthread_t target; int n; unsigned every_ms; atomic_int stop; };

static void *kicker_main(void *arg) {
    struct kicker *k = arg;
    for (int i = 0; i < k->n && !atomic_load(&k->stop); i++) {
        mt_sleep_ms(k->every_ms);
        pthread_kill(k->target, SIGALRM);
    }
    return NULL;
}

static void test_BND05_huge_bsleep_resumed_after_interruptions(void **state) {
    (void)state;
    struct sigaction sa = { 0 }, old;
    sa.sa_handler = on_alrm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    const uint32_t starts[] = { UINT32_MAX, (uint32_t)INT32_MAX + 1u, 4295, 2148 };
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        struct kicker k = { pthread_self(), 1000, 30, 0 };   /* until stopped: a signal between two calls is not lost */
        pthread_t kt;
        atomic_store(&alrm, 0);
        mt_thread_start(&kt, "mt-kicker", kicker_main, &k);
        uint64_t t0 = mt_now_ns();
        uint64_t want = starts[s];
        ssize_t left = -1;
        int err = -1;
        int rc = Mockit_bsleep(starts[s], &left, &err);
        int rounds = 0;
        while (rc == EINTR && rounds < 5) {
            rounds++;
            uint64_t elapsed_ms = (mt_now_ns() - t0) / MT_NS_PER_MS;
            assert_int_equal(EINTR, err);
            MT_ASSERT_CMP(left, >, 0);
            MT_ASSERT_UCMP((uint64_t)left, <=, want);   /* never grows, never wraps */
            /* strict: never less than the request minus the time passed */
            MT_ASSERT_UCMP((uint64_t)left + elapsed_ms + 1, >=, (uint64_t)starts[s]);
            /* generous: not much more than that either */
            MT_ASSERT_UCMP((uint64_t)left + elapsed_ms, <=,
                           (uint64_t)starts[s] + 1 + mt_bound_ns(20) / MT_NS_PER_MS);
            want = (uint64_t)left;
            if (rounds == 5) break;
            rc = Mockit_bsleep((uint32_t)left, &left, &err);
        }
        atomic_store(&k.stop, 1);
        pthread_join(kt, NULL);
        if (starts[s] > 1000000) {
            assert_int_equal(5, rounds);   /* only the signals end these */
            uint64_t slept = starts[s] - want;
            MT_ASSERT_UCMP(slept, >=, 140);
            MT_ASSERT_UCMP(slept, <=, 150 + mt_bound_ns(60) / MT_NS_PER_MS);
        }
    }
    sigaction(SIGALRM, &old, NULL);
}

/* TIM-03 in the time namespace of BND-03: a short no-drift run */
#define T3_LOG 512
static mt_tick t3_ticks[T3_LOG];
static mt_log t3_log = MT_LOG_INIT(t3_ticks);

static void *t3_cb(void *arg) {
    uint64_t t = mt_now_ns();
    mt_log_call(&t3_log, t, arg);
    return NULL;
}

static void test_BND03_TIM03_no_drift_short(void **state) {
    (void)state;
    static struct data d;
    d = (struct data){ .cb = t3_cb };
    const uint64_t P = 10 * MT_NS_PER_MS;
    uint64_t origin = mt_now_ns();
    assert_int_equal(0, Mockit_getit(10, &d));
    mt_sleep_until_ns(origin + 1000 * MT_NS_PER_MS);
    uint64_t t_end = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&d));
    mt_grid g;
    mt_grid_analyse(&t3_log, origin, 0, P, &g);
    if (g.first_early >= 0) fail_msg("call %d early by %lld ns", g.first_early, (long long)g.early_by_ns);
    MT_ASSERT_UCMP(g.mean_late_last_ns, <, mt_bound_ns(3));
    uint64_t expected = (t_end - origin) / P;
    MT_ASSERT_UCMP(g.g_last + 1 + mt_bound_ns(20) / P, >=, expected);
    MT_ASSERT_UCMP(g.g_last, <=, expected);
}

int main(int argc, char **argv) {
    int st;
    if (rel_main_prologue(argc, argv, NULL, &st)) return st;
    const struct CMUnitTest tests[] = {
        MT_TEST(test_BND03_clock_is_where_expected),
        MT_TEST(test_BND01_ms_edges_oneoff_and_bsleep),
        MT_TEST(test_BND02_huge_beside_tiny_all_accounted),
        MT_TEST(test_BND05_huge_bsleep_resumed_after_interruptions),
        MT_TEST(test_BND03_TIM03_no_drift_short),
    };
    return cmocka_run_group_tests_name("rel-bnd", tests, NULL, NULL);
}
