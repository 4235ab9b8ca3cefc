/*
 * host_states.c - several lua_States in one process (LUA-07), t.fd() with
 * poll() (LUA-11), signals during t.sleep / t.wait (LUA-12), fork (LUA-11).
 */
#include "host_common.h"

#include <sys/wait.h>

/* Each state counts its own callbacks in globals; a cross-talk bug would
 * call the other state's references or miscount. */
static const char *arm_script =
    "ones, ticks, calls = 0, 0, 0\n"
    "local n, ms = ...\n"
    "for i = 1, n do t.oneoff(function() ones = ones + 1 end, i % 10) end\n"
    "iv = t.getit(ms, function() ticks = ticks + 1 end)\n";

static int arm(lua_State *L, int n, int ms) {
    if (luaL_loadstring(L, arm_script) != LUA_OK) return -1;
    lua_pushinteger(L, n);
    lua_pushinteger(L, ms);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        fprintf(stdout, "     lua error: %s\n", lua_tostring(L, -1));
        return -1;
    }
    return 0;
}

/* LUA-07: two states in one thread, exact counts, no cross-talk. */
static int test_two_states_exact_counts(void) {
    lua_State *A = new_state(), *B = new_state();
    uint64_t t0 = now_ms();
    long long pa, pb;
    CHECK(A && B, "states");
    CHECK(arm(A, 40, 3) == 0 && arm(B, 70, 4) == 0, "arm");
    /* At least 300 ms, and until both intervals ticked (valgrind on a
     * loaded machine can be late by that much). */
    while (now_ms() - t0 < 300 || geti(A, "ticks") < 1 || geti(B, "ticks") < 1) {
        CHECK(run(A, "calls = calls + t.process_events()") == 0, "A drain");
        CHECK(run(B, "calls = calls + t.process_events()") == 0, "B drain");
        CHECK(now_ms() - t0 < 10000u * (unsigned)slow(), "intervals never ticked");
        sleep_ms(7);
    }
    CHECK(run(A, "iv = iv:destroy()") == 0 && run(B, "iv = iv:destroy()") == 0, "destroy");
    sleep_ms(20 * slow());   /* all one-shots (due <= 9 ms) are in */
    CHECK(run(A, "calls = calls + t.process_events()") == 0, "A drain");
    CHECK(run(B, "calls = calls + t.process_events()") == 0, "B drain");
    CHECK(geti(A, "ones") == 40, "A one-shots: %lld", geti(A, "ones"));
    CHECK(geti(B, "ones") == 70, "B one-shots: %lld", geti(B, "ones"));
    CHECK(geti(A, "calls") == geti(A, "ones + ticks"), "A calls %lld", geti(A, "calls"));
    CHECK(geti(B, "calls") == geti(B, "ones + ticks"), "B calls %lld", geti(B, "calls"));
    CHECK(geti(A, "ticks") >= 1 && geti(A, "ticks") <= (long long)(now_ms() - t0) / 3 + 1,
          "A ticks %lld", geti(A, "ticks"));
    CHECK(geti(B, "ticks") >= 1 && geti(B, "ticks") <= (long long)(now_ms() - t0) / 4 + 1,
          "B ticks %lld", geti(B, "ticks"));
    /* Events of B only: A sees nothing. */
    CHECK(run(B, "t.oneoff(function() ones = ones + 1 end, 0)") == 0, "arm B");
    CHECK(run(B, "assert(t.wait(10000))") == 0, "B waits");
    pa = geti(A, "t.pending()");
    pb = geti(B, "t.pending()");
    CHECK(pa == 0 && pb == 1, "pending A %lld B %lld", pa, pb);
    CHECK(geti(A, "t.inqueue()") == 0, "A inqueue");
    CHECK(geti(A, "t.wait(0) and 1 or 0") == 0, "A wait(0)");
    CHECK(geti(B, "t.process_events()") == 1, "B drains its own");
    lua_close(A);
    lua_close(B);
    return 0;
}

/* LUA-07: states on OS threads, each arming, waiting and draining its own
 * events; thread 0 closes its state midway with timers armed. */
struct worker {
    pthread_t th;
    int id, n, ok;
    char err[200];
};

