/*
 * rel-flt: RELIABILITY.md B6, faults, T1 forms.
 *
 * FLT-02 a callback that never returns (fresh process): others tick,
 *        destroys of others are quick, a fork child works, exit is quick
 * FLT-03 a callback calls exit / quick_exit / _exit (and exit with an
 *        atexit handler destroying every timer), fresh processes
 * FLT-04 callbacks that pthread_exit(); a callback thread cancelled in
 *        clock_nanosleep (documented as "do not": only "no hang"); (c) an
 *        application thread cancelled while Mockit_destroy waits for a
 *        callback (not a cancellation point: the library is not left locked)
 * FLT-06 fork: (a) child timing, (b) 100 forks under 4-thread churn, and
 *        forks racing the first arms (fresh processes), (c) fork from
 *        inside a callback (skipped under TSan; (b) also under ASan)
 * FLT-07 (a) process-directed signal storm never runs on library threads,
 *        masks sampled during it; (b) handlers for every signal and
 *        threads toggling masks while TIM-03 holds; (d) spurious SIGRTMAX
 *        at the clock thread; (e) bsleep resumed through a 1 kHz storm
 * (FLT-05 is rel-flt05, C++; FLT-09 rel-flt09; FLT-10 rel-flt10.)
 */
#include "rel.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mockit.h>

/* the signal the library's clock thread hears its kernel timer with
 * (mockit(3), Signals: SIGRTMAX-1, thread-directed, blocked) */
#define LIB_SIGNAL (SIGRTMAX - 1)

static atomic_int ticks;
static void *tick_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&ticks, 1);
    return NULL;
}
static void *never_cb(void *arg) {
    (void)arg;
    return NULL;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void expect_status(int st, int want, const char *what) {
    if (st == -1) fail_msg("%s: hung (killed)", what);
    if (WIFSIGNALED(st)) fail_msg("%s: killed by signal %d", what, WTERMSIG(st));
    if (WEXITSTATUS(st) != want) fail_msg("%s: exit status %d, want %d", what, WEXITSTATUS(st), want);
}

/* ---- FLT-02 ---- */

static sem_t never_posted;
static atomic_int stuck_in;

static void *stuck_cb(void *arg) {
    (void)arg;
    atomic_store(&stuck_in, 1);
    while (sem_wait(&never_posted) != 0) {}
    return NULL;
}

#define F2_LOG 512
static mt_tick f2_ticks[F2_LOG];
static mt_log f2_log = MT_LOG_INIT(f2_ticks);
static void *f2_tick_cb(void *arg) {
    uint64_t t = mt_now_ns();
    mt_log_call(&f2_log, t, arg);
    return NULL;
}

static int child_flt02(int argc, char **argv) {
    (void)argc;
    (void)argv;
    sem_init(&never_posted, 0, 0);
    static struct data stuck, tk;
    stuck = (struct data){ .cb = stuck_cb };
    if (Mockit_oneoff(0, &stuck)) return 20;
    uint64_t dl = mt_now_ns() + mt_bound_ns(1000);
    while (!atomic_load(&stuck_in) && mt_now_ns() < dl) mt_sleep_ms(1);
    if (!atomic_load(&stuck_in)) return 21;
    tk = (struct data){ .cb = f2_tick_cb };
    uint64_t origin = mt_now_ns();
    if (Mockit_getit(5, &tk)) return 22;
    /* destroys of other timers while one callback is stuck */
    enum { N = 100 };
    static struct data o[N];
    static uint64_t took[N];
    for (int i = 0; i < N; i++) {
        o[i] = (struct data){ .cb = never_cb };
        if (Mockit_oneoff(1000 + (uint32_t)i, &o[i])) return 23;
    }
    for (int i = 0; i < N; i++) {
        uint64_t t0 = mt_now_ns();
        if (Mockit_destroy(&o[i])) return 24;
        took[i] = mt_now_ns() - t0;
        if (i % 10 == 0) mt_sleep_ms(2);
    }
    qsort(took, N, sizeof took[0], cmp_u64);
    if (took[N * 99 / 100] > mt_bound_ns(10)) return 25;
    mt_sleep_until_ns(origin + 500 * MT_NS_PER_MS);
    if (Mockit_destroy(&tk)) return 26;
    mt_grid g;
    mt_grid_analyse(&f2_log, origin, 0, 5 * MT_NS_PER_MS, &g);
    if (g.first_early >= 0) return 27;
    if (g.calls < 50) return 28;                          /* it kept ticking */
    if (g.max_wait_ns > mt_bound_ns(20)) {                /* LOAD-03 bound */
        fprintf(stderr, "FLT-02: the interval waited %.1f ms at call %d of %u\n", g.max_wait_ns / 1e6,
                g.max_wait_index, g.calls);
        return 29;
    }
    if (!rel_skip_fork()) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(5);
            static atomic_int got;
            static struct data c;
            c = (struct data){ .cb = tick_cb, .stuff = &got };
            atomic_store(&ticks, 0);
            if (Mockit_oneoff(1, &c)) _exit(1);
            uint64_t cdl = mt_now_ns() + mt_bound_ns(2000);
            while (atomic_load(&ticks) < 1 && mt_now_ns() < cdl) mt_sleep_ms(1);
            _exit(atomic_load(&ticks) == 1 ? 0 : 2);
        }
        int st = rel_wait(pid, 5000, NULL);
        if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) return 30;
    }
    /* exit(0) with the callback still stuck: nothing joins it */
    if (write(1, "x", 1) != 1) return 31;
    exit(0);
}

