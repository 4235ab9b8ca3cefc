/*
 * rel-life: RELIABILITY.md B3, lifecycle races, at T1 counts (the contract
 * suite pins the single cases; these repeat them with random timing and
 * check every iteration for ever after, through one probe per iteration):
 *
 * LIFE-01 destroy while the callback runs (getit(1), 0-2 ms callbacks,
 *         destroy after 0-3 ms), static and Mockit_data_init structs
 * LIFE-02 self-destroy, 8 timers at a time, one-shot/interval, static/owned
 * LIFE-03 cross and mutual destroy between callbacks, repeated for 1 s
 * LIFE-04 destroy racing expiry, 4 threads at once
 * LIFE-05 re-arm chains, a first callback destroying due siblings, a
 *         callback re-arming another running interval
 * LIFE-06 struct and address reuse (glibc BZ 32833 pattern), 8192 rounds
 * LIFE-07 concurrent churn (churn.c) and the resources after it
 * LIFE-08 mass destroy of 1000 timers from one callback
 * LIFE-09 exit with 10 000 timers armed, in fresh processes
 * LIFE-10 timers armed by threads that exit at once
 */
#include "rel.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mockit.h>

#include "churn.h"

/* a global order of events, to say "began before destroy returned" */
static atomic_ullong seq = 1;
static unsigned long long tick(void) { return atomic_fetch_add(&seq, 1); }

/* One probe per iteration: a call that begins after `dead` was set (just
 * after Mockit_destroy returned) is counted, however late it comes. */
struct probe {
    atomic_int inside;
    atomic_int calls;
    atomic_int dead;
    atomic_int after_dead;
    atomic_int overlap;
    unsigned sleep_us;          /* callback duration */
    _Atomic unsigned long long entered_seq, exited_seq;
};

static atomic_int g_after_dead, g_overlap;

static void *probe_cb(void *arg) {
    struct probe *p = ((struct data *)arg)->stuff;
    if (atomic_load(&p->dead)) {
        atomic_fetch_add(&p->after_dead, 1);
        atomic_fetch_add(&g_after_dead, 1);
    }
    if (atomic_fetch_add(&p->inside, 1) != 0) {
        atomic_fetch_add(&p->overlap, 1);
        atomic_fetch_add(&g_overlap, 1);
    }
    atomic_store(&p->entered_seq, tick());
    atomic_fetch_add(&p->calls, 1);
    if (p->sleep_us) mt_sleep_ns(p->sleep_us * 1000ull);
    atomic_store(&p->exited_seq, tick());
    atomic_fetch_sub(&p->inside, 1);
    return NULL;
}

/* ---- LIFE-01 ---- */

static void life01(bool owned) {
    uint64_t seed = mt_seed();
    unsigned n = mt_iters(400);
    struct probe *pr = calloc(n, sizeof *pr);
    assert_non_null(pr);
    static struct data st;
    atomic_store(&g_after_dead, 0);
    for (unsigned i = 0; i < n; i++) {
        struct probe *p = &pr[i];
        p->sleep_us = mt_rand_below(&seed, 2001);
        struct data *d = owned ? Mockit_data_init() : &st;
        assert_non_null(d);
        d->cb = probe_cb;
        d->stuff = p;
        assert_int_equal(0, Mockit_getit(1, d));
        mt_sleep_ns(mt_rand_below(&seed, 3001) * 1000ull);
        int rc = Mockit_destroy(d);
        int inside = atomic_load(&p->inside);
        atomic_store(&p->dead, 1);
        if (rc != 0) fail_msg("iteration %u: Mockit_destroy %d", i, rc);
        if (inside) fail_msg("iteration %u: Mockit_destroy returned while the callback ran", i);
    }
    mt_sleep_ms(20);
    unsigned long calls = 0;
    for (unsigned i = 0; i < n; i++) {
        if (atomic_load(&pr[i].after_dead))
            fail_msg("iteration %u: %d calls after Mockit_destroy returned", i, atomic_load(&pr[i].after_dead));
        assert_int_equal(0, atomic_load(&pr[i].overlap));
        calls += (unsigned long)atomic_load(&pr[i].calls);
    }
    print_message("# %u iterations, %lu callbacks\n", n, calls);
    free(pr);
}

static void test_LIFE01_destroy_while_running_static(void **state) {
    (void)state;
    life01(false);
}

static void test_LIFE01_destroy_while_running_owned(void **state) {
    (void)state;
    life01(true);
}

/* ---- LIFE-02 ---- */

struct selfp {
    atomic_int calls;
    atomic_int done;
    int rc;
    uint64_t took;
    bool locals_ok;
};

