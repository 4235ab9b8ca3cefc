/*
 * rel-load09: RELIABILITY.md LOAD-09, many concurrent sleepers.
 *
 * 64 application threads each make a run of Mockit_bsleep(1..50) calls
 * (random lengths, seed printed) while timers run: 8 intervals of 1 to
 * 100 ms and 200 one-shots spread over the run.
 *
 * Pass: every sleep returns 0 with left = 0 and error = 0 and lasts at
 * least what was asked (CLOCK_MONOTONIC around the call); no timer call is
 * early; the worst timer lateness stays under LOAD-04's bound, 500 ms
 * (scaled by the tool factor).  Oversleep and lateness figures are printed.
 *
 * T1 (make check): 64 threads x 20 sleeps (x MOCKIT_TEST_SCALE; / 10 under
 * valgrind), about 0.6 s.  T3 (run-stress.sh): the catalogue's full form,
 *   rel-load09 --child load09 64 1000
 * prints the figures and exits 0 when every check held, 1 otherwise.
 */
#include "rel.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mockit.h>

#define N_IV 8
static const uint32_t iv_period[N_IV] = { 1, 2, 3, 5, 10, 20, 50, 100 };
#define N_ONE 200

struct sleeper {
    pthread_t th;
    uint64_t seed;
    unsigned n;
    uint64_t *over;        /* oversleep of each call, ns (n entries) */
    unsigned early, bad_rc, bad_left;
    unsigned max_ms;
};

static void *sleeper_main(void *arg) {
    struct sleeper *s = arg;
    for (unsigned i = 0; i < s->n; i++) {
        uint32_t ms = 1 + mt_rand_below(&s->seed, 50);
        ssize_t left = -1;
        int err = -1;
        uint64_t t0 = mt_now_ns();
        int rc = Mockit_bsleep(ms, &left, &err);
        uint64_t took = mt_now_ns() - t0;
        if (rc != 0 || err != 0) s->bad_rc++;
        if (left != 0) s->bad_left++;
        uint64_t want = (uint64_t)ms * MT_NS_PER_MS;
        if (took < want) {
            s->early++;
            s->over[i] = 0;
        } else {
            s->over[i] = took - want;
        }
        if (ms > s->max_ms) s->max_ms = ms;
    }
    return NULL;
}

/* one-shots: never early, lateness kept */
static struct data one[N_ONE];
static uint64_t one_due[N_ONE];
static _Atomic uint64_t one_at[N_ONE];
static void *one_cb(void *arg) {
    struct data *d = arg;
    uint64_t t = mt_now_ns();
    atomic_store(&one_at[(size_t)(d - one)], t);
    return NULL;
}

