/*
 * rel-flt06e: RELIABILITY.md FLT-06 (e), programs started from inside a
 * callback.
 *
 * Library threads block every signal they can (mockit(3), Threads), and a
 * new program inherits the signal mask of the thread that started it.  So
 * a program started from a callback with posix_spawn(3), or with fork(2)
 * and execve(2), runs with the mask mockit(3) documents: every signal
 * blocked but SIGKILL and SIGSTOP (which cannot be) and glibc's two
 * internal real-time signals 32 and 33 -- `SigBlk: fffffffe7ffbfeff` in
 * /proc/PID/status with 64 signals.  The documented remedy,
 * POSIX_SPAWN_SETSIGMASK with an empty mask, gives the program an empty
 * mask.  The program is /bin/cat /proc/self/status; its output comes back
 * through a pipe and the test thread reads its SigBlk line.
 *
 * Spawning from the test thread is the control (an empty mask).  Fork and
 * spawn checks skip themselves under TSan like the other fork tests.
 */
#include "rel.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mockit.h>

extern char **environ;

#define CAT "/bin/cat"

/* The mask mockit(3) documents for library threads, as the kernel shows it
 * in SigBlk: bit s-1 for every signal s in 1..SIGRTMAX except SIGKILL,
 * SIGSTOP and glibc's internal 32 (SIGCANCEL) and 33 (SIGSETXID), which
 * pthread_sigmask(3) never blocks. */
static unsigned long long documented_mask(void) {
    unsigned long long m = 0;
    for (int s = 1; s <= SIGRTMAX; s++) {
        if (s == SIGKILL || s == SIGSTOP || s == 32 || s == 33) continue;
        m |= 1ull << (s - 1);
    }
    return m;
}

enum how { SPAWN_PLAIN, SPAWN_SETSIGMASK, FORK_EXEC };

struct job {
    enum how how;
    int out_w;               /* write end of the pipe: the program's stdout */
    _Atomic pid_t pid;       /* set by the callback: > 0 started, < 0 -errno */
};

/* Starts CAT /proc/self/status with stdout on j->out_w. */
static pid_t start_cat(struct job *j) {
    char *argv[] = { (char *)"cat", (char *)"/proc/self/status", NULL };
    pid_t pid = -1;
    int rc;
    if (j->how == FORK_EXEC) {
        pid = fork();
        if (pid == 0) {
            dup2(j->out_w, 1);
            execve(CAT, argv, environ);
            _exit(127);
        }
        return pid < 0 ? -errno : pid;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, j->out_w, 1);
    posix_spawnattr_init(&at);
    if (j->how == SPAWN_SETSIGMASK) {
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    }
    rc = posix_spawn(&pid, CAT, &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc ? -rc : pid;
}

static void *spawning_cb(void *arg) {
    struct data *d = arg;
    struct job *j = d->stuff;
    atomic_store(&j->pid, start_cat(j));
    return NULL;
}

/* Reads all of fd (closes it) and returns the SigBlk value; fails the test
 * when there is none. */
static unsigned long long read_sigblk(int fd, char *line, size_t len) {
    static char buf[1 << 14];
    size_t got = 0;
    ssize_t n;
    while (got + 1 < sizeof buf && (n = read(fd, buf + got, sizeof buf - 1 - got)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_msg("read: %s", strerror(errno));
        }
        got += (size_t)n;
    }
    buf[got] = 0;
    close(fd);
    char *p = strstr(buf, "\nSigBlk:");
    if (!p) fail_msg("no SigBlk line in the program's /proc/self/status (%zu bytes)", got);
    p += 8;
    while (*p == ' ' || *p == '\t') p++;
    size_t k = strcspn(p, "\n");
    snprintf(line, len, "%.*s", (int)k, p);
    return strtoull(p, NULL, 16);
}

/* Starts the program (from a callback when in_cb) and returns its SigBlk. */
static unsigned long long sigblk_of_child(enum how how, bool in_cb, char *line, size_t len) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) fail_msg("pipe2: %s", strerror(errno));
    static struct job j;
    static struct data d;
    j.how = how;
    j.out_w = p[1];
    atomic_store(&j.pid, 0);
    fflush(NULL);
    if (in_cb) {
        d = (struct data){ .cb = spawning_cb, .stuff = &j };
        assert_int_equal(0, Mockit_oneoff(0, &d));
        if (!MT_WAIT_UNTIL(atomic_load(&j.pid) != 0, 2000)) fail_msg("the spawning callback did not run");
    } else {
        atomic_store(&j.pid, start_cat(&j));
    }
    close(p[1]);
    pid_t pid = atomic_load(&j.pid);
    if (pid < 0) fail_msg("starting %s: %s", CAT, strerror((int)-pid));
    unsigned long long m = read_sigblk(p[0], line, len);
    int st = rel_wait(pid, 5000, NULL);
    if (st == -1) fail_msg("%s hung", CAT);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("%s: wait status %#x", CAT, st);
    return m;
}

static void skip_spawn(void) {
    if (rel_skip_fork()) {
        print_message("# skipped: fork/spawn under TSan\n");
        skip();
    }
}

static void test_FLT06e_control_spawn_from_main_thread_empty_mask(void **state) {
    (void)state;
    skip_spawn();
    char line[64];
    unsigned long long m = sigblk_of_child(SPAWN_PLAIN, false, line, sizeof line);
    print_message("# posix_spawn from the test thread: SigBlk %s\n", line);
    MT_ASSERT_UCMP(m, ==, 0);
}

static void test_FLT06e_posix_spawn_in_callback_inherits_documented_mask(void **state) {
    (void)state;
    skip_spawn();
    char line[64];
    unsigned long long m = sigblk_of_child(SPAWN_PLAIN, true, line, sizeof line);
    print_message("# posix_spawn from a callback: SigBlk %s (mockit(3): %016llx)\n", line,
                  documented_mask());
    if (m != documented_mask())
        fail_msg("SigBlk %s of a program spawned from a callback, mockit(3) documents %016llx", line,
                 documented_mask());
}

static void test_FLT06e_posix_spawn_setsigmask_in_callback_empty_mask(void **state) {
    (void)state;
    skip_spawn();
    char line[64];
    unsigned long long m = sigblk_of_child(SPAWN_SETSIGMASK, true, line, sizeof line);
    print_message("# posix_spawn + POSIX_SPAWN_SETSIGMASK (empty) from a callback: SigBlk %s\n", line);
    MT_ASSERT_UCMP(m, ==, 0);
}

static void test_FLT06e_fork_execve_in_callback_inherits_documented_mask(void **state) {
    (void)state;
    skip_spawn();
    char line[64];
    unsigned long long m = sigblk_of_child(FORK_EXEC, true, line, sizeof line);
    print_message("# fork + execve from a callback: SigBlk %s\n", line);
    if (m != documented_mask())
        fail_msg("SigBlk %s of a program forked and executed from a callback, mockit(3) documents %016llx",
                 line, documented_mask());
}

int main(int argc, char **argv) {
    int st;
    if (rel_main_prologue(argc, argv, NULL, &st)) return st;
    const struct CMUnitTest tests[] = {
        MT_TEST(test_FLT06e_control_spawn_from_main_thread_empty_mask),
        MT_TEST(test_FLT06e_posix_spawn_in_callback_inherits_documented_mask),
        MT_TEST(test_FLT06e_posix_spawn_setsigmask_in_callback_empty_mask),
        MT_TEST(test_FLT06e_fork_execve_in_callback_inherits_documented_mask),
    };
    return cmocka_run_group_tests_name("rel-flt06e", tests, NULL, NULL);
}
