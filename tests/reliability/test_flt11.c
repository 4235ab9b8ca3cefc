/*
 * rel-flt11: RELIABILITY.md FLT-11, use before main and after exit begins.
 *
 * Each case is a fresh process (`rel-flt11 --child flt11 MODE`, with
 * MOCKIT_FLT11=MODE in its environment so that the constructors, which run
 * before main, know what to do).  The timers of a case: a one-shot, a 1 ms
 * interval, a 2 ms interval whose callback takes 3 ms (so that a destroy at
 * exit may have to wait for it) and a Mockit_data_init 1 ms interval.
 *
 *   c-ctor            an __attribute__((constructor)) arms them; main waits
 *                     for their calls and returns with them still armed
 *   c-ctor-atexit     the constructor registers an atexit handler, then
 *                     arms (handler registered before first library use);
 *                     the handler destroys them
 *   cxx-ctor          a C++ global constructor arms them; that object's
 *                     destructor (registered after first use) destroys them
 *   cxx-dtor-before   main arms; a C++ global constructed before any library
 *                     use destroys them in its destructor
 *   cxx-dtor-after    main arms, then creates a function-local static whose
 *                     destructor (registered after first use) destroys them
 *   atexit-before     atexit() before the first library call, then main arms
 *                     and returns; the handler destroys them
 *   atexit-after      main arms, then atexit(), then exit(0)
 *   atexit-rearm      as atexit-before, and the handler then arms a new
 *                     one-shot and waits for its call
 *   dlopen-ctor       main dlopen()s flt11_plugin.so (MOCKIT_FLT11_PLUGIN),
 *                     whose constructor arms and waits for the calls while
 *                     dlopen holds the loader lock; its destructor destroys
 *                     them at exit
 *   exit-under-churn  main returns while four 1 ms intervals arm and destroy
 *                     16 other timers from their callbacks; an atexit
 *                     handler (registered before first use) lets that go on
 *                     for 30 ms of exit
 *
 * Pass: exit status 0 within 5 s (a crash or hang is a library bug), every
 * timer's callback ran before exit, every destroy at exit returned what
 * SPEC says (0 for an armed timer, EINVAL for a caller-owned one-shot whose
 * callback returned), and no callback of a destroyed timer afterwards.
 * Everything the child finds is printed on its stdout and shown here.
 */
#include "rel.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mockit.h>

#include "flt11.h"

/* ---- the child side: shared by the C and C++ constructors ---- */

static atomic_int n_one, n_iv, n_slow, n_owned, n_late;
static struct data d_one, d_iv, d_slow;
static struct data *d_owned;
static int g_armed;

bool flt11_mode_is(const char *mode) {
    const char *v = getenv("MOCKIT_FLT11");
    return v && strcmp(v, mode) == 0;
}

/* what the child has to say: on stdout (a pipe to the test), unbuffered */
void flt11_say(const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(1, buf, (size_t)n);
    (void)w;
}

/* a failed check ends the process at once with its own status */
static void die(int code, const char *what) {
    flt11_say("FAIL(%d) %s", code, what);
    _exit(code);
}

