/*
 * mtest.h - helpers shared by the CMocka test programs of mockit.
 *
 * Clock of record: CLOCK_MONOTONIC in ns (RELIABILITY B0).  Callbacks run on
 * library threads and must never call a cmocka assertion (its longjmp is
 * only valid on the test thread): they record into atomics and arrays, and
 * the test thread asserts afterwards.
 *
 * Knobs (environment):
 *   MOCKIT_UNDER_VALGRIND=1        time bounds x20, iteration counts / 10
 *   MOCKIT_UNDER_SANITIZER=asan    time bounds x3
 *   MOCKIT_UNDER_SANITIZER=tsan    time bounds x5, iteration counts / 4
 *   MOCKIT_TEST_SCALE=N            iteration counts x N (default 1)
 *   MOCKIT_TEST_TIME_SCALE=F       overrides the time factor
 */
#ifndef MOCKIT_MTEST_H
#define MOCKIT_MTEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

/* C11 atomics annotated for helgrind/drd (MEM-02); see mt_hb.h */
#include "mt_hb.h"

#define MT_NS_PER_MS 1000000ull

/* ---- clocks and sleeping (never Mockit_bsleep: tests must not depend on
 * the library they test for their own timing) ---- */
uint64_t mt_now_ns(void);                 /* CLOCK_MONOTONIC */
void mt_sleep_ns(uint64_t ns);            /* full sleep, restarts on EINTR */
void mt_sleep_ms(double ms);
void mt_sleep_until_ns(uint64_t t);       /* absolute CLOCK_MONOTONIC */

/* ---- scale factors ---- */
double mt_time_scale(void);      /* multiply generous time bounds by this */
double mt_hang_scale(void);      /* watchdog deadlines (smaller than time scale) */
unsigned mt_iters(unsigned n);   /* n scaled by MOCKIT_TEST_SCALE and the tool */
bool mt_under_valgrind(void);
const char *mt_sanitizer(void);  /* "", "asan" or "tsan" */
/* a generous bound: ms scaled by mt_time_scale(), in ns */
uint64_t mt_bound_ns(double ms);

/* Poll `cond` every 200 us until it holds or `ms` (scaled) have passed;
 * evaluates to the final value of cond. */
#define MT_WAIT_UNTIL(cond, ms) __extension__ ({                           \
        uint64_t mt_dl_ = mt_now_ns() + mt_bound_ns(ms);                   \
        while (!(cond) && mt_now_ns() < mt_dl_) mt_sleep_ns(200000);        \
        (cond); })

/* ---- watchdog: a thread (no SIGALRM: the tests use that signal) that
 * prints `what`, the threads of the process and (when gdb is around)
 * their stacks, then aborts, unless disarmed within `seconds` (scaled by
 * mt_hang_scale()).  A hang fails the test with evidence. ---- */
void mt_watchdog_arm(double seconds, const char *what);
void mt_watchdog_disarm(void);
/* cmocka fixtures arming the watchdog with 20 s around each test */
int mt_setup(void **state);
int mt_teardown(void **state);
#define MT_TEST(f) cmocka_unit_test_setup_teardown(f, mt_setup, mt_teardown)
/* a named variant of a parametrised test: *state is &v in the test */
#define MT_VTEST(f, v) { #f "_" #v, f, mt_setup, mt_teardown, (void *)&(v) }

/* ---- threads of this process ---- */
int mt_threads_total(void);               /* "Threads:" of /proc/self/status */
/* Library threads: those whose comm starts with "mockit".  Returns their
 * number; *clocks (if not NULL) gets the number named "mockit-clock". */
int mt_lib_threads(int *clocks);
/* Calls fn for every thread of the process with its tid and comm; stops
 * and returns fn's value when it is not 0. */
int mt_foreach_task(int (*fn)(pid_t tid, const char *comm, void *arg), void *arg);
/* A field of /proc/self/task/<tid>/status as text (without the name),
 * into buf; 0 or -1. */
int mt_task_status_field(pid_t tid, const char *field, char *buf, size_t len);
pid_t mt_gettid(void);
/* The number of the system call thread `tid` is blocked in
 * (/proc/self/task/<tid>/syscall), or -1 while it runs or when unreadable */
long mt_task_syscall(pid_t tid);
/* ns the calling thread has spent runnable but without a CPU, so far
 * (run_delay of /proc/thread-self/schedstat); 0 where unreadable */
uint64_t mt_run_delay_ns(void);
/* pthread_create + pthread_setname_np(name), aborts on failure */
void mt_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg);

