/*
 * test-fork: "fork(): the child starts with no timers and can arm new ones;
 * nothing deadlocks" (SPEC 2, process hygiene), with the decided details:
 * no library thread in the child, Mockit_data_init structs stay known
 * (destroy gives 0 and frees), a caller-owned struct armed in the parent
 * gives EINVAL.  RELIABILITY FLT-06 (a), (b) small, (d).
 * Skipped under TSan (MOCKIT_UNDER_SANITIZER=tsan): TSan does not support
 * fork with threads.
 */
#include "mtest.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mockit.h>

static void skip_under_tsan(void) {
    if (strcmp(mt_sanitizer(), "tsan") == 0) {
        print_message("# skipped: fork under TSan\n");
        skip();
    }
}

/* Waits for the child; kills it and fails after `ms` (scaled). */
static void expect_child_exit_0(pid_t pid, double ms) {
    uint64_t dl = mt_now_ns() + mt_bound_ns(ms);
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && mt_now_ns() < dl) mt_sleep_ms(2);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("fork child %d hung (killed after %.0f ms)", (int)pid, ms * mt_time_scale());
    }
    assert_int_equal(pid, r);
    if (WIFSIGNALED(status)) fail_msg("fork child killed by signal %d", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("fork child failed check %d (see its message above)", WEXITSTATUS(status));
}

static int child_fail(int code, const char *what) {
    fprintf(stderr, "fork child: check %d failed: %s\n", code, what);
    return code;
}

/* ---- (a) armed timers in the parent ---- */

static atomic_int pcount, ocount, ccount;
static struct data ptick, pfar;
static struct data *powned;

static void *count_cb(void *arg) {
    atomic_fetch_add((atomic_int *)((struct data *)arg)->stuff, 1);
    return NULL;
}

static void *never_cb(void *arg) {
    (void)arg;
    return NULL;
}

static int child_checks(void) {
    int c0 = atomic_load(&pcount), o0 = atomic_load(&ocount);
    if (mt_lib_threads(NULL) != 0) return child_fail(1, "library threads exist in the child");
    mt_sleep_ms(200);
    if (atomic_load(&pcount) != c0 || atomic_load(&ocount) != o0)
        return child_fail(2, "a parent timer's callback ran in the child");
    if (Mockit_destroy(&ptick) != EINVAL)
        return child_fail(3, "destroy of a caller-owned interval armed in the parent is not EINVAL");
    if (Mockit_destroy(&pfar) != EINVAL)
        return child_fail(4, "destroy of a caller-owned one-shot armed in the parent is not EINVAL");
    if (Mockit_destroy(powned) != 0)
        return child_fail(5, "destroy of a Mockit_data_init struct armed in the parent is not 0");
    static struct data mine;
    mine = (struct data){ .cb = count_cb, .stuff = &ccount };
    if (Mockit_getit(5, &mine) != 0) return child_fail(6, "the child cannot arm");
    uint64_t dl = mt_now_ns() + mt_bound_ns(1000);
    while (atomic_load(&ccount) < 3 && mt_now_ns() < dl) mt_sleep_ms(1);
    if (atomic_load(&ccount) < 3) return child_fail(7, "the child's own timer does not tick");
    int clocks = 0;
    if (mt_lib_threads(&clocks) < 1 || clocks != 1)
        return child_fail(8, "the child's library threads are not there");
    if (Mockit_destroy(&mine) != 0) return child_fail(9, "destroy in the child");
    if (atomic_load(&pcount) != c0) return child_fail(10, "a parent callback ran in the child");
    return 0;
}

static void test_FLT06_fork_child_has_no_timers(void **state) {
    (void)state;
    skip_under_tsan();
    ptick = (struct data){ .cb = count_cb, .stuff = &pcount };
    pfar = (struct data){ .cb = never_cb };
    powned = Mockit_data_init();
    assert_non_null(powned);
    powned->cb = count_cb;
    powned->stuff = &ocount;
    assert_int_equal(0, Mockit_getit(5, &ptick));
    assert_int_equal(0, Mockit_oneoff(86400000, &pfar));
    assert_int_equal(0, Mockit_getit(7, powned));
    assert_true(MT_WAIT_UNTIL(atomic_load(&pcount) >= 3, 1000));

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) exit(child_checks());
    expect_child_exit_0(pid, 5000);

    /* the parent keeps ticking, its structs are its own */
    int p1 = atomic_load(&pcount), o1 = atomic_load(&ocount);
    assert_true(MT_WAIT_UNTIL(atomic_load(&pcount) >= p1 + 3 && atomic_load(&ocount) >= o1 + 3, 1000));
    assert_int_equal(0, Mockit_destroy(&ptick));
    assert_int_equal(0, Mockit_destroy(&pfar));
    assert_int_equal(0, Mockit_destroy(powned));
}

/* ---- (b) fork while callbacks run and other threads arm and destroy ---- */

static atomic_int stop_churn;
static atomic_int slow_in;

static void *slow_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&slow_in, 1);
    mt_sleep_ms(30);
    return NULL;
}

static void *churner(void *arg) {
    (void)arg;
    struct data d[4];
    for (int i = 0; i < 4; i++) d[i] = (struct data){ .cb = never_cb };
    unsigned k = 0;
    while (!atomic_load(&stop_churn)) {
        struct data *x = &d[k++ % 4];
        (void)((k % 2) ? Mockit_oneoff(k % 3, x) : Mockit_getit(1 + k % 5, x));
        Mockit_destroy(&d[(k + 1) % 4]);
    }
    for (int i = 0; i < 4; i++) Mockit_destroy(&d[i]);
    return NULL;
}

static int child_arm_once(void) {
    if (mt_lib_threads(NULL) != 0) return child_fail(1, "library threads exist in the child");
    atomic_store(&ccount, 0);
    static struct data mine;
    mine = (struct data){ .cb = count_cb, .stuff = &ccount };
    if (Mockit_oneoff(1, &mine) != 0) return child_fail(2, "the child cannot arm");
    uint64_t dl = mt_now_ns() + mt_bound_ns(2000);
    while (atomic_load(&ccount) < 1 && mt_now_ns() < dl) mt_sleep_ms(1);
    if (atomic_load(&ccount) != 1) return child_fail(3, "the child's one-shot did not fire");
    return 0;
}

static void test_FLT06_fork_under_churn(void **state) {
    (void)state;
    skip_under_tsan();
    static struct data slow;
    slow = (struct data){ .cb = slow_cb };
    assert_int_equal(0, Mockit_getit(10, &slow));
    atomic_store(&stop_churn, 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) mt_thread_start(&th[i], "mt-churner", churner, NULL);
    assert_true(MT_WAIT_UNTIL(atomic_load(&slow_in) >= 1, 1000));
    unsigned forks = mt_iters(10);
    for (unsigned i = 0; i < forks; i++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) exit(child_arm_once());
        expect_child_exit_0(pid, 5000);
        mt_sleep_ms(3);
    }
    atomic_store(&stop_churn, 1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    assert_int_equal(0, Mockit_destroy(&slow));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_TEST(test_FLT06_fork_child_has_no_timers),
        MT_TEST(test_FLT06_fork_under_churn),
    };
    return cmocka_run_group_tests_name("fork", tests, NULL, NULL);
}
