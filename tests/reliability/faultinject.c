/*
 * faultinject.so - RELIABILITY.md FLT-09: an LD_PRELOAD interposer that
 * makes chosen calls fail, to drive libmockit through its error paths.
 *
 * Interposed: malloc, calloc, realloc (so operator new too, which calls
 * malloc: it throws std::bad_alloc, new(nothrow) returns NULL),
 * pthread_create (EAGAIN), timer_create (EAGAIN), timer_settime (EINVAL).
 *
 * Which call fails, per kind (malloc counts malloc+calloc+realloc):
 *   environment, counted from process start:
 *     MOCKIT_FI_MALLOC=N  MOCKIT_FI_PTHREAD_CREATE=N
 *     MOCKIT_FI_TIMER_CREATE=N  MOCKIT_FI_TIMER_SETTIME=N
 *     (the N-th call fails; MOCKIT_FI_PERSIST=1: it and all later ones)
 *   or at run time, from the program (found with dlsym(RTLD_DEFAULT)):
 *     void mockit_fi_set(int kind, long n, int persist);   counts restart at 0
 *                                        (n == 0 disarms and keeps the counts)
 *     long mockit_fi_calls(int kind);     calls seen since the last set
 *     long mockit_fi_failed(int kind);    calls made to fail since then
 *   kinds: 0 malloc, 1 pthread_create, 2 timer_create, 3 timer_settime.
 *
 * And delays, not failures (LOAD-04's regression tests: is an allocation,
 * or the setting of the kernel timer, made while the library holds its
 * lock?  A thread preempted there at nice 19 stalls every callback):
 *     void mockit_fi_slow(size_t min_bytes, long ms);   allocations of at
 *                                        least min_bytes sleep ms first (0: off)
 *     void mockit_fi_slow_settime(long ms);   timer_settime sleeps ms first (0: off)
 *     long mockit_fi_slowed_settime(void);    how many did since it was set
 *
 * And a count, for the same question about wake-ups and new threads (is
 * a thread woken or made by a system call made under the lock?):
 *     void mockit_fi_count_wakeups(int on);   counts restart at 0 when on
 *     void mockit_fi_wakeups(long out[5]);    wake-ups made (pthread_cond_signal
 *                                        or _broadcast, FUTEX_WAKE, tgkill
 *                                        through syscall()): in all, those made
 *                                        while the caller held a pthread mutex,
 *                                        the FUTEX_WAKEs; then pthread_create
 *                                        calls, and those made holding one
 * (pthread_mutex_lock, _trylock and _unlock are interposed for that: each
 * thread counts the mutexes it holds.)  While counting, allocations too:
 *     void mockit_fi_lib_allocs(long out[2]);   malloc/calloc/realloc calls
 *                                        made by the library's own threads
 *                                        (named "mockit-..."), and those made
 *                                        while such a thread held a mutex
 *
 * And a trace, for the soak (LOAD-05: which allocation made an RSS step?):
 *     MOCKIT_FI_TRACE_MIN=N   every allocation of at least N bytes, and the
 *                             free of such a block, is written to stderr
 *                             with the size and the thread's name
 *
 * And lock waits, for LOAD-04 (is a late callback a library thread that
 * waited for the lock, and who held it?):
 *     MOCKIT_FI_LOCKWAIT_MIN=MS   every pthread_mutex_lock that waited at
 *                             least MS ms is written to stderr, with the
 *                             waiter's name and the holder's (the mutex's
 *                             owner when the wait began), and every hold
 *                             of at least MS ms, after its unlock, with
 *                             the holder's CPU time and context switches
 *                             (fi-lockhold)
 *     void mockit_fi_lockwaits(long out[3]);   waits by the library's
 *                             threads: how many blocked, the longest (us),
 *                             the sum (us)
 *
 * And, for LOAD-04 again, an application thread preempted while it holds
 * a lock (at nice 19 beside busy processes it waits hundreds of ms for a
 * CPU), made on purpose:
 *     void mockit_fi_hold_locks(long ms);   every pthread_mutex_lock by a
 *                             thread that is not the library's returns
 *                             ms ms after it took the mutex (0: off)
 *     long mockit_fi_held_locks(void);      how many did since it was set
 * and the same for the library's followers (threads named "mockit-cb"):
 *     void mockit_fi_hold_follower_locks(long ms);
 *     long mockit_fi_held_follower_locks(void);
 */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <string.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FI_KINDS 4