static void *worker_main(void *arg) {
    struct worker *w = (struct worker *)arg;
    lua_State *L = new_state();
    uint64_t t0 = now_ms();
    unsigned seed = (unsigned)w->id * 7919u + 1;
    int i;
    if (!L) { snprintf(w->err, sizeof w->err, "new_state"); return NULL; }
    run(L, "ones, ticks, calls = 0, 0, 0\n"
           "function one() ones = ones + 1 end\n"
           "iv = t.getit(7, function() ticks = ticks + 1 end)\n");
    for (i = 0; i < w->n; i++) {
        char buf[80];
        snprintf(buf, sizeof buf, "t.oneoff(one, %u)", rand_r(&seed) % 200);
        run(L, buf);
    }
    for (;;) {
        if (w->id == 0 && now_ms() - t0 > 150) {
            lua_close(L);           /* closed midway, timers armed */
            w->ok = 1;
            return NULL;
        }
        if (run(L, "if t.wait(50) then calls = calls + t.process_events() end") != 0) {
            snprintf(w->err, sizeof w->err, "drain failed");
            lua_close(L);
            return NULL;
        }
        if (geti(L, "ones") == w->n && now_ms() - t0 >= 300) break;
        if (now_ms() - t0 > 10000u * (unsigned)slow()) {
            snprintf(w->err, sizeof w->err, "timeout: ones %lld of %d", geti(L, "ones"), w->n);
            lua_close(L);
            return NULL;
        }
    }
    run(L, "iv = iv:destroy() calls = calls + t.process_events()");
    if (geti(L, "ones") != w->n)
        snprintf(w->err, sizeof w->err, "ones %lld != %d", geti(L, "ones"), w->n);
    else if (geti(L, "calls") != geti(L, "ones + ticks"))
        snprintf(w->err, sizeof w->err, "calls %lld != %lld", geti(L, "calls"), geti(L, "ones + ticks"));
    else if (geti(L, "t.pending()") != 0)
        snprintf(w->err, sizeof w->err, "pending left");
    else
        w->ok = 1;
    lua_close(L);
    return NULL;
}

static int test_states_on_threads(void) {
    enum { MAXT = 4 };
    struct worker w[MAXT];
    /* Under valgrind two: more threads blocking on futexes make valgrind's
     * --fair-sched=yes scheduler stall for minutes now and then. */
    int i, NT = under_valgrind() ? 2 : MAXT;
    for (i = 0; i < NT; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        w[i].n = count(300) + i;
        CHECK(pthread_create(&w[i].th, NULL, worker_main, &w[i]) == 0, "thread");
    }
    for (i = 0; i < NT; i++) pthread_join(w[i].th, NULL);
    for (i = 0; i < NT; i++) CHECK(w[i].ok, "worker %d: %s", i, w[i].err);
    return 0;
}

/* LUA-11: fd() readable iff events wait, per state, also after a partial
 * drain that stopped at an error. */
static int test_fd_poll(void) {
    lua_State *A = new_state(), *B = new_state();
    int fa, fb;
    uint64_t t0;
    CHECK(A && B, "states");
    fa = (int)geti(A, "t.fd()");
    fb = (int)geti(B, "t.fd()");
    CHECK(fa >= 0 && fb >= 0 && fa != fb, "fds %d %d", fa, fb);
    CHECK(!fd_readable(fa, 0) && !fd_readable(fb, 0), "idle");
    CHECK(run(A, "t.oneoff(function() error('first') end, 0)\n"
                 "t.oneoff(function() end, 20)\n"
                 "t.oneoff(function() end, 20)") == 0, "arm A");
    CHECK(fd_readable(fa, 5000 * slow()), "A readable when the first event arrives");
    while (geti(A, "t.pending()") < 3) sleep_ms(2);
    CHECK(fd_readable(fa, 0), "A readable");
    CHECK(!fd_readable(fb, 0), "B is not: no cross-talk");
    CHECK(run(A, "assert(not pcall(t.process_events))") == 0, "partial drain");
    CHECK(geti(A, "t.pending()") == 2, "two left");
    CHECK(fd_readable(fa, 0), "still readable after the error");
    CHECK(geti(A, "t.process_events()") == 2, "drain");
    CHECK(!fd_readable(fa, 0), "not readable once drained");
    t0 = now_ms();
    CHECK(run(B, "t.oneoff(function() end, 50)") == 0, "arm B");
    CHECK(fd_readable(fb, 5000 * slow()), "poll wakes for B's event");
    CHECK(now_ms() - t0 >= 50, "never early: %llu", (unsigned long long)(now_ms() - t0));
    CHECK(!fd_readable(fa, 0), "A still idle");
    CHECK(geti(B, "t.process_events()") == 1, "B drain");
    CHECK(!fd_readable(fb, 0), "B idle");
    CHECK(run(A, "g = t.getit(2, function() end)") == 0, "interval");
    CHECK(fd_readable(fa, 5000 * slow()), "interval readable");
    CHECK(run(A, "g = g:destroy()") == 0, "destroy");
    CHECK(!fd_readable(fa, 0), "destroy dropped the events");
    sleep_ms(20);
    CHECK(!fd_readable(fa, 0), "nothing after destroy");
    lua_close(A);
    lua_close(B);
    return 0;
}

/* LUA-12: a signal handler interrupting t.sleep and t.wait. */
static pthread_t g_main;
static volatile sig_atomic_t g_hits;
static void on_usr1(int sig) { (void)sig; g_hits++; }

static void *kicker(void *arg) {
    sleep_ms((unsigned)(uintptr_t)arg);
    pthread_kill(g_main, SIGUSR1);
    return NULL;
}

static int with_signal_at(unsigned ms, pthread_t *th) {
    g_main = pthread_self();
    return pthread_create(th, NULL, kicker, (void *)(uintptr_t)ms);
}

