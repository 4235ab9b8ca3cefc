/*
 * test-destroy: "When Mockit_destroy returns, that callback is not running
 * and will never run again" (SPEC 2), from another thread (it waits), from
 * inside the callback (it does not wait), racing a re-arm (ECANCELED, the
 * timer does not come back), and between two callbacks (EDEADLK, no
 * deadlock).  RELIABILITY LIFE-01, LIFE-02, LIFE-03, LIFE-05.
 */
#include "mtest.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <mockit.h>

/* ---- a callback that is busy for a while ---- */

struct probe {
    atomic_int inside;      /* 1 while the callback body runs */
    atomic_int overlap;     /* entries while inside was already 1 */
    atomic_int entered;
    atomic_int calls;
    _Atomic uint64_t done_at;
    unsigned first_us;      /* the first call sleeps this long (0: as later ones) */
};

static void *busy_cb(void *arg) {
    struct probe *p = ((struct data *)arg)->stuff;   /* the struct is not touched again */
    if (atomic_fetch_add(&p->inside, 1) != 0) atomic_fetch_add(&p->overlap, 1);
    atomic_store(&p->entered, 1);
    int k = atomic_fetch_add(&p->calls, 1);
    unsigned us = (k == 0 && p->first_us) ? p->first_us : (unsigned)(k % 3) * 700;
    if (us) mt_sleep_ns(us * 1000ull);
    atomic_store(&p->done_at, mt_now_ns());
    atomic_fetch_sub(&p->inside, 1);
    return NULL;
}

static void probe_reset(struct probe *p, unsigned first_us) {
    atomic_store(&p->inside, 0);
    atomic_store(&p->overlap, 0);
    atomic_store(&p->entered, 0);
    atomic_store(&p->calls, 0);
    atomic_store(&p->done_at, 0);
    p->first_us = first_us;
}

static struct probe pr;
static struct data static_d;

/* getit(1) with a 0-1.4 ms callback, destroyed after a random 0-3 ms:
 * at every return inside == 0 and the count is frozen from then on. */
static void test_LIFE01_destroy_random_offsets(void **state) {
    (void)state;
    uint64_t seed = mt_seed();
    unsigned n = mt_iters(200);
    for (unsigned i = 0; i < n; i++) {
        probe_reset(&pr, 0);
        struct data *d = (i % 2) ? Mockit_data_init() : &static_d;
        assert_non_null(d);
        d->cb = busy_cb;
        d->stuff = &pr;
        assert_int_equal(0, Mockit_getit(1, d));
        mt_sleep_ns(mt_rand_below(&seed, 3000) * 1000ull);
        assert_int_equal(0, Mockit_destroy(d));
        int inside = atomic_load(&pr.inside);
        int calls = atomic_load(&pr.calls);
        if (inside != 0) fail_msg("iteration %u: Mockit_destroy returned with the callback running", i);
        mt_sleep_ms(3);
        if (atomic_load(&pr.calls) != calls)
            fail_msg("iteration %u: %d calls after Mockit_destroy returned", i,
                     atomic_load(&pr.calls) - calls);
        assert_int_equal(0, atomic_load(&pr.overlap));
    }
}

/* destroy from the main thread while the callback is 300 ms into its run */
struct variant { bool interval, owned; };

static void test_LIFE01_destroy_waits_mid_callback(void **state) {
    const struct variant *v = *state;
    probe_reset(&pr, 300000);
    struct data *d = v->owned ? Mockit_data_init() : &static_d;
    assert_non_null(d);
    d->cb = busy_cb;
    d->stuff = &pr;
    assert_int_equal(0, v->interval ? Mockit_getit(5, d) : Mockit_oneoff(0, d));
    assert_true(MT_WAIT_UNTIL(atomic_load(&pr.entered), 1000));
    mt_sleep_ms(50);
    uint64_t t0 = mt_now_ns();
    assert_int_equal(1, atomic_load(&pr.inside));   /* the test is valid: mid-callback */
    assert_int_equal(0, Mockit_destroy(d));
    uint64_t t1 = mt_now_ns();
    assert_int_equal(0, atomic_load(&pr.inside));
    uint64_t done = atomic_load(&pr.done_at);
    MT_ASSERT_UCMP(done, >, t0);    /* the callback ended during the destroy */
    MT_ASSERT_UCMP(done, <=, t1);
    MT_ASSERT_UCMP(t1 - done, <, mt_bound_ns(50));   /* and destroy did not linger */
    int calls = atomic_load(&pr.calls);
    assert_int_equal(1, calls);
    mt_sleep_ms(50);
    assert_int_equal(calls, atomic_load(&pr.calls));
    assert_int_equal(0, atomic_load(&pr.overlap));
    if (!v->owned) assert_int_equal(EINVAL, Mockit_destroy(d));   /* nothing kept */
}

/* ---- destroy from inside the callback ---- */