static mt_log iv_log[N_IV];
static struct data iv[N_IV];
static void *iv_cb(void *arg) {
    struct data *d = arg;
    uint64_t t = mt_now_ns();
    mt_log_call(&iv_log[d - iv], t, d);
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct load09_result {
    unsigned sleeps, early, bad_rc, bad_left;
    uint64_t over_p50, over_p99, over_max;
    unsigned timer_calls, timer_early, one_missing;
    uint64_t late_p50, late_p99, late_max;
    double secs;
    int lib_threads;
};

/* Runs the whole scenario and fills r; the caller judges it. */
static void load09_run(unsigned threads, unsigned per_thread, struct load09_result *r) {
    memset(r, 0, sizeof *r);
    uint64_t seed = mt_seed();
    /* the run lasts about per_thread * 25.5 ms; one-shots spread over it */
    uint64_t span_ms = (uint64_t)per_thread * 25 + 1;
    uint64_t t_start = mt_now_ns();

    /* interval logs sized for the run (entries beyond cap are counted) */
    for (int i = 0; i < N_IV; i++) {
        unsigned cap = (unsigned)(span_ms * 4 / iv_period[i] + 1000);
        iv_log[i] = (mt_log){ .e = calloc(cap, sizeof(mt_tick)), .cap = cap };
        if (!iv_log[i].e) fail_msg("out of memory");
    }
    uint64_t origin[N_IV], origin_hi[N_IV];
    for (int i = 0; i < N_IV; i++) {
        iv[i] = (struct data){ .cb = iv_cb };
        origin[i] = mt_now_ns();
        if (Mockit_getit(iv_period[i], &iv[i])) fail_msg("getit %u ms", iv_period[i]);
        origin_hi[i] = mt_now_ns();
    }
    uint64_t os = seed ^ 0x5eedull;
    for (int i = 0; i < N_ONE; i++) {
        uint32_t ms = 1 + mt_rand_below(&os, (unsigned)span_ms);
        one[i] = (struct data){ .cb = one_cb };
        atomic_store(&one_at[i], 0);
        one_due[i] = mt_now_ns() + (uint64_t)ms * MT_NS_PER_MS;   /* before the arm: a lower bound */
        if (Mockit_oneoff(ms, &one[i])) fail_msg("oneoff %u ms", ms);
    }

    struct sleeper *s = calloc(threads, sizeof *s);
    if (!s) fail_msg("out of memory");
    for (unsigned i = 0; i < threads; i++) {
        s[i].seed = seed + 0x9e3779b97f4a7c15ull * (i + 1);
        s[i].n = per_thread;
        s[i].over = calloc(per_thread, sizeof(uint64_t));
        if (!s[i].over) fail_msg("out of memory");
        mt_thread_start(&s[i].th, "mt-sleeper", sleeper_main, &s[i]);
    }
    for (unsigned i = 0; i < threads; i++) pthread_join(s[i].th, NULL);
    r->lib_threads = mt_lib_threads(NULL);

    /* let the last one-shots come due, then stop everything */
    uint64_t last_due = 0;
    for (int i = 0; i < N_ONE; i++)
        if (one_due[i] > last_due) last_due = one_due[i];
    if (mt_now_ns() < last_due) mt_sleep_until_ns(last_due);
    uint64_t dl = mt_now_ns() + mt_bound_ns(500);
    for (int i = 0; i < N_ONE; i++)
        while (atomic_load(&one_at[i]) == 0 && mt_now_ns() < dl) mt_sleep_ms(1);
    for (int i = 0; i < N_IV; i++)
        if (Mockit_destroy(&iv[i])) fail_msg("destroy interval %d", i);
    r->secs = (double)(mt_now_ns() - t_start) / 1e9;

    /* sleeps */
    uint64_t *over = calloc((size_t)threads * per_thread, sizeof(uint64_t));
    if (!over) fail_msg("out of memory");
    size_t k = 0;
    for (unsigned i = 0; i < threads; i++) {
        r->early += s[i].early;
        r->bad_rc += s[i].bad_rc;
        r->bad_left += s[i].bad_left;
        memcpy(over + k, s[i].over, per_thread * sizeof(uint64_t));
        k += per_thread;
        free(s[i].over);
    }
    free(s);
    r->sleeps = (unsigned)k;
    qsort(over, k, sizeof *over, cmp_u64);
    r->over_p50 = over[k / 2];
    r->over_p99 = over[k * 99 / 100];
    r->over_max = over[k - 1];
    free(over);

    /* timers: lateness of every call against its grid point / due time */
    size_t cap = N_ONE;
    for (int i = 0; i < N_IV; i++) cap += mt_log_count(&iv_log[i]);
    uint64_t *late = calloc(cap, sizeof(uint64_t));
    if (!late) fail_msg("out of memory");
    size_t m = 0;
    for (int i = 0; i < N_IV; i++) {
        mt_grid g;
        uint64_t period = (uint64_t)iv_period[i] * MT_NS_PER_MS;
        mt_grid_analyse(&iv_log[i], origin[i], origin_hi[i], period, &g);
        if (g.first_early >= 0 || g.first_bad_ov >= 0) r->timer_early++;
        uint64_t G = 0;
        unsigned n = mt_log_count(&iv_log[i]);
        if (n > iv_log[i].cap) n = iv_log[i].cap;
        for (unsigned j = 0; j < n; j++) {
            const mt_tick *e = &iv_log[i].e[j];
            G += 1 + (uint64_t)(e->ov > 0 ? e->ov : 0);
            uint64_t due = origin[i] + G * period;
            late[m++] = e->t > due ? e->t - due : 0;
        }
        free(iv_log[i].e);
    }
    for (int i = 0; i < N_ONE; i++) {
        uint64_t at = atomic_load(&one_at[i]);
        if (!at) {
            r->one_missing++;
            Mockit_destroy(&one[i]);
            continue;
        }
        if (at < one_due[i]) r->timer_early++;
        late[m++] = at > one_due[i] ? at - one_due[i] : 0;
    }
    r->timer_calls = (unsigned)m;
    if (m) {
        qsort(late, m, sizeof *late, cmp_u64);
        r->late_p50 = late[m / 2];
        r->late_p99 = late[m * 99 / 100];
        r->late_max = late[m - 1];
    }
    free(late);
}

static void load09_print(const struct load09_result *r, unsigned threads, unsigned per_thread,
                         void (*out)(const char *, ...)) {
    out("# LOAD-09: %u threads x %u sleeps of 1..50 ms in %.1f s, %d library threads\n", threads, per_thread,
        r->secs, r->lib_threads);
    out("# sleeps: %u, early %u, rc/error != 0 %u, left != 0 %u; oversleep p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
        r->sleeps, r->early, r->bad_rc, r->bad_left, r->over_p50 / 1e6, r->over_p99 / 1e6, r->over_max / 1e6);
    out("# timer calls: %u (8 intervals, %d one-shots), early %u, one-shots missing %u; lateness p50 %.3f ms, "
        "p99 %.3f ms, max %.3f ms (bound %.0f ms)\n",
        r->timer_calls, N_ONE, r->timer_early, r->one_missing, r->late_p50 / 1e6, r->late_p99 / 1e6,
        r->late_max / 1e6, mt_bound_ns(500) / 1e6);
}

static bool load09_ok(const struct load09_result *r) {
    return r->early == 0 && r->bad_rc == 0 && r->bad_left == 0 && r->timer_early == 0 && r->one_missing == 0 &&
           r->late_max < mt_bound_ns(500);
}

static void test_LOAD09_many_concurrent_sleepers_while_timers_run(void **state) {
    (void)state;
    unsigned per = mt_iters(20);
    mt_watchdog_arm(60 + per * 0.1, "LOAD09");
    struct load09_result r;
    load09_run(64, per, &r);
    load09_print(&r, 64, per, print_message);
    assert_int_equal(r.sleeps, 64 * per);
    MT_ASSERT_UCMP(r.early, ==, 0);
    MT_ASSERT_UCMP(r.bad_rc, ==, 0);
    MT_ASSERT_UCMP(r.bad_left, ==, 0);
    MT_ASSERT_UCMP(r.timer_early, ==, 0);
    MT_ASSERT_UCMP(r.one_missing, ==, 0);
    MT_ASSERT_UCMP(r.late_max, <, mt_bound_ns(500));
}

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* T3: rel-load09 --child load09 [THREADS [SLEEPS]] (default 64 1000).
 * cmocka's fail_msg outside a test just prints and exits. */
static int child_load09(int argc, char **argv) {
    unsigned threads = argc > 0 ? (unsigned)atoi(argv[0]) : 64;
    unsigned per = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
    if (threads < 1 || per < 1) return 2;
    struct load09_result r;
    load09_run(threads, per, &r);
    load09_print(&r, threads, per, say);
    bool ok = load09_ok(&r) && r.sleeps == threads * per;
    say("# LOAD-09 %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

static const struct rel_child children[] = {
    { "load09", child_load09 },
    { NULL, NULL },
};

int main(int argc, char **argv) {
    int st;
    if (rel_main_prologue(argc, argv, children, &st)) return st;
    const struct CMUnitTest tests[] = {
        MT_TEST(test_LOAD09_many_concurrent_sleepers_while_timers_run),
    };
    return cmocka_run_group_tests_name("rel-load09", tests, NULL, NULL);
}