/* ---- assertions with values in the message ---- */
#define MT_ASSERT_CMP(a, op, b) do {                                         \
        long long mt_a_ = (long long)(a), mt_b_ = (long long)(b);           \
        if (!(mt_a_ op mt_b_))                                              \
            fail_msg("%s %s %s failed: %lld vs %lld", #a, #op, #b,          \
                     mt_a_, mt_b_);                                         \
    } while (0)
#define MT_ASSERT_UCMP(a, op, b) do {                                        \
        unsigned long long mt_a_ = (unsigned long long)(a),                 \
                           mt_b_ = (unsigned long long)(b);                 \
        if (!(mt_a_ op mt_b_))                                              \
            fail_msg("%s %s %s failed: %llu vs %llu", #a, #op, #b,          \
                     mt_a_, mt_b_);                                         \
    } while (0)

/* ---- interval logs: callbacks append, the test thread analyses after
 * Mockit_destroy returned (which orders the writes before the reads) ---- */
typedef struct {
    uint64_t t;        /* CLOCK_MONOTONIC on entry to the callback */
    uint64_t t_exit;   /* just before the callback returns (0: not taken) */
    int ov;            /* Mockit_overrun(arg) inside the callback */
    int err;           /* errno after it when it returned -1 */
} mt_tick;

typedef struct {
    mt_tick *e;
    unsigned cap;
    unsigned n;        /* slots taken (atomic: __atomic builtins) */
    unsigned done;     /* entries completely written (atomic) */
} mt_log;
#define MT_LOG_INIT(array) { .e = (array), .cap = sizeof(array) / sizeof((array)[0]) }

/* appends and returns the index (entries past cap are counted, not kept) */
unsigned mt_log_add(mt_log *l, uint64_t t, int ov, int err);
/* inside d's callback, entered at t: appends t with Mockit_overrun(d) (and
 * errno when that is -1) */
struct data;
unsigned mt_log_call(mt_log *l, uint64_t t, const struct data *d);
/* entries completely written; with one writer at a time (one timer never
 * overlaps itself) entries [0, count) may be read once count was seen */
unsigned mt_log_count(const mt_log *l);

/* The k-th call of an interval timer of period P armed at `origin` (read
 * before the arm call) represents grid point G_k = sum_{j<=k} (1 + ov_j):
 * the grid points it merged.  Never early (strict): t_k >= origin + G_k*P. */
typedef struct {
    unsigned calls;          /* calls analysed (min(n, cap)) */
    uint64_t g_last;         /* G of the last call: sum of (1 + overrun) */
    int first_early;         /* index of the first early call, -1: none */
    int64_t early_by_ns;     /* how early that one was */
    int first_bad_ov;        /* index of the first overrun < 0, -1: none */
    uint64_t max_late_ns;    /* largest t_k - due(G_k) */
    int max_late_index;
    /* largest t_k - due(g), g the first grid point the call could have
     * served: the one after G_{k-1}, or, when call k-1 logged its exit, the
     * first one after that exit (the library never overlaps a timer and
     * skips what passed meanwhile).  Unlike max_late_ns this is not capped
     * at one period by the merging of missed grid points. */
    uint64_t max_wait_ns;
    int max_wait_index;
    /* TIM-03's fit of e_k = t_k - due(G_k) against G_k: least-squares
     * slope (ns per grid point; 0 with fewer than 2 calls) and the mean of
     * e_k over the last (up to) 100 calls */
    double drift_slope_ns;
    double mean_err_last100_ns;
    uint64_t mean_late_last_ns;   /* mean lateness of the last (up to) 20 calls */
    uint64_t mean_late_early_ns;  /* mean lateness of calls 2..21 */
    int first_burst;         /* index k: due(G_k) < t_exit(k-1) even from origin_hi, -1: none */
} mt_grid;
/* origin: CLOCK_MONOTONIC read just before the arm call (never-early and
 * lateness use it); origin_hi: read just after it returned (the library's
 * own origin lies between the two; the burst check uses origin_hi so that
 * a slow arm call cannot make a false burst).  0 for origin_hi: origin. */
void mt_grid_analyse(const mt_log *l, uint64_t origin, uint64_t origin_hi, uint64_t period_ns,
                     mt_grid *g);

/* tiny deterministic PRNG (xorshift64*), seed printed by mt_seed() */
uint64_t mt_seed(void);                   /* MOCKIT_TEST_SEED or time based */
uint64_t mt_rand(uint64_t *state);
unsigned mt_rand_below(uint64_t *state, unsigned n);

#endif /* MOCKIT_MTEST_H */