struct selfd {
    atomic_int calls;
    atomic_int done;
    bool try_rearm;
    int rc;                 /* Mockit_destroy(self) */
    uint64_t dt;            /* how long it took */
    int rc_oneoff, rc_getit;
    bool struct_intact;     /* the struct is still readable until we return */
};

static struct selfd sd;

static void *self_cb(void *arg) {
    struct data *d = arg;
    struct selfd *s = d->stuff;
    if (atomic_fetch_add(&s->calls, 1) == 0) {
        uint64_t t0 = mt_now_ns();
        s->rc = Mockit_destroy(d);
        s->dt = mt_now_ns() - t0;
        if (s->try_rearm) {
            s->rc_oneoff = Mockit_oneoff(1, d);
            s->rc_getit = Mockit_getit(1, d);
        }
        mt_sleep_ms(1);   /* keep going: locals and the struct stay usable */
        s->struct_intact = d->stuff == s && d->cb == self_cb;
        atomic_store(&s->done, 1);
    }
    return NULL;
}

struct self_variant { bool interval, owned, rearm; };

static void test_LIFE02_self_destroy(void **state) {
    const struct self_variant *v = *state;
    memset(&sd, 0, sizeof sd);
    sd.try_rearm = v->rearm;
    sd.rc = sd.rc_oneoff = sd.rc_getit = -1;
    struct data *d = v->owned ? Mockit_data_init() : &static_d;
    assert_non_null(d);
    d->cb = self_cb;
    d->stuff = &sd;
    assert_int_equal(0, v->interval ? Mockit_getit(1, d) : Mockit_oneoff(0, d));
    assert_true(MT_WAIT_UNTIL(atomic_load(&sd.done), 2000));
    mt_sleep_ms(50);
    assert_int_equal(0, sd.rc);
    MT_ASSERT_UCMP(sd.dt, <, mt_bound_ns(100));   /* did not wait for itself */
    assert_true(sd.struct_intact);
    if (v->rearm) {
        /* a destroy of this struct is in progress until the callback returns */
        assert_int_equal(ECANCELED, sd.rc_oneoff);
        assert_int_equal(ECANCELED, sd.rc_getit);
    }
    assert_int_equal(1, atomic_load(&sd.calls));   /* never again */
    if (!v->owned) assert_int_equal(EINVAL, Mockit_destroy(d));
}

/* ---- a re-arm from the callback racing a destroy from main ---- */

struct race {
    atomic_int entered;
    atomic_int calls;
    atomic_int done;
    int rearms_ok;          /* re-arms that returned 0 before the destroy began */
    int last_rc;
};

static struct race rc_;

static void *rearm_cb(void *arg) {
    struct data *d = arg;
    struct race *r = d->stuff;
    if (atomic_fetch_add(&r->calls, 1) == 0) {
        atomic_store(&r->entered, 1);
        uint64_t dl = mt_now_ns() + mt_bound_ns(2000);
        int rc;
        /* re-arm every ms until the destroy from main shows */
        while ((rc = Mockit_oneoff(1, d)) == 0 && mt_now_ns() < dl) {
            r->rearms_ok++;
            mt_sleep_ms(1);
        }
        r->last_rc = rc;
        atomic_store(&r->done, 1);
    }
    return NULL;
}

static void test_LIFE05_rearm_racing_destroy_is_ecanceled(void **state) {
    const bool owned = *(const bool *)*state;
    memset(&rc_, 0, sizeof rc_);
    struct data *d = owned ? Mockit_data_init() : &static_d;
    assert_non_null(d);
    d->cb = rearm_cb;
    d->stuff = &rc_;
    assert_int_equal(0, Mockit_oneoff(0, d));
    assert_true(MT_WAIT_UNTIL(atomic_load(&rc_.entered), 1000));
    mt_sleep_ms(5);   /* let some re-arms succeed first */
    assert_int_equal(0, Mockit_destroy(d));
    /* destroy returned: the callback has returned, and the timer is gone */
    assert_int_equal(1, atomic_load(&rc_.done));
    assert_int_equal(ECANCELED, rc_.last_rc);
    MT_ASSERT_CMP(rc_.rearms_ok, >=, 1);
    mt_sleep_ms(100);
    assert_int_equal(1, atomic_load(&rc_.calls));
    if (!owned) assert_int_equal(EINVAL, Mockit_destroy(d));
}

/* ---- two callbacks destroying each other ---- */

struct mut {
    atomic_int calls;
    atomic_int done;
    int rc;
    struct data *other;
};

static struct mut ma, mb;
static struct data da, db;
static atomic_int both_in;

static void *mutual_cb(void *arg) {
    struct mut *m = ((struct data *)arg)->stuff;
    if (atomic_fetch_add(&m->calls, 1) == 0) {
        atomic_fetch_add(&both_in, 1);
        uint64_t dl = mt_now_ns() + mt_bound_ns(2000);
        while (atomic_load(&both_in) < 2 && mt_now_ns() < dl) mt_sleep_ns(100000);
        if (atomic_load(&both_in) < 2) {
            m->rc = -2;   /* the other never ran beside us */
        } else {
            m->rc = Mockit_destroy(m->other);
        }
        atomic_store(&m->done, 1);
    }
    return NULL;
}