static void *self_cb(void *arg) {
    struct data *d = arg;
    struct selfp *s = d->stuff;
    if (atomic_fetch_add(&s->calls, 1) != 0) return NULL;   /* counted: must not happen */
    volatile unsigned char locals[256];
    for (int i = 0; i < 256; i++) locals[i] = (unsigned char)i;
    uint64_t t0 = mt_now_ns();
    s->rc = Mockit_destroy(d);
    s->took = mt_now_ns() - t0;
    /* keep using its own locals (and, for a caller's struct, the struct) */
    uint64_t until = mt_now_ns() + 1000000;
    bool ok = true;
    while (mt_now_ns() < until)
        for (int i = 0; i < 256; i++) ok &= locals[i] == (unsigned char)i;
    s->locals_ok = ok;
    atomic_store(&s->done, 1);
    return NULL;
}

static void test_LIFE02_self_destroy_many(void **state) {
    (void)state;
    enum { PAR = 8 };
    unsigned rounds = mt_iters(250);
    static struct data st[PAR];
    struct selfp *sp = calloc((size_t)rounds * PAR, sizeof *sp);
    assert_non_null(sp);
    uint64_t max_took = 0;
    for (unsigned r = 0; r < rounds; r++) {
        for (int j = 0; j < PAR; j++) {
            struct selfp *s = &sp[r * PAR + j];
            bool owned = (r + (unsigned)j) % 2, interval = j % 4 < 2;
            struct data *d = owned ? Mockit_data_init() : &st[j];
            assert_non_null(d);
            d->cb = self_cb;
            d->stuff = s;
            assert_int_equal(0, interval ? Mockit_getit(1, d) : Mockit_oneoff((uint32_t)(j % 2), d));
        }
        for (int j = 0; j < PAR; j++)
            if (!MT_WAIT_UNTIL(atomic_load(&sp[r * PAR + j].done), 2000))
                fail_msg("round %u timer %d: its callback did not finish", r, j);
        for (int j = 0; j < PAR; j++) {
            struct selfp *s = &sp[r * PAR + j];
            if (s->rc != 0) fail_msg("round %u timer %d: self-destroy returned %d", r, j, s->rc);
            assert_true(s->locals_ok);
            if (s->took > max_took) max_took = s->took;
            /* a caller's struct is unknown once its callback returned */
            if ((r + (unsigned)j) % 2 == 0) {
                if (!MT_WAIT_UNTIL(Mockit_destroy(&st[j]) == EINVAL, 1000))
                    fail_msg("round %u timer %d: still known after self-destroy", r, j);
            }
        }
    }
    mt_sleep_ms(20);
    for (unsigned i = 0; i < rounds * PAR; i++)
        if (atomic_load(&sp[i].calls) != 1)
            fail_msg("timer %u: %d calls after a self-destroy in the first", i, atomic_load(&sp[i].calls));
    print_message("# %u self-destroys, slowest %.3f ms\n", rounds * PAR, max_took / 1e6);
    MT_ASSERT_UCMP(max_took, <, mt_bound_ns(20));   /* no self-wait (1 ms would be "< 1 ms" quiet) */
    free(sp);
}

/* ---- LIFE-03 ---- */

struct mutual {
    struct data *other;
    atomic_int calls, round_done;
    int rc;                    /* first call's destroy of the other */
    _Atomic unsigned long long entered_seq;
    atomic_int dead;           /* destroyed by the other (rc 0 seen) */
    atomic_int after_dead;
};

static struct mutual ma, mb;
static struct data da, db;
static atomic_int m_both, m_after_total;

static void *mutual_cb(void *arg) {
    struct mutual *m = ((struct data *)arg)->stuff;
    if (atomic_load(&m->dead)) {
        atomic_fetch_add(&m->after_dead, 1);
        atomic_fetch_add(&m_after_total, 1);
    }
    if (atomic_fetch_add(&m->calls, 1) != 0) return NULL;
    atomic_store(&m->entered_seq, tick());
    atomic_fetch_add(&m_both, 1);
    uint64_t dl = mt_now_ns() + mt_bound_ns(3);   /* wait a while for the other to be inside too */
    while (atomic_load(&m_both) < 2 && mt_now_ns() < dl) mt_sleep_ns(20000);
    m->rc = Mockit_destroy(m->other);
    if (m->rc == 0) {
        struct mutual *o = m->other->stuff;
        atomic_store(&o->dead, 1);
    }
    atomic_store(&m->round_done, 1);
    return NULL;
}

/* a failed check leaves nothing armed for the tests after it */
static int life03_teardown(void **state) {
    Mockit_destroy(&da);
    Mockit_destroy(&db);
    return mt_teardown(state);
}