static void test_FLT02_callback_never_returns(void **state) {
    (void)state;
    int fd;
    pid_t pid = rel_spawn("flt02", NULL, &fd);
    char c;
    ssize_t got = read(fd, &c, 1);
    close(fd);
    uint64_t took;
    int st = rel_wait(pid, got == 1 ? 1000 : 10000, &took);
    if (st == -1) fail_msg("%s", got == 1 ? "exit(0) did not complete within 1 s" : "child hung");
    if (WIFEXITED(st) && WEXITSTATUS(st))
        fail_msg("check %d failed (25 destroy p99, 28 ticks, 29 lateness, 30 fork child)", WEXITSTATUS(st));
    expect_status(st, 0, "FLT-02 child");
    print_message("# exit with a stuck callback took %.1f ms\n", took / 1e6);
}

/* ---- FLT-03 ---- */

static struct data f3_iv[4], f3_slow, f3_exiter;
static const char *f3_how;

static void *f3_slow_cb(void *arg) {
    (void)arg;
    mt_sleep_ms(5);
    return NULL;
}

static void *f3_exit_cb(void *arg) {
    (void)arg;
    if (strcmp(f3_how, "quick_exit") == 0) quick_exit(3);
    if (strcmp(f3_how, "_exit") == 0) _exit(3);
    exit(3);
}

static void f3_atexit_destroy_all(void) {
    /* runs on the library thread that called exit(): destroying its own
     * timer does not wait for itself; the others are waited for */
    for (int i = 0; i < 4; i++) Mockit_destroy(&f3_iv[i]);
    Mockit_destroy(&f3_slow);
    Mockit_destroy(&f3_exiter);
}

static int child_flt03(int argc, char **argv) {
    f3_how = argc > 0 ? argv[0] : "exit";
    if (strcmp(f3_how, "exit-atexit") == 0) atexit(f3_atexit_destroy_all);
    for (int i = 0; i < 4; i++) {
        f3_iv[i] = (struct data){ .cb = tick_cb };
        if (Mockit_getit(1, &f3_iv[i])) return 20;
    }
    f3_slow = (struct data){ .cb = f3_slow_cb };
    if (Mockit_getit(2, &f3_slow)) return 21;
    f3_exiter = (struct data){ .cb = f3_exit_cb };
    if (Mockit_oneoff(20, &f3_exiter)) return 22;
    Mockit_bsleep(10000, NULL, NULL);
    return 23;   /* the callback should have ended the process */
}

static void test_FLT03_callback_calls_exit(void **state) {
    (void)state;
    const char *hows[] = { "exit", "exit-atexit", "quick_exit", "_exit" };
    unsigned n = mt_iters(15);
    uint64_t worst = 0;
    for (int h = 0; h < 4; h++)
        for (unsigned i = 0; i < n; i++) {
            char *args[] = { (char *)hows[h], NULL };
            pid_t pid = rel_spawn("flt03", args, NULL);
            uint64_t took;
            int st = rel_wait(pid, 1000 + 20, &took);
            char what[64];
            snprintf(what, sizeof what, "%s, process %u", hows[h], i);
            expect_status(st, 3, what);
            if (took > worst) worst = took;
        }
    print_message("# %u processes, slowest %.1f ms from spawn to exit status 3\n", 4 * n, worst / 1e6);
}

/* ---- FLT-04 ---- */

static atomic_int pe_calls;
static void *pexit_cb(void *arg) {
    (void)arg;
    int k = atomic_fetch_add(&pe_calls, 1);
    if (k % 2 == 0) pthread_exit(NULL);   /* every other call ends its thread */
    return NULL;
}

static void test_FLT04a_callbacks_pthread_exit(void **state) {
    (void)state;
    static struct data pe, tk, one[20];
    pe = (struct data){ .cb = pexit_cb };
    tk = (struct data){ .cb = tick_cb };
    atomic_store(&ticks, 0);
    assert_int_equal(0, Mockit_getit(3, &tk));
    assert_int_equal(0, Mockit_getit(5, &pe));
    for (int i = 0; i < 20; i++) {
        one[i] = (struct data){ .cb = pexit_cb };
        assert_int_equal(0, Mockit_oneoff((uint32_t)(i * 3), &one[i]));
    }
    /* the interval keeps being called although its thread keeps ending */
    if (!MT_WAIT_UNTIL(atomic_load(&pe_calls) >= 60, 3000))
        fail_msg("only %d calls of the pthread_exit()ing timers", atomic_load(&pe_calls));
    int t0 = atomic_load(&ticks);
    if (!MT_WAIT_UNTIL(atomic_load(&ticks) >= t0 + 20, 1000)) fail_msg("the other timer stopped");
    MT_ASSERT_CMP(mt_lib_threads(NULL), <=, 65);
    uint64_t d0 = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&pe));
    MT_ASSERT_UCMP(mt_now_ns() - d0, <, mt_bound_ns(1000));
    assert_int_equal(0, Mockit_destroy(&tk));
    for (int i = 0; i < 20; i++) {
        int rc = Mockit_destroy(&one[i]);
        if (rc != EINVAL) fail_msg("one-shot %d ended by pthread_exit: destroy %d (it counts as returned)", i, rc);
    }
    /* and the library still works */
    static struct data again;
    again = (struct data){ .cb = tick_cb };
    t0 = atomic_load(&ticks);
    assert_int_equal(0, Mockit_oneoff(1, &again));
    assert_true(MT_WAIT_UNTIL(atomic_load(&ticks) == t0 + 1, 1000));
}