static void nap_ms(long ms) {
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void *one_cb(void *a) { (void)a; atomic_fetch_add(&n_one, 1); return NULL; }
static void *iv_cb(void *a) { (void)a; atomic_fetch_add(&n_iv, 1); return NULL; }
static void *owned_cb(void *a) { (void)a; atomic_fetch_add(&n_owned, 1); return NULL; }
static void *slow_cb(void *a) {
    (void)a;
    nap_ms(3);
    atomic_fetch_add(&n_slow, 1);
    return NULL;
}
static void *late_cb(void *a) { (void)a; atomic_fetch_add(&n_late, 1); return NULL; }

void flt11_arm_all(const char *who) {
    d_one = (struct data){ .cb = one_cb };
    d_iv = (struct data){ .cb = iv_cb };
    d_slow = (struct data){ .cb = slow_cb };
    int rc;
    if ((rc = Mockit_oneoff(1, &d_one))) { flt11_say("oneoff from %s: %d", who, rc); _exit(10); }
    if ((rc = Mockit_getit(1, &d_iv))) { flt11_say("getit from %s: %d", who, rc); _exit(11); }
    if ((rc = Mockit_getit(2, &d_slow))) { flt11_say("getit (slow) from %s: %d", who, rc); _exit(12); }
    d_owned = Mockit_data_init();
    if (!d_owned) die(13, "Mockit_data_init");
    d_owned->cb = owned_cb;
    if ((rc = Mockit_getit(1, d_owned))) { flt11_say("getit (owned) from %s: %d", who, rc); _exit(14); }
    g_armed = 1;
    flt11_say("armed from %s", who);
}

bool flt11_all_called(void) {
    return atomic_load(&n_one) == 1 && atomic_load(&n_iv) >= 3 && atomic_load(&n_slow) >= 2 &&
           atomic_load(&n_owned) >= 3;
}

/* main's wait for the calls: at most 5 s (the test's watchdog is longer) */
static void wait_all_called(void) {
    for (int i = 0; i < 5000 && !flt11_all_called(); i++) nap_ms(1);
    if (!flt11_all_called())
        die(20, "not every timer was called within 5 s");
}

void flt11_destroy_all(const char *who) {
    if (!g_armed) die(30, "destroy_all before arm_all");
    g_armed = 0;
    if (!flt11_all_called()) {
        flt11_say("calls before exit: one %d iv %d slow %d owned %d", atomic_load(&n_one),
                  atomic_load(&n_iv), atomic_load(&n_slow), atomic_load(&n_owned));
        die(31, "not every timer was called before exit");
    }
    int r_iv = Mockit_destroy(&d_iv);
    int r_slow = Mockit_destroy(&d_slow);
    int r_owned = Mockit_destroy(d_owned);
    int r_one = Mockit_destroy(&d_one);   /* fired, caller-owned: not known */
    flt11_say("destroy from %s: interval %d, slow interval %d, owned interval %d, fired one-shot %d", who,
              r_iv, r_slow, r_owned, r_one);
    if (r_iv || r_slow || r_owned) die(32, "destroying an armed timer at exit did not return 0");
    if (r_one != EINVAL) die(33, "destroying a fired caller-owned one-shot did not return EINVAL");
    int iv = atomic_load(&n_iv), slow = atomic_load(&n_slow), owned = atomic_load(&n_owned);
    nap_ms(20);
    if (atomic_load(&n_iv) != iv || atomic_load(&n_slow) != slow || atomic_load(&n_owned) != owned)
        die(34, "a destroyed timer was called after its destroy returned");
    flt11_say("ok: %s (calls: one-shot %d, interval %d, slow %d, owned %d)", who, atomic_load(&n_one), iv,
              slow, owned);
}

/* arming while exit() runs the handlers: works, or a documented error */
static void arm_during_exit(const char *who) {
    static struct data late;
    late = (struct data){ .cb = late_cb };
    int rc = Mockit_oneoff(1, &late);
    if (rc == ENOMEM || rc == EAGAIN) {
        flt11_say("oneoff from %s: documented error %d", who, rc);
        return;
    }
    if (rc) { flt11_say("oneoff from %s: %d", who, rc); _exit(40); }
    for (int i = 0; i < 2000 && atomic_load(&n_late) == 0; i++) nap_ms(1);
    if (atomic_load(&n_late) != 1) die(41, "a one-shot armed during exit was not called within 2 s");
    int r = Mockit_destroy(&late);
    if (r != EINVAL) { flt11_say("destroy of the fired late one-shot: %d", r); _exit(42); }
    flt11_say("ok: a one-shot armed from %s was called", who);
}

static void h_destroy(void) { flt11_destroy_all("an atexit handler registered before first use"); }
static void h_destroy_after(void) { flt11_destroy_all("an atexit handler registered after first use"); }
static void h_destroy_rearm(void) {
    flt11_destroy_all("an atexit handler registered before first use");
    arm_during_exit("that atexit handler");
}
static void h_destroy_ctor(void) {
    flt11_destroy_all("an atexit handler registered by a constructor before first use");
}

/* exit-under-churn: callbacks keep arming and destroying other timers
 * while exit() runs the handlers and destructors */
static struct data churn_iv[4], churn_tgt[16];
static atomic_int churn_ops;
static void *churn_tgt_cb(void *a) { (void)a; return NULL; }
static void *churn_cb(void *a) {
    struct data *d = a;
    unsigned k = (unsigned)(d - churn_iv);
    for (unsigned i = k; i < 16; i += 4) {
        if (atomic_fetch_add(&churn_ops, 1) % 3 == 2) Mockit_destroy(&churn_tgt[i]);
        else Mockit_oneoff(i % 3, &churn_tgt[i]);
    }
    return NULL;
}
static void h_during_churn(void) {
    int before = atomic_load(&churn_ops);
    nap_ms(30);
    flt11_say("ok: %d arm/destroy calls from callbacks during 30 ms of exit handlers (%d before)",
              atomic_load(&churn_ops) - before, before);
}

__attribute__((constructor)) static void flt11_c_ctor(void) {
    if (flt11_mode_is("c-ctor")) flt11_arm_all("an __attribute__((constructor))");
    if (flt11_mode_is("c-ctor-atexit")) {
        atexit(h_destroy_ctor);
        flt11_arm_all("an __attribute__((constructor))");
    }
}

static int child_flt11(int argc, char **argv) {
    const char *mode = argc > 0 ? argv[0] : "";
    if (!flt11_mode_is(mode)) die(2, "MOCKIT_FLT11 does not match the mode");
    if (strcmp(mode, "c-ctor") == 0 || strcmp(mode, "c-ctor-atexit") == 0 || strcmp(mode, "cxx-ctor") == 0) {
        if (!g_armed) die(3, "the constructor did not arm");
        wait_all_called();
        flt11_say("main returns");
        return 0;
    }
    if (strcmp(mode, "atexit-before") == 0 || strcmp(mode, "atexit-rearm") == 0) {
        atexit(strcmp(mode, "atexit-rearm") == 0 ? h_destroy_rearm : h_destroy);
        flt11_arm_all("main");
        wait_all_called();
        flt11_say("main returns");
        return 0;
    }
    if (strcmp(mode, "atexit-after") == 0) {
        flt11_arm_all("main");
        atexit(h_destroy_after);
        wait_all_called();
        flt11_say("main calls exit(0)");
        exit(0);
    }
    if (strcmp(mode, "exit-under-churn") == 0) {
        atexit(h_during_churn);
        for (int i = 0; i < 16; i++) churn_tgt[i] = (struct data){ .cb = churn_tgt_cb };
        for (int i = 0; i < 4; i++) {
            churn_iv[i] = (struct data){ .cb = churn_cb };
            if (Mockit_getit(1, &churn_iv[i])) die(50, "getit (churn)");
        }
        flt11_arm_all("main");
        wait_all_called();
        flt11_say("main returns with everything armed and churning");
        return 0;
    }
    if (strcmp(mode, "dlopen-ctor") == 0) {
        const char *plugin = getenv("MOCKIT_FLT11_PLUGIN");
        if (!plugin) die(5, "MOCKIT_FLT11_PLUGIN not set");
        void *h = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            flt11_say("dlopen %s: %s", plugin, dlerror());
            _exit(6);
        }
        int (*calls)(void) = (int (*)(void))dlsym(h, "flt11_plugin_calls");
        if (!calls || calls() < 4) die(7, "the plugin's timers were not called");
        flt11_say("main returns (the plugin stays loaded)");
        return 0;
    }
    if (strcmp(mode, "cxx-dtor-before") == 0) {
        flt11_arm_all("main");
        wait_all_called();
        flt11_say("main returns");
        return 0;
    }
    if (strcmp(mode, "cxx-dtor-after") == 0) {
        flt11_arm_all("main");
        flt11_cxx_late_guard();
        wait_all_called();
        flt11_say("main returns");
        return 0;
    }
    die(4, "unknown mode");
    return 4;
}

