/*
 * host_fdlimit.c - FLT-09 (d): luamockit when the process has no file
 * descriptor left (RLIMIT_NOFILE lowered with setrlimit, then filled).
 *
 * luamockit needs a descriptor in two places (bindings/lua/luamockit.c):
 * t.fd() creates the state's eventfd on its first call, and the fork child
 * handler gives the child a fresh eventfd behind t.fd()'s number.
 * libmockit itself needs none.  Checked here:
 *   - t.fd() with no fd left gives the documented failure (luamockit(3):
 *     luv's triple nil, "EMFILE: ...", "EMFILE"), raises nothing, does not
 *     crash; everything else (arming, wait, process_events, sleep, destroy)
 *     works; once fds are freed t.fd() works, readable for the events that
 *     came while it could not be made;
 *   - fork with no fd left: the child's t.fd() still does not share the
 *     parent's eventfd (a child that drains its own queue must not clear
 *     the parent's fd, or the parent's event loop stalls with events
 *     waiting).
 * The same first checks run in Lua under every interpreter in
 * test_fd_exhaust.lua (prlimit).
 */
#include "host_common.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define MAX_FILL 4096
static int g_fill[MAX_FILL];
static int g_nfill;

/* Open /dev/null until the process has no fd left; returns how many. */
static int fill_fds(void) {
    int fd;
    while (g_nfill < MAX_FILL && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) g_fill[g_nfill++] = fd;
    return g_nfill;
}

static void free_fds(int n) {
    while (n-- > 0 && g_nfill > 0) close(g_fill[--g_nfill]);
}

static int no_fd_left(void) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EMFILE;
}

/* The documented failure of t.fd(), its result kept in globals. */
static const char *fd_call =
    "ok, a, b, c = pcall(t.fd)\n"
    "fd_ok, fd_a, fd_b, fd_c = ok, a, b, c\n";

/* new_state() with `slow` (the valgrind factor) as a global */
static lua_State *state(void) {
    lua_State *L = new_state();
    if (L) {
        lua_pushinteger(L, slow());
        lua_setglobal(L, "slow");
    }
    return L;
}

static int test_fd_exhausted(void) {
    lua_State *L = state();
    long long fd;
    CHECK(L, "state");
    CHECK(fill_fds() > 0 && no_fd_left(), "could not use up the fds (%d opened)", g_nfill);
    CHECK(run(L, fd_call) == 0, "t.fd()");
    CHECK(geti(L, "fd_ok and 1 or 0") == 1, "t.fd() raised an error instead of the documented triple");
    CHECK(run(L, "assert(fd_a == nil, 'first value: ' .. tostring(fd_a))\n"
                 "assert(fd_c == 'EMFILE', 'name: ' .. tostring(fd_c))\n"
                 "assert(type(fd_b) == 'string' and fd_b:find('^EMFILE: '), 'message: ' .. tostring(fd_b))") == 0,
          "t.fd() with no fd left: nil, \"EMFILE: ...\", \"EMFILE\"");
    CHECK(run(L, fd_call) == 0 &&
          run(L, "assert(fd_ok and fd_a == nil and fd_c == 'EMFILE', 'second call')") == 0,
          "t.fd() again");
    /* everything else works without a descriptor */
    CHECK(run(L, "n, m = 0, 0\n"
                 "g = t.getit(5, function() n = n + 1 end)\n"
                 "t.oneoff(function() m = m + 1 end, 0)\n"
                 "assert(g, 'getit')\n"
                 "assert(t.wait(5000 * slow) == true, 'wait')\n"
                 "local deadline = t.mstimestamp() + 5000 * slow\n"
                 "while (m < 1 or n < 3) and t.mstimestamp() < deadline do\n"
                 "  t.wait(100) t.process_events()\n"
                 "end\n"
                 "assert(m == 1 and n >= 3, 'calls: ' .. m .. ', ' .. n)\n"
                 "g = g:destroy()\n"
                 "t.process_events()\n"
                 "assert(t.sleep(5) == true, 'sleep')\n"
                 "assert(t.pending() == 0 and t.inqueue() == 0, 'queue empty')\n") == 0,
          "timers with no fd left");
    CHECK(no_fd_left(), "still no fd left");
    /* an event waits while t.fd() cannot be made; then fds are freed */
    CHECK(run(L, "t.oneoff(function() m = m + 1 end, 0) assert(t.wait(5000 * slow))") == 0, "event");
    free_fds(2);
    fd = geti(L, "t.fd()");
    CHECK(fd >= 0, "t.fd() once fds were freed: %lld", fd);
    CHECK(geti(L, "t.fd()") == fd, "the same fd every call");
    CHECK(fd_readable((int)fd, 0), "readable: an event waits");
    CHECK(geti(L, "t.process_events()") == 1, "drain");
    CHECK(!fd_readable((int)fd, 0), "not readable once drained");
    lua_close(L);
    free_fds(g_nfill);
    return 0;
}

