/*
 * rel-mis: RELIABILITY.md B1 (API misuse and bad input), T1 forms that the
 * contract suite (tests/contract) does not already run in the same form:
 * bad input is silent, failing calls consume nothing once the library
 * runs, a zero-time self-re-arming timer starves nobody, re-arm storms,
 * overrun queried from everywhere, one struct hammered with re-arming
 * callbacks, first use in fresh processes, bsleep out-parameters on every
 * path, version from many threads and the header in C99 and C++17.
 */
#include "rel.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mockit.h>

/* mis09_c99.c / mis09_cxx17.cpp: the header in other language modes */
size_t mis09_c99_sizeof(void);
size_t mis09_cxx17_sizeof(void);
const char *mis09_c99_version(void);

_Static_assert(sizeof(struct data) == 3 * sizeof(void *) + (sizeof(void *) == 4 ? 4 : 0),
               "struct data is 24 bytes on LP64, 16 on ILP32");
_Static_assert(offsetof(struct data, cb) == 0, "cb first");
_Static_assert(offsetof(struct data, stuff) == sizeof(void *), "stuff second");
_Static_assert(offsetof(struct data, timer_id) == 2 * sizeof(void *), "timer_id third");

static void *never_cb(void *arg) {
    (void)arg;
    return NULL;
}

static atomic_int ticks;

static void *tick_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&ticks, 1);
    return NULL;
}

/* ---- MIS-01: every bad input is answered without a word on stdout/stderr ---- */

static void bad_calls(void) {
    struct data garbage;
    memset(&garbage, 0x5a, sizeof garbage);
    long pg = sysconf(_SC_PAGESIZE);
    char *page = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    static _Alignas(16) char buf[64];
    struct data *gone = Mockit_data_init();
    Mockit_destroy(gone);
    struct data nocb = { 0 };
    for (int i = 0; i < 100; i++) {
        Mockit_oneoff(1, NULL);
        Mockit_getit(1, NULL);
        Mockit_destroy(NULL);
        Mockit_overrun(NULL);
        Mockit_gettime(NULL, NULL);
        Mockit_mstimestamp(NULL);
        Mockit_oneoff(1, &nocb);
        Mockit_getit(0, &nocb);
        Mockit_destroy(&garbage);
        Mockit_overrun(&garbage);
        Mockit_destroy((struct data *)page);
        Mockit_overrun((struct data *)page);
        Mockit_destroy((struct data *)(buf + 1 + i % 7));
        Mockit_overrun((struct data *)(buf + 3));
        Mockit_destroy(gone);   /* freed: never dereferenced (ASan would see it) */
        Mockit_overrun(gone);
    }
    munmap(page, (size_t)pg);
}

static void test_MIS01_bad_input_is_silent(void **state) {
    (void)state;
    /* with timers running, so the library's threads are there too */
    static struct data t1, t2;
    t1 = (struct data){ .cb = tick_cb };
    t2 = (struct data){ .cb = never_cb };
    assert_int_equal(0, Mockit_getit(1, &t1));
    assert_int_equal(0, Mockit_oneoff(86400000, &t2));

    char path[] = "/tmp/mockit-rel-mis01-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(NULL);
    int o1 = dup(1), o2 = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    bad_calls();
    mt_sleep_ms(20);   /* a library thread printing late would show too */
    fflush(NULL);
    dup2(o1, 1);
    dup2(o2, 2);
    close(o1);
    close(o2);
    off_t size = lseek(fd, 0, SEEK_END);
    if (size > 0) {
        char text[256] = { 0 };
        pread(fd, text, sizeof text - 1, 0);
        close(fd);
        fail_msg("the library wrote %lld bytes on bad input: \"%s\"", (long long)size, text);
    }
    close(fd);
    assert_int_equal(0, Mockit_destroy(&t1));
    assert_int_equal(0, Mockit_destroy(&t2));
}

/* ---- MIS-02: failing arms consume nothing, also once the library runs ---- */

