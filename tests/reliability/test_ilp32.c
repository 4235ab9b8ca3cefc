/*
 * rel-ilp32: the catalogue's ILP32 items, in a build of the library and
 * this program with -m32 (run-ilp32.sh makes both when the compiler can):
 *  - MIS-09 on i386: the header compiles as strict C99 and the layout of
 *    struct data is the one mockit.h documents (16 bytes);
 *  - BND-05 on ILP32: ssize_t cannot hold what is left of a huge sleep,
 *    so Mockit_bsleep reports SSIZE_MAX, as Mockit_bsleep(3) documents,
 *    and resuming with that value continues to the first deadline.
 * The timers themselves are not run: this machine's kernel cannot execute
 * i386 programs, and qemu-i386 (7.2), which runs this one, refuses
 * timer_create with SIGEV_THREAD_ID (EINVAL), which the library needs.
 * C11 for _Static_assert (run-ilp32.sh checks the header itself as
 * strict C99).  No CMocka, whose i386 build is not installed: it prints
 * one line per check and "N passed, M failed", which the check summary
 * counts.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <mockit.h>

/* MIS-09: the ILP32 layout (ABI, frozen for SONAME 1) */
_Static_assert(sizeof(void *) == 4, "built with -m32");
_Static_assert(sizeof(struct data) == 16, "struct data is 16 bytes on ILP32");
_Static_assert(offsetof(struct data, cb) == 0, "cb first");
_Static_assert(offsetof(struct data, stuff) == 4, "stuff second");
_Static_assert(offsetof(struct data, timer_id) == 8, "timer_id third");
_Static_assert(sizeof(ssize_t) == 4, "ssize_t is 32 bits here");

static int passed, failed;

static void check(int ok, const char *id, const char *what) {
    printf("%s %s: %s\n", ok ? "ok" : "FAIL", id, what);
    if (ok) passed++;
    else failed++;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *version_main(void *arg) {
    *(const char **)arg = Mockit_version();
    return NULL;
}

static void on_alrm(int sig) { (void)sig; }

/* Interrupt the calling thread's sleep after 100 ms. */
static void alarm_in_100ms(void) {
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_usec = 100000;
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(void) {
    /* MIS-09: one static string, from any thread */
    const char *v[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, version_main, &v[i]);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    int same = v[0] && v[0][0];
    for (int i = 1; i < 4; i++) same = same && v[i] == v[0];
    check(same, "MIS-09", "Mockit_version() gives one static non-empty string from 4 threads");

    /* BND-05: huge sleeps interrupted after 100 ms */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alrm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    const uint32_t huge[] = { UINT32_MAX, (uint32_t)INT32_MAX + 1u };
    for (int i = 0; i < 2; i++) {
        /* 2^32-1 ms less 100 ms does not fit: SSIZE_MAX; 2^31 ms less
         * 100 ms does, and is reported as it is */
        ssize_t left = 0;
        int err = 0;
        uint64_t t0 = now_ns();
        alarm_in_100ms();
        int rc = Mockit_bsleep(huge[i], &left, &err);
        uint64_t took_ms = (now_ns() - t0) / 1000000u;
        char what[160];
        snprintf(what, sizeof what, "Mockit_bsleep(%lu) interrupted after %llu ms: rc %d, error %d, left %ld "
                 "(SSIZE_MAX %ld)", (unsigned long)huge[i], (unsigned long long)took_ms, rc, err, (long)left,
                 (long)SSIZE_MAX);
        uint64_t want = (uint64_t)huge[i] - took_ms;
        int left_ok = want > (uint64_t)SSIZE_MAX ? left == SSIZE_MAX
                                                  : (uint64_t)left >= want && (uint64_t)left <= want + 2;
        check(rc == EINTR && err == EINTR && left_ok && took_ms >= 95, "BND-05", what);
    }
    {
        /* resuming with the clamped value continues to the first deadline
         * (49.7 days away): what is left stays above SSIZE_MAX, where a
         * fresh sleep of SSIZE_MAX ms would report 100 ms less */
        ssize_t left = 0;
        int err = 0;
        alarm_in_100ms();
        int rc = Mockit_bsleep(UINT32_MAX, &left, &err);
        alarm_in_100ms();
        if (rc == EINTR) rc = Mockit_bsleep((uint32_t)left, &left, &err);
        char what[160];
        snprintf(what, sizeof what, "resumed with left = SSIZE_MAX, interrupted again: rc %d, left %ld", rc,
                 (long)left);
        check(rc == EINTR && left == SSIZE_MAX, "BND-05", what);
    }
    {
        ssize_t left = 0;
        int err = 0;
        alarm_in_100ms();
        int rc = Mockit_bsleep(2148, &left, &err);
        char what[160];
        snprintf(what, sizeof what, "Mockit_bsleep(2148) interrupted: rc %d, left %ld ms (not clamped)", rc,
                 (long)left);
        check(rc == EINTR && left > 1500 && left <= 2053, "BND-05", what);
    }

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