static _Atomic pthread_t cancel_victim;
static atomic_int cancel_in;
static void *sleeper_cb(void *arg) {
    (void)arg;
    atomic_store(&cancel_victim, pthread_self());
    atomic_store(&cancel_in, 1);
    struct timespec ts = { 2, 0 };
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
    atomic_store(&cancel_in, 2);
    return NULL;
}

static void test_FLT04b_cancelled_callback_thread_no_hang(void **state) {
    (void)state;
    /* mockit(3): "Do not pthread_cancel a library thread."  Asserted:
     * only that nothing hangs and other timers keep going. */
    mt_watchdog_arm(5, "FLT04 cancel (a hang)");
    static struct data sl, tk;
    sl = (struct data){ .cb = sleeper_cb };
    tk = (struct data){ .cb = tick_cb };
    assert_int_equal(0, Mockit_getit(2, &tk));
    assert_int_equal(0, Mockit_oneoff(0, &sl));
    assert_true(MT_WAIT_UNTIL(atomic_load(&cancel_in) == 1, 1000));
    pthread_cancel(atomic_load(&cancel_victim));
    mt_sleep_ms(20);
    int t0 = atomic_load(&ticks);
    assert_true(MT_WAIT_UNTIL(atomic_load(&ticks) >= t0 + 20, 1000));
    int rc = Mockit_destroy(&sl);
    print_message("# destroy of the cancelled one-shot: %d; its callback %s\n", rc,
                  atomic_load(&cancel_in) == 2 ? "returned" : "was cancelled");
    assert_int_equal(0, Mockit_destroy(&tk));
}

/* An application thread cancelled while Mockit_destroy waits for a
 * running callback.  Mockit_destroy(3): not a cancellation point; the
 * thread acts on the cancellation at its next one, after the call
 * returned.  When the wait was pthread_cond_wait (a cancellation point)
 * the cancellation's unwinding reached the library's noexcept functions
 * and the whole process died in std::terminate (a83e5b1: "terminate
 * called without an active exception"); had it unwound, the thread would
 * have ended holding the library's lock (pthread_cond_wait re-takes it
 * first). */
static atomic_int cd_in_cb, cd_started, cd_after;
static atomic_int cd_rc = -1;
static void *cd_slow_cb(void *arg) {
    (void)arg;
    atomic_store(&cd_in_cb, 1);
    mt_sleep_ms(300);
    return NULL;
}
static void *cd_destroyer(void *arg) {
    atomic_store(&cd_started, 1);
    atomic_store(&cd_rc, Mockit_destroy(arg));
    pthread_testcancel();
    atomic_store(&cd_after, 1);
    return NULL;
}

static void test_FLT04c_app_thread_cancelled_in_destroy(void **state) {
    (void)state;
    mt_watchdog_arm(10, "FLT04c: the library left locked by a cancelled destroyer");
    static struct data slow, after;
    slow = (struct data){ .cb = cd_slow_cb };
    assert_int_equal(0, Mockit_oneoff(0, &slow));
    assert_true(MT_WAIT_UNTIL(atomic_load(&cd_in_cb) == 1, 2000));
    pthread_t t;
    assert_int_equal(0, pthread_create(&t, NULL, cd_destroyer, &slow));
    assert_true(MT_WAIT_UNTIL(atomic_load(&cd_started) == 1, 2000));
    mt_sleep_ms(50);   /* inside Mockit_destroy, waiting for the callback */
    uint64_t t0 = mt_now_ns();
    assert_int_equal(0, pthread_cancel(t));
    void *res = NULL;
    assert_int_equal(0, pthread_join(t, &res));
    print_message("# destroyer cancelled: joined after %.1f ms, Mockit_destroy returned %d\n",
                  (mt_now_ns() - t0) / 1e6, atomic_load(&cd_rc));
    assert_true(res == PTHREAD_CANCELED);
    assert_int_equal(0, atomic_load(&cd_rc));    /* the call completed */
    assert_int_equal(0, atomic_load(&cd_after));   /* and the cancellation acted after it */
    /* the library still works: not left locked */
    atomic_store(&ticks, 0);
    after = (struct data){ .cb = tick_cb };
    assert_int_equal(0, Mockit_oneoff(1, &after));
    assert_true(MT_WAIT_UNTIL(atomic_load(&ticks) == 1, 2000));
    assert_int_equal(EINVAL, Mockit_destroy(&slow));
    mt_watchdog_disarm();
}

/* ---- FLT-06 ---- */

static void skip_fork(void) {
    if (rel_skip_fork()) {
        print_message("# skipped: fork under TSan\n");
        skip();
    }
}

/* Not under ASan: GCC 12's libasan (LLVM ~14 runtime) takes no lock of its
 * own around fork(), so a child forked while another thread holds a lock
 * of ASan's allocator inherits it held: here one of the churn threads just
 * started refills its empty per-thread cache (SizeClassAllocator64::
 * GetFromAllocator, region mutex of size class 14 or 36) at the first fork,
 * and in the child the new mockit-clock thread's own ASan start-up
 * (AsanThread::Init -> pthread_getattr_np -> calloc) waits for that mutex
 * forever, while Mockit_oneoff waits for the clock thread to report in.
 * gdb on the hung child shows the mutex word 0x10000?0000000000 (writer
 * bit set, waiters inherited from the parent).  A sanitizer limitation,
 * not mockit's: fixed upstream by llvm/llvm-project#75290 ("[asan]
 * Install pthread_atfork", LLVM 18), not in GCC 12; symptom as in
 * google/sanitizers#1814.  The plain and valgrind runs keep these checks. */
