/*
 * test-churn: the API is thread-safe: many threads arming and destroying
 * at once, static and Mockit_data_init structs, concurrent first use, and
 * one struct hammered from several threads (SPEC 2).  RELIABILITY MIS-07
 * (first test: it needs a process that never armed a timer), LIFE-07,
 * MIS-06.
 */
#include "mtest.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <mockit.h>

/* ---- concurrent first use ---- */

#define FIRST_THREADS 16

static pthread_barrier_t barrier;
static struct data first_d[FIRST_THREADS];
static atomic_int first_calls[FIRST_THREADS];
static int first_rc[FIRST_THREADS];

static void *first_cb(void *arg) {
    atomic_fetch_add(&first_calls[(struct data *)arg - first_d], 1);
    return NULL;
}

static void *first_thread(void *arg) {
    int i = (int)(intptr_t)arg;
    first_d[i].cb = first_cb;
    pthread_barrier_wait(&barrier);
    first_rc[i] = Mockit_oneoff(1, &first_d[i]);
    return NULL;
}

static void test_MIS07_concurrent_first_use(void **state) {
    (void)state;
    assert_int_equal(0, mt_lib_threads(NULL));
    pthread_t t[FIRST_THREADS];
    pthread_barrier_init(&barrier, NULL, FIRST_THREADS);
    for (int i = 0; i < FIRST_THREADS; i++)
        mt_thread_start(&t[i], "mt-first", first_thread, (void *)(intptr_t)i);
    for (int i = 0; i < FIRST_THREADS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < FIRST_THREADS; i++) assert_int_equal(0, first_rc[i]);
    for (int i = 0; i < FIRST_THREADS; i++)
        assert_true(MT_WAIT_UNTIL(atomic_load(&first_calls[i]) >= 1, 1000));
    mt_sleep_ms(20);
    for (int i = 0; i < FIRST_THREADS; i++) assert_int_equal(1, atomic_load(&first_calls[i]));
    int clocks = 0;
    mt_lib_threads(&clocks);
    assert_int_equal(1, clocks);   /* one scheduler */
}

/* ---- 4 threads x a few thousand operations ---- */

#define CHURN_THREADS 4
#define SLOTS 8

struct slot_stats {
    atomic_int calls;
    atomic_int inside;
    atomic_int overlap;
    atomic_int bad_overrun;
};

enum kind { K_NONE, K_ONEOFF, K_INTERVAL };

struct slot {
    struct data st;         /* used when the slot is caller-owned */
    struct data *d;         /* &st or a Mockit_data_init struct (NULL: none yet) */
    bool owned;
    enum kind armed;
    struct slot_stats s;
};

static struct slot slots[CHURN_THREADS][SLOTS];
static atomic_int churn_failures;
static char churn_msg[256];

static void churn_fail(const char *fmt, int a, int b) {
    if (atomic_fetch_add(&churn_failures, 1) == 0)
        snprintf(churn_msg, sizeof churn_msg, fmt, a, b);
}

static void *churn_cb(void *arg) {
    struct slot_stats *s = ((struct data *)arg)->stuff;
    if (atomic_fetch_add(&s->inside, 1) != 0) atomic_fetch_add(&s->overlap, 1);
    if (Mockit_overrun(arg) < 0) atomic_fetch_add(&s->bad_overrun, 1);
    atomic_fetch_add(&s->calls, 1);
    atomic_fetch_sub(&s->inside, 1);
    return NULL;
}

static void slot_destroy(struct slot *sl) {
    if (!sl->d) return;
    int rc = Mockit_destroy(sl->d);
    if (sl->owned) {
        if (rc != 0) churn_fail("destroy of a Mockit_data_init struct: %d (kind %d)", rc, sl->armed);
        sl->d = NULL;   /* freed */
    } else if (sl->armed == K_INTERVAL) {
        if (rc != 0) churn_fail("destroy of an armed interval: %d (kind %d)", rc, sl->armed);
    } else if (sl->armed == K_ONEOFF) {
        /* 0 if it had not fired (or was running), EINVAL once it returned */
        if (rc != 0 && rc != EINVAL) churn_fail("destroy of a one-shot: %d (kind %d)", rc, sl->armed);
    } else if (rc != EINVAL) {
        churn_fail("destroy of a struct never armed: %d (kind %d)", rc, sl->armed);
    }
    sl->armed = K_NONE;
}

