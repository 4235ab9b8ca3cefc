/*
 * mtest.c - see mtest.h.
 */
#include "mtest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mockit.h>

/* ---- clocks ---- */

uint64_t mt_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void mt_sleep_until_ns(uint64_t t) {
    struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };
    /* never short: whatever clock_nanosleep returns (EINTR; under valgrind
     * even garbage, see test_FLT07_callback_syscalls_undisturbed) */
    while (mt_now_ns() < t) clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void mt_sleep_ns(uint64_t ns) { mt_sleep_until_ns(mt_now_ns() + ns); }

void mt_sleep_ms(double ms) { mt_sleep_ns((uint64_t)(ms * 1e6)); }

/* ---- scale ---- */

bool mt_under_valgrind(void) {
    const char *v = getenv("MOCKIT_UNDER_VALGRIND");
    return v && *v && strcmp(v, "0") != 0;
}

const char *mt_sanitizer(void) {
    const char *v = getenv("MOCKIT_UNDER_SANITIZER");
    return v ? v : "";
}

double mt_time_scale(void) {
    const char *o = getenv("MOCKIT_TEST_TIME_SCALE");
    if (o && atof(o) > 0) return atof(o);
    if (mt_under_valgrind()) return 20.0;
    if (strcmp(mt_sanitizer(), "tsan") == 0) return 5.0;
    if (strcmp(mt_sanitizer(), "asan") == 0) return 3.0;
    return 1.0;
}

double mt_hang_scale(void) {
    if (mt_under_valgrind()) return 10.0;
    if (*mt_sanitizer()) return 3.0;
    return 1.0;
}

uint64_t mt_bound_ns(double ms) { return (uint64_t)(ms * mt_time_scale() * 1e6); }

unsigned mt_iters(unsigned n) {
    const char *s = getenv("MOCKIT_TEST_SCALE");
    unsigned long k = s && atol(s) > 0 ? (unsigned long)atol(s) : 1;
    unsigned long r = n * k;
    if (mt_under_valgrind()) r /= 10;
    else if (strcmp(mt_sanitizer(), "tsan") == 0) r /= 4;
    return r ? (unsigned)r : 1;
}

/* ---- threads ---- */

pid_t mt_gettid(void) { return (pid_t)syscall(SYS_gettid); }

void mt_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg) {
    int rc = pthread_create(t, NULL, fn, arg);
    if (rc) {
        fprintf(stderr, "mtest: pthread_create: %s\n", strerror(rc));
        abort();
    }
    pthread_setname_np(*t, name);
}

static int read_small(const char *path, char *buf, size_t len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return (int)n;
}

long mt_task_syscall(pid_t tid) {
    char path[64], text[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    if (read_small(path, text, sizeof text) < 0 || text[0] < '0' || text[0] > '9') return -1;   /* "running" */
    return atol(text);
}

uint64_t mt_run_delay_ns(void) {
    char text[128];
    unsigned long long on_cpu = 0, waited = 0;
    if (read_small("/proc/thread-self/schedstat", text, sizeof text) < 0) return 0;
    if (sscanf(text, "%llu %llu", &on_cpu, &waited) != 2) return 0;
    return waited;
}

int mt_foreach_task(int (*fn)(pid_t tid, const char *comm, void *arg), void *arg) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], comm[64];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        if (read_small(path, comm, sizeof comm) < 0) continue;  /* thread gone */
        comm[strcspn(comm, "\n")] = 0;
        rc = fn((pid_t)atoi(e->d_name), comm, arg);
    }
    closedir(d);
    return rc;
}

struct lib_count { int all, clocks; };

static int count_lib(pid_t tid, const char *comm, void *arg) {
    (void)tid;
    struct lib_count *c = arg;
    if (strncmp(comm, "mockit", 6) == 0) {
        c->all++;
        if (strcmp(comm, "mockit-clock") == 0) c->clocks++;
    }
    return 0;
}

int mt_lib_threads(int *clocks) {
    struct lib_count c = { 0, 0 };
    mt_foreach_task(count_lib, &c);
    if (clocks) *clocks = c.clocks;
    return c.all;
}

int mt_task_status_field(pid_t tid, const char *field, char *buf, size_t len) {
    char path[128], text[4096];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    if (read_small(path, text, sizeof text) < 0) return -1;
    size_t fl = strlen(field);
    for (char *line = text; line && *line; ) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            char *v = line + fl + 1;
            while (*v == ' ' || *v == '\t') v++;
            size_t n = nl ? (size_t)(nl - v) : strlen(v);
            if (n >= len) n = len - 1;
            memcpy(buf, v, n);
            buf[n] = 0;
            return 0;
        }
        line = nl ? nl + 1 : NULL;
    }
    return -1;
}

int mt_threads_total(void) {
    char text[4096];
    if (read_small("/proc/self/status", text, sizeof text) < 0) return -1;
    char *p = strstr(text, "\nThreads:");
    return p ? atoi(p + 9) : -1;
}

