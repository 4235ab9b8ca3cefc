/*
 * test-bsleep: Mockit_bsleep "sleeps ms milliseconds on CLOCK_MONOTONIC in
 * the calling thread.  Fully slept: returns 0, *left = 0, *error = 0.
 * Interrupted by a signal handler: returns EINTR, *error = EINTR, *left =
 * milliseconds still to sleep.  left and error may be NULL" (SPEC 2); EINTR
 * also with SA_RESTART, *left rounded up, ms == 0 returns at once (decided).
 * RELIABILITY MIS-08, BND-05, FLT-07(e).
 */
#include "mtest.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include <mockit.h>

static void test_bsleep_full_sleep_is_never_short(void **state) {
    (void)state;
    static const uint32_t ms[] = { 1, 2, 10, 999, 1 };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        ssize_t left = -7;
        int err = -7;
        uint64_t t0 = mt_now_ns();
        int rc = Mockit_bsleep(ms[i], &left, &err);
        uint64_t dt = mt_now_ns() - t0;
        assert_int_equal(0, rc);
        assert_int_equal(0, left);
        assert_int_equal(0, err);
        MT_ASSERT_UCMP(dt, >=, ms[i] * MT_NS_PER_MS);   /* strict */
        MT_ASSERT_UCMP(dt, <, ms[i] * MT_NS_PER_MS + mt_bound_ns(50));
    }
}

static void test_MIS08_bsleep_null_out_parameters(void **state) {
    (void)state;
    ssize_t left = -7;
    int err = -7;
    uint64_t t0 = mt_now_ns();
    assert_int_equal(0, Mockit_bsleep(5, NULL, NULL));
    MT_ASSERT_UCMP(mt_now_ns() - t0, >=, 5 * MT_NS_PER_MS);
    t0 = mt_now_ns();
    assert_int_equal(0, Mockit_bsleep(5, &left, NULL));
    MT_ASSERT_UCMP(mt_now_ns() - t0, >=, 5 * MT_NS_PER_MS);
    assert_int_equal(0, left);
    t0 = mt_now_ns();
    assert_int_equal(0, Mockit_bsleep(5, NULL, &err));
    MT_ASSERT_UCMP(mt_now_ns() - t0, >=, 5 * MT_NS_PER_MS);
    assert_int_equal(0, err);
    assert_int_equal(0, Mockit_bsleep(0, NULL, NULL));
}

static void test_MIS08_bsleep_zero_returns_at_once(void **state) {
    (void)state;
    for (int i = 0; i < 100; i++) {
        ssize_t left = -7;
        int err = -7;
        uint64_t t0 = mt_now_ns();
        assert_int_equal(0, Mockit_bsleep(0, &left, &err));
        MT_ASSERT_UCMP(mt_now_ns() - t0, <, mt_bound_ns(5));
        assert_int_equal(0, left);
        assert_int_equal(0, err);
    }
}

/* ---- interrupted by a SIGALRM handler ---- */

static atomic_int handled;
static pid_t handler_tid;

static void on_alarm(int sig) {
    (void)sig;
    handler_tid = mt_gettid();
    atomic_fetch_add(&handled, 1);
}

struct kicker {
    pthread_t target;
    uint64_t after_ns;
    uint64_t sent_at;
};

static void *kick(void *arg) {
    struct kicker *k = arg;
    mt_sleep_ns(k->after_ns);
    k->sent_at = mt_now_ns();
    pthread_kill(k->target, SIGALRM);
    return NULL;
}

/* bsleep(ms) in this thread, SIGALRM to this thread after ~100 ms */
static void interrupted_sleep(uint32_t ms, int sa_flags) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = sa_flags;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(0, sigaction(SIGALRM, &sa, &old));
    atomic_store(&handled, 0);

    struct kicker k = { pthread_self(), 100 * MT_NS_PER_MS, 0 };
    pthread_t kt;
    mt_thread_start(&kt, "mt-kicker", kick, &k);
    ssize_t left = -7;
    int err = -7;
    uint64_t t0 = mt_now_ns();
    int rc = Mockit_bsleep(ms, &left, &err);
    uint64_t t1 = mt_now_ns();
    pthread_join(kt, NULL);
    sigaction(SIGALRM, &old, NULL);

    assert_int_equal(1, atomic_load(&handled));
    assert_int_equal(mt_gettid(), handler_tid);
    assert_int_equal(EINTR, rc);
    assert_int_equal(EINTR, err);
    /* strict: what is left is at least the request minus what passed */
    uint64_t slept_max_ms = (t1 - t0) / MT_NS_PER_MS + 1;
    MT_ASSERT_UCMP((uint64_t)left, >=, (uint64_t)ms - slept_max_ms);
    /* generous: it does not count less than the time before the signal */
    uint64_t before_sig_ms = (k.sent_at - t0) / MT_NS_PER_MS;
    MT_ASSERT_UCMP((uint64_t)left, <=, (uint64_t)ms - before_sig_ms + 1 +
                   (uint64_t)(mt_bound_ns(5) / MT_NS_PER_MS));
    MT_ASSERT_UCMP((uint64_t)left, >=, (uint64_t)ms - before_sig_ms -
                   (uint64_t)(mt_bound_ns(20) / MT_NS_PER_MS));
}

static void test_FLT07_bsleep_interrupted_returns_eintr(void **state) {
    (void)state;
    interrupted_sleep(1000, 0);
}

static void test_FLT07_bsleep_interrupted_with_sa_restart_returns_eintr(void **state) {
    (void)state;
    interrupted_sleep(1000, SA_RESTART);
}

static void test_BND05_bsleep_uint32_max_interrupted(void **state) {
    (void)state;
    interrupted_sleep(UINT32_MAX, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_TEST(test_bsleep_full_sleep_is_never_short),
        MT_TEST(test_MIS08_bsleep_null_out_parameters),
        MT_TEST(test_MIS08_bsleep_zero_returns_at_once),
        MT_TEST(test_FLT07_bsleep_interrupted_returns_eintr),
        MT_TEST(test_FLT07_bsleep_interrupted_with_sa_restart_returns_eintr),
        MT_TEST(test_BND05_bsleep_uint32_max_interrupted),
    };
    return cmocka_run_group_tests_name("bsleep", tests, NULL, NULL);
}
