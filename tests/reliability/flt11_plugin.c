/*
 * flt11_plugin.c - FLT-11's dlopen case (see test_flt11.c): a module whose
 * constructor arms timers and waits for their calls while dlopen() holds
 * the loader's lock (libmockit, a dependency of the module, is loaded by
 * that same dlopen, so its thread-local data is dynamic TLS), and whose
 * destructor, run by exit() after the atexit handlers, destroys them.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <mockit.h>

static atomic_int n_one, n_iv;
static struct data d_one, d_iv;
static int armed;

static void say(const char *fmt, ...) {
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

static void *one_cb(void *a) { (void)a; atomic_fetch_add(&n_one, 1); return NULL; }
static void *iv_cb(void *a) { (void)a; atomic_fetch_add(&n_iv, 1); return NULL; }

__attribute__((constructor)) static void plugin_init(void) {
    d_one = (struct data){ .cb = one_cb };
    d_iv = (struct data){ .cb = iv_cb };
    int r1 = Mockit_oneoff(1, &d_one), r2 = Mockit_getit(2, &d_iv);
    if (r1 || r2) {
        say("FAIL plugin constructor: oneoff %d, getit %d", r1, r2);
        _exit(60);
    }
    armed = 1;
    /* wait (at most 5 s) for the calls, still inside dlopen() */
    for (int i = 0; i < 5000 && (atomic_load(&n_one) < 1 || atomic_load(&n_iv) < 3); i++)
        Mockit_bsleep(1, NULL, NULL);
    if (atomic_load(&n_one) != 1 || atomic_load(&n_iv) < 3) {
        say("FAIL plugin constructor: calls while dlopen() runs it: one-shot %d, interval %d",
            atomic_load(&n_one), atomic_load(&n_iv));
        _exit(61);
    }
    say("plugin constructor: armed, and both timers were called inside dlopen()");
}

__attribute__((destructor)) static void plugin_fini(void) {
    if (!armed) return;
    int r_iv = Mockit_destroy(&d_iv), r_one = Mockit_destroy(&d_one);
    say("destroy from the plugin's destructor: interval %d, fired one-shot %d", r_iv, r_one);
    if (r_iv != 0 || r_one != EINVAL) _exit(62);
    int n = atomic_load(&n_iv);
    Mockit_bsleep(20, NULL, NULL);
    if (atomic_load(&n_iv) != n) {
        say("FAIL the interval was called after its destroy returned");
        _exit(63);
    }
    say("ok: the plugin's destructor at exit (interval calls %d)", n);
}

int flt11_plugin_calls(void) { return atomic_load(&n_one) + atomic_load(&n_iv); }
