/*
 * rel.h - helpers of the reliability tests (RELIABILITY.md part B), on top
 * of tests/common/mtest.h: process resources (fds, kernel POSIX timers,
 * RSS, context switches of library threads) and fresh child processes.
 *
 * Fresh processes: every rel-* program starts with rel_main_prologue(),
 * which runs `prog --child MODE ARGS...` through the program's child
 * table instead of the CMocka group.  rel_spawn() starts such a child with
 * posix_spawn (no fork of a threaded parent: fine under TSan too).
 */
#ifndef MOCKIT_REL_H
#define MOCKIT_REL_H

#include "mtest.h"

#include <stdint.h>
#include <sys/types.h>

/* ---- process resources ---- */
int rel_fd_count(void);                 /* entries of /proc/self/fd */
/* kernel POSIX timers of this process (/proc/self/timers "ID:" lines);
 * -1 when the kernel does not provide the file */
int rel_ktimer_count(void);
long rel_rss_kb(void);                  /* VmRSS of /proc/self/status */
long rel_rss_anon_kb(void);             /* RssAnon: the part a leak grows */
/* voluntary + nonvoluntary context switches summed over the threads whose
 * comm starts with "mockit"; *threads (if not NULL) gets their number */
unsigned long long rel_lib_ctxsw(int *threads);
/* of those, the voluntary ones: a thread blocked (woken later), not preempted */
unsigned long long rel_lib_voluntary_ctxsw(void);
/* SigBlk of every library thread covers every signal 1..SIGRTMAX except
 * SIGKILL, SIGSTOP and glibc's two internal ones; returns the number of
 * library threads seen, or -1 (and a message in why) when one does not */
int rel_lib_threads_block_all(char *why, size_t len);
/* the tid of the thread named "mockit-clock", 0 if none */
pid_t rel_clock_tid(void);

/* ---- fresh processes ---- */
typedef int (*rel_child_fn)(int argc, char **argv);   /* argv after MODE */
struct rel_child { const char *mode; rel_child_fn fn; };

/* Call first in main(): records argv[0]; when argv is `--child MODE ...`
 * runs that child and returns 1 with its exit status in *status.  Also
 * applies argv[1] as a CMocka test filter (cmocka_set_test_filter) when it
 * is not --child.  Returns 0 when main should run the CMocka group. */
int rel_main_prologue(int argc, char **argv, const struct rel_child *children, int *status);

/* Start `self --child mode args...` (args NULL-terminated, may be NULL);
 * stdout of the child goes to *out_fd (a pipe, read end) if out_fd is not
 * NULL.  Returns the pid (aborts the test on failure). */
pid_t rel_spawn(const char *mode, char *const args[], int *out_fd);

/* Wait for pid at most ms (scaled by mt_time_scale()).  Returns the wait
 * status; on time-out kills it with SIGKILL and returns -1.  *took_ns gets
 * the time until it ended (if not NULL). */
int rel_wait(pid_t pid, double ms, uint64_t *took_ns);

/* Convenience: spawn, wait (ms), fail the test unless it exited with
 * `want` (describe names the run in the message). */
void rel_run_child_expect(const char *mode, char *const args[], double ms, int want,
                          const char *describe);

/* true under TSan: fork-based checks skip themselves */
bool rel_skip_fork(void);

#endif /* MOCKIT_REL_H */