/* ---- watchdog ---- */

static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;
static bool wd_cv_ready;           /* wd_cv initialised (in this process) */
static bool wd_started;
static __thread bool wd_self;      /* this is the watchdog thread */
static uint64_t wd_deadline;       /* 0: disarmed */
static double wd_secs;
static char wd_what[200];

static int print_task(pid_t tid, const char *comm, void *arg) {
    (void)arg;
    char path[128], wchan[64] = "?", state[64] = "?";
    snprintf(path, sizeof path, "/proc/self/task/%d/wchan", (int)tid);
    read_small(path, wchan, sizeof wchan);
    mt_task_status_field(tid, "State", state, sizeof state);
    fprintf(stderr, "  tid %d comm %-16s state %-14s wchan %s\n", (int)tid, comm, state, wchan);
    return 0;
}

static void wd_fire(void) {
    fprintf(stderr, "\nWATCHDOG: '%s' still running after %.1f s: a hang. Threads:\n",
            wd_what, wd_secs);
    mt_foreach_task(print_task, NULL);
    if (!mt_under_valgrind() && access("/usr/bin/gdb", X_OK) == 0) {
        prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
        char pid[32];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        pid_t c = fork();
        if (c == 0) {
            dup2(2, 1);
            execl("/usr/bin/timeout", "timeout", "30", "/usr/bin/gdb", "-q", "-batch", "-p", pid,
                  "-ex", "thread apply all bt", (char *)NULL);
            _exit(127);
        }
        if (c > 0) waitpid(c, NULL, 0);
    }
    fflush(stderr);
    abort();
}

static void *wd_main(void *arg) {
    (void)arg;
    wd_self = true;
    pthread_mutex_lock(&wd_mu);
    for (;;) {
        if (!wd_deadline) {
            pthread_cond_wait(&wd_cv, &wd_mu);
            continue;
        }
        struct timespec ts = { (time_t)(wd_deadline / 1000000000ull),
                               (long)(wd_deadline % 1000000000ull) };
        pthread_cond_timedwait(&wd_cv, &wd_mu, &ts);
        if (wd_deadline && mt_now_ns() >= wd_deadline) wd_fire();
    }
    return NULL;
}

/* fork: the forking thread holds wd_mu across fork() (the pthread_atfork
 * way), so the child's reset is ordered after the watchdog thread's last
 * use of the state (helgrind/drd see that; a re-initialised mutex they
 * would take for the old one, maybe held).  The watchdog thread itself
 * forks (wd_fire, for gdb) with wd_mu held: it does not take it again. */
static void wd_prepare(void) {
    if (!wd_self) pthread_mutex_lock(&wd_mu);
}

static void wd_parent(void) {
    if (!wd_self) pthread_mutex_unlock(&wd_mu);
}

static void wd_child(void) {
    /* the watchdog thread does not exist in a fork child; wd_cv may count
     * it as a waiter, so it is made again */
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&wd_cv, &a);
    pthread_condattr_destroy(&a);
    wd_cv_ready = true;
    wd_started = false;
    wd_deadline = 0;
    if (!wd_self) pthread_mutex_unlock(&wd_mu);
}

void mt_watchdog_arm(double seconds, const char *what) {
    pthread_mutex_lock(&wd_mu);
    if (!wd_started) {
        if (!wd_cv_ready) {
            pthread_condattr_t a;
            pthread_condattr_init(&a);
            pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
            pthread_cond_init(&wd_cv, &a);
            pthread_condattr_destroy(&a);
            wd_cv_ready = true;
        }
        static bool atfork_done;
        if (!atfork_done) {
            pthread_atfork(wd_prepare, wd_parent, wd_child);
            atfork_done = true;
        }
        /* every signal blocked: signals the tests send go to test threads */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_t t;
        mt_thread_start(&t, "mt-watchdog", wd_main, NULL);
        pthread_detach(t);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        wd_started = true;
    }
    wd_secs = seconds * mt_hang_scale();
    wd_deadline = mt_now_ns() + (uint64_t)(wd_secs * 1e9);
    snprintf(wd_what, sizeof wd_what, "%s", what ? what : "test");
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
}

void mt_watchdog_disarm(void) {
    pthread_mutex_lock(&wd_mu);
    wd_deadline = 0;
    pthread_cond_signal(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
}

int mt_setup(void **state) {
    (void)state;
    mt_watchdog_arm(20, "a contract test");
    return 0;
}

int mt_teardown(void **state) {
    (void)state;
    mt_watchdog_disarm();
    return 0;
}

/* ---- randomness ---- */

static uint64_t seed_value;

static void seed_once(void) {
    const char *s = getenv("MOCKIT_TEST_SEED");
    seed_value = s && *s ? strtoull(s, NULL, 0) : (mt_now_ns() ^ ((uint64_t)getpid() << 32));
    if (!seed_value) seed_value = 1;
    fprintf(stderr, "MOCKIT_TEST_SEED=%" PRIu64 "\n", seed_value);
#ifdef MT_HB_ANNOTATED
    ANNOTATE_HAPPENS_BEFORE((void *)&seed_value);   /* helgrind: pthread_once is opaque */
#endif
}

uint64_t mt_seed(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, seed_once);
#ifdef MT_HB_ANNOTATED
    ANNOTATE_HAPPENS_AFTER((void *)&seed_value);
#endif
    return seed_value;
}

