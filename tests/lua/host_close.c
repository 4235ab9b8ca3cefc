/*
 * host_close.c - lua_close with timers armed while library threads enqueue
 * (LUA-03), module unload (LUA-04).
 */
#include "host_common.h"

#include <link.h>

static int g_churn_done;        /* __atomic: read while the churn runs */
static int g_iters;
static char g_arm[300];
static int g_timers;
static char g_err[200];

/* Create a state, arm 1 ms intervals and one-shots, close it at a random
 * moment while library threads are enqueueing; repeat. */
static void *churn(void *arg) {
    unsigned seed = 12345;
    int i;
    (void)arg;
    for (i = 0; i < g_iters; i++) {
        lua_State *L = new_state();
        if (!L) { snprintf(g_err, sizeof g_err, "new_state"); break; }
        if (run(L, g_arm) != 0) {
            snprintf(g_err, sizeof g_err, "arm failed");
            lua_close(L);
            break;
        }
        sleep_ms(rand_r(&seed) % 4);
        if (i % 3 == 0) run(L, "t.process_events()");
        if (i % 5 == 0) run(L, "keep[1]:destroy() collectgarbage()");
        lua_close(L);
    }
    __atomic_store_n(&g_churn_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int test_close_while_enqueueing(void) {
    lua_State *S = new_state();
    pthread_t th;
    uint64_t t0 = now_ms();
    long long ones, ticks, calls;
    int K = 200;
    CHECK(S, "state");
    CHECK(run(S, "ones, ticks, calls = 0, 0, 0\n"
                 "for i = 1, 200 do t.oneoff(function() ones = ones + 1 end, (i * 7) % 500) end\n"
                 "iv = t.getit(10, function() ticks = ticks + 1 end)") == 0, "arm S");
    /* Under valgrind many 1 ms timers starve every other thread: fewer. */
    g_timers = under_valgrind() ? 5 : 50;
    snprintf(g_arm, sizeof g_arm,
             "keep = {}\n"
             "for i = 1, %d do keep[i] = t.getit(1, function() end) end\n"
             "for i = 1, %d do t.getit(1 + i %% 3, function() end) end\n"
             "for i = 1, %d do t.oneoff(function() end, i %% 3) end\n",
             g_timers, g_timers, g_timers);
    g_iters = count(300);
    __atomic_store_n(&g_churn_done, 0, __ATOMIC_RELEASE);
    CHECK(pthread_create(&th, NULL, churn, NULL) == 0, "thread");
    while (!__atomic_load_n(&g_churn_done, __ATOMIC_ACQUIRE) || geti(S, "ones") < K) {
        CHECK(run(S, "if t.wait(50) then calls = calls + t.process_events() end") == 0, "S drain");
        CHECK(now_ms() - t0 < 60000u * (unsigned)slow(), "timeout, ones %lld", geti(S, "ones"));
    }
    pthread_join(th, NULL);
    CHECK(g_err[0] == 0, "churn: %s", g_err);
    CHECK(run(S, "iv = iv:destroy() calls = calls + t.process_events()") == 0, "destroy");
    ones = geti(S, "ones");
    ticks = geti(S, "ticks");
    calls = geti(S, "calls");
    CHECK(ones == K, "the other state's one-shots: %lld", ones);
    CHECK(calls == ones + ticks, "calls %lld", calls);
    CHECK(ticks >= 1 && ticks <= (long long)(now_ms() - t0) / 10 + 1, "ticks %lld", ticks);
    CHECK(geti(S, "t.pending()") == 0, "nothing left");
    printf("     (%d states closed with %d timers armed each)\n", g_iters, 3 * g_timers);
    lua_close(S);
    return 0;
}

static int find_module(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "luamockit.so")) *(int *)data = 1;
    return 0;
}

static int module_mapped(void) {
    int found = 0;
    dl_iterate_phdr(find_module, &found);
    return found;
}

/* LUA-04: the only state using luamockit closes (Lua dlcloses the module);
 * the module stays mapped (-z nodelete) and a new state can use it while
 * library threads keep running. */
static int test_module_unload(void) {
    int i, n = count(40);
    for (i = 0; i < n; i++) {
        lua_State *L = new_state();
        CHECK(L, "state");
        CHECK(run(L, "for i = 1, 10 do t.getit(1, function() end) end t.sleep(2)") == 0, "arm");
        lua_close(L);
        CHECK(module_mapped(), "luamockit.so still mapped after lua_close");
    }
    {
        lua_State *L = new_state();
        uint64_t t0 = now_ms();
        CHECK(L, "state");
        CHECK(run(L, "n = 0 g = t.getit(5, function() n = n + 1 end)") == 0, "arm");
        while (now_ms() - t0 < 500) run(L, "if t.wait(50) then t.process_events() end");
        CHECK(geti(L, "n") >= 1, "the new state's timer runs");
        CHECK(run(L, "g:destroy()") == 0, "destroy");
        lua_close(L);
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    g_filter = argc > 1 ? argv[1] : NULL;
    run_test("LUA-03 lua_close with timers armed while library threads enqueue; the other state is exact", test_close_while_enqueueing);
    run_test("LUA-04 module unload: luamockit.so stays mapped, a new state uses it", test_module_unload);
    return finish();
}