static void skip_fork_asan(void) {
    if (strcmp(mt_sanitizer(), "asan") == 0) {
        print_message("# skipped under ASan: its allocator's locks are not fork-safe (GCC 12 libasan)\n");
        skip();
    }
}

static atomic_int p_ticks, c_fired;
static _Atomic uint64_t c_fired_at;
static void *p_tick_cb(void *arg) { (void)arg; atomic_fetch_add(&p_ticks, 1); return NULL; }
static void *c_cb(void *arg) {
    (void)arg;
    atomic_store(&c_fired_at, mt_now_ns());
    atomic_fetch_add(&c_fired, 1);
    return NULL;
}

static void test_FLT06a_child_timing(void **state) {
    (void)state;
    skip_fork();
    static struct data pt;
    pt = (struct data){ .cb = p_tick_cb };
    assert_int_equal(0, Mockit_getit(2, &pt));
    assert_true(MT_WAIT_UNTIL(atomic_load(&p_ticks) >= 5, 1000));
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(5);
        int p0 = atomic_load(&p_ticks);
        mt_sleep_ms(200);
        if (atomic_load(&p_ticks) != p0) _exit(10);   /* a parent timer ran here */
        static struct data c;
        c = (struct data){ .cb = c_cb };
        uint64_t t0 = mt_now_ns();
        if (Mockit_oneoff(50, &c)) _exit(11);
        uint64_t dl = t0 + mt_bound_ns(2000);
        while (!atomic_load(&c_fired) && mt_now_ns() < dl) mt_sleep_ms(1);
        if (atomic_load(&c_fired) != 1) _exit(12);
        uint64_t at = atomic_load(&c_fired_at) - t0;
        if (at < 50 * MT_NS_PER_MS) _exit(13);                    /* never early */
        if (at > 50 * MT_NS_PER_MS + mt_bound_ns(20)) _exit(14);  /* 50 ms +- 20 */
        _exit(0);
    }
    int p0 = atomic_load(&p_ticks);
    int st = rel_wait(pid, 5000, NULL);
    expect_status(st, 0, "fork child (10 parent tick, 12 no call, 13 early, 14 late)");
    assert_true(MT_WAIT_UNTIL(atomic_load(&p_ticks) >= p0 + 10, 1000));   /* the parent kept ticking */
    assert_int_equal(0, Mockit_destroy(&pt));
}

static atomic_int churn_stop;
static void *churner(void *arg) {
    uint64_t s = mt_seed() ^ (uint64_t)(uintptr_t)arg;
    struct data d[4];
    for (int i = 0; i < 4; i++) d[i] = (struct data){ .cb = never_cb };
    while (!atomic_load(&churn_stop)) {
        struct data *x = &d[mt_rand_below(&s, 4)];
        switch (mt_rand_below(&s, 3)) {
        case 0: Mockit_oneoff(mt_rand_below(&s, 3), x); break;
        case 1: Mockit_getit(1 + mt_rand_below(&s, 3), x); break;
        default: Mockit_destroy(x); break;
        }
    }
    for (int i = 0; i < 4; i++) Mockit_destroy(&d[i]);
    return NULL;
}

static void test_FLT06b_fork_under_churn(void **state) {
    (void)state;
    skip_fork();
    skip_fork_asan();
    mt_watchdog_arm(120, "FLT06b");
    atomic_store(&churn_stop, 0);
    pthread_t th[4];
    for (intptr_t i = 0; i < 4; i++) mt_thread_start(&th[i], "mt-churner", churner, (void *)(i + 1));
    unsigned n = mt_iters(100);
    unsigned worst_ms = 0;
    for (unsigned i = 0; i < n; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) fail_msg("fork: %s", strerror(errno));
        if (pid == 0) {
            alarm(5);
            if (mt_lib_threads(NULL) != 0) _exit(10);
            static struct data c;
            c = (struct data){ .cb = c_cb };
            atomic_store(&c_fired, 0);
            if (Mockit_oneoff(1, &c)) _exit(11);
            uint64_t dl = mt_now_ns() + 2000 * MT_NS_PER_MS;
            while (!atomic_load(&c_fired) && mt_now_ns() < dl) mt_sleep_ms(1);
            _exit(atomic_load(&c_fired) == 1 ? 0 : 12);
        }
        uint64_t took;
        int st = rel_wait(pid, 5000, &took);
        char what[80];
        snprintf(what, sizeof what, "fork child %u (10 threads, 11 arm, 12 no call; 14 = SIGALRM)", i);
        expect_status(st, 0, what);
        if (took / MT_NS_PER_MS > worst_ms) worst_ms = (unsigned)(took / MT_NS_PER_MS);
    }
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    print_message("# %u forks under churn, slowest child %u ms\n", n, worst_ms);
}

/* FLT-06b, first arm: a fork racing the arms that make the scheduler.
 * Fresh processes (no scheduler yet); 4 threads make their first arms while
 * the main thread forks after a random 0-100 us; the child must arm and get
 * a call.  (mockit's own lock that makes the scheduler, held by an arming
 * thread at the fork, was copied locked into the child: its first arm hung.) */