static void test_LIFE03_cross_and_mutual_destroy_repeated(void **state) {
    (void)state;
    mt_watchdog_arm(20, "LIFE03 mutual destroy (a deadlock?)");
    /* 1 s of rounds (3 s under the tools: each round is slower there) */
    double run_ms = mt_time_scale() > 3 ? 3000 : 1000 * mt_time_scale();
    uint64_t until = mt_now_ns() + (uint64_t)run_ms * MT_NS_PER_MS;
    unsigned rounds = 0, edeadlk = 0, both_ok = 0, concurrent = 0;
    while (mt_now_ns() < until) {
        memset(&ma, 0, sizeof ma);
        memset(&mb, 0, sizeof mb);
        atomic_store(&m_both, 0);
        ma.other = &db;
        mb.other = &da;
        da = (struct data){ .cb = mutual_cb, .stuff = &ma };
        db = (struct data){ .cb = mutual_cb, .stuff = &mb };
        assert_int_equal(0, Mockit_getit(1, &da));
        assert_int_equal(0, Mockit_getit(1, &db));
        if (!MT_WAIT_UNTIL(atomic_load(&ma.round_done) || atomic_load(&mb.round_done), 2000))
            fail_msg("round %u: neither callback finished", rounds);
        /* both callbacks may run; let the second finish as well */
        MT_WAIT_UNTIL((atomic_load(&ma.round_done) || atomic_load(&ma.dead)) &&
                      (atomic_load(&mb.round_done) || atomic_load(&mb.dead)), 2000);
        int ra = Mockit_destroy(&da), rb = Mockit_destroy(&db);
        if ((ra != 0 && ra != EINVAL) || (rb != 0 && rb != EINVAL))
            fail_msg("round %u: final destroys %d %d", rounds, ra, rb);
        atomic_store(&ma.dead, 1);
        atomic_store(&mb.dead, 1);
        bool a_ran = atomic_load(&ma.round_done), b_ran = atomic_load(&mb.round_done);
        if (a_ran && b_ran) {
            concurrent += atomic_load(&m_both) == 2;
            if (ma.rc == EDEADLK && mb.rc == EDEADLK) fail_msg("round %u: both got EDEADLK", rounds);
            if (ma.rc == EDEADLK || mb.rc == EDEADLK) {
                edeadlk++;
                int other_rc = ma.rc == EDEADLK ? mb.rc : ma.rc;
                if (other_rc != 0) fail_msg("round %u: EDEADLK and %d", rounds, other_rc);
            } else if (ma.rc == 0 && mb.rc == 0) {
                both_ok++;   /* one after the other: B ran its call before A's destroy came */
            }
        }
        for (int k = 0; k < 2; k++) {
            struct mutual *m = k ? &mb : &ma;
            if (m->rc != 0 && m->rc != EDEADLK && atomic_load(&m->round_done))
                fail_msg("round %u: destroy of the other returned %d", rounds, m->rc);
        }
        rounds++;
    }
    mt_sleep_ms(10);
    print_message("# %u rounds, %u with both inside at once, %u EDEADLK, %u both 0\n", rounds,
                  concurrent, edeadlk, both_ok);
    assert_int_equal(0, atomic_load(&m_after_total));
    MT_ASSERT_CMP(rounds, >, 10);
}

/* ---- LIFE-04 ---- */

struct l4_thread { int index; unsigned n; unsigned fails; char msg[160]; };

static void *life04_thread(void *arg) {
    struct l4_thread *t = arg;
    uint64_t seed = mt_seed() ^ (uint64_t)(t->index + 1) * 0x2545f4914f6cdd1dull;
    struct probe *pr = calloc(t->n, sizeof *pr);
    struct data st;
    for (unsigned i = 0; i < t->n && pr; i++) {
        struct probe *p = &pr[i];
        bool owned = i % 2;
        struct data *d = owned ? Mockit_data_init() : &st;
        if (!d) { t->fails++; continue; }
        d->cb = probe_cb;
        d->stuff = p;
        uint32_t k = mt_rand_below(&seed, 3);
        uint64_t t_arm = mt_now_ns();
        if (Mockit_oneoff(k, d) != 0) { t->fails++; continue; }
        /* destroy at a random offset in [due - 500 us, due + 500 us] */
        int64_t off = (int64_t)k * 1000000 + (int64_t)mt_rand_below(&seed, 1000001) - 500000;
        if (off > 0) mt_sleep_until_ns(t_arm + (uint64_t)off);
        int rc = Mockit_destroy(d);
        int inside = atomic_load(&p->inside);
        int calls = atomic_load(&p->calls);
        atomic_store(&p->dead, 1);
        if (inside) {
            t->fails++;
            snprintf(t->msg, sizeof t->msg, "destroy returned with the callback inside");
        }
        if (owned ? rc != 0 : (rc != 0 && rc != EINVAL)) {
            t->fails++;
            snprintf(t->msg, sizeof t->msg, "destroy returned %d", rc);
        }
        /* EINVAL for a caller's struct: its one-shot had fired and returned */
        if (!owned && rc == EINVAL && (calls != 1 || !atomic_load(&p->exited_seq))) {
            t->fails++;
            snprintf(t->msg, sizeof t->msg, "EINVAL but the callback had not run (calls %d)", calls);
        }
    }
    mt_sleep_ms(10);
    for (unsigned i = 0; i < t->n && pr; i++)
        if (atomic_load(&pr[i].calls) > 1 || atomic_load(&pr[i].after_dead)) {
            t->fails++;
            snprintf(t->msg, sizeof t->msg, "arm %u: %d calls, %d after destroy", i,
                     atomic_load(&pr[i].calls), atomic_load(&pr[i].after_dead));
        }
    free(pr);
    return NULL;
}

