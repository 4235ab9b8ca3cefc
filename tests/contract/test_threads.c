/*
 * test-threads: process hygiene (SPEC 2): "Library threads block all
 * signals and carry names.  The library never takes over a signal that the
 * application may use"; "Idle costs nothing: no wake-ups while no timer is
 * armed"; "One kernel POSIX timer serves the whole scheduler"; and
 * (decided) no library thread exists before the first arm.
 * RELIABILITY FLT-07 (a), LOAD-06.
 *
 * test_FLT07_callback_syscalls_undisturbed: callbacks that block in system
 * calls (some on the thread the kernel timer signals) see those calls
 * complete normally.  Under valgrind it shows that SIGRTMAX is valgrind's
 * own SIGVGKILL: the timer signal breaks system calls of callbacks.
 *
 * The first test needs a process that never armed a timer.
 */
#include "mtest.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mockit.h>

static void *never_cb(void *arg) {
    (void)arg;
    return NULL;
}

/* threads that existed before the library was first used (the main thread,
 * the test's watchdog, a sanitizer's background thread): not the library's */
static pid_t pre_tids[16];
static int n_pre;

static int note_pre(pid_t tid, const char *comm, void *arg) {
    (void)comm;
    (void)arg;
    if (n_pre < 16) pre_tids[n_pre++] = tid;
    return 0;
}

static void test_no_library_thread_before_first_arm(void **state) {
    (void)state;
    mt_foreach_task(note_pre, NULL);
    int before = mt_threads_total();
    MT_ASSERT_CMP(before, >=, 1);
    /* everything that is not an arm */
    assert_true(Mockit_version()[0] != 0);
    time_t s;
    long ms;
    uint64_t ts;
    assert_int_equal(0, Mockit_gettime(&s, &ms));
    assert_int_equal(0, Mockit_mstimestamp(&ts));
    assert_int_equal(0, Mockit_bsleep(1, NULL, NULL));
    struct data *d = Mockit_data_init();
    assert_non_null(d);
    static struct data nocb;
    assert_int_equal(EINVAL, Mockit_oneoff(1, &nocb));
    assert_int_equal(EINVAL, Mockit_getit(1, &nocb));
    assert_int_equal(EINVAL, Mockit_oneoff(1, NULL));
    d->cb = never_cb;
    assert_int_equal(EINVAL, Mockit_getit(0, d));
    assert_int_equal(-1, Mockit_overrun(d));
    assert_int_equal(EINVAL, Mockit_destroy(&nocb));
    assert_int_equal(0, Mockit_destroy(d));
    mt_sleep_ms(20);
    assert_int_equal(0, mt_lib_threads(NULL));
    assert_int_equal(before, mt_threads_total());

    /* the first arm starts them */
    static struct data far;
    far = (struct data){ .cb = never_cb };
    assert_int_equal(0, Mockit_oneoff(86400000, &far));
    int clocks = 0;
    MT_ASSERT_CMP(mt_lib_threads(&clocks), >=, 1);
    assert_int_equal(0, Mockit_destroy(&far));
}

/* ---- names and signal masks ---- */

static atomic_int ticks, blockers_in;

static void *tick_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&ticks, 1);
    return NULL;
}

static void *blocker_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&blockers_in, 1);
    mt_sleep_ms(300);
    return NULL;
}

struct scan {
    pid_t main_tid;
    int clocks, cbs, bad_mask, unnamed, other_named;
    char bad[200];
};