static atomic_int f6_go;
static void *f6_armer(void *arg) {
    struct data *d = arg;
    while (!atomic_load(&f6_go)) {}
    for (int i = 0; i < 20; i++) {
        Mockit_oneoff(1, d);
        Mockit_destroy(d);
    }
    return NULL;
}

static int child_flt06first(int argc, char **argv) {
    uint64_t delay_ns = argc > 0 ? strtoull(argv[0], NULL, 10) * 1000u : 0;
    static struct data d[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        d[i] = (struct data){ .cb = never_cb };
        mt_thread_start(&th[i], "mt-armer", f6_armer, &d[i]);
    }
    atomic_store(&f6_go, 1);
    uint64_t until = mt_now_ns() + delay_ns;
    while (mt_now_ns() < until) {}
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 20;
    if (pid == 0) {
        alarm(5);
        static struct data c;
        c = (struct data){ .cb = c_cb };
        atomic_store(&c_fired, 0);
        if (Mockit_oneoff(1, &c)) _exit(11);
        uint64_t dl = mt_now_ns() + 2000 * MT_NS_PER_MS;
        while (!atomic_load(&c_fired) && mt_now_ns() < dl) mt_sleep_ms(1);
        _exit(atomic_load(&c_fired) == 1 ? 0 : 12);
    }
    int st = rel_wait(pid, 5000, NULL);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    if (st == -1 || WIFSIGNALED(st)) return 13;   /* hung (SIGALRM or killed) */
    return WEXITSTATUS(st);
}

static void test_FLT06b_fork_racing_the_first_arm(void **state) {
    (void)state;
    skip_fork();
    skip_fork_asan();   /* threads just started: the same ASan allocator window */
    uint64_t seed = mt_seed();
    unsigned n = mt_iters(40);
    for (unsigned i = 0; i < n; i++) {
        char us[16];
        snprintf(us, sizeof us, "%u", mt_rand_below(&seed, 101));
        char *args[] = { us, NULL };
        pid_t pid = rel_spawn("flt06first", args, NULL);
        int st = rel_wait(pid, 10000, NULL);
        char what[120];
        snprintf(what, sizeof what, "process %u, fork after %s us (11 arm, 12 no call, 13 child hung)", i, us);
        expect_status(st, 0, what);
    }
    print_message("# %u fresh processes forked while their first arms ran\n", n);
}

static _Atomic pid_t cb_child;
static void *forking_cb(void *arg) {
    (void)arg;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* the child's only thread was a library thread inside a callback */
        alarm(5);
        static struct data c;
        c = (struct data){ .cb = c_cb };
        atomic_store(&c_fired, 0);
        if (Mockit_oneoff(1, &c)) _exit(11);
        uint64_t dl = mt_now_ns() + 2000 * MT_NS_PER_MS;
        while (!atomic_load(&c_fired) && mt_now_ns() < dl) mt_sleep_ms(1);
        _exit(atomic_load(&c_fired) == 1 ? 0 : 12);
    }
    atomic_store(&cb_child, pid);
    return NULL;
}

static void test_FLT06c_fork_inside_callback(void **state) {
    (void)state;
    skip_fork();
    unsigned n = mt_iters(10);
    for (unsigned i = 0; i < n; i++) {
        static struct data f;
        f = (struct data){ .cb = forking_cb };
        atomic_store(&cb_child, 0);
        assert_int_equal(0, Mockit_oneoff(0, &f));
        assert_true(MT_WAIT_UNTIL(atomic_load(&cb_child) != 0, 1000));
        pid_t pid = atomic_load(&cb_child);
        assert_true(pid > 0);
        int st = rel_wait(pid, 5000, NULL);
        expect_status(st, 0, "child forked in a callback (11 arm, 12 no call)");
    }
}

/* ---- FLT-07 (a) ---- */

static atomic_int usr1_count, usr1_on_lib;

static void on_usr1(int sig) {
    (void)sig;
    char name[16] = { 0 };
    prctl(PR_GET_NAME, name, 0, 0, 0);
    if (strncmp(name, "mockit", 6) == 0) atomic_fetch_add(&usr1_on_lib, 1);
    atomic_fetch_add(&usr1_count, 1);
}

static atomic_int blk_release;
static void *blk_cb(void *arg) {
    (void)arg;
    while (!atomic_load(&blk_release)) mt_sleep_ms(1);
    return NULL;
}

static void test_FLT07a_signal_storm_never_on_library_threads(void **state) {
    (void)state;
    struct sigaction sa = { 0 }, old;
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    static struct data iv[4], blk[2];
    for (int i = 0; i < 4; i++) {
        iv[i] = (struct data){ .cb = tick_cb };
        assert_int_equal(0, Mockit_getit(1 + (uint32_t)i, &iv[i]));
    }
    atomic_store(&blk_release, 0);
    for (int i = 0; i < 2; i++) {
        blk[i] = (struct data){ .cb = blk_cb };
        assert_int_equal(0, Mockit_oneoff(1, &blk[i]));   /* followers busy in callbacks */
    }
    mt_sleep_ms(10);
    unsigned n = mt_iters(2000);
    char why[200];
    int checks = 0;
    for (unsigned i = 0; i < n; i++) {
        kill(getpid(), SIGUSR1);
        /* (valgrind runs the threads itself: /proc shows its masks, not theirs) */
        if (i % 100 == 0 && !mt_under_valgrind()) {
            if (rel_lib_threads_block_all(why, sizeof why) < 0) fail_msg("%s", why);
            checks++;
        }
        if (i % 10 == 0) mt_sleep_ns(100000);
    }
    assert_true(MT_WAIT_UNTIL(atomic_load(&usr1_count) >= 1, 1000));
    mt_sleep_ms(10);
    atomic_store(&blk_release, 1);
    for (int i = 0; i < 4; i++) assert_int_equal(0, Mockit_destroy(&iv[i]));
    sigaction(SIGUSR1, &old, NULL);
    print_message("# %u signals sent, %d handled (merged while pending), %d mask checks\n", n,
                  atomic_load(&usr1_count), checks);
    assert_int_equal(0, atomic_load(&usr1_on_lib));
}