/* Under valgrind the operations stop after a time budget as well as a
 * count.  Its serialised scheduler mostly hands the CPU over while the
 * clock thread holds the lock (a backlog of the 1-7 ms intervals keeps it
 * busy), so a churn thread's next call waits for whole scheduling rounds:
 * under drd the same 1,200 operations took 9 to 203 s in ten runs (this
 * core and the one before arms without the lock), 162 s in one CI run.
 * Natively they take 1.3 s, and a native overload (5000 intervals of
 * 1 ms, callbacks due faster than they are served) kept the longest
 * Mockit_destroy at 5.5 ms: the scheduler does not starve callers,
 * valgrind's serialisation does. */
#define CHURN_VALGRIND_BUDGET_S 15
static atomic_uint churn_ops_done;
static uint64_t churn_stop_at;

static void *churn_thread(void *arg) {
    int ti = (int)(intptr_t)arg;
    uint64_t seed = mt_seed() + (uint64_t)ti * 7919;
    unsigned ops = mt_iters(3000);
    for (unsigned op = 0; op < ops && mt_now_ns() < churn_stop_at; op++) {
        atomic_fetch_add(&churn_ops_done, 1);
        struct slot *sl = &slots[ti][mt_rand_below(&seed, SLOTS)];
        unsigned what = mt_rand_below(&seed, 100);
        if (what >= 65) {
            slot_destroy(sl);
            continue;
        }
        if (!sl->d) {
            if (sl->owned) {
                sl->d = Mockit_data_init();
                if (!sl->d) {
                    churn_fail("Mockit_data_init: NULL errno %d%d", errno, 0);
                    continue;
                }
            } else {
                sl->d = &sl->st;
            }
            sl->d->cb = churn_cb;
            sl->d->stuff = &sl->s;
        }
        int rc;
        if (what < 40) {
            rc = Mockit_oneoff(mt_rand_below(&seed, 6), sl->d);
            sl->armed = K_ONEOFF;
        } else {
            rc = Mockit_getit(1 + mt_rand_below(&seed, 7), sl->d);
            sl->armed = K_INTERVAL;
        }
        if (rc != 0) churn_fail("arm: %d (op %d)", rc, (int)op);
        if (op % 8 == 0) mt_sleep_ns(mt_rand_below(&seed, 1000) * 1000ull);
    }
    for (int i = 0; i < SLOTS; i++) slot_destroy(&slots[ti][i]);
    return NULL;
}