uint64_t mt_rand(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

unsigned mt_rand_below(uint64_t *s, unsigned n) { return n ? (unsigned)(mt_rand(s) % n) : 0; }

/* ---- interval logs ---- */

unsigned mt_log_call(mt_log *l, uint64_t t, const struct data *d) {
    int ov = Mockit_overrun(d);
    return mt_log_add(l, t, ov, ov < 0 ? errno : 0);
}

unsigned mt_log_add(mt_log *l, uint64_t t, int ov, int err) {
    unsigned i = __atomic_fetch_add(&l->n, 1, __ATOMIC_SEQ_CST);
    if (i < l->cap) {
        l->e[i].t = t;
        l->e[i].ov = ov;
        l->e[i].err = err;
        l->e[i].t_exit = 0;
    }
#ifdef MT_HB_ANNOTATED
    ANNOTATE_HAPPENS_BEFORE((void *)&l->done);   /* the entry is published (mt_hb.h) */
#endif
    __atomic_fetch_add(&l->done, 1, __ATOMIC_SEQ_CST);
    return i;
}

unsigned mt_log_count(const mt_log *l) {
    unsigned n = __atomic_load_n(&l->done, __ATOMIC_SEQ_CST);
#ifdef MT_HB_ANNOTATED
    ANNOTATE_HAPPENS_AFTER((void *)&l->done);
#endif
    return n;
}

void mt_grid_analyse(const mt_log *l, uint64_t origin, uint64_t origin_hi, uint64_t period_ns,
                     mt_grid *g) {
    if (origin_hi < origin) origin_hi = origin;
    memset(g, 0, sizeof *g);
    g->first_early = g->first_bad_ov = g->first_burst = g->max_late_index = g->max_wait_index = -1;
    unsigned n = mt_log_count(l);
    if (n > l->cap) n = l->cap;
    g->calls = n;
    uint64_t G = 0, sum_last = 0, sum_early = 0;
    unsigned n_last = 0, n_early = 0, n_fit_last = 0;
    double sx = 0, sy = 0, sxx = 0, sxy = 0, sum_fit_last = 0;
    for (unsigned k = 0; k < n; k++) {
        const mt_tick *e = &l->e[k];
        if (e->ov < 0 && g->first_bad_ov < 0) g->first_bad_ov = (int)k;
        uint64_t g_min = G + 1;   /* the first grid point this call could serve */
        if (k > 0 && l->e[k - 1].t_exit > origin + g_min * period_ns)
            g_min = (l->e[k - 1].t_exit - origin + period_ns - 1) / period_ns;
        G += 1 + (uint64_t)(e->ov > 0 ? e->ov : 0);
        if (g_min > G) g_min = G;
        uint64_t first_due = origin + g_min * period_ns;
        double err = (double)e->t - (double)(origin + G * period_ns), x = (double)G;
        sx += x; sy += err; sxx += x * x; sxy += x * err;
        if (k + 100 >= n) { sum_fit_last += err; n_fit_last++; }
        if (e->t >= first_due && (e->t - first_due > g->max_wait_ns || g->max_wait_index < 0)) {
            g->max_wait_ns = e->t - first_due;
            g->max_wait_index = (int)k;
        }
        uint64_t due = origin + G * period_ns;
        if (e->t < due) {
            if (g->first_early < 0) {
                g->first_early = (int)k;
                g->early_by_ns = (int64_t)(due - e->t);
            }
            continue;
        }
        uint64_t late = e->t - due;
        if (late > g->max_late_ns || g->max_late_index < 0) {
            g->max_late_ns = late;
            g->max_late_index = (int)k;
        }
        if (k + 20 >= n) { sum_last += late; n_last++; }
        if (k >= 1 && k <= 20) { sum_early += late; n_early++; }
        if (k > 0 && l->e[k - 1].t_exit && origin_hi + G * period_ns < l->e[k - 1].t_exit &&
            g->first_burst < 0)
            g->first_burst = (int)k;
    }
    g->g_last = G;
    if (n > 1) g->drift_slope_ns = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    g->mean_err_last100_ns = n_fit_last ? sum_fit_last / n_fit_last : 0;
    g->mean_late_last_ns = n_last ? sum_last / n_last : 0;
    g->mean_late_early_ns = n_early ? sum_early / n_early : 0;
}