/* ---- FLT-07 (b) ---- */

static atomic_int app_sigs;
static void on_any(int sig) {
    (void)sig;
    atomic_fetch_add(&app_sigs, 1);
}

static atomic_int toggle_stop;
static void *toggler(void *arg) {
    intptr_t k = (intptr_t)arg;
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    const int send[] = { SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGWINCH, SIGURG };
    unsigned i = 0;
    while (!atomic_load(&toggle_stop)) {
        pthread_sigmask(SIG_SETMASK, (i % 2) ? &all : &none, NULL);
        if (k == 0 && i % 4 == 0) {
            kill(getpid(), send[(i / 4) % 6]);
            kill(getpid(), SIGRTMIN + (int)((i / 4) % 8));
        }
        i++;
        mt_sleep_ns(mt_under_valgrind() ? 5000000 : 500000);
    }
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    return NULL;
}

static bool synchronous_signal(int s) {
    return s == SIGSEGV || s == SIGBUS || s == SIGFPE || s == SIGILL || s == SIGABRT || s == SIGTRAP ||
           s == SIGSYS || s == SIGKILL || s == SIGSTOP;
}

#define B_LOG 256
static mt_tick b_ticks[B_LOG];
static mt_log b_log = MT_LOG_INIT(b_ticks);
static void *b_cb(void *arg) {
    uint64_t t = mt_now_ns();
    mt_log_call(&b_log, t, arg);
    return NULL;
}

static void test_FLT07b_app_handles_every_signal_tim03_holds(void **state) {
    (void)state;
    static struct sigaction old[65];
    struct sigaction sa = { 0 };
    sa.sa_handler = on_any;
    sigemptyset(&sa.sa_mask);
    int installed = 0;
    for (int s = 1; s <= SIGRTMAX && s < 65; s++) {
        if (synchronous_signal(s)) continue;
        sigaction(s, NULL, &old[s]);
        if (sigaction(s, &sa, NULL) == 0) installed++;   /* glibc-internal ones refuse */
    }
    atomic_store(&toggle_stop, 0);
    pthread_t th[2];
    for (intptr_t k = 0; k < 2; k++) mt_thread_start(&th[k], "mt-toggler", toggler, (void *)k);
    static struct data d;
    d = (struct data){ .cb = b_cb };
    const uint64_t P = 10 * MT_NS_PER_MS;
    uint64_t origin = mt_now_ns();
    assert_int_equal(0, Mockit_getit(10, &d));
    uint64_t origin_hi = mt_now_ns();
    mt_sleep_until_ns(origin + 1000 * MT_NS_PER_MS);
    uint64_t t_end = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&d));
    atomic_store(&toggle_stop, 1);
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    mt_sleep_ms(10);
    for (int s = 1; s <= SIGRTMAX && s < 65; s++)
        if (!synchronous_signal(s)) sigaction(s, &old[s], NULL);
    mt_grid g;
    mt_grid_analyse(&b_log, origin, origin_hi, P, &g);
    print_message("# %d handlers, %d application signals handled; %u calls, mean late (last 20) %.3f ms\n",
                  installed, atomic_load(&app_sigs), g.calls, g.mean_late_last_ns / 1e6);
    if (g.first_early >= 0) fail_msg("call %d early by %lld ns", g.first_early, (long long)g.early_by_ns);
    assert_int_equal(-1, g.first_bad_ov);
    MT_ASSERT_UCMP(g.mean_late_last_ns, <, mt_bound_ns(3));
    uint64_t expected = (t_end - origin) / P;
    MT_ASSERT_UCMP(g.g_last + 1 + mt_bound_ns(20) / P, >=, expected);
    MT_ASSERT_UCMP(g.g_last, <=, expected);
    MT_ASSERT_CMP(atomic_load(&app_sigs), >, 0);
}

/* ---- FLT-07 (c) ---- */

#define C_SHOTS 100
static struct data c_shots[C_SHOTS];
static uint64_t c_due[C_SHOTS];
static _Atomic uint64_t c_at[C_SHOTS];
static atomic_int c_calls[C_SHOTS];
static void *c_shot_cb(void *arg) {
    uint64_t t = mt_now_ns();
    size_t i = (size_t)((struct data *)arg - c_shots);
    atomic_store(&c_at[i], t);
    atomic_fetch_add(&c_calls[i], 1);
    return NULL;
}

static atomic_int ign_stop;
static void on_rt(int sig) { (void)sig; }
static void *ign_toggler(void *arg) {
    unsigned *n = arg;
    struct sigaction ign = { 0 }, hnd = { 0 }, dfl = { 0 };
    ign.sa_handler = SIG_IGN;
    hnd.sa_handler = on_rt;
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&ign.sa_mask);
    sigemptyset(&hnd.sa_mask);
    sigemptyset(&dfl.sa_mask);
    unsigned i = 0;
    while (!atomic_load(&ign_stop)) {
        sigaction(LIB_SIGNAL, (i % 3 == 0) ? &ign : (i % 3 == 1) ? &hnd : &dfl, NULL);
        i++;
        if (i % 16 == 0) mt_sleep_ns(50000);
    }
    *n = i;
    return NULL;
}