static void test_LIFE07_churn_threads(void **state) {
    (void)state;
    mt_watchdog_arm(60, "LIFE07 churn");
    memset(slots, 0, sizeof slots);
    churn_stop_at = mt_under_valgrind() ? mt_now_ns() + CHURN_VALGRIND_BUDGET_S * 1000 * MT_NS_PER_MS : UINT64_MAX;
    for (int t = 0; t < CHURN_THREADS; t++)
        for (int i = 0; i < SLOTS; i++) slots[t][i].owned = i % 2;
    pthread_t th[CHURN_THREADS];
    for (int t = 0; t < CHURN_THREADS; t++)
        mt_thread_start(&th[t], "mt-churn", churn_thread, (void *)(intptr_t)t);
    int max_lib = 0;
    for (int t = 0; t < CHURN_THREADS; t++) {
        int n = mt_lib_threads(NULL);
        if (n > max_lib) max_lib = n;
        pthread_join(th[t], NULL);
    }
    if (atomic_load(&churn_failures))
        fail_msg("%d failed calls; first: %s", atomic_load(&churn_failures), churn_msg);
    int total = 0, overlap = 0, bad_ov = 0;
    for (int t = 0; t < CHURN_THREADS; t++)
        for (int i = 0; i < SLOTS; i++) {
            total += atomic_load(&slots[t][i].s.calls);
            overlap += atomic_load(&slots[t][i].s.overlap);
            bad_ov += atomic_load(&slots[t][i].s.bad_overrun);
        }
    mt_sleep_ms(50);
    int total2 = 0;
    for (int t = 0; t < CHURN_THREADS; t++)
        for (int i = 0; i < SLOTS; i++) total2 += atomic_load(&slots[t][i].s.calls);
    print_message("# %u operations of %u, %d callbacks, up to %d library threads seen\n",
                  atomic_load(&churn_ops_done), CHURN_THREADS * mt_iters(3000), total, max_lib);
    MT_ASSERT_CMP(atomic_load(&churn_ops_done), >, 0);
    assert_int_equal(total, total2);   /* everything destroyed: nothing runs */
    assert_int_equal(0, overlap);
    assert_int_equal(0, bad_ov);
    MT_ASSERT_CMP(total, >, 0);
    MT_ASSERT_CMP(mt_lib_threads(NULL), <=, 65);
}

/* ---- one struct, four threads ---- */

static struct data shared;
static struct slot_stats shared_s;
static atomic_int hammer_stop;

static void *hammer_thread(void *arg) {
    uint64_t seed = mt_seed() + (uint64_t)(intptr_t)arg * 104729;
    while (!atomic_load(&hammer_stop)) {
        unsigned what = mt_rand_below(&seed, 3);
        int rc;
        if (what == 0) {
            rc = Mockit_oneoff(mt_rand_below(&seed, 4), &shared);
            if (rc != 0 && rc != ECANCELED) churn_fail("oneoff on the shared struct: %d%d", rc, 0);
        } else if (what == 1) {
            rc = Mockit_getit(1 + mt_rand_below(&seed, 5), &shared);
            if (rc != 0 && rc != ECANCELED) churn_fail("getit on the shared struct: %d%d", rc, 0);
        } else {
            rc = Mockit_destroy(&shared);
            if (rc != 0 && rc != EINVAL) churn_fail("destroy of the shared struct: %d%d", rc, 0);
        }
        if (mt_rand_below(&seed, 16) == 0) mt_sleep_ns(mt_rand_below(&seed, 500) * 1000ull);
    }
    return NULL;
}

static void test_MIS06_one_struct_hammered(void **state) {
    (void)state;
    mt_watchdog_arm(60, "MIS06 one struct hammered");
    atomic_store(&churn_failures, 0);
    memset(&shared_s, 0, sizeof shared_s);
    shared = (struct data){ .cb = churn_cb, .stuff = &shared_s };
    atomic_store(&hammer_stop, 0);
    pthread_t th[4];
    for (int t = 0; t < 4; t++) mt_thread_start(&th[t], "mt-hammer", hammer_thread, (void *)(intptr_t)t);
    mt_sleep_ms(1000);
    atomic_store(&hammer_stop, 1);
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    int rc = Mockit_destroy(&shared);
    if (rc != 0 && rc != EINVAL) fail_msg("final destroy: %d", rc);
    int calls = atomic_load(&shared_s.calls);
    mt_sleep_ms(100);
    assert_int_equal(calls, atomic_load(&shared_s.calls));
    if (atomic_load(&churn_failures))
        fail_msg("%d failed calls; first: %s", atomic_load(&churn_failures), churn_msg);
    assert_int_equal(0, atomic_load(&shared_s.overlap));
    assert_int_equal(0, atomic_load(&shared_s.bad_overrun));
    MT_ASSERT_CMP(calls, >, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_TEST(test_MIS07_concurrent_first_use),   /* first: no timer armed yet */
        MT_TEST(test_LIFE07_churn_threads),
        MT_TEST(test_MIS06_one_struct_hammered),
    };
    return cmocka_run_group_tests_name("churn", tests, NULL, NULL);
}
