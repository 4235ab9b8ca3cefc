/*
 * rel-flt10: RELIABILITY.md FLT-10, dlopen / dlclose of libmockit.so.1
 * (argv[1]: the built library).  This program does not link the library:
 * every cycle dlopens it, arms timers (callbacks live here), destroys all
 * and dlcloses it; a last variant dlcloses with timers still armed.
 * Pass: no crash; threads and fds do not grow over the cycles; the library
 * stays mapped after dlclose (-z nodelete, RTLD_NOLOAD finds it) so its
 * threads never run unmapped code.
 */
#include "rel.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <mockit.h>   /* struct data only: the functions come from dlsym */

static const char *lib_path = "libmockit.so.1";

struct api {
    void *h;
    int (*oneoff)(uint32_t, struct data *);
    int (*getit)(uint32_t, struct data *);
    int (*destroy)(struct data *);
};

static void open_api(struct api *a) {
    a->h = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (!a->h) fail_msg("dlopen %s: %s", lib_path, dlerror());
    a->oneoff = (int (*)(uint32_t, struct data *))dlsym(a->h, "Mockit_oneoff");
    a->getit = (int (*)(uint32_t, struct data *))dlsym(a->h, "Mockit_getit");
    a->destroy = (int (*)(struct data *))dlsym(a->h, "Mockit_destroy");
    assert_non_null(a->oneoff);
    assert_non_null(a->getit);
    assert_non_null(a->destroy);
}

static atomic_int calls;
static void *cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&calls, 1);
    return NULL;
}

static void test_FLT10_dlopen_dlclose_cycles(void **state) {
    (void)state;
    mt_watchdog_arm(60, "FLT10");
    unsigned n = mt_iters(100);
    int threads1 = 0, fds1 = 0;
    static struct data iv, os[4];
    for (unsigned c = 0; c < n; c++) {
        struct api a;
        open_api(&a);
        int c0 = atomic_load(&calls);
        iv = (struct data){ .cb = cb };
        assert_int_equal(0, a.getit(1, &iv));
        for (int i = 0; i < 4; i++) {
            os[i] = (struct data){ .cb = cb };
            assert_int_equal(0, a.oneoff((uint32_t)i, &os[i]));
        }
        if (!MT_WAIT_UNTIL(atomic_load(&calls) >= c0 + 6, 1000)) fail_msg("cycle %u: no calls", c);
        assert_int_equal(0, a.destroy(&iv));
        for (int i = 0; i < 4; i++) {
            int rc = a.destroy(&os[i]);
            if (rc != 0 && rc != EINVAL) fail_msg("cycle %u: destroy %d", c, rc);
        }
        assert_int_equal(0, dlclose(a.h));
        if (c == 0) {
            threads1 = mt_threads_total();
            fds1 = rel_fd_count();
            /* -z nodelete: still mapped after dlclose */
            void *h = dlopen(lib_path, RTLD_NOW | RTLD_NOLOAD);
            if (!h) fail_msg("libmockit.so.1 was unmapped by dlclose (not linked -z nodelete)");
            dlclose(h);
        }
    }
    int c0 = atomic_load(&calls);
    mt_sleep_ms(200);
    assert_int_equal(c0, atomic_load(&calls));   /* nothing armed: nothing runs */
    print_message("# %u cycles: threads %d -> %d, fds %d -> %d\n", n, threads1, mt_threads_total(), fds1,
                  rel_fd_count());
    /* one scheduler however often it was loaded; followers may have grown
     * with load (by design), not with the cycles */
    int clocks = 0;
    MT_ASSERT_CMP(mt_lib_threads(&clocks), <=, 65);
    assert_int_equal(1, clocks);
    MT_ASSERT_CMP(mt_threads_total(), <=, threads1 + 3);
    assert_int_equal(fds1, rel_fd_count());
}

static void test_FLT10_dlclose_with_timers_armed(void **state) {
    (void)state;
    struct api a;
    open_api(&a);
    static struct data iv;
    iv = (struct data){ .cb = cb };
    assert_int_equal(0, a.getit(1, &iv));
    assert_int_equal(0, dlclose(a.h));
    int c0 = atomic_load(&calls);
    /* the library's threads keep running its (still mapped) code */
    assert_true(MT_WAIT_UNTIL(atomic_load(&calls) >= c0 + 50, 1000));
    open_api(&a);
    assert_int_equal(0, a.destroy(&iv));
    int c1 = atomic_load(&calls);
    mt_sleep_ms(20);
    assert_int_equal(c1, atomic_load(&calls));
    dlclose(a.h);
}

int main(int argc, char **argv) {
    if (argc > 1 && argv[1][0] != '-') lib_path = argv[1];
    int st;
    char *args[] = { argv[0], argc > 2 ? argv[2] : NULL, NULL };
    if (rel_main_prologue(argc > 2 ? 2 : 1, args, NULL, &st)) return st;
    const struct CMUnitTest tests[] = {
        MT_TEST(test_FLT10_dlopen_dlclose_cycles),
        MT_TEST(test_FLT10_dlclose_with_timers_armed),
    };
    return cmocka_run_group_tests_name("rel-flt10", tests, NULL, NULL);
}