static void test_LIFE04_destroy_racing_expiry(void **state) {
    (void)state;
    enum { T = 4 };
    struct l4_thread t[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        t[i] = (struct l4_thread){ .index = i, .n = mt_iters(2500) / T };
        mt_thread_start(&th[i], "mt-life04", life04_thread, &t[i]);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < T; i++)
        if (t[i].fails) fail_msg("thread %d: %u failures; last: %s", i, t[i].fails, t[i].msg);
}

/* ---- LIFE-05 ---- */

static atomic_int chain_calls, chain_inside, chain_overlap, chain_bad;
static unsigned chain_len;
static _Atomic uint64_t chain_last;

static void *chain_cb(void *arg) {
    if (atomic_fetch_add(&chain_inside, 1) != 0) atomic_fetch_add(&chain_overlap, 1);
    int k = atomic_fetch_add(&chain_calls, 1) + 1;
    if ((unsigned)k < chain_len) {
        if (Mockit_oneoff(1, arg) != 0) atomic_fetch_add(&chain_bad, 1);
    } else {
        atomic_store(&chain_last, mt_now_ns());
    }
    atomic_fetch_sub(&chain_inside, 1);
    return NULL;
}

static void test_LIFE05a_chain_of_oneoffs(void **state) {
    (void)state;
    chain_len = mt_iters(300);
    static struct data d;
    d = (struct data){ .cb = chain_cb };
    uint64_t t0 = mt_now_ns();
    assert_int_equal(0, Mockit_oneoff(1, &d));
    if (!MT_WAIT_UNTIL(atomic_load(&chain_calls) >= (int)chain_len, chain_len * 20.0))
        fail_msg("chain stopped at %d of %u", atomic_load(&chain_calls), chain_len);
    mt_sleep_ms(10);
    assert_int_equal((int)chain_len, atomic_load(&chain_calls));
    assert_int_equal(0, atomic_load(&chain_overlap));
    assert_int_equal(0, atomic_load(&chain_bad));
    MT_ASSERT_UCMP(atomic_load(&chain_last) - t0, >=, chain_len * MT_NS_PER_MS);
    assert_int_equal(EINVAL, Mockit_destroy(&d));   /* the last one-shot returned */
}

#define SIB 10
static struct data sib[SIB];
static struct probe sib_p[SIB];
static atomic_int sib_first, sib_swept;
static int sib_victims[3];
static int sib_rc[3];
static unsigned long long sib_destroyed_seq[3];

static void *sib_cb(void *arg) {
    struct data *d = arg;
    int me = (int)(d - sib);
    probe_cb(arg);
    int expect = -1;
    if (atomic_compare_exchange_strong(&sib_first, &expect, me)) {
        for (int v = 0; v < 3; v++) {
            int victim = (me + 1 + v * 3) % SIB;
            sib_victims[v] = victim;
            sib_rc[v] = Mockit_destroy(&sib[victim]);
            sib_destroyed_seq[v] = tick();
        }
        atomic_store(&sib_swept, 1);   /* publishes the three above */
    }
    return NULL;
}

static void test_LIFE05b_first_callback_destroys_due_siblings(void **state) {
    (void)state;
    unsigned rounds = mt_iters(100);
    for (unsigned r = 0; r < rounds; r++) {
        atomic_store(&sib_first, -1);
        atomic_store(&sib_swept, 0);
        memset(sib_p, 0, sizeof sib_p);
        for (int i = 0; i < SIB; i++) {
            sib_p[i].sleep_us = (r % 3) * 100;
            sib[i] = (struct data){ .cb = sib_cb, .stuff = &sib_p[i] };
        }
        for (int i = 0; i < SIB; i++) assert_int_equal(0, Mockit_oneoff(2, &sib[i]));
        if (!MT_WAIT_UNTIL(atomic_load(&sib_swept), 1000)) fail_msg("round %u: nothing fired", r);
        mt_sleep_ms(6);
        for (int v = 0; v < 3; v++) {
            int i = sib_victims[v];
            struct probe *p = &sib_p[i];
            /* a victim that had not returned was destroyed: 0; one whose
             * call had already returned is unknown: EINVAL */
            if (sib_rc[v] != 0 && sib_rc[v] != EINVAL)
                fail_msg("round %u: destroy of sibling %d returned %d", r, i, sib_rc[v]);
            unsigned long long ent = atomic_load(&p->entered_seq);
            if (ent && ent > sib_destroyed_seq[v])
                fail_msg("round %u: sibling %d began after it was destroyed", r, i);
            if (sib_rc[v] == EINVAL && !atomic_load(&p->exited_seq))
                fail_msg("round %u: EINVAL for sibling %d that never ran", r, i);
            assert_true(atomic_load(&p->calls) <= 1);
        }
        for (int i = 0; i < SIB; i++) {
            bool victim = i == sib_victims[0] || i == sib_victims[1] || i == sib_victims[2];
            if (!victim && !MT_WAIT_UNTIL(atomic_load(&sib_p[i].calls) == 1, 1000))
                fail_msg("round %u: sibling %d (not destroyed) has %d calls", r, i,
                         atomic_load(&sib_p[i].calls));
            Mockit_destroy(&sib[i]);
        }
    }
}