/* ---- the test side ---- */

/* Runs MODE in a fresh process, shows what it printed, and fails unless
 * it exited 0 within 5 s and printed a line containing `want`. */
static void run_case(const char *mode, const char *want) {
    char *args[] = { (char *)mode, NULL };
    int fd;
    setenv("MOCKIT_FLT11", mode, 1);
    /* TSan sleeps 1 s in every exiting process by default: not needed */
    const char *tso = getenv("TSAN_OPTIONS");
    char *tso_saved = tso ? strdup(tso) : NULL;
    if (strcmp(mt_sanitizer(), "tsan") == 0) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s%satexit_sleep_ms=0", tso ? tso : "", tso && *tso ? ":" : "");
        setenv("TSAN_OPTIONS", buf, 1);
    }
    pid_t pid = rel_spawn("flt11", args, &fd);
    unsetenv("MOCKIT_FLT11");
    if (tso_saved) {
        setenv("TSAN_OPTIONS", tso_saved, 1);
        free(tso_saved);
    }
    static char out[4096];
    size_t got = 0;
    ssize_t n;
    /* EOF once the child has exited (the pipe is close-on-exec otherwise);
     * the child ends itself within 5 s, or rel_wait below kills it */
    while (got + 1 < sizeof out && (n = read(fd, out + got, sizeof out - 1 - got)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        got += (size_t)n;
    }
    out[got] = 0;
    close(fd);
    int st = rel_wait(pid, 5000, NULL);
    bool found = strstr(out, want) != NULL;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) print_message("#   %s\n", l);
    if (st == -1) fail_msg("%s: the child hung (killed after 5 s)", mode);
    if (WIFSIGNALED(st)) fail_msg("%s: the child was killed by signal %d", mode, WTERMSIG(st));
    if (WEXITSTATUS(st)) fail_msg("%s: the child exited with status %d", mode, WEXITSTATUS(st));
    if (!found) fail_msg("%s: the child did not say \"%s\"", mode, want);
}