enum { FI_MALLOC, FI_PTHREAD_CREATE, FI_TIMER_CREATE, FI_TIMER_SETTIME };

static atomic_long fi_n[FI_KINDS];       /* 0: off */
static atomic_int fi_persist[FI_KINDS];
static atomic_long fi_calls[FI_KINDS];
static atomic_long fi_failed[FI_KINDS];

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

__attribute__((visibility("default"))) void mockit_fi_set(int kind, long n, int persist) {
    if (kind < 0 || kind >= FI_KINDS) return;
    atomic_store(&fi_n[kind], 0);
    if (n == 0) return;   /* disarm: the counts stay readable */
    atomic_store(&fi_calls[kind], 0);
    atomic_store(&fi_failed[kind], 0);
    atomic_store(&fi_persist[kind], persist);
    atomic_store(&fi_n[kind], n);
}

__attribute__((visibility("default"))) long mockit_fi_calls(int kind) {
    return kind >= 0 && kind < FI_KINDS ? atomic_load(&fi_calls[kind]) : -1;
}

__attribute__((visibility("default"))) long mockit_fi_failed(int kind) {
    return kind >= 0 && kind < FI_KINDS ? atomic_load(&fi_failed[kind]) : -1;
}

static atomic_size_t fi_slow_min;
static atomic_long fi_slow_ms;

__attribute__((visibility("default"))) void mockit_fi_slow(size_t min_bytes, long ms) {
    atomic_store(&fi_slow_ms, 0);
    atomic_store(&fi_slow_min, min_bytes);
    atomic_store(&fi_slow_ms, ms);
}

static atomic_long fi_slow_settime_ms, fi_slowed_settime;

__attribute__((visibility("default"))) void mockit_fi_slow_settime(long ms) {
    if (ms > 0) atomic_store(&fi_slowed_settime, 0);   /* 0: off, the count stays readable */
    atomic_store(&fi_slow_settime_ms, ms);
}

__attribute__((visibility("default"))) long mockit_fi_slowed_settime(void) {
    return atomic_load(&fi_slowed_settime);
}

static void fi_sleep_ms(long ms) {
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static void fi_maybe_slow(size_t n) {
    long ms = atomic_load_explicit(&fi_slow_ms, memory_order_relaxed);
    if (ms <= 0 || n < atomic_load(&fi_slow_min)) return;
    fi_sleep_ms(ms);
}

static long env_long(const char *name) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : 0;
}

static size_t fi_trace_min;   /* 0: no trace */
static long fi_lockwait_min_ns;   /* 0: lock waits not timed */

__attribute__((constructor)) static void fi_init(void) {
    fi_trace_min = (size_t)env_long("MOCKIT_FI_TRACE_MIN");
    fi_lockwait_min_ns = env_long("MOCKIT_FI_LOCKWAIT_MIN") * 1000000L;
    if (getenv("MOCKIT_FI_LOCKWAIT_MIN") && fi_lockwait_min_ns == 0) fi_lockwait_min_ns = 1;
    int persist = env_long("MOCKIT_FI_PERSIST") != 0;
    const char *names[FI_KINDS] = { "MOCKIT_FI_MALLOC", "MOCKIT_FI_PTHREAD_CREATE",
                                    "MOCKIT_FI_TIMER_CREATE", "MOCKIT_FI_TIMER_SETTIME" };
    for (int k = 0; k < FI_KINDS; k++) {
        long n = env_long(names[k]);
        if (n > 0) {
            atomic_store(&fi_persist[k], persist);
            atomic_store(&fi_n[k], n);
        }
    }
}

/* true: make this call fail */
static int fi_hit(int kind) {
    long n = atomic_load_explicit(&fi_n[kind], memory_order_relaxed);
    if (n <= 0) return 0;
    long c = atomic_fetch_add(&fi_calls[kind], 1) + 1;
    int fail = atomic_load(&fi_persist[kind]) ? c >= n : c == n;
    if (fail) atomic_fetch_add(&fi_failed[kind], 1);
    return fail;
}