/* (c) a callback re-arms another interval while that one runs */
#define C_LOG 256
static mt_tick c_ticks[C_LOG];
static mt_log c_log = MT_LOG_INIT(c_ticks);
static struct data c_victim, c_rearmer;
static atomic_int c_phase;          /* 0: old schedule, 1: re-armed */
static _Atomic uint64_t c_arm_before, c_arm_after;
static atomic_int c_rc = -1, c_victim_inside;

static void *c_victim_cb(void *arg) {
    uint64_t t = mt_now_ns();
    atomic_store(&c_victim_inside, 1);
    if (atomic_load(&c_phase) == 1) {
        mt_log_call(&c_log, t, arg);
    }
    mt_sleep_ms(4);   /* runs a while: the re-arm lands mid-call */
    atomic_store(&c_victim_inside, 0);
    return NULL;
}

static void *c_rearmer_cb(void *arg) {
    (void)arg;
    uint64_t dl = mt_now_ns() + 200 * MT_NS_PER_MS;
    while (!atomic_load(&c_victim_inside) && mt_now_ns() < dl) mt_sleep_ns(50000);
    atomic_store(&c_arm_before, mt_now_ns());
    int rc = Mockit_getit(7, &c_victim);
    atomic_store(&c_arm_after, mt_now_ns());
    atomic_store(&c_phase, 1);   /* calls from here on are the new schedule's */
    atomic_store(&c_rc, rc);
    return NULL;
}

static int life05c_teardown(void **state) {
    Mockit_destroy(&c_victim);
    return mt_teardown(state);
}

static void test_LIFE05c_callback_rearms_running_interval(void **state) {
    (void)state;
    c_victim = (struct data){ .cb = c_victim_cb };
    c_rearmer = (struct data){ .cb = c_rearmer_cb };
    assert_int_equal(0, Mockit_getit(3, &c_victim));
    mt_sleep_ms(10);
    assert_int_equal(0, Mockit_oneoff(0, &c_rearmer));
    assert_true(MT_WAIT_UNTIL(atomic_load(&c_rc) != -1, 1000));
    assert_int_equal(0, atomic_load(&c_rc));
    mt_sleep_ms(200);
    assert_int_equal(0, Mockit_destroy(&c_victim));
    mt_grid g;
    uint64_t origin = atomic_load(&c_arm_before);
    mt_grid_analyse(&c_log, origin, atomic_load(&c_arm_after), 7 * MT_NS_PER_MS, &g);
    print_message("# re-armed interval: %u calls, %llu grid points\n", g.calls, (unsigned long long)g.g_last);
    MT_ASSERT_CMP(g.calls, >=, 10);
    if (g.first_early >= 0)
        fail_msg("call %d of the new schedule early by %lld ns", g.first_early, (long long)g.early_by_ns);
    assert_int_equal(-1, g.first_bad_ov);
}

/* ---- LIFE-06 ---- */

static atomic_int good_calls, bad_calls;
static void *good_cb(void *arg) { (void)arg; atomic_fetch_add(&good_calls, 1); return NULL; }
static void *bad_cb(void *arg) { (void)arg; atomic_fetch_add(&bad_calls, 1); return NULL; }

static void life06(bool owned) {
    unsigned n = mt_iters(8192);
    static struct data st;
    atomic_store(&good_calls, 0);
    atomic_store(&bad_calls, 0);
    uint64_t seed = mt_seed();
    for (unsigned i = 0; i < n; i++) {
        bool bad = i % 2;
        struct data *d = owned ? Mockit_data_init() : &st;
        assert_non_null(d);
        d->cb = bad ? bad_cb : good_cb;
        int rc = Mockit_oneoff(bad ? 180000 : mt_rand_below(&seed, 2), d);
        if (rc) fail_msg("iteration %u: arm %d", i, rc);
        if (!bad && mt_rand_below(&seed, 4) == 0) mt_sleep_ns(mt_rand_below(&seed, 1500) * 1000ull);
        rc = Mockit_destroy(d);
        if (owned ? rc != 0 : (rc != 0 && !(rc == EINVAL && !bad)))
            fail_msg("iteration %u: destroy %d", i, rc);
    }
    mt_sleep_ms(20);
    print_message("# %u iterations, %d good calls\n", n, atomic_load(&good_calls));
    assert_int_equal(0, atomic_load(&bad_calls));
    MT_ASSERT_CMP(atomic_load(&good_calls), <=, (int)(n / 2));
}

