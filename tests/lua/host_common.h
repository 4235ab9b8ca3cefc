/*
 * host_common.h - a tiny harness for the C hosts of the luamockit suite.
 * Each host embeds Lua (linked with liblua5.4), loads luamockit.so through
 * require() (LUA_CPATH from the test's environment), runs its checks and
 * prints one line per test and a last line "N passed, N failed".
 *
 * Timing: invariants are strict; bounds are generous and multiplied by
 * slow() (20 under valgrind: MOCKIT_UNDER_VALGRIND=1).
 */
#ifndef HOST_COMMON_H
#define HOST_COMMON_H

#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stdout, "     %s:%d: check failed: %s: ", __FILE__,      \
                    __LINE__, #cond);                                        \
            fprintf(stdout, __VA_ARGS__);                                    \
            fputc('\n', stdout);                                             \
            return 1;                                                        \
        }                                                                    \
    } while (0)

static int under_valgrind(void) {
    const char *v = getenv("MOCKIT_UNDER_VALGRIND");
    return v && strcmp(v, "1") == 0;
}

static int slow(void) { return under_valgrind() ? 20 : 1; }

/* n scaled by MOCKIT_TEST_SCALE, divided by 20 under valgrind. */
static int count(int n) {
    const char *s = getenv("MOCKIT_TEST_SCALE");
    double k = s ? atof(s) : 1.0;
    int c;
    if (k <= 0) k = 1.0;
    c = (int)(n * k / (under_valgrind() ? 20 : 1));
    return c < 1 ? 1 : c;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* Run a chunk; on error print it and return -1. */
static int run(lua_State *L, const char *code) {
    if (luaL_dostring(L, code) != LUA_OK) {
        fprintf(stdout, "     lua error: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_settop(L, 0);
    return 0;
}

/* A state with the standard libraries and t = require("luamockit"). */
static lua_State *new_state(void) {
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    luaL_openlibs(L);
    if (run(L, "t = require('luamockit')") != 0) {
        lua_close(L);
        return NULL;
    }
    return L;
}

/* The value of global expression `expr` as an integer (-1 on error). */
static long long geti(lua_State *L, const char *expr) {
    long long v;
    lua_settop(L, 0);
    lua_pushfstring(L, "return %s", expr);
    if (luaL_loadstring(L, lua_tostring(L, -1)) != LUA_OK ||
        lua_pcall(L, 0, 1, 0) != LUA_OK) {
        fprintf(stdout, "     lua error: %s\n", lua_tostring(L, -1));
        lua_settop(L, 0);
        return -1;
    }
    v = (long long)lua_tointeger(L, -1);
    lua_settop(L, 0);
    return v;
}

static __attribute__((unused)) int fd_readable(int fd, int timeout_ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    return r == 1 && (p.revents & POLLIN);
}

static int g_passed, g_failed;
static const char *g_filter;   /* argv[1]: run only tests whose name has it */

static void run_test(const char *name, int (*fn)(void)) {
    uint64_t t0 = now_ms();
    int rc;
    if (g_filter && !strstr(name, g_filter)) return;
    rc = fn();
    if (rc == 0) {
        g_passed++;
        printf("ok   %s (%llu ms)\n", name, (unsigned long long)(now_ms() - t0));
    } else {
        g_failed++;
        printf("FAIL %s\n", name);
    }
    fflush(stdout);
}

static int finish(void) {
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}

#endif /* HOST_COMMON_H */
