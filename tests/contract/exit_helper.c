/*
 * mockit-exit-helper: a program that leaves while 1000 timers are armed and
 * slow callbacks are running (SPEC 2: "exit() with timers armed is clean";
 * RELIABILITY LIFE-09).  test-exit runs it in child processes and checks
 * the exit status and time; meson also runs it by itself, so memcheck and
 * the sanitizers see such an exit.
 *
 *   mockit-exit-helper return        arm, wait for slow callbacks, return 0 from main
 *   mockit-exit-helper exit-main     the same with exit(0)
 *   mockit-exit-helper exit-thread   exit(0) from another application thread
 *
 * Writes one byte to stdout just before it leaves (test-exit times from it).
 */
#define _GNU_SOURCE 1
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mockit.h>

#define STATIC_TIMERS 600
#define OWNED_TIMERS 400

static struct data st[STATIC_TIMERS];
static atomic_int calls, slow_running;

static void *fast_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&calls, 1);
    return NULL;
}

static void *slow_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&slow_running, 1);
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    atomic_fetch_sub(&slow_running, 1);
    return NULL;
}

static void *exiter(void *arg) {
    (void)arg;
    exit(0);
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "mockit-exit-helper: %s: %d\n", what, rc);
    return 1;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "return";
    int rc;
    for (int i = 0; i < STATIC_TIMERS; i++) {
        st[i].cb = fast_cb;
        rc = i < 500 ? Mockit_oneoff((unsigned)(i % 21), &st[i])
                     : Mockit_getit(1 + (unsigned)(i % 10), &st[i]);
        if (rc) return fail("arm", rc);
    }
    for (int i = 0; i < OWNED_TIMERS; i++) {
        struct data *d = Mockit_data_init();
        if (!d) return fail("Mockit_data_init", 0);
        if (i < 10) {
            d->cb = slow_cb;
            rc = Mockit_getit(5, d);
        } else if (i < 300) {
            d->cb = fast_cb;
            rc = Mockit_getit(1 + (unsigned)(i % 10), d);
        } else {
            d->cb = fast_cb;
            rc = Mockit_oneoff(86400000, d);
        }
        if (rc) return fail("arm", rc);
    }
    /* leave while slow callbacks are inside their 50 ms */
    for (int i = 0; i < 2000 && atomic_load(&slow_running) < 3; i++) {
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (write(1, "x", 1) != 1) return fail("write", 0);
    if (strcmp(mode, "exit-main") == 0) exit(0);
    if (strcmp(mode, "exit-thread") == 0) {
        pthread_t t;
        if ((rc = pthread_create(&t, NULL, exiter, NULL)) != 0) return fail("pthread_create", rc);
        for (;;) pause();
    }
    return 0;
}