static void test_MIS02_failing_calls_consume_nothing_while_running(void **state) {
    (void)state;
    static struct data t1, far, nocb;
    t1 = (struct data){ .cb = tick_cb };
    far = (struct data){ .cb = never_cb };
    assert_int_equal(0, Mockit_getit(1, &t1));
    assert_int_equal(0, Mockit_oneoff(86400000, &far));
    struct data *owned_nocb = Mockit_data_init();
    assert_non_null(owned_nocb);
    mt_sleep_ms(30);   /* threads started, the ticker warm */

    int threads = mt_threads_total(), lib = mt_lib_threads(NULL);
    int ktimers = rel_ktimer_count(), fds = rel_fd_count();
    struct mallinfo2 m0 = mallinfo2();
    unsigned n = mt_iters(1000);
    for (unsigned i = 0; i < n; i++) {
        nocb = (struct data){ 0 };
        assert_int_equal(EINVAL, Mockit_oneoff(i, NULL));
        assert_int_equal(EINVAL, Mockit_getit(1 + i, NULL));
        assert_int_equal(EINVAL, Mockit_oneoff(i, &nocb));
        assert_int_equal(EINVAL, Mockit_getit(1 + i, &nocb));
        assert_int_equal(EINVAL, Mockit_oneoff(i, owned_nocb));
        assert_int_equal(EINVAL, Mockit_getit(1 + i, owned_nocb));
        far.cb = never_cb;
        assert_int_equal(EINVAL, Mockit_getit(0, &far));   /* armed struct, bad time */
        assert_int_equal(EINVAL, Mockit_destroy(&nocb));
    }
    struct mallinfo2 m1 = mallinfo2();
    MT_ASSERT_UCMP(m1.uordblks, ==, m0.uordblks);
    assert_int_equal(threads, mt_threads_total());
    assert_int_equal(lib, mt_lib_threads(NULL));
    assert_int_equal(ktimers, rel_ktimer_count());
    assert_int_equal(fds, rel_fd_count());
    assert_true(nocb.timer_id == 0);
    /* the failed getit(0) left the armed struct armed as it was */
    assert_int_equal(0, Mockit_destroy(&far));
    assert_int_equal(0, Mockit_destroy(&t1));
    assert_int_equal(0, Mockit_destroy(owned_nocb));
}

/* ---- MIS-03: a self-re-arming zero timer starves neither others nor destroy ---- */

#define MIS03_LOG 1024
static mt_tick m3_ticks[MIS03_LOG];
static mt_log m3_log = MT_LOG_INIT(m3_ticks);
static atomic_int zero_calls, zero_bad_rc;
static atomic_int zero_dead_calls;   /* calls that began after destroy returned */
static atomic_int zero_dead;
static struct data mis03_z, mis03_ten;

static void *zero_cb(void *arg) {
    if (atomic_load(&zero_dead)) atomic_fetch_add(&zero_dead_calls, 1);
    atomic_fetch_add(&zero_calls, 1);
    int rc = Mockit_oneoff(0, arg);
    if (rc != 0 && rc != ECANCELED) atomic_store(&zero_bad_rc, rc);
    return NULL;
}

static void *ten_cb(void *arg) {
    uint64_t t = mt_now_ns();
    mt_log_call(&m3_log, t, arg);
    return NULL;
}

static int mis03_teardown(void **state) {
    Mockit_destroy(&mis03_z);
    Mockit_destroy(&mis03_ten);
    return mt_teardown(state);
}