static void test_LIFE06_reuse_static_struct(void **state) {
    (void)state;
    life06(false);
}

static void test_LIFE06_reuse_fresh_data_init(void **state) {
    (void)state;
    life06(true);
}

/* ---- LIFE-07 ---- */

static void test_LIFE07_churn_then_resources_back(void **state) {
    (void)state;
    mt_watchdog_arm(120, "LIFE07 churn");
    struct churn_result r;
    struct churn_cfg warm = { .threads = 4, .ops = mt_iters(1000), .seed = mt_seed() };
    if (churn_run(&warm, &r)) fail_msg("warm-up churn: %s (failures %lu)", r.first_failure, r.failures);
    mt_sleep_ms(50);
    long rss0 = rel_rss_kb();
    int fds0 = rel_fd_count(), kt0 = rel_ktimer_count();
    struct churn_cfg cfg = { .threads = 4, .ops = mt_iters(5000), .seed = mt_seed() + 1 };
    int rc = churn_run(&cfg, &r);
    print_message("# %llu operations, %llu callbacks, up to %d library threads\n", r.ops, r.calls,
                  r.max_lib_threads);
    if (r.failures) fail_msg("%lu failed calls; first: %s", r.failures, r.first_failure);
    assert_int_equal(0, r.overlap);
    assert_int_equal(0, r.after_destroy);
    assert_int_equal(0, r.bad_overrun);
    assert_int_equal(0, r.late_calls);
    MT_ASSERT_CMP(r.max_lib_threads, <=, 65);
    assert_int_equal(0, rc);
    mt_sleep_ms(50);
    long rss1 = rel_rss_kb();
    print_message("# RSS %ld -> %ld KiB, fds %d -> %d, kernel timers %d -> %d\n", rss0, rss1, fds0,
                  rel_fd_count(), kt0, rel_ktimer_count());
    if (!*mt_sanitizer() && !mt_under_valgrind()) MT_ASSERT_CMP(rss1 - rss0, <, 1024);   /* tools keep freed memory */
    assert_int_equal(fds0, rel_fd_count());
    assert_int_equal(kt0, rel_ktimer_count());
}

/* ---- LIFE-08 ---- */

#define MASS 1000
static struct data mass[MASS];
static struct probe mass_p[MASS];
static atomic_int mass_first;
static int mass_rc[MASS];
static unsigned long long mass_armed_seq[MASS];
static unsigned long long mass_sweep_begin, mass_sweep_end;
static atomic_int mass_swept;

static void *mass_cb(void *arg) {
    struct data *d = arg;
    int me = (int)(d - mass);
    int expect = -1;
    probe_cb(arg);
    if (atomic_compare_exchange_strong(&mass_first, &expect, me)) {
        mass_sweep_begin = tick();
        for (int i = 0; i < MASS; i++) {
            if (i == me) continue;
            mass_rc[i] = Mockit_destroy(&mass[i]);
            if (mass_rc[i] == 0) atomic_store(&mass_p[i].dead, 1);
        }
        mass_sweep_end = tick();
        atomic_store(&mass_swept, 1);
    }
    return NULL;
}