static int scan_task(pid_t tid, const char *comm, void *arg) {
    struct scan *sc = arg;
    if (tid == sc->main_tid || strncmp(comm, "mt-", 3) == 0) return 0;   /* the test's own */
    for (int i = 0; i < n_pre; i++)
        if (pre_tids[i] == tid) return 0;
    if (strncmp(comm, "mockit", 6) != 0) {
        sc->unnamed++;
        snprintf(sc->bad, sizeof sc->bad, "thread %d has no library name: '%s'", (int)tid, comm);
        return 0;
    }
    if (strcmp(comm, "mockit-clock") == 0) sc->clocks++;
    else if (strcmp(comm, "mockit-cb") == 0) sc->cbs++;
    else sc->other_named++;
    /* Under valgrind /proc shows valgrind's host mask, not the program's:
     * it unblocks the fault signals while client code runs and its own
     * SIGVGKILL (64) in system calls.  Only the names are checked there. */
    if (mt_under_valgrind()) return 0;
    char hex[64];
    if (mt_task_status_field(tid, "SigBlk", hex, sizeof hex) != 0) return 0;   /* gone */
    unsigned long long blk = strtoull(hex, NULL, 16);
    for (int sig = 1; sig <= 64; sig++) {
        /* the kernel never blocks SIGKILL/SIGSTOP; glibc keeps its two
         * internal signals (32 SIGCANCEL, 33 SIGSETXID) unblocked */
        if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33) continue;
        if (!(blk & (1ull << (sig - 1)))) {
            sc->bad_mask++;
            snprintf(sc->bad, sizeof sc->bad, "%s thread %d does not block signal %d (SigBlk %s)",
                     comm, (int)tid, sig, hex);
            break;
        }
    }
    return 0;
}

static struct sigaction before_sa[65];

static bool have_sa[65];

static void snapshot_sigactions(struct sigaction *sa) {
    /* glibc refuses its internal signals (32, 33): those are skipped */
    for (int sig = 1; sig <= SIGRTMAX && sig < 65; sig++)
        have_sa[sig] = sigaction(sig, NULL, &sa[sig]) == 0;
}

static void compare_sigactions(const struct sigaction *a) {
    for (int sig = 1; sig <= SIGRTMAX && sig < 65; sig++) {
        struct sigaction now;
        if (!have_sa[sig]) continue;
        assert_int_equal(0, sigaction(sig, NULL, &now));
        if (now.sa_handler != a[sig].sa_handler || now.sa_flags != a[sig].sa_flags)
            fail_msg("the disposition of signal %d changed when timers were armed", sig);
    }
}

static atomic_int usr1_count, rtmax_count, on_wrong_thread;
static pid_t main_tid;

static void on_signal(int sig) {
    if (mt_gettid() != main_tid) atomic_fetch_add(&on_wrong_thread, 1);
    atomic_fetch_add(sig == SIGUSR1 ? &usr1_count : &rtmax_count, 1);
}

static struct data tick, b1, b2;

/* a failed check must not leave the ticker running into the next test */
static int flt07_teardown(void **state) {
    Mockit_destroy(&tick);
    Mockit_destroy(&b1);
    Mockit_destroy(&b2);
    return mt_teardown(state);
}

static void test_FLT07_library_threads_named_and_block_all_signals(void **state) {
    (void)state;
    main_tid = mt_gettid();
    snapshot_sigactions(before_sa);

    tick = (struct data){ .cb = tick_cb };
    b1 = b2 = (struct data){ .cb = blocker_cb };
    assert_int_equal(0, Mockit_getit(3, &tick));
    assert_int_equal(0, Mockit_oneoff(5, &b1));
    assert_int_equal(0, Mockit_oneoff(10, &b2));
    assert_true(MT_WAIT_UNTIL(atomic_load(&blockers_in) == 2, 1000));

    struct scan sc = { .main_tid = main_tid };
    mt_foreach_task(scan_task, &sc);
    print_message("# library threads: %d mockit-clock, %d mockit-cb\n", sc.clocks, sc.cbs);
    if (sc.unnamed || sc.bad_mask) fail_msg("%s", sc.bad);
    assert_int_equal(1, sc.clocks);
    assert_int_equal(0, sc.other_named);
    MT_ASSERT_CMP(sc.cbs, >=, 1);   /* two callbacks run at once right now */
    compare_sigactions(before_sa);

    /* process-directed signals go to the application's thread, also the
     * library's own SIGRTMAX when the application sends it */
    struct sigaction sa, old_usr1, old_rt;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old_usr1);
    sigaction(SIGRTMAX, &sa, &old_rt);
    /* valgrind takes a process-directed signal 64 for itself (SIGVGKILL) */
    bool rt = !mt_under_valgrind();
    int n = 20;
    for (int i = 0; i < n; i++) {
        kill(getpid(), SIGUSR1);
        assert_true(MT_WAIT_UNTIL(atomic_load(&usr1_count) == i + 1, 1000));
        if (rt) {
            kill(getpid(), SIGRTMAX);
            assert_true(MT_WAIT_UNTIL(atomic_load(&rtmax_count) == i + 1, 1000));
        }
        mt_sleep_ms(2);
    }
    int t0 = atomic_load(&ticks);
    assert_true(MT_WAIT_UNTIL(atomic_load(&ticks) >= t0 + 10, 1000));   /* still ticking */
    mt_sleep_ms(20);
    /* the library's timer signals never reach the application's handler */
    if (rt) assert_int_equal(n, atomic_load(&rtmax_count));
    assert_int_equal(n, atomic_load(&usr1_count));
    assert_int_equal(0, atomic_load(&on_wrong_thread));
    sigaction(SIGUSR1, &old_usr1, NULL);
    sigaction(SIGRTMAX, &old_rt, NULL);

    assert_int_equal(0, Mockit_destroy(&tick));
    Mockit_destroy(&b1);   /* fired one-shots: EINVAL once returned */
    Mockit_destroy(&b2);
}