static void test_MIS03_zero_rearm_starves_nobody(void **state) {
    (void)state;
    /* a starved destroy is a hang: fail in 3 s (30 s under valgrind) */
    mt_watchdog_arm(3, "MIS03: Mockit_destroy of a self-re-arming oneoff(0) starved");
    mis03_z = (struct data){ .cb = zero_cb };
    mis03_ten = (struct data){ .cb = ten_cb };
    const uint64_t P = 10 * MT_NS_PER_MS;
    uint64_t origin = mt_now_ns();
    assert_int_equal(0, Mockit_getit(10, &mis03_ten));
    assert_int_equal(0, Mockit_oneoff(0, &mis03_z));
    double run_ms = mt_under_valgrind() ? 2000 : 1000;
    mt_sleep_until_ns(origin + (uint64_t)(run_ms * 1e6));
    uint64_t t0 = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&mis03_z));
    uint64_t took = mt_now_ns() - t0;
    atomic_store(&zero_dead, 1);
    uint64_t t_end = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&mis03_ten));
    int zc = atomic_load(&zero_calls);
    mt_sleep_ms(30);
    assert_int_equal(zc, atomic_load(&zero_calls));
    assert_int_equal(0, atomic_load(&zero_dead_calls));
    assert_int_equal(0, atomic_load(&zero_bad_rc));
    MT_ASSERT_UCMP(took, <, mt_bound_ns(50));

    mt_grid g;
    mt_grid_analyse(&m3_log, origin, 0, P, &g);
    print_message("# zero timer: %d calls; 10 ms timer: %u calls, %llu grid points, max late %.2f ms\n",
                  zc, g.calls, (unsigned long long)g.g_last, g.max_late_ns / 1e6);
    MT_ASSERT_CMP(zc, >, 100);
    if (g.first_early >= 0) fail_msg("10 ms call %d early by %lld ns", g.first_early, (long long)g.early_by_ns);
    assert_int_equal(-1, g.first_bad_ov);
    /* conservation (strict): the grid points served by the last call are
     * exactly those passed when it was dispatched */
    const mt_tick *last = &m3_ticks[g.calls - 1];
    uint64_t passed_at_last = (last->t - origin) / P;
    MT_ASSERT_UCMP(g.g_last, <=, passed_at_last);
    MT_ASSERT_UCMP(g.g_last + 1, >=, passed_at_last);
    /* not starved (generous): nearly every grid point up to the end served,
     * and most of them by a call of their own */
    uint64_t expected = (t_end - origin) / P;
    MT_ASSERT_UCMP(g.g_last + 1 + mt_bound_ns(20) / P, >=, expected);
    bool slow_build = mt_under_valgrind() || *mt_sanitizer();
    MT_ASSERT_UCMP((uint64_t)g.calls * 10, >=, expected * (slow_build ? 5 : 9));
}

/* ---- MIS-04: a re-arm storm leaves exactly the last schedule ---- */

static atomic_int storm_calls;
static _Atomic uint64_t storm_at;