static void test_LIFE08_mass_destroy_from_one_callback(void **state) {
    (void)state;
    unsigned rounds = mt_iters(5);
    for (unsigned r = 0; r < rounds; r++) {
        atomic_store(&mass_first, -1);
        atomic_store(&mass_swept, 0);
        memset(mass_p, 0, sizeof mass_p);
        for (int i = 0; i < MASS; i++) {
            mass_p[i].sleep_us = (i % 50 == 0) ? 2000 : 0;   /* some are still running */
            mass[i] = (struct data){ .cb = mass_cb, .stuff = &mass_p[i] };
        }
        /* All due at the same ms, far enough ahead that every arm is made
         * before the first is due: under memcheck 1000 arms outlast a
         * plain 10 ms (the premise checked below). */
        uint64_t t_arm = mt_now_ns(), due = t_arm + mt_bound_ns(10);
        for (int i = 0; i < MASS; i++) {
            uint64_t now = mt_now_ns();
            uint32_t ms = now < due ? (uint32_t)((due - now) / MT_NS_PER_MS) : 0;
            assert_int_equal(0, Mockit_oneoff(ms, &mass[i]));
            mass_armed_seq[i] = tick();
        }
        double arming_ms = (double)(mt_now_ns() - t_arm) / 1e6;
        if (!MT_WAIT_UNTIL(atomic_load(&mass_swept), 5000)) fail_msg("round %u: no sweep", r);
        mt_sleep_ms(20);
        int me = atomic_load(&mass_first), destroyed = 0, already = 0, late = 0;
        for (int i = 0; i < MASS; i++) {
            if (i == me) continue;
            struct probe *p = &mass_p[i];
            if (mass_armed_seq[i] > mass_sweep_begin) {
                /* Armed after the sweep began (the premise broke: arming
                 * took longer than the lead).  Its destroy may have come
                 * first (EINVAL, then it runs once) or after (0, and it
                 * never runs); both are right, a third outcome is not. */
                late++;
                if (mass_rc[i] == EINVAL && !MT_WAIT_UNTIL(atomic_load(&p->exited_seq), 5000))
                    fail_msg("round %u: timer %d, armed after its destroy, never ran", r, i);
            }
            if (mass_rc[i] == 0) {
                destroyed++;
                /* destroy waited: it had either not begun, or had finished */
                if (atomic_load(&p->entered_seq) > mass_sweep_end)
                    fail_msg("round %u: timer %d began after the sweep", r, i);
                if (atomic_load(&p->after_dead)) fail_msg("round %u: timer %d ran after its destroy", r, i);
            } else if (mass_rc[i] == EINVAL) {
                already++;
                /* EINVAL only once it had run (a late one was waited for) */
                if (!atomic_load(&p->exited_seq)) fail_msg("round %u: EINVAL for timer %d that never ran", r, i);
            } else {
                fail_msg("round %u: destroy of timer %d returned %d", r, i, mass_rc[i]);
            }
            assert_true(atomic_load(&p->calls) <= 1);
            assert_int_equal(0, atomic_load(&p->overlap));
        }
        if (r == 0 || late)
            print_message("# round %u: arming took %.1f ms of a %.0f ms lead; sweep: %d destroyed, %d had already run, "
                          "%d armed after it began\n",
                          r, arming_ms, (double)mt_bound_ns(10) / 1e6, destroyed, already, late);
    }
}

/* ---- LIFE-09 ---- */

#define L9_TIMERS 10000
static atomic_int l9_calls, l9_slow;

static void *l9_fast(void *arg) { (void)arg; atomic_fetch_add(&l9_calls, 1); return NULL; }
static void *l9_slow_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&l9_slow, 1);
    mt_sleep_ms(50);
    return NULL;
}
static void *l9_exiter(void *arg) { (void)arg; exit(0); }

static int child_life09(int argc, char **argv) {
    const char *how = argc > 0 ? argv[0] : "return";
    unsigned n = (unsigned)(argc > 1 ? atoi(argv[1]) : L9_TIMERS);
    struct data *st = calloc(n, sizeof *st);
    if (!st) return 20;
    for (unsigned i = 0; i < n; i++) {
        struct data *d = (i % 4 == 0) ? Mockit_data_init() : &st[i];
        if (!d) return 21;
        d->cb = (i % 100 == 0) ? l9_slow_cb : l9_fast;
        int rc = (i % 3 == 0) ? Mockit_getit(1 + i % 7, d) : Mockit_oneoff(i % 50, d);
        if (rc) return 22;
    }
    uint64_t dl = mt_now_ns() + 2000 * MT_NS_PER_MS;
    while (atomic_load(&l9_slow) < 3 && mt_now_ns() < dl) mt_sleep_ms(1);
    /* leave now: slow callbacks are running, thousands of timers armed */
    putchar('x');
    fflush(stdout);
    if (strcmp(how, "exit-thread") == 0) {
        pthread_t t;
        pthread_create(&t, NULL, l9_exiter, NULL);
        pause();
    }
    return 0;   /* from main: static destructors and atexit with threads running */
}

static void life09(const char *how) {
    unsigned n = mt_iters(10);
    char count[16];
    snprintf(count, sizeof count, "%u", mt_under_valgrind() ? 1000u : (unsigned)L9_TIMERS);
    char *args[] = { (char *)how, count, NULL };
    uint64_t worst = 0;
    for (unsigned i = 0; i < n; i++) {
        int fd;
        pid_t pid = rel_spawn("life09", args, &fd);
        char c;
        uint64_t t0 = mt_now_ns();
        ssize_t got = read(fd, &c, 1);   /* the child is about to leave */
        uint64_t t_leave = mt_now_ns();
        close(fd);
        uint64_t took;
        int st = rel_wait(pid, 1000, &took);
        if (st == -1) fail_msg("process %u (%s): not gone 1 s after it began to leave", i, how);
        if (got != 1) fail_msg("process %u (%s): ended before it armed everything (status 0x%x)", i, how, st);
        if (WIFSIGNALED(st)) fail_msg("process %u (%s): killed by signal %d", i, how, WTERMSIG(st));
        if (WEXITSTATUS(st)) fail_msg("process %u (%s): exit status %d", i, how, WEXITSTATUS(st));
        if (took > worst) worst = took;
        (void)t0;
        (void)t_leave;
    }
    print_message("# %u processes (%s), slowest exit %.1f ms\n", n, how, worst / 1e6);
}