/* ---- the library's signal does not disturb callbacks ----
 * Callbacks (some on the thread that hears the kernel timer) sleep in
 * clock_nanosleep while other timers keep that timer busy: every sleep
 * returns 0 and is never short.  The application installs no handler, so
 * an EINTR or any other result means a signal reached the thread. */
static atomic_int sc_calls, sc_bad, sc_short, sc_last_rc;

static void *sleeper_cb(void *arg) {
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 5000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (rc != 0) {
        atomic_fetch_add(&sc_bad, 1);
        atomic_store(&sc_last_rc, rc);
    }
    if (now.tv_sec < ts.tv_sec || (now.tv_sec == ts.tv_sec && now.tv_nsec < ts.tv_nsec))
        atomic_fetch_add(&sc_short, 1);
    atomic_fetch_add(&sc_calls, 1);
    return NULL;
}

static struct data sc_sleeper, sc_ticker;

static int sc_teardown(void **state) {
    Mockit_destroy(&sc_sleeper);
    Mockit_destroy(&sc_ticker);
    return mt_teardown(state);
}

static void test_FLT07_callback_syscalls_undisturbed(void **state) {
    (void)state;
    sc_sleeper = (struct data){ .cb = sleeper_cb };
    sc_ticker = (struct data){ .cb = tick_cb };
    assert_int_equal(0, Mockit_getit(2, &sc_sleeper));
    assert_int_equal(0, Mockit_getit(3, &sc_ticker));
    mt_sleep_ms(1500);
    assert_int_equal(0, Mockit_destroy(&sc_sleeper));
    assert_int_equal(0, Mockit_destroy(&sc_ticker));
    print_message("# %d sleeping callbacks: %d failed sleeps (last rc %d), %d short\n",
                  atomic_load(&sc_calls), atomic_load(&sc_bad), atomic_load(&sc_last_rc),
                  atomic_load(&sc_short));
    MT_ASSERT_CMP(atomic_load(&sc_calls), >=, 10);
    assert_int_equal(0, atomic_load(&sc_bad));
    assert_int_equal(0, atomic_load(&sc_short));
}

/* ---- idle costs nothing ---- */

struct ctx_sum {
    unsigned long long sum;
    int threads;
    pid_t tid[80];
    unsigned long long n[80];
    char comm[80][16];
};