#define FLT11_CASE(name, mode, want)                                          \
    static void test_FLT11_##name(void **state) {                             \
        (void)state;                                                          \
        run_case(mode, want);                                                 \
    }

FLT11_CASE(arm_in_c_constructor_exit_with_timers_armed, "c-ctor", "main returns")
FLT11_CASE(arm_in_c_constructor_destroy_in_atexit_registered_before, "c-ctor-atexit", "ok: ")
FLT11_CASE(arm_in_cxx_global_constructor_destroy_in_its_destructor, "cxx-ctor", "ok: ")
FLT11_CASE(destroy_in_cxx_global_destructor_registered_before_first_use, "cxx-dtor-before", "ok: ")
FLT11_CASE(destroy_in_cxx_static_destructor_registered_after_first_use, "cxx-dtor-after", "ok: ")
FLT11_CASE(destroy_in_atexit_registered_before_first_use, "atexit-before", "ok: ")
FLT11_CASE(destroy_in_atexit_registered_after_first_use, "atexit-after", "ok: ")
FLT11_CASE(destroy_then_arm_in_atexit_registered_before_first_use, "atexit-rearm", "ok: a one-shot armed")
FLT11_CASE(exit_while_callbacks_arm_and_destroy, "exit-under-churn", "ok: ")

static void test_FLT11_arm_in_dlopened_module_constructor_destroy_in_its_destructor(void **state) {
    (void)state;
    if (!getenv("MOCKIT_FLT11_PLUGIN")) {
        print_message("# skipped: MOCKIT_FLT11_PLUGIN (the flt11 plugin module) not set\n");
        skip();
    }
    run_case("dlopen-ctor", "ok: the plugin's destructor");
}

static const struct rel_child children[] = {
    { "flt11", child_flt11 },
    { NULL, NULL },
};

int main(int argc, char **argv) {
    int st;
    if (rel_main_prologue(argc, argv, children, &st)) return st;
    const struct CMUnitTest tests[] = {
        MT_TEST(test_FLT11_arm_in_c_constructor_exit_with_timers_armed),
        MT_TEST(test_FLT11_arm_in_c_constructor_destroy_in_atexit_registered_before),
        MT_TEST(test_FLT11_arm_in_cxx_global_constructor_destroy_in_its_destructor),
        MT_TEST(test_FLT11_destroy_in_cxx_global_destructor_registered_before_first_use),
        MT_TEST(test_FLT11_destroy_in_cxx_static_destructor_registered_after_first_use),
        MT_TEST(test_FLT11_destroy_in_atexit_registered_before_first_use),
        MT_TEST(test_FLT11_destroy_in_atexit_registered_after_first_use),
        MT_TEST(test_FLT11_destroy_then_arm_in_atexit_registered_before_first_use),
        MT_TEST(test_FLT11_exit_while_callbacks_arm_and_destroy),
        MT_TEST(test_FLT11_arm_in_dlopened_module_constructor_destroy_in_its_destructor),
    };
    return cmocka_run_group_tests_name("rel-flt11", tests, NULL, NULL);
}
