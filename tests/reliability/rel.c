/*
 * rel.c - see rel.h.
 */
#include "rel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int read_file(const char *path, char *buf, size_t len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t got = 0;
    ssize_t n;
    while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0) got += (size_t)n;
    close(fd);
    buf[got] = 0;
    return (int)got;
}

int rel_fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1;   /* the directory's own descriptor */
}

int rel_ktimer_count(void) {
    static char buf[1 << 16];
    if (read_file("/proc/self/timers", buf, sizeof buf) < 0) return -1;
    int n = 0;
    for (char *p = buf; (p = strstr(p, "ID:")) != NULL; p += 3)
        if (p == buf || p[-1] == '\n') n++;
    return n;
}

/* a "kB" field of this process's status (VmRSS, RssAnon: the mm is shared) */
static long status_kib(const char *field) {
    char v[64];
    return mt_task_status_field(mt_gettid(), field, v, sizeof v) ? -1 : atol(v);
}

long rel_rss_kb(void) { return status_kib("VmRSS"); }

long rel_rss_anon_kb(void) { return status_kib("RssAnon"); }

struct ctxsw { unsigned long long sum, voluntary; int threads; };

static int add_ctxsw(pid_t tid, const char *comm, void *arg) {
    struct ctxsw *c = arg;
    if (strncmp(comm, "mockit", 6) != 0) return 0;
    char v[64], nv[64];
    if (mt_task_status_field(tid, "voluntary_ctxt_switches", v, sizeof v) ||
        mt_task_status_field(tid, "nonvoluntary_ctxt_switches", nv, sizeof nv))
        return 0;   /* the thread is gone */
    c->sum += strtoull(v, NULL, 10) + strtoull(nv, NULL, 10);
    c->voluntary += strtoull(v, NULL, 10);
    c->threads++;
    return 0;
}

unsigned long long rel_lib_ctxsw(int *threads) {
    struct ctxsw c = { 0, 0, 0 };
    mt_foreach_task(add_ctxsw, &c);
    if (threads) *threads = c.threads;
    return c.sum;
}

unsigned long long rel_lib_voluntary_ctxsw(void) {
    struct ctxsw c = { 0, 0, 0 };
    mt_foreach_task(add_ctxsw, &c);
    return c.voluntary;
}

struct blk { int seen; int bad; char *why; size_t len; };

static int check_blk(pid_t tid, const char *comm, void *arg) {
    struct blk *b = arg;
    if (strncmp(comm, "mockit", 6) != 0) return 0;
    char v[64];
    if (mt_task_status_field(tid, "SigBlk", v, sizeof v)) return 0;
    unsigned long long m = strtoull(v, NULL, 16);
    b->seen++;
    for (int s = 1; s <= SIGRTMAX; s++) {
        if (s == SIGKILL || s == SIGSTOP || s == 32 || s == 33) continue;
        if (!(m & (1ull << (s - 1)))) {
            if (!b->bad)
                snprintf(b->why, b->len, "%s (tid %d) does not block signal %d (SigBlk %s)", comm,
                         (int)tid, s, v);
            b->bad++;
            break;
        }
    }
    return 0;
}

int rel_lib_threads_block_all(char *why, size_t len) {
    struct blk b = { 0, 0, why, len };
    if (len) why[0] = 0;
    mt_foreach_task(check_blk, &b);
    return b.bad ? -1 : b.seen;
}

static int find_clock(pid_t tid, const char *comm, void *arg) {
    if (strcmp(comm, "mockit-clock") == 0) {
        *(pid_t *)arg = tid;
        return 1;
    }
    return 0;
}

pid_t rel_clock_tid(void) {
    pid_t t = 0;
    mt_foreach_task(find_clock, &t);
    return t;
}

/* ---- fresh processes ---- */

static char self_path[PATH_MAX];

int rel_main_prologue(int argc, char **argv, const struct rel_child *children, int *status) {
    if (!realpath(argv[0], self_path)) snprintf(self_path, sizeof self_path, "%s", argv[0]);
    if (argc >= 3 && strcmp(argv[1], "--child") == 0) {
        for (const struct rel_child *c = children; c && c->mode; c++)
            if (strcmp(c->mode, argv[2]) == 0) {
                *status = c->fn(argc - 3, argv + 3);
                return 1;
            }
        fprintf(stderr, "%s: unknown child mode %s\n", argv[0], argv[2]);
        *status = 2;
        return 1;
    }
    if (argc >= 2 && argv[1][0] != '-') cmocka_set_test_filter(argv[1]);
    return 0;
}

pid_t rel_spawn(const char *mode, char *const args[], int *out_fd) {
    char *argv[32];
    int n = 0;
    argv[n++] = self_path;
    argv[n++] = (char *)"--child";
    argv[n++] = (char *)mode;
    for (int i = 0; args && args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int fds[2] = { -1, -1 };
    if (out_fd) {
        if (pipe2(fds, O_CLOEXEC) != 0) fail_msg("pipe: %s", strerror(errno));
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    }
    pid_t pid;
    fflush(NULL);
    int rc = posix_spawn(&pid, self_path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (out_fd) {
        close(fds[1]);
        *out_fd = fds[0];
    }
    if (rc) fail_msg("posix_spawn %s --child %s: %s", self_path, mode, strerror(rc));
    return pid;
}

int rel_wait(pid_t pid, double ms, uint64_t *took_ns) {
    uint64_t t0 = mt_now_ns();
    uint64_t dl = t0 + mt_bound_ns(ms);
    int status = 0;
    pid_t r;
    unsigned naps = 0;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && mt_now_ns() < dl)
        mt_sleep_ns(naps++ < 50 ? 100000 : 1000000);
    if (took_ns) *took_ns = mt_now_ns() - t0;
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    return status;
}

void rel_run_child_expect(const char *mode, char *const args[], double ms, int want,
                          const char *describe) {
    pid_t pid = rel_spawn(mode, args, NULL);
    int st = rel_wait(pid, ms, NULL);
    if (st == -1) fail_msg("%s: child %s hung (killed after %.0f ms)", describe, mode, ms * mt_time_scale());
    if (WIFSIGNALED(st)) fail_msg("%s: child %s killed by signal %d", describe, mode, WTERMSIG(st));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != want)
        fail_msg("%s: child %s exit status %d, want %d", describe, mode, WEXITSTATUS(st), want);
}

bool rel_skip_fork(void) { return strcmp(mt_sanitizer(), "tsan") == 0; }