/* The library hears its kernel timer through SIGRTMAX-1 (thread-directed,
 * and blocked in every other thread).  An application that sets it to
 * SIG_IGN discards a pending one (POSIX; Linux flushes it from every
 * thread's queue): the clock thread must re-read the clock rather than rely
 * on every signal arriving. */
static void test_FLT07c_sig_ign_storm_on_the_library_signal(void **state) {
    (void)state;
    mt_watchdog_arm(30, "FLT07c SIG_IGN storm (a timer never fired?)");
    struct sigaction old;
    sigaction(LIB_SIGNAL, NULL, &old);
    uint64_t seed = mt_seed();
    unsigned rounds = mt_iters(20), toggles = 0, late_max_ms = 0;
    atomic_store(&ign_stop, 0);
    pthread_t th;
    mt_thread_start(&th, "mt-sigign", ign_toggler, &toggles);
    static struct data iv[10];
    for (int k = 0; k < 10; k++) {
        iv[k] = (struct data){ .cb = tick_cb };
        assert_int_equal(0, Mockit_getit(1 + (uint32_t)k * 3, &iv[k]));
    }
    for (unsigned r = 0; r < rounds; r++) {
        /* let the library go idle between rounds sometimes: then an arm
         * is what programs the kernel timer */
        if (r % 2) {
            for (int k = 0; k < 10; k++) Mockit_destroy(&iv[k]);
            mt_sleep_ms(5);
        }
        for (int i = 0; i < C_SHOTS; i++) {
            uint32_t ms = mt_rand_below(&seed, 20);
            atomic_store(&c_calls[i], 0);
            atomic_store(&c_at[i], 0);
            c_shots[i] = (struct data){ .cb = c_shot_cb };
            c_due[i] = mt_now_ns() + ms * MT_NS_PER_MS;
            assert_int_equal(0, Mockit_oneoff(ms, &c_shots[i]));
        }
        for (int i = 0; i < C_SHOTS; i++) {
            if (!MT_WAIT_UNTIL(atomic_load(&c_calls[i]) >= 1, 1000 + 20)) {
                atomic_store(&ign_stop, 1);
                pthread_join(th, NULL);
                sigaction(LIB_SIGNAL, &old, NULL);
                double late_ms = (mt_now_ns() - c_due[i]) / 1e6;
                /* diagnosis: does it recover once the dispositions stop changing? */
                bool recovered = MT_WAIT_UNTIL(atomic_load(&c_calls[i]) >= 1, 2000);
                int tk0 = atomic_load(&ticks);
                mt_sleep_ms(100);
                fail_msg("round %u: one-shot %d due %.0f ms ago never fired (a lost SIGRTMAX-1 stalled "
                         "the library); %s; intervals %s", r, i, late_ms,
                         recovered ? "it fired after the storm" : "still not fired 2 s after the storm",
                         atomic_load(&ticks) > tk0 ? "still ticking" : "stopped too");
            }
            uint64_t at = atomic_load(&c_at[i]);
            if (at < c_due[i]) fail_msg("round %u: one-shot %d early", r, i);
            unsigned l = (unsigned)((at - c_due[i]) / MT_NS_PER_MS);
            if (l > late_max_ms) late_max_ms = l;
        }
        if (r % 2)
            for (int k = 0; k < 10; k++) assert_int_equal(0, Mockit_getit(1 + (uint32_t)k * 3, &iv[k]));
    }
    atomic_store(&ign_stop, 1);
    pthread_join(th, NULL);
    sigaction(LIB_SIGNAL, &old, NULL);
    for (int k = 0; k < 10; k++) assert_int_equal(0, Mockit_destroy(&iv[k]));
    print_message("# %u rounds of %d one-shots, %u disposition changes, worst lateness %u ms\n", rounds,
                  C_SHOTS, toggles, late_max_ms);
    MT_ASSERT_CMP(late_max_ms, <, (unsigned)(1000 * mt_time_scale()));
}

/* ---- FLT-07 (d) ---- */

#define D_SHOTS 100
static struct data d_shots[D_SHOTS];
static uint64_t d_due[D_SHOTS];
static _Atomic uint64_t d_at[D_SHOTS];
static atomic_int d_calls[D_SHOTS];
static void *d_shot_cb(void *arg) {
    uint64_t t = mt_now_ns();
    size_t i = (size_t)((struct data *)arg - d_shots);
    atomic_store(&d_at[i], t);
    atomic_fetch_add(&d_calls[i], 1);
    return NULL;
}