static int test_fork_exhausted(void) {
    lua_State *L;
    int fd, status = -1, pfd[2];
    pid_t pid;
    unsigned char bad = 0xff;
    const char *san = getenv("MOCKIT_UNDER_SANITIZER");
    if (san && strcmp(san, "tsan") == 0) {   /* TSan cannot fork threads */
        printf("     (skipped under TSan)\n");
        return 0;
    }
    L = state();
    CHECK(L, "state");
    CHECK(pipe2(pfd, O_CLOEXEC) == 0, "pipe");
    fd = (int)geti(L, "t.fd()");
    CHECK(fd >= 0, "t.fd()");
    CHECK(fill_fds() > 0 && no_fd_left(), "could not use up the fds");
    /* the parent's one-shot fires while the child looks at its fd */
    CHECK(run(L, "p = 0 t.oneoff(function() p = p + 1 end, 30)") == 0, "arm");
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        /* as in host_states.c: the verdict through the pipe, then exec
         * (no leak check of the parent's heap copy under valgrind) */
        bad = 0;
        if (fd_readable(fd, 150 * slow())) bad |= 1;   /* the parent's event */
        if (run(L, "m = 0 t.oneoff(function() m = m + 1 end, 0)\n"
                   "assert(t.wait(10000))\n"
                   "assert(t.process_events() == 1 and m == 1)") != 0) bad |= 2;
        if (fd_readable(fd, 0)) bad |= 4;
        lua_close(L);
        if (write(pfd[1], &bad, 1) != 1) bad |= 8;
        execl("/bin/true", "true", (char *)NULL);
        _exit(bad);
    }
    close(pfd[1]);
    CHECK(read(pfd[0], &bad, 1) == 1, "child verdict");
    close(pfd[0]);
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    CHECK(!(bad & 2), "the child could not arm and drain its own timer");
    CHECK(!(bad & 1), "the child's t.fd() became readable from the parent's event: it shares the parent's "
                      "eventfd (fork with no fd left)");
    CHECK(geti(L, "t.pending()") == 1, "the parent's event waits");
    CHECK(fd_readable(fd, 0), "the parent's t.fd() is not readable although its event waits: the child "
                              "drained the parent's eventfd (fork with no fd left)");
    CHECK(geti(L, "t.process_events()") == 1 && geti(L, "p") == 1, "parent drains");
    CHECK(bad == 0, "child found problems: mask 0x%x", bad);
    lua_close(L);
    free_fds(g_nfill);
    return 0;
}

int main(int argc, char **argv) {
    struct rlimit rl;
    (void)count;
    (void)sleep_ms;
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_filter = argc > 1 ? argv[1] : NULL;
    /* A low soft limit keeps the filling short (the hard limit stays:
     * valgrind refuses other changes). */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1;
    rl.rlim_cur = 64;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        printf("setrlimit(RLIMIT_NOFILE, 64): %s\n", strerror(errno));
        return 1;
    }
    {
        lua_State *L = new_state();   /* loads luamockit while fds are there */
        if (!L) return 1;
        lua_close(L);
    }
    run_test("FLT-09d t.fd() with no fd left: documented triple, no crash; timers work; t.fd() works once fds are freed",
             test_fd_exhausted);
    run_test("FLT-09d fork with no fd left: the child's t.fd() does not share the parent's eventfd",
             test_fork_exhausted);
    return finish();
}
