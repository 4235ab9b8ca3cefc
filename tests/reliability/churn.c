/*
 * churn.c - see churn.h.
 */
#define _GNU_SOURCE 1
#include "churn.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mockit.h>

#include "mtest.h"

#define SLOTS 8

struct slot_state {
    atomic_int inside;
    atomic_int dead;       /* set after a destroy returned, cleared before an arm */
    atomic_uint period;    /* 0: one-shot; what the callback re-arms with */
    atomic_int cb_oneshot; /* the callback re-armed it as a one-shot since the last arm */
};

struct slot {
    struct data own;       /* caller-owned struct (even slots) */
    struct data *d;        /* the struct in use; NULL for an empty owned slot */
    bool owned;
    bool armed_interval;   /* last arm (by the thread) was an interval */
    bool armed;
    struct slot_state st;
};

struct worker {
    pthread_t th;
    int index;
    const struct churn_cfg *cfg;
    struct slot slots[SLOTS];
};

static atomic_ullong g_calls, g_ops;
static atomic_ulong g_overlap, g_after, g_bad_ov, g_fail;
static atomic_int g_running;
static char g_first[200];
static atomic_flag g_first_taken = ATOMIC_FLAG_INIT;

static void failure(const char *fmt, ...) {
    atomic_fetch_add(&g_fail, 1);
    if (atomic_flag_test_and_set(&g_first_taken)) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_first, sizeof g_first, fmt, ap);
    va_end(ap);
}

static void *churn_cb(void *arg) {
    struct data *d = arg;
    struct slot_state *st = d->stuff;
    if (atomic_load(&st->dead)) atomic_fetch_add(&g_after, 1);
    if (atomic_fetch_add(&st->inside, 1) != 0) atomic_fetch_add(&g_overlap, 1);
    unsigned long long k = atomic_fetch_add(&g_calls, 1);
    int ov = Mockit_overrun(d);
    if (ov < 0) atomic_fetch_add(&g_bad_ov, 1);
    if (k % 16 == 0) {
        unsigned p = atomic_load(&st->period);
        int rc = p ? Mockit_getit(p, d) : Mockit_oneoff(1, d);
        /* ECANCELED: its owner's destroy is waiting for this callback */
        if (rc != 0 && rc != ECANCELED) failure("re-arm from the callback: %d", rc);
        /* (it may have read the period just before its owner re-armed it
         * as an interval: then the struct ends up a one-shot) */
        if (!p) atomic_store(&st->cb_oneshot, 1);
    }
    if (k % 64 == 0) mt_sleep_ns(200000);   /* now and then a slow one */
    atomic_fetch_sub(&st->inside, 1);
    return NULL;
}

static void do_destroy(struct slot *s) {
    if (!s->d) return;
    int rc = Mockit_destroy(s->d);
    if (s->owned) {
        if (rc != 0) failure("destroy of a Mockit_data_init struct: %d", rc);
        s->d = NULL;
    } else if (rc == EINVAL) {
        /* caller-owned: known only while armed or running; an interval
         * stays armed until destroyed (its callback re-arms intervals as
         * intervals) */
        if (s->armed && s->armed_interval && !atomic_load(&s->st.cb_oneshot))
            failure("destroy of an armed interval: EINVAL");
    } else if (rc != 0) {
        failure("destroy of a caller-owned struct: %d", rc);
    }
    atomic_store(&s->st.dead, 1);
    s->armed = false;
}