static void fi_alloc_seen(void);
static void fi_trace(const char *what, size_t n, void *p);

__attribute__((visibility("default"))) void *malloc(size_t n) {
    fi_maybe_slow(n);
    fi_alloc_seen();
    if (fi_hit(FI_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_malloc(n);
    if (fi_trace_min && n >= fi_trace_min) fi_trace("malloc", n, p);
    return p;
}

__attribute__((visibility("default"))) void *calloc(size_t a, size_t b) {
    size_t n;
    fi_maybe_slow(__builtin_mul_overflow(a, b, &n) ? SIZE_MAX : n);
    fi_alloc_seen();
    if (fi_hit(FI_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = __libc_calloc(a, b);
    if (fi_trace_min && n >= fi_trace_min) fi_trace("calloc", n, p);
    return p;
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t n) {
    fi_maybe_slow(n);
    fi_alloc_seen();
    if (fi_hit(FI_MALLOC)) {
        errno = ENOMEM;
        return NULL;
    }
    if (fi_trace_min && p && malloc_usable_size(p) >= fi_trace_min) fi_trace("realloc-from", 0, p);
    void *q = __libc_realloc(p, n);
    if (fi_trace_min && n >= fi_trace_min) fi_trace("realloc", n, q);
    return q;
}

__attribute__((visibility("default"))) void free(void *p) {
    if (fi_trace_min && p && malloc_usable_size(p) >= fi_trace_min) fi_trace("free", 0, p);
    __libc_free(p);
}

/* One line, written with write(2): stdio could allocate. */
static void fi_trace(const char *what, size_t n, void *p) {
    char name[17] = "";
    prctl(PR_GET_NAME, name);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    char line[160];
    int len = snprintf(line, sizeof line, "fi-trace: %ld.%03ld %s %zu %p %s\n", (long)t.tv_sec,
                       t.tv_nsec / 1000000, what, n, p, name);
    if (len > 0) (void)!write(2, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}

/* ---- wake-ups made while holding a mutex ---- */

static atomic_int fi_counting;
static atomic_long fi_wakeups, fi_wakeups_locked, fi_futex_wakes, fi_creates, fi_creates_locked;
static atomic_long fi_lib_allocs, fi_lib_allocs_locked;
static __thread int fi_held;   /* pthread mutexes this thread holds */

__attribute__((visibility("default"))) void mockit_fi_lib_allocs(long out[2]) {
    out[0] = atomic_load(&fi_lib_allocs);
    out[1] = atomic_load(&fi_lib_allocs_locked);
}

/* The calling thread is one of the library's ("mockit-..."); its name in `name`. */
static int fi_lib_thread(char name[17]) {
    prctl(PR_GET_NAME, name);
    return strncmp(name, "mockit-", 7) == 0;
}

static void fi_alloc_seen(void) {
    if (!atomic_load_explicit(&fi_counting, memory_order_relaxed)) return;
    char name[17] = "";
    if (!fi_lib_thread(name)) return;
    atomic_fetch_add(&fi_lib_allocs, 1);
    if (fi_held > 0) atomic_fetch_add(&fi_lib_allocs_locked, 1);
}

__attribute__((visibility("default"))) void mockit_fi_count_wakeups(int on) {
    if (on) {
        atomic_store(&fi_wakeups, 0);
        atomic_store(&fi_wakeups_locked, 0);
        atomic_store(&fi_futex_wakes, 0);
        atomic_store(&fi_creates, 0);
        atomic_store(&fi_creates_locked, 0);
        atomic_store(&fi_lib_allocs, 0);
        atomic_store(&fi_lib_allocs_locked, 0);
    }
    atomic_store(&fi_counting, on);
}

__attribute__((visibility("default"))) void mockit_fi_wakeups(long out[5]) {
    out[0] = atomic_load(&fi_wakeups);
    out[1] = atomic_load(&fi_wakeups_locked);
    out[2] = atomic_load(&fi_futex_wakes);
    out[3] = atomic_load(&fi_creates);
    out[4] = atomic_load(&fi_creates_locked);
}

static void fi_wakeup_seen(void) {
    if (!atomic_load_explicit(&fi_counting, memory_order_relaxed)) return;
    atomic_fetch_add(&fi_wakeups, 1);
    if (fi_held > 0) atomic_fetch_add(&fi_wakeups_locked, 1);
}

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
typedef int (*timer_create_fn)(clockid_t, struct sigevent *, timer_t *);
typedef int (*timer_settime_fn)(timer_t, int, const struct itimerspec *, struct itimerspec *);

__attribute__((visibility("default"))) int pthread_create(pthread_t *t, const pthread_attr_t *a,
                                                          void *(*fn)(void *), void *arg) {
    static _Atomic(pthread_create_fn) real;
    pthread_create_fn f = atomic_load(&real);
    if (!f) {
        f = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
        atomic_store(&real, f);
    }
    if (atomic_load_explicit(&fi_counting, memory_order_relaxed)) {
        atomic_fetch_add(&fi_creates, 1);
        if (fi_held > 0) atomic_fetch_add(&fi_creates_locked, 1);
    }
    if (fi_hit(FI_PTHREAD_CREATE)) return EAGAIN;
    return f(t, a, fn, arg);
}

__attribute__((visibility("default"))) int timer_create(clockid_t c, struct sigevent *sev, timer_t *t) {
    static _Atomic(timer_create_fn) real;
    timer_create_fn f = atomic_load(&real);
    if (!f) {
        f = (timer_create_fn)dlsym(RTLD_NEXT, "timer_create");
        atomic_store(&real, f);
    }
    if (fi_hit(FI_TIMER_CREATE)) {
        errno = EAGAIN;
        return -1;
    }
    return f(c, sev, t);
}

__attribute__((visibility("default"))) int timer_settime(timer_t t, int flags, const struct itimerspec *v,
                                                         struct itimerspec *old) {
    static _Atomic(timer_settime_fn) real;
    timer_settime_fn f = atomic_load(&real);
    if (!f) {
        f = (timer_settime_fn)dlsym(RTLD_NEXT, "timer_settime");
        atomic_store(&real, f);
    }
    if (fi_hit(FI_TIMER_SETTIME)) {
        errno = EINVAL;
        return -1;
    }
    long ms = atomic_load_explicit(&fi_slow_settime_ms, memory_order_relaxed);
    if (ms > 0) {
        atomic_fetch_add(&fi_slowed_settime, 1);
        fi_sleep_ms(ms);
    }
    return f(t, flags, v, old);
}

/* glibc exports these names of the real functions (no dlsym needed: it
 * may allocate, and malloc is interposed above) */
extern int __pthread_mutex_lock(pthread_mutex_t *);
extern int __pthread_mutex_trylock(pthread_mutex_t *);
extern int __pthread_mutex_unlock(pthread_mutex_t *);

static atomic_long fi_lib_waits, fi_lib_wait_max_us, fi_lib_wait_sum_us;

__attribute__((visibility("default"))) void mockit_fi_lockwaits(long out[3]) {
    out[0] = atomic_load(&fi_lib_waits);
    out[1] = atomic_load(&fi_lib_wait_max_us);
    out[2] = atomic_load(&fi_lib_wait_sum_us);
}

static long fi_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* A thread's name by its id, read without stdio (which may allocate). */
static void fi_task_name(int tid, char out[17]) {
    char path[48];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
    strcpy(out, "?");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, out, 16);
    close(fd);
    if (n <= 0) return;
    out[n] = 0;
    if (out[n - 1] == '\n') out[n - 1] = 0;
}

/* The lock, timed: only a lock that is taken already is waited for. */
static int fi_timed_lock(pthread_mutex_t *m) {
    int rc = __pthread_mutex_trylock(m);
    if (rc != EBUSY) return rc;
    int owner = m->__data.__owner;   /* glibc records it for every kind */
    long t0 = fi_now_ns();
    rc = __pthread_mutex_lock(m);
    long waited = fi_now_ns() - t0;
    char me[17] = "";
    if (fi_lib_thread(me)) {
        long us = waited / 1000, max = atomic_load(&fi_lib_wait_max_us);
        atomic_fetch_add(&fi_lib_waits, 1);
        atomic_fetch_add(&fi_lib_wait_sum_us, us);
        while (us > max && !atomic_compare_exchange_weak(&fi_lib_wait_max_us, &max, us)) {}
    }
    if (waited >= fi_lockwait_min_ns) {
        char holder[17];
        fi_task_name(owner, holder);
        char line[200];
        int len = snprintf(line, sizeof line, "fi-lockwait: %ld.%03ld %s waited %.3f ms for %p held by %d (%s)\n",
                           t0 / 1000000000L, t0 / 1000000 % 1000, me, (double)waited / 1e6, (void *)m, owner,
                           holder);
        if (len > 0) (void)!write(2, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
    }
    return rc;
}

/* Made-up preemptions inside a lock, for one kind of thread each. */
struct fi_holder {
    atomic_long ms;   /* every mutex taken stays held this long (0: off) */
    atomic_long n;    /* how many did since it was set */
};
static struct fi_holder fi_app_holder, fi_follower_holder;

static void fi_holder_set(struct fi_holder *h, long ms) {
    atomic_store(&h->n, 0);
    atomic_store(&h->ms, ms);
}

__attribute__((visibility("default"))) void mockit_fi_hold_locks(long ms) { fi_holder_set(&fi_app_holder, ms); }
__attribute__((visibility("default"))) long mockit_fi_held_locks(void) { return atomic_load(&fi_app_holder.n); }
__attribute__((visibility("default"))) void mockit_fi_hold_follower_locks(long ms) {
    fi_holder_set(&fi_follower_holder, ms);
}
__attribute__((visibility("default"))) long mockit_fi_held_follower_locks(void) {
    return atomic_load(&fi_follower_holder.n);
}

/* The holder for the calling thread, if one is on for its kind. */
static struct fi_holder *fi_holder_of_caller(void) {
    if (!atomic_load_explicit(&fi_app_holder.ms, memory_order_relaxed) &&
        !atomic_load_explicit(&fi_follower_holder.ms, memory_order_relaxed))
        return NULL;
    char name[17];
    struct fi_holder *h = !fi_lib_thread(name)                ? &fi_app_holder
                          : strcmp(name, "mockit-cb") == 0 ? &fi_follower_holder
                                                            : NULL;
    return h && atomic_load_explicit(&h->ms, memory_order_relaxed) > 0 ? h : NULL;
}

/* Holds, timed like the waits: a hold of at least MOCKIT_FI_LOCKWAIT_MIN
 * is written to stderr after its unlock, with the CPU time the holder
 * used and how often it was switched out, preempted (involuntary) or
 * asleep (voluntary: a condition wait lets go of the mutex inside), from
 * its lock call to its unlock.  So a long wait is told apart: a holder
 * kept off the CPU, a busy one, or the lock taken by others in turn.
 * The usage is read outside the hold (before the lock, after the unlock):
 * a system call inside it would be one more place to be preempted. */
struct fi_hold {
    pthread_mutex_t *m;
    long t0, cpu0, inv0, vol0;
};
static __thread struct fi_hold fi_holding[4];

/* One system call: CPU time and both switch counts.  The CPU time is as
 * the kernel last accounted it (at a tick or a switch), so a short hold
 * reads as the tick's worth or none: a hint, not a measure. */
static void fi_usage(long u[3]) {
    struct rusage r;
    getrusage(RUSAGE_THREAD, &r);
    u[0] = ((long)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000L + r.ru_utime.tv_usec + r.ru_stime.tv_usec) *
           1000L;
    u[1] = r.ru_nivcsw;
    u[2] = r.ru_nvcsw;
}

static void fi_hold_begin(pthread_mutex_t *m, const long u[3]) {
    for (int i = 0; i < 4; i++)
        if (!fi_holding[i].m) {
            fi_holding[i] = (struct fi_hold){ m, fi_now_ns(), u[0], u[1], u[2] };
            return;
        }
}

/* Before the unlock: the hold's length, and its record taken back. */
static long fi_hold_end(pthread_mutex_t *m, struct fi_hold *out) {
    for (int i = 0; i < 4; i++)
        if (fi_holding[i].m == m) {
            *out = fi_holding[i];
            fi_holding[i].m = NULL;
            return fi_now_ns() - out->t0;
        }
    return 0;
}

/* After the unlock. */
static void fi_hold_log(const struct fi_hold *h, long held) {
    long u[3];
    fi_usage(u);
    char me[17] = "";
    fi_lib_thread(me);
    char line[240];
    int len = snprintf(line, sizeof line,
                       "fi-lockhold: %ld.%03ld %d (%s) held %p %.3f ms; from its lock call to its unlock: "
                       "on the CPU %.3f ms, preempted %ld times, asleep %ld times\n",
                       h->t0 / 1000000000L, h->t0 / 1000000 % 1000, (int)gettid(), me, (void *)h->m,
                       (double)held / 1e6, (double)(u[0] - h->cpu0) / 1e6, u[1] - h->inv0, u[2] - h->vol0);
    if (len > 0) (void)!write(2, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}

__attribute__((visibility("default"))) int pthread_mutex_lock(pthread_mutex_t *m) {
    long u[3];
    if (fi_lockwait_min_ns) fi_usage(u);
    int rc = fi_lockwait_min_ns ? fi_timed_lock(m) : __pthread_mutex_lock(m);
    if (rc == 0) fi_held++;
    if (rc == 0 && fi_lockwait_min_ns) fi_hold_begin(m, u);
    struct fi_holder *h = rc == 0 ? fi_holder_of_caller() : NULL;
    if (h) {
        atomic_fetch_add(&h->n, 1);
        fi_sleep_ms(atomic_load(&h->ms));   /* "preempted" with the mutex held */
    }
    return rc;
}

__attribute__((visibility("default"))) int pthread_mutex_trylock(pthread_mutex_t *m) {
    long u[3];
    if (fi_lockwait_min_ns) fi_usage(u);
    int rc = __pthread_mutex_trylock(m);
    if (rc == 0) fi_held++;
    if (rc == 0 && fi_lockwait_min_ns) fi_hold_begin(m, u);
    return rc;
}

__attribute__((visibility("default"))) int pthread_mutex_unlock(pthread_mutex_t *m) {
    if (fi_held > 0) fi_held--;
    if (!fi_lockwait_min_ns) return __pthread_mutex_unlock(m);
    struct fi_hold h = { 0 };
    long held = fi_hold_end(m, &h);
    int rc = __pthread_mutex_unlock(m);
    if (held >= fi_lockwait_min_ns) fi_hold_log(&h, held);
    return rc;
}

typedef int (*cond_fn)(pthread_cond_t *);
static cond_fn fi_real_cond(const char *name, _Atomic(cond_fn) *cache) {
    cond_fn f = atomic_load(cache);
    if (!f) {
        f = (cond_fn)dlvsym(RTLD_NEXT, name, "GLIBC_2.3.2");
        if (!f) f = (cond_fn)dlsym(RTLD_NEXT, name);
        atomic_store(cache, f);
    }
    return f;
}

__attribute__((visibility("default"))) int pthread_cond_signal(pthread_cond_t *c) {
    static _Atomic(cond_fn) real;
    fi_wakeup_seen();
    return fi_real_cond("pthread_cond_signal", &real)(c);
}

__attribute__((visibility("default"))) int pthread_cond_broadcast(pthread_cond_t *c) {
    static _Atomic(cond_fn) real;
    fi_wakeup_seen();
    return fi_real_cond("pthread_cond_broadcast", &real)(c);
}

typedef long (*syscall_fn)(long, ...);
__attribute__((visibility("default"))) long syscall(long n, ...) {
    static _Atomic(syscall_fn) real;
    syscall_fn f = atomic_load(&real);
    if (!f) {
        f = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
        atomic_store(&real, f);
    }
    va_list ap;
    va_start(ap, n);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    if (n == SYS_futex && (a[1] & FUTEX_CMD_MASK) == FUTEX_WAKE) {
        if (atomic_load_explicit(&fi_counting, memory_order_relaxed)) atomic_fetch_add(&fi_futex_wakes, 1);
        fi_wakeup_seen();
    } else if (n == SYS_tgkill) {
        fi_wakeup_seen();
    }
    return f(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