static int sum_ctx(pid_t tid, const char *comm, void *arg) {
    struct ctx_sum *c = arg;
    if (strncmp(comm, "mockit", 6) != 0 || c->threads >= 80) return 0;
    char v[64], nv[64];
    if (mt_task_status_field(tid, "voluntary_ctxt_switches", v, sizeof v) ||
        mt_task_status_field(tid, "nonvoluntary_ctxt_switches", nv, sizeof nv))
        return 0;
    unsigned long long n = strtoull(v, NULL, 10) + strtoull(nv, NULL, 10);
    c->tid[c->threads] = tid;
    c->n[c->threads] = n;
    snprintf(c->comm[c->threads], sizeof c->comm[0], "%s", comm);
    c->threads++;
    c->sum += n;
    return 0;
}

static void test_LOAD06_idle_costs_nothing(void **state) {
    (void)state;
    /* arm, run and destroy a bit of everything first */
    static struct data a, b, far;
    a = b = (struct data){ .cb = tick_cb };
    far = (struct data){ .cb = never_cb };
    struct data *o = Mockit_data_init();
    assert_non_null(o);
    o->cb = tick_cb;
    assert_int_equal(0, Mockit_getit(2, &a));
    assert_int_equal(0, Mockit_oneoff(15, &b));
    assert_int_equal(0, Mockit_oneoff(86400000, &far));
    assert_int_equal(0, Mockit_getit(7, o));
    mt_sleep_ms(50);
    assert_int_equal(0, Mockit_destroy(&a));
    assert_int_equal(0, Mockit_destroy(&far));
    assert_int_equal(0, Mockit_destroy(o));
    Mockit_destroy(&b);
    mt_sleep_ms(200);   /* a last housekeeping wake may happen here */

    static struct ctx_sum c0, c1;
    memset(&c0, 0, sizeof c0);
    memset(&c1, 0, sizeof c1);
    mt_foreach_task(sum_ctx, &c0);
    MT_ASSERT_CMP(c0.threads, >=, 1);
    mt_sleep_ms(1000);
    mt_foreach_task(sum_ctx, &c1);
    print_message("# %d library threads idle: %llu context switches in 1 s\n", c1.threads,
                  c1.sum - c0.sum);
    for (int i = 0; i < c1.threads && c1.sum != c0.sum; i++)
        for (int j = 0; j < c0.threads; j++)
            if (c0.tid[j] == c1.tid[i] && c0.n[j] != c1.n[i])
                print_message("#   %s (tid %d): %llu\n", c1.comm[i], (int)c1.tid[i],
                              c1.n[i] - c0.n[j]);
    assert_int_equal(c0.threads, c1.threads);
    assert_int_equal(c0.sum, c1.sum);
}

/* ---- "One kernel POSIX timer serves the whole scheduler" (SPEC 2) ---- */

static int kernel_timers(void) {
    FILE *f = fopen("/proc/self/timers", "r");
    if (!f) return -1;
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "ID:", 3) == 0) n++;
    fclose(f);
    return n;
}

static void test_one_kernel_timer_for_all_timers(void **state) {
    (void)state;
    if (kernel_timers() < 0) {
        print_message("# skipped: no /proc/self/timers\n");
        skip();
    }
    enum { N = 300 };
    static struct data d[N];
    for (int i = 0; i < N; i++) {
        d[i] = (struct data){ .cb = tick_cb };
        int rc = (i % 3 == 0) ? Mockit_getit(1 + (unsigned)i % 20, &d[i])
                              : Mockit_oneoff((unsigned)(i % 7) * 1000 + 1, &d[i]);
        assert_int_equal(0, rc);
    }
    mt_sleep_ms(30);
    assert_int_equal(1, kernel_timers());
    for (int i = 0; i < N; i++) Mockit_destroy(&d[i]);
    assert_int_equal(1, kernel_timers());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_TEST(test_no_library_thread_before_first_arm),   /* first */
        cmocka_unit_test_setup_teardown(test_FLT07_library_threads_named_and_block_all_signals,
                                        mt_setup, flt07_teardown),
        cmocka_unit_test_setup_teardown(test_FLT07_callback_syscalls_undisturbed, mt_setup,
                                        sc_teardown),
        MT_TEST(test_one_kernel_timer_for_all_timers),
        MT_TEST(test_LOAD06_idle_costs_nothing),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