static void *storm_cb(void *arg) {
    (void)arg;
    atomic_store(&storm_at, mt_now_ns());
    atomic_fetch_add(&storm_calls, 1);
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_MIS04_rearm_storm_keeps_only_the_last(void **state) {
    (void)state;
    uint64_t seed = mt_seed();
    unsigned rounds = mt_iters(20), arms = 500;
    uint64_t *ids = malloc(sizeof *ids * arms * rounds);
    assert_non_null(ids);
    unsigned nid = 0;
    for (unsigned r = 0; r < rounds; r++) {
        atomic_store(&storm_calls, 0);
        static struct data st;
        struct data *d = (r % 2) ? Mockit_data_init() : &st;
        assert_non_null(d);
        d->cb = storm_cb;
        for (unsigned i = 0; i + 1 < arms; i++) {
            uint32_t ms = 200 + mt_rand_below(&seed, 1000);
            assert_int_equal(0, (i % 3 == 0) ? Mockit_getit(ms, d) : Mockit_oneoff(ms, d));
            ids[nid++] = d->timer_id;
        }
        uint64_t t_arm = mt_now_ns();
        assert_int_equal(0, Mockit_oneoff(5, d));
        ids[nid++] = d->timer_id;
        assert_true(MT_WAIT_UNTIL(atomic_load(&storm_calls) >= 1, 1000));
        mt_sleep_ms(20);
        assert_int_equal(1, atomic_load(&storm_calls));
        MT_ASSERT_UCMP(atomic_load(&storm_at), >=, t_arm + 5 * MT_NS_PER_MS);
        if (r % 2) assert_int_equal(0, Mockit_destroy(d));
        else assert_int_equal(EINVAL, Mockit_destroy(d));
    }
    qsort(ids, nid, sizeof *ids, cmp_u64);
    for (unsigned i = 0; i < nid; i++) {
        if (ids[i] == 0) fail_msg("timer_id 0 after an arm");
        if (i && ids[i] == ids[i - 1]) fail_msg("timer_id %llu given twice", (unsigned long long)ids[i]);
    }
    free(ids);
}

/* ---- MIS-05: overrun asked from main while the callback runs, and for a
 * timer whose count is not 0 from the other timer's callback ---- */

static atomic_int m5_in, m5_release, m5_other_seen, m5_other_bad, m5_own_ov;
static struct data m5_slow, m5_probe;

static void *m5_slow_cb(void *arg) {
    /* the first call blocks 60 ms so the second has overrun > 0 */
    int ov = Mockit_overrun(arg);
    if (ov > 0) atomic_store(&m5_own_ov, ov);
    atomic_store(&m5_in, 1);
    uint64_t dl = mt_now_ns() + mt_bound_ns(2000);
    while (!atomic_load(&m5_release) && mt_now_ns() < dl) mt_sleep_ms(1);
    atomic_store(&m5_in, 0);
    return NULL;
}

static void *m5_probe_cb(void *arg) {
    (void)arg;
    errno = 0;
    int ov = Mockit_overrun(&m5_slow);
    atomic_fetch_add(&m5_other_seen, 1);
    if (ov != -1 || errno != EINVAL) atomic_fetch_add(&m5_other_bad, 1);
    return NULL;
}

static void test_MIS05_overrun_never_answers_for_another(void **state) {
    (void)state;
    m5_slow = (struct data){ .cb = m5_slow_cb };
    m5_probe = (struct data){ .cb = m5_probe_cb };
    atomic_store(&m5_release, 0);
    assert_int_equal(0, Mockit_getit(5, &m5_slow));
    assert_true(MT_WAIT_UNTIL(atomic_load(&m5_in), 1000));
    assert_int_equal(0, Mockit_getit(1, &m5_probe));
    /* from the main thread, many times, while m5_slow's callback runs */
    for (int i = 0; i < 200; i++) {
        errno = 0;
        assert_int_equal(-1, Mockit_overrun(&m5_slow));
        assert_int_equal(EINVAL, errno);
        errno = 0;
        assert_int_equal(-1, Mockit_overrun(&m5_probe));
        assert_int_equal(EINVAL, errno);
        mt_sleep_ns(200000);
    }
    atomic_store(&m5_release, 1);
    /* the next call of m5_slow has overrun > 0; the probe keeps asking */
    assert_true(MT_WAIT_UNTIL(atomic_load(&m5_own_ov) > 0, 1000));
    mt_sleep_ms(20);
    assert_int_equal(0, Mockit_destroy(&m5_probe));
    atomic_store(&m5_release, 1);
    assert_int_equal(0, Mockit_destroy(&m5_slow));
    MT_ASSERT_CMP(atomic_load(&m5_other_seen), >, 10);
    assert_int_equal(0, atomic_load(&m5_other_bad));
}

/* ---- MIS-06: one struct hammered by 4 threads while its callback
 * re-arms it and asks for its overrun ---- */

static struct data h_d;
static atomic_int h_stop, h_calls, h_inside, h_overlap, h_bad, h_bad_rc;
static atomic_int h_after_final;
static atomic_int h_final;

static void *h_cb(void *arg) {
    if (atomic_load(&h_final)) atomic_fetch_add(&h_after_final, 1);
    if (atomic_fetch_add(&h_inside, 1) != 0) atomic_fetch_add(&h_overlap, 1);
    int k = atomic_fetch_add(&h_calls, 1);
    int ov = Mockit_overrun(arg);
    if (ov < 0) atomic_fetch_add(&h_bad, 1);   /* inside its own callback: a count */
    if (k % 3 == 0) {
        int rc = (k % 2) ? Mockit_oneoff((uint32_t)(k % 3), arg) : Mockit_getit(1 + (uint32_t)(k % 2), arg);
        if (rc != 0 && rc != ECANCELED) atomic_store(&h_bad_rc, rc);
    }
    atomic_fetch_sub(&h_inside, 1);
    return NULL;
}

static void *hammer(void *arg) {
    uint64_t s = mt_seed() ^ (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull;
    while (!atomic_load(&h_stop)) {
        int rc = 0;
        switch (mt_rand_below(&s, 5)) {
        case 0: rc = Mockit_oneoff(mt_rand_below(&s, 3), &h_d); break;
        case 1: rc = Mockit_getit(1 + mt_rand_below(&s, 3), &h_d); break;
        case 2:
        case 3:
            rc = Mockit_destroy(&h_d);
            if (rc == EINVAL) rc = 0;   /* already gone */
            break;
        case 4:
            if (Mockit_overrun(&h_d) != -1) atomic_fetch_add(&h_bad, 1);
            break;
        }
        /* ECANCELED: armed while another thread's destroy was waiting */
        if (rc != 0 && rc != ECANCELED) atomic_store(&h_bad_rc, rc);
        if (mt_rand_below(&s, 8) == 0) mt_sleep_ns(mt_rand_below(&s, 300000));
    }
    return NULL;
}

static void test_MIS06_hammered_with_rearming_callback(void **state) {
    (void)state;
    mt_watchdog_arm(60, "MIS06 hammered");
    h_d = (struct data){ .cb = h_cb };
    pthread_t th[4];
    for (intptr_t i = 0; i < 4; i++) mt_thread_start(&th[i], "mt-hammer", hammer, (void *)i);
    mt_sleep_ms(mt_under_valgrind() ? 2000 : 1000);
    atomic_store(&h_stop, 1);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    int rc = Mockit_destroy(&h_d);
    if (rc != 0 && rc != EINVAL) fail_msg("final destroy: %d", rc);
    atomic_store(&h_final, 1);
    mt_sleep_ms(100);
    print_message("# %d callbacks\n", atomic_load(&h_calls));
    assert_int_equal(0, atomic_load(&h_after_final));
    assert_int_equal(0, atomic_load(&h_overlap));
    assert_int_equal(0, atomic_load(&h_bad));
    assert_int_equal(0, atomic_load(&h_bad_rc));
    MT_ASSERT_CMP(atomic_load(&h_calls), >, 0);
}

/* ---- MIS-07: concurrent first use, each in a fresh process ---- */

#define FIRST_THREADS 16
static pthread_barrier_t first_bar;
static atomic_int first_calls[FIRST_THREADS];
static int first_rc[FIRST_THREADS];

static void *first_cb(void *arg) {
    atomic_fetch_add((atomic_int *)((struct data *)arg)->stuff, 1);
    return NULL;
}

static void *first_thread(void *arg) {
    intptr_t i = (intptr_t)arg;
    static struct data d[FIRST_THREADS];
    d[i] = (struct data){ .cb = first_cb, .stuff = &first_calls[i] };
    pthread_barrier_wait(&first_bar);
    first_rc[i] = Mockit_oneoff(1, &d[i]);
    return NULL;
}

static int child_mis07(int argc, char **argv) {
    (void)argc;
    (void)argv;
    if (mt_lib_threads(NULL) != 0) return 10;
    pthread_barrier_init(&first_bar, NULL, FIRST_THREADS);
    pthread_t t[FIRST_THREADS];
    for (intptr_t i = 0; i < FIRST_THREADS; i++)
        if (pthread_create(&t[i], NULL, first_thread, (void *)i)) return 11;
    for (int i = 0; i < FIRST_THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < FIRST_THREADS; i++)
        if (first_rc[i]) return 12;
    uint64_t dl = mt_now_ns() + mt_bound_ns(2000);
    for (int i = 0; i < FIRST_THREADS; i++)
        while (atomic_load(&first_calls[i]) < 1 && mt_now_ns() < dl) mt_sleep_ms(1);
    mt_sleep_ms(20);
    for (int i = 0; i < FIRST_THREADS; i++)
        if (atomic_load(&first_calls[i]) != 1) return 13;
    int clocks = 0, lib = mt_lib_threads(&clocks);
    if (clocks != 1) {                   /* one scheduler */
        fprintf(stderr, "mis07 child: %d mockit-clock threads, %d library threads, %d kernel timers\n", clocks, lib, rel_ktimer_count());
        return 14;
    }
    if (lib > 65) return 15;             /* the documented cap */
    if (rel_ktimer_count() > 1) return 16; /* one kernel timer */
    return 0;
}

static void test_MIS07_first_use_in_fresh_processes(void **state) {
    (void)state;
    unsigned n = mt_iters(20);
    for (unsigned i = 0; i < n; i++) {
        pid_t pid = rel_spawn("mis07", NULL, NULL);
        int st = rel_wait(pid, 5000, NULL);
        if (st == -1) fail_msg("process %u hung", i);
        if (WIFSIGNALED(st)) fail_msg("process %u killed by signal %d", i, WTERMSIG(st));
        if (WEXITSTATUS(st))
            fail_msg("process %u: check %d failed (10 threads before, 12 arm failed, 13 call "
                     "count, 14 clock threads, 15 thread cap, 16 kernel timers)", i, WEXITSTATUS(st));
    }
}

/* ---- MIS-08: bsleep's out-parameters are written on every path ---- */

static void on_alrm(int sig) { (void)sig; }

struct kick { pthread_t target; unsigned after_us; };

static void *kicker(void *arg) {
    struct kick *k = arg;
    mt_sleep_ns(k->after_us * 1000ull);
    pthread_kill(k->target, SIGALRM);
    return NULL;
}

static void test_MIS08_out_parameters_on_every_path(void **state) {
    (void)state;
    struct sigaction sa = { 0 }, old;
    sa.sa_handler = on_alrm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    for (int path = 0; path < 3; path++) {       /* 0 ms, completed, interrupted */
        for (int nulls = 0; nulls < 4; nulls++) {
            ssize_t left = -77;
            int err = -77;
            ssize_t *lp = (nulls & 1) ? NULL : &left;
            int *ep = (nulls & 2) ? NULL : &err;
            int rc;
            if (path == 0) {
                uint64_t t0 = mt_now_ns();
                rc = Mockit_bsleep(0, lp, ep);
                MT_ASSERT_UCMP(mt_now_ns() - t0, <, mt_bound_ns(1));
                assert_int_equal(0, rc);
            } else if (path == 1) {
                rc = Mockit_bsleep(2, lp, ep);
                assert_int_equal(0, rc);
            } else {
                struct kick k = { pthread_self(), 20000 };
                pthread_t kt;
                mt_thread_start(&kt, "mt-kick", kicker, &k);
                rc = Mockit_bsleep(5000, lp, ep);
                pthread_join(kt, NULL);
                assert_int_equal(EINTR, rc);
            }
            if (lp) {
                if (path < 2) assert_int_equal(0, left);
                else MT_ASSERT_CMP(left, >, 4000);
            }
            if (ep) assert_int_equal(rc, err);
            if (!lp) assert_int_equal(-77, left);
            if (!ep) assert_int_equal(-77, err);
        }
    }
    sigaction(SIGALRM, &old, NULL);
}

/* ---- MIS-09: Mockit_version from many threads; the header as C99/C++17 ---- */

static const char *_Atomic v_seen[8];
static atomic_int v_bad;

static void *version_thread(void *arg) {
    intptr_t i = (intptr_t)arg;
    const char *first = Mockit_version();
    v_seen[i] = first;
    for (int k = 0; k < 10000; k++)
        if (Mockit_version() != first) atomic_fetch_add(&v_bad, 1);
    return NULL;
}

static void test_MIS09_version_and_header_modes(void **state) {
    (void)state;
    pthread_t th[8];
    for (intptr_t i = 0; i < 8; i++) mt_thread_start(&th[i], "mt-version", version_thread, (void *)i);
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    assert_int_equal(0, atomic_load(&v_bad));
    for (int i = 1; i < 8; i++) assert_ptr_equal(v_seen[0], v_seen[i]);
    assert_string_equal(MOCKIT_VERSION_STRING, v_seen[0]);
    assert_true(strlen(v_seen[0]) > 0);
    assert_ptr_equal(v_seen[0], mis09_c99_version());
    assert_int_equal(sizeof(struct data), mis09_c99_sizeof());
    assert_int_equal(sizeof(struct data), mis09_cxx17_sizeof());
}

static const struct rel_child children[] = {
    { "mis07", child_mis07 },
    { NULL, NULL },
};

int main(int argc, char **argv) {
    int st;
    if (rel_main_prologue(argc, argv, children, &st)) return st;
    const struct CMUnitTest tests[] = {
        MT_TEST(test_MIS09_version_and_header_modes),
        MT_TEST(test_MIS07_first_use_in_fresh_processes),
        MT_TEST(test_MIS01_bad_input_is_silent),
        MT_TEST(test_MIS02_failing_calls_consume_nothing_while_running),
        cmocka_unit_test_setup_teardown(test_MIS03_zero_rearm_starves_nobody, mt_setup, mis03_teardown),
        MT_TEST(test_MIS04_rearm_storm_keeps_only_the_last),
        MT_TEST(test_MIS05_overrun_never_answers_for_another),
        MT_TEST(test_MIS06_hammered_with_rearming_callback),
        MT_TEST(test_MIS08_out_parameters_on_every_path),
    };
    return cmocka_run_group_tests_name("rel-mis", tests, NULL, NULL);
}