static void test_LIFE09_exit_return_from_main(void **state) {
    (void)state;
    life09("return");
}

static void test_LIFE09_exit_from_another_thread(void **state) {
    (void)state;
    life09("exit-thread");
}

/* ---- LIFE-10 ---- */

#define L10_LIVE 50
static struct data l10_d[L10_LIVE];
static atomic_int l10_calls[L10_LIVE];
static atomic_int l10_arm_fail;

static void *l10_cb(void *arg) {
    atomic_fetch_add(&l10_calls[(struct data *)arg - l10_d], 1);
    return NULL;
}

static void *l10_armer(void *arg) {
    intptr_t i = (intptr_t)arg;
    l10_d[i] = (struct data){ .cb = l10_cb };
    if (Mockit_getit(2, &l10_d[i]) != 0) atomic_fetch_add(&l10_arm_fail, 1);
    return NULL;   /* and the arming thread is gone */
}

static void *l10_destroyer(void *arg) {
    intptr_t i = (intptr_t)arg;
    return (void *)(intptr_t)Mockit_destroy(&l10_d[i]);
}

static void test_LIFE10_arming_threads_exit(void **state) {
    (void)state;
    unsigned batches = mt_iters(20);   /* 20 x 50 = 1000 thread exits */
    long rss_after_first = 0;
    for (unsigned b = 0; b < batches; b++) {
        for (int i = 0; i < L10_LIVE; i++) atomic_store(&l10_calls[i], 0);
        for (intptr_t i = 0; i < L10_LIVE; i++) {
            pthread_t t;
            mt_thread_start(&t, "mt-armer", l10_armer, (void *)i);
            pthread_join(t, NULL);
        }
        assert_int_equal(0, atomic_load(&l10_arm_fail));
        for (int i = 0; i < L10_LIVE; i++)
            if (!MT_WAIT_UNTIL(atomic_load(&l10_calls[i]) >= 2, 1000))
                fail_msg("batch %u timer %d: armed by an exited thread, it does not tick", b, i);
        for (intptr_t i = 0; i < L10_LIVE; i++) {
            int rc;
            if (i % 2) {
                pthread_t t;
                void *ret;
                mt_thread_start(&t, "mt-destroyer", l10_destroyer, (void *)i);
                pthread_join(t, &ret);
                rc = (int)(intptr_t)ret;
            } else {
                rc = Mockit_destroy(&l10_d[i]);
            }
            if (rc) fail_msg("batch %u timer %d: destroy %d", b, (int)i, rc);
        }
        if (b == 0) {
            mt_sleep_ms(10);
            rss_after_first = rel_rss_kb();
        }
    }
    long rss_end = rel_rss_kb();
    print_message("# %u thread exits, RSS %ld -> %ld KiB\n", batches * L10_LIVE, rss_after_first, rss_end);
    if (!*mt_sanitizer() && !mt_under_valgrind()) MT_ASSERT_CMP(rss_end - rss_after_first, <, 1024);
}

static const struct rel_child children[] = {
    { "life09", child_life09 },
    { NULL, NULL },
};

int main(int argc, char **argv) {
    int st;
    if (rel_main_prologue(argc, argv, children, &st)) return st;
    const struct CMUnitTest tests[] = {
        MT_TEST(test_LIFE01_destroy_while_running_static),
        MT_TEST(test_LIFE01_destroy_while_running_owned),
        MT_TEST(test_LIFE02_self_destroy_many),
        cmocka_unit_test_setup_teardown(test_LIFE03_cross_and_mutual_destroy_repeated, mt_setup,
                                        life03_teardown),
        MT_TEST(test_LIFE04_destroy_racing_expiry),
        MT_TEST(test_LIFE05a_chain_of_oneoffs),
        MT_TEST(test_LIFE05b_first_callback_destroys_due_siblings),
        cmocka_unit_test_setup_teardown(test_LIFE05c_callback_rearms_running_interval, mt_setup,
                                        life05c_teardown),
        MT_TEST(test_LIFE06_reuse_static_struct),
        MT_TEST(test_LIFE06_reuse_fresh_data_init),
        MT_TEST(test_LIFE07_churn_then_resources_back),
        MT_TEST(test_LIFE08_mass_destroy_from_one_callback),
        MT_TEST(test_LIFE09_exit_return_from_main),
        MT_TEST(test_LIFE09_exit_from_another_thread),
        MT_TEST(test_LIFE10_arming_threads_exit),
    };
    return cmocka_run_group_tests_name("rel-life", tests, NULL, NULL);
}