static void test_LIFE03_mutual_destroy_one_gets_edeadlk(void **state) {
    (void)state;
    mt_watchdog_arm(20, "LIFE03 mutual destroy (a deadlock?)");
    memset(&ma, 0, sizeof ma);
    memset(&mb, 0, sizeof mb);
    atomic_store(&both_in, 0);
    ma.other = &db;
    mb.other = &da;
    da = (struct data){ .cb = mutual_cb, .stuff = &ma };
    db = (struct data){ .cb = mutual_cb, .stuff = &mb };
    assert_int_equal(0, Mockit_getit(5, &da));
    assert_int_equal(0, Mockit_getit(5, &db));
    assert_true(MT_WAIT_UNTIL(atomic_load(&ma.done) && atomic_load(&mb.done), 5000));
    if (ma.rc == -2 || mb.rc == -2)
        fail_msg("the two callbacks never ran at the same time (one blocked callback delayed the other)");
    /* exactly one destroy succeeded, the other got EDEADLK */
    bool a_won = ma.rc == 0 && mb.rc == EDEADLK;
    bool b_won = mb.rc == 0 && ma.rc == EDEADLK;
    if (!a_won && !b_won) fail_msg("rc A %d, rc B %d: expected {0, EDEADLK}", ma.rc, mb.rc);
    struct data *survivor = a_won ? &da : &db, *victim = a_won ? &db : &da;
    struct mut *vm = a_won ? &mb : &ma;
    assert_int_equal(0, Mockit_destroy(survivor));
    assert_int_equal(EINVAL, Mockit_destroy(victim));
    mt_sleep_ms(30);
    assert_int_equal(1, atomic_load(&vm->calls));   /* the victim never ran again */
}

/* ---- one callback destroys another one that is running ---- */

static struct probe pb;
static struct data dcross_a, dcross_b;
static atomic_int cross_done;
static int cross_rc, cross_inside_after;

static void *cross_a_cb(void *arg) {
    (void)arg;
    cross_rc = Mockit_destroy(&dcross_b);
    cross_inside_after = atomic_load(&pb.inside);
    atomic_store(&cross_done, 1);
    return NULL;
}

static void test_LIFE03_callback_destroys_running_other(void **state) {
    (void)state;
    probe_reset(&pb, 200000);
    atomic_store(&cross_done, 0);
    dcross_b = (struct data){ .cb = busy_cb, .stuff = &pb };
    dcross_a = (struct data){ .cb = cross_a_cb };
    assert_int_equal(0, Mockit_getit(2, &dcross_b));
    assert_true(MT_WAIT_UNTIL(atomic_load(&pb.entered), 1000));
    assert_int_equal(0, Mockit_oneoff(0, &dcross_a));
    assert_true(MT_WAIT_UNTIL(atomic_load(&cross_done), 3000));
    assert_int_equal(0, cross_rc);
    assert_int_equal(0, cross_inside_after);
    int calls = atomic_load(&pb.calls);
    mt_sleep_ms(30);
    assert_int_equal(calls, atomic_load(&pb.calls));
    assert_int_equal(EINVAL, Mockit_destroy(&dcross_b));
}

static const struct variant v_static_oneoff = { false, false }, v_owned_oneoff = { false, true },
                            v_static_interval = { true, false }, v_owned_interval = { true, true };
static const struct self_variant
    s_oneoff_static = { false, false, false }, s_oneoff_owned = { false, true, false },
    s_interval_static = { true, false, false }, s_interval_owned = { true, true, false },
    s_rearm_static = { true, false, true }, s_rearm_owned = { false, true, true };
static const bool f_static = false, f_owned = true;

#define VT MT_VTEST

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_TEST(test_LIFE01_destroy_random_offsets),
        VT(test_LIFE01_destroy_waits_mid_callback, v_static_oneoff),
        VT(test_LIFE01_destroy_waits_mid_callback, v_owned_oneoff),
        VT(test_LIFE01_destroy_waits_mid_callback, v_static_interval),
        VT(test_LIFE01_destroy_waits_mid_callback, v_owned_interval),
        VT(test_LIFE02_self_destroy, s_oneoff_static),
        VT(test_LIFE02_self_destroy, s_oneoff_owned),
        VT(test_LIFE02_self_destroy, s_interval_static),
        VT(test_LIFE02_self_destroy, s_interval_owned),
        VT(test_LIFE02_self_destroy, s_rearm_static),
        VT(test_LIFE02_self_destroy, s_rearm_owned),
        VT(test_LIFE05_rearm_racing_destroy_is_ecanceled, f_static),
        VT(test_LIFE05_rearm_racing_destroy_is_ecanceled, f_owned),
        MT_TEST(test_LIFE03_mutual_destroy_one_gets_edeadlk),
        MT_TEST(test_LIFE03_callback_destroys_running_other),
    };
    return cmocka_run_group_tests_name("destroy", tests, NULL, NULL);
}