static int test_signals(void) {
    lua_State *L = new_state();
    struct sigaction sa, old;
    pthread_t th;
    uint64_t t0, e;
    int restart;
    CHECK(L, "state");
    for (restart = 0; restart < 2; restart++) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_usr1;
        sa.sa_flags = restart ? SA_RESTART : 0;
        sigaction(SIGUSR1, &sa, &old);
        /* sleep(1000) interrupted at 50 ms: false, left. */
        CHECK(with_signal_at(50, &th) == 0, "thread");
        t0 = now_ms();
        CHECK(run(L, "r, left = t.sleep(1000)") == 0, "sleep");
        e = now_ms() - t0;
        pthread_join(th, NULL);
        CHECK(geti(L, "r == false and 1 or 0") == 1, "false on EINTR (SA_RESTART=%d)", restart);
        CHECK(geti(L, "left") > 0 && geti(L, "left") <= 1000 && (uint64_t)geti(L, "left") + e >= 1000,
              "left %lld after %llu ms", geti(L, "left"), (unsigned long long)e);
        /* sleep(300, true) resumes to the full time. */
        CHECK(with_signal_at(50, &th) == 0, "thread");
        t0 = now_ms();
        CHECK(run(L, "r, left = t.sleep(300, true)") == 0, "sleep resume");
        e = now_ms() - t0;
        pthread_join(th, NULL);
        CHECK(geti(L, "r == true and left == nil and 1 or 0") == 1, "true when resuming");
        CHECK(e >= 300, "never early: %llu", (unsigned long long)e);
        /* wait(300) is not ended by the signal. */
        CHECK(with_signal_at(50, &th) == 0, "thread");
        t0 = now_ms();
        CHECK(run(L, "r = t.wait(300)") == 0, "wait");
        e = now_ms() - t0;
        pthread_join(th, NULL);
        CHECK(geti(L, "r == false and 1 or 0") == 1, "time-out");
        CHECK(e >= 300, "the signal does not end the wait: %llu", (unsigned long long)e);
        sigaction(SIGUSR1, &old, NULL);
    }
    CHECK(g_hits == 6, "handler ran %d times", (int)g_hits);
    lua_close(L);
    return 0;
}

/* LUA-11: after fork the child's t.fd() does not see the parent's events,
 * and the child can arm and receive its own. */
static int test_fork(void) {
    lua_State *L = new_state();
    int fd, status = -1;
    pid_t pid;
    int pfd[2];
    unsigned char bad = 0xff;
    const char *san = getenv("MOCKIT_UNDER_SANITIZER");
    if (san && strcmp(san, "tsan") == 0) {   /* TSan cannot fork threads */
        printf("     (skipped under TSan)\n");
        lua_close(L);
        return 0;
    }
    CHECK(L, "state");
    CHECK(pipe(pfd) == 0, "pipe");
    fd = (int)geti(L, "t.fd()");
    CHECK(run(L, "n = 0 g = t.getit(3, function() n = n + 1 end)") == 0, "arm");
    CHECK(fd_readable(fd, 5000 * slow()), "parent readable");
    pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        /* The verdict goes through a pipe, and the child ends by exec'ing
         * /bin/true: under valgrind a normal exit would leak-check the
         * parent's heap copy (its other threads' memory looks lost in the
         * child); valgrind does not check at exec. */
        bad = 0;
        if (run(L, "t.process_events()") != 0) bad |= 1;
        if (fd_readable(fd, 0)) bad |= 2;
        if (fd_readable(fd, 150)) bad |= 4;    /* parent's interval runs on */
        if (run(L, "m = 0 t.oneoff(function() m = m + 1 end, 10)\n"
                   "assert(t.wait(10000))\n"
                   "assert(t.process_events() == 1 and m == 1)") != 0) bad |= 8;
        if (fd_readable(fd, 0)) bad |= 16;
        lua_close(L);
        if (write(pfd[1], &bad, 1) != 1) bad |= 32;
        execl("/bin/true", "true", (char *)NULL);
        _exit(bad);
    }
    close(pfd[1]);
    CHECK(read(pfd[0], &bad, 1) == 1, "child verdict");
    close(pfd[0]);
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(bad == 0, "child found problems: mask 0x%x", bad);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    CHECK(fd_readable(fd, 5000 * slow()), "parent still gets its events");
    CHECK(run(L, "g = g:destroy() t.process_events()") == 0, "destroy");
    lua_close(L);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_filter = argc > 1 ? argv[1] : NULL;
    run_test("LUA-07 two states in one thread: exact counts, no cross-talk", test_two_states_exact_counts);
    run_test("LUA-07 states on OS threads (4; 2 under valgrind), one closed midway", test_states_on_threads);
    run_test("LUA-11 fd() with poll(): readable iff events wait, per state", test_fd_poll);
    run_test("LUA-12 a signal handler: sleep gives false, left; sleep(ms, true) resumes; wait goes on", test_signals);
    run_test("LUA-11 fork: the child's fd() does not see the parent's events", test_fork);
    return finish();
}