static void do_arm(struct slot *s, bool interval, uint32_t ms) {
    if (!s->d) return;
    /* a previous arm's callback may be running right now: only atomics */
    atomic_store(&s->st.period, interval ? ms : 0);
    atomic_store(&s->st.cb_oneshot, 0);
    atomic_store(&s->st.dead, 0);
    int rc = interval ? Mockit_getit(ms, s->d) : Mockit_oneoff(ms, s->d);
    if (rc != 0) failure("%s(%u): %d", interval ? "getit" : "oneoff", ms, rc);
    /* (timer_id is not read here: a callback re-arming this struct writes
     * it concurrently -- a race of the application's, not checked) */
    s->armed = true;
    s->armed_interval = interval;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    uint64_t seed = w->cfg->seed ^ ((uint64_t)(w->index + 1) * 0x9e3779b97f4a7c15ull);
    for (int i = 0; i < SLOTS; i++) {
        struct slot *s = &w->slots[i];
        s->owned = i % 2;
        s->own = (struct data){ .cb = churn_cb, .stuff = &s->st };
        s->d = s->owned ? NULL : &s->own;
    }
    for (unsigned op = 0; op < w->cfg->ops; op++) {
        struct slot *s = &w->slots[mt_rand_below(&seed, SLOTS)];
        switch (mt_rand_below(&seed, 10)) {
        case 0:
            if (s->owned && !s->d) {
                s->d = Mockit_data_init();
                if (!s->d) {
                    failure("Mockit_data_init: NULL");
                    break;
                }
                s->d->cb = churn_cb;
                s->d->stuff = &s->st;
                s->armed = false;
            }
            break;
        case 1: case 2: case 3:
            do_arm(s, false, mt_rand_below(&seed, 6));
            break;
        case 4: case 5:
            do_arm(s, true, 1 + mt_rand_below(&seed, 7));
            break;
        case 6: case 7:
            do_destroy(s);
            break;
        case 8:
            /* outside any callback: -1 */
            if (s->d && Mockit_overrun(s->d) != -1) failure("Mockit_overrun outside a callback");
            break;
        default:
            mt_sleep_ns(mt_rand_below(&seed, 1000) * 1000ull);   /* let timers fire */
            break;
        }
        atomic_fetch_add(&g_ops, 1);
    }
    for (int i = 0; i < SLOTS; i++) do_destroy(&w->slots[i]);
    atomic_fetch_sub(&g_running, 1);
    return NULL;
}

int churn_run(const struct churn_cfg *cfg, struct churn_result *res) {
    memset(res, 0, sizeof *res);
    atomic_store(&g_calls, 0);
    atomic_store(&g_ops, 0);
    atomic_store(&g_overlap, 0);
    atomic_store(&g_after, 0);
    atomic_store(&g_bad_ov, 0);
    atomic_store(&g_fail, 0);
    atomic_flag_clear(&g_first_taken);
    g_first[0] = 0;
    struct worker *w = calloc((size_t)cfg->threads, sizeof *w);
    if (!w) return -1;
    atomic_store(&g_running, cfg->threads);
    for (int i = 0; i < cfg->threads; i++) {
        w[i].index = i;
        w[i].cfg = cfg;
        mt_thread_start(&w[i].th, "mt-churn", worker_main, &w[i]);
    }
    int max_lib = 0;
    while (cfg->sample_us != CHURN_NO_SAMPLING && atomic_load(&g_running) > 0) {
        int n = mt_lib_threads(NULL);
        if (n > max_lib) max_lib = n;
        mt_sleep_ns((cfg->sample_us ? cfg->sample_us : 5000) * 1000ull);
    }
    for (int i = 0; i < cfg->threads; i++) pthread_join(w[i].th, NULL);
    unsigned long long calls = atomic_load(&g_calls);
    mt_sleep_ms(50);
    res->late_calls = (unsigned long)(atomic_load(&g_calls) - calls);
    res->ops = atomic_load(&g_ops);
    res->calls = atomic_load(&g_calls);
    res->overlap = atomic_load(&g_overlap);
    res->after_destroy = atomic_load(&g_after);
    res->bad_overrun = atomic_load(&g_bad_ov);
    res->failures = atomic_load(&g_fail);
    res->max_lib_threads = max_lib;
    snprintf(res->first_failure, sizeof res->first_failure, "%s", g_first);
    free(w);
    bool ok = !res->overlap && !res->after_destroy && !res->bad_overrun && !res->failures &&
              !res->late_calls && max_lib <= 65;
    return ok ? 0 : 1;
}
