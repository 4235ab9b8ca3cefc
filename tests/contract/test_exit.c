/*
 * test-exit: "exit() with timers armed is clean" (SPEC 2, process hygiene).
 * RELIABILITY LIFE-09.  Runs mockit-exit-helper (argv[1]) in fresh
 * processes: 1000 timers armed, slow callbacks running, then return from
 * main / exit(0) / exit(0) from another thread.  Each must exit with
 * status 0 within 1 s of announcing it leaves.
 */
#include "mtest.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *helper;
extern char **environ;

static void run_helper(const char *mode) {
    int fds[2];
    assert_int_equal(0, pipe(fds));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    char *argv[] = { (char *)helper, (char *)mode, NULL };
    pid_t pid;
    int rc = posix_spawn(&pid, helper, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc) fail_msg("posix_spawn %s: %s", helper, strerror(rc));

    struct pollfd p = { fds[0], POLLIN, 0 };
    int pr = poll(&p, 1, (int)(5000 * mt_time_scale()));
    char c;
    bool announced = pr == 1 && read(fds[0], &c, 1) == 1;
    uint64_t t_leave = mt_now_ns();
    close(fds[0]);

    uint64_t dl = t_leave + mt_bound_ns(1000);
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && mt_now_ns() < dl) mt_sleep_ms(1);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("%s %s: still running %.0f ms after it began to leave", helper, mode,
                 1000 * mt_time_scale());
    }
    if (!announced) fail_msg("%s %s: ended before arming everything (status 0x%x)", helper, mode, status);
    if (WIFSIGNALED(status)) fail_msg("%s %s: killed by signal %d", helper, mode, WTERMSIG(status));
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0) fail_msg("%s %s: exit status %d", helper, mode, WEXITSTATUS(status));
}

static void test_LIFE09_exit_with_timers_armed(void **state) {
    const char *mode = *state;
    unsigned n = mt_iters(8);
    for (unsigned i = 0; i < n; i++) run_helper(mode);
}

static const char m_return[] = "return", m_exit_main[] = "exit-main", m_exit_thread[] = "exit-thread";

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-mockit-exit-helper\n", argv[0]);
        return 2;
    }
    helper = argv[1];
    const struct CMUnitTest tests[] = {
        { "test_LIFE09_exit_with_timers_armed_return", test_LIFE09_exit_with_timers_armed,
          mt_setup, mt_teardown, (void *)m_return },
        { "test_LIFE09_exit_with_timers_armed_exit_main", test_LIFE09_exit_with_timers_armed,
          mt_setup, mt_teardown, (void *)m_exit_main },
        { "test_LIFE09_exit_with_timers_armed_exit_thread", test_LIFE09_exit_with_timers_armed,
          mt_setup, mt_teardown, (void *)m_exit_thread },
    };
    return cmocka_run_group_tests_name("exit", tests, NULL, NULL);
}