static void test_FLT07d_spurious_wakeups_of_the_clock_thread(void **state) {
    (void)state;
    static struct data iv;
    iv = (struct data){ .cb = b_cb };   /* the FLT-07b logger, with a fresh log */
    memset(b_ticks, 0, sizeof b_ticks);
    b_log = (mt_log)MT_LOG_INIT(b_ticks);
    uint64_t seed = mt_seed();
    uint64_t origin = mt_now_ns();
    assert_int_equal(0, Mockit_getit(3, &iv));
    uint64_t origin_hi = mt_now_ns();
    for (int i = 0; i < D_SHOTS; i++) {
        uint32_t ms = mt_rand_below(&seed, 51);
        d_shots[i] = (struct data){ .cb = d_shot_cb };
        d_due[i] = mt_now_ns() + ms * MT_NS_PER_MS;
        assert_int_equal(0, Mockit_oneoff(ms, &d_shots[i]));
    }
    unsigned n = mt_iters(2000);
    pid_t pid = getpid();
    unsigned sent = 0;
    for (unsigned i = 0; i < n; i++) {
        pid_t tid = rel_clock_tid();
        if (tid && syscall(SYS_tgkill, pid, tid, LIB_SIGNAL) == 0) sent++;
        if (i % 20 == 0) mt_sleep_ns(100000);
    }
    mt_sleep_ms(60);
    uint64_t t_end = mt_now_ns();
    assert_int_equal(0, Mockit_destroy(&iv));
    for (int i = 0; i < D_SHOTS; i++) {
        if (atomic_load(&d_calls[i]) != 1) fail_msg("one-shot %d: %d calls", i, atomic_load(&d_calls[i]));
        if (atomic_load(&d_at[i]) < d_due[i]) fail_msg("one-shot %d early", i);
    }
    mt_grid g;
    mt_grid_analyse(&b_log, origin, origin_hi, 3 * MT_NS_PER_MS, &g);
    print_message("# %u spurious SIGRTMAX-1 at the clock thread; interval %u calls\n", sent, g.calls);
    if (g.first_early >= 0) fail_msg("interval call %d early by %lld ns", g.first_early, (long long)g.early_by_ns);
    uint64_t expected = (t_end - origin) / (3 * MT_NS_PER_MS);
    MT_ASSERT_UCMP(g.g_last, <=, expected);
    MT_ASSERT_CMP(sent, >, 0);
}

/* ---- FLT-07 (e) ---- */

static atomic_int alrm_count;
static void on_alrm(int sig) {
    (void)sig;
    atomic_fetch_add(&alrm_count, 1);
}

static void test_FLT07e_bsleep_resumed_through_1khz_storm(void **state) {
    (void)state;
    struct sigaction sa = { 0 }, old;
    sa.sa_handler = on_alrm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = { { 0, 1000 }, { 0, 1000 } }, off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &it, NULL);
    uint64_t t0 = mt_now_ns();
    ssize_t left = 500;
    int rounds = 0, rc;
    uint64_t cap = t0 + 5000 * MT_NS_PER_MS;   /* the storm could keep it from ending */
    while ((rc = Mockit_bsleep((uint32_t)left, &left, NULL)) == EINTR && mt_now_ns() < cap) rounds++;
    uint64_t took = mt_now_ns() - t0;
    /* Stop the storm without a last SIGALRM meeting the restored default
     * action (it would kill the process): block it, stop the timer, and
     * discard one still pending (SIG_IGN discards a pending signal, then
     * take any left) before the old disposition comes back.  Natively the
     * last one is handled on return from setitimer; under valgrind,
     * which delivers signals at its own points, it can still be pending. */
    sigset_t alrm, prev;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, &prev);
    setitimer(ITIMER_REAL, &off, NULL);
    struct sigaction ign = { 0 };
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGALRM, &ign, NULL);
    struct timespec zero = { 0, 0 };
    while (sigtimedwait(&alrm, NULL, &zero) == SIGALRM) {}
    sigaction(SIGALRM, &old, NULL);
    pthread_sigmask(SIG_SETMASK, &prev, NULL);
    print_message("# bsleep(500) resumed %d times through %d SIGALRM: %.1f ms\n", rounds,
                  atomic_load(&alrm_count), took / 1e6);
    if (rc != 0) fail_msg("still interrupted after %.0f ms (%ld ms left)", took / 1e6, (long)left);
    MT_ASSERT_UCMP(took, >=, 500 * MT_NS_PER_MS);   /* never short (strict) */
    MT_ASSERT_UCMP(took, <=, 500 * MT_NS_PER_MS + mt_bound_ns(50));
}

static const struct rel_child children[] = {
    { "flt02", child_flt02 },
    { "flt03", child_flt03 },
    { "flt06first", child_flt06first },
    { NULL, NULL },
};

int main(int argc, char **argv) {
    int st;
    if (rel_main_prologue(argc, argv, children, &st)) return st;
    const struct CMUnitTest tests[] = {
        MT_TEST(test_FLT02_callback_never_returns),
        MT_TEST(test_FLT03_callback_calls_exit),
        MT_TEST(test_FLT04a_callbacks_pthread_exit),
        MT_TEST(test_FLT04b_cancelled_callback_thread_no_hang),
        MT_TEST(test_FLT04c_app_thread_cancelled_in_destroy),
        MT_TEST(test_FLT06a_child_timing),
        MT_TEST(test_FLT06b_fork_under_churn),
        MT_TEST(test_FLT06b_fork_racing_the_first_arm),
        MT_TEST(test_FLT06c_fork_inside_callback),
        MT_TEST(test_FLT07a_signal_storm_never_on_library_threads),
        MT_TEST(test_FLT07b_app_handles_every_signal_tim03_holds),
        MT_TEST(test_FLT07c_sig_ign_storm_on_the_library_signal),
        MT_TEST(test_FLT07d_spurious_wakeups_of_the_clock_thread),
        MT_TEST(test_FLT07e_bsleep_resumed_through_1khz_storm),
    };
    return cmocka_run_group_tests_name("rel-flt", tests, NULL, NULL);
}
