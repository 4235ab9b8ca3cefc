/*
 * test-input: bad input and the small functions (SPEC 2): 0 or a positive
 * errno, never abort or print; NULL struct / NULL cb / zero interval are
 * EINVAL and consume nothing; huge times; an uninitialised automatic struct
 * with cb set works and stuff is never touched; Mockit_gettime,
 * Mockit_mstimestamp, Mockit_version; the ABI layout of struct data; the
 * header as C99 and C++; nothing printed on bad input; out of memory gives
 * NULL / ENOMEM (or EAGAIN), never a crash (plain build only: RLIMIT_AS in
 * a fork child).  RELIABILITY MIS-01, MIS-02, MIS-03, MIS-09, BND-02.
 *
 * The first two tests need a process that never used / never armed the
 * library.
 */
#include "mtest.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mockit.h>

/* MIS-09: the layout of struct data is ABI */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct data) == 24, "struct data is 24 bytes on LP64");
_Static_assert(offsetof(struct data, stuff) == 8, "stuff at 8 on LP64");
_Static_assert(offsetof(struct data, timer_id) == 16, "timer_id at 16 on LP64");
#else
_Static_assert(sizeof(struct data) == 16, "struct data is 16 bytes on ILP32");
_Static_assert(offsetof(struct data, stuff) == 4, "stuff at 4 on ILP32");
_Static_assert(offsetof(struct data, timer_id) == 8, "timer_id at 8 on ILP32");
#endif
_Static_assert(offsetof(struct data, cb) == 0, "cb first");

static void test_MIS02_null_struct_and_null_callback_consume_nothing(void **state) {
    (void)state;
    static struct data nocb;
    memset(&nocb, 0, sizeof nocb);
    /* the library may set up its (thread-less) bookkeeping once, on first
     * use: that is not what is measured */
    assert_int_equal(EINVAL, Mockit_destroy(&nocb));
    int threads = mt_threads_total();
    struct mallinfo2 m0 = mallinfo2();
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(EINVAL, Mockit_oneoff(1, NULL));
        assert_int_equal(EINVAL, Mockit_getit(1, NULL));
        assert_int_equal(EINVAL, Mockit_oneoff((uint32_t)i, &nocb));
        assert_int_equal(EINVAL, Mockit_getit(1 + (uint32_t)i, &nocb));
        assert_int_equal(EINVAL, Mockit_destroy(NULL));
        assert_int_equal(EINVAL, Mockit_destroy(&nocb));
    }
    struct mallinfo2 m1 = mallinfo2();
    MT_ASSERT_UCMP(m1.uordblks, ==, m0.uordblks);   /* nothing allocated and kept */
    assert_int_equal(threads, mt_threads_total());  /* no thread started */
    assert_int_equal(0, mt_lib_threads(NULL));
    assert_true(nocb.timer_id == 0);                /* and the struct left alone */
    assert_null(nocb.stuff);
}

static atomic_int calls;

static void *count_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&calls, 1);
    return NULL;
}

static void test_MIS03_getit_zero_is_einval(void **state) {
    (void)state;
    static struct data d;
    d = (struct data){ .cb = count_cb };
    atomic_store(&calls, 0);
    assert_int_equal(EINVAL, Mockit_getit(0, &d));
    struct data *o = Mockit_data_init();
    assert_non_null(o);
    o->cb = count_cb;
    assert_int_equal(EINVAL, Mockit_getit(0, o));
    mt_sleep_ms(30);
    assert_int_equal(0, atomic_load(&calls));
    assert_int_equal(EINVAL, Mockit_destroy(&d));   /* it was never armed */
    assert_int_equal(0, Mockit_destroy(o));
}

static void test_BND02_huge_times_do_not_fire(void **state) {
    (void)state;
    atomic_store(&calls, 0);
    static struct data d[5];
    for (int i = 0; i < 5; i++) d[i] = (struct data){ .cb = count_cb };
    assert_int_equal(0, Mockit_oneoff(UINT32_MAX, &d[0]));
    assert_int_equal(0, Mockit_oneoff(INT32_MAX, &d[1]));
    assert_int_equal(0, Mockit_oneoff((uint32_t)INT32_MAX + 1u, &d[2]));
    assert_int_equal(0, Mockit_getit(UINT32_MAX, &d[3]));
    assert_int_equal(0, Mockit_getit((uint32_t)INT32_MAX + 1u, &d[4]));
    mt_sleep_ms(200);
    assert_int_equal(0, atomic_load(&calls));
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = mt_now_ns();
        assert_int_equal(0, Mockit_destroy(&d[i]));
        MT_ASSERT_UCMP(mt_now_ns() - t0, <, mt_bound_ns(50));
    }
    mt_sleep_ms(20);
    assert_int_equal(0, atomic_load(&calls));
}

/* an uninitialised automatic struct with only cb set (the usage notes do
 * exactly that); stuff is the caller's and never touched */
static atomic_int garbage_calls;
static void *_Atomic garbage_arg;

static void *garbage_cb(void *arg) {
    atomic_store(&garbage_arg, arg);
    atomic_fetch_add(&garbage_calls, 1);
    return NULL;
}

static void test_uninitialised_automatic_struct_works(void **state) {
    (void)state;
    static struct data d;
    memset(&d, 0xa5, sizeof d);
    void *junk_stuff = d.stuff;
    uint64_t junk_id = d.timer_id;
    d.cb = garbage_cb;
    assert_int_equal(0, Mockit_oneoff(1, &d));
    assert_true(d.timer_id != 0 && d.timer_id != junk_id);
    assert_true(MT_WAIT_UNTIL(atomic_load(&garbage_calls) == 1, 1000));
    mt_sleep_ms(20);
    assert_int_equal(1, atomic_load(&garbage_calls));
    assert_ptr_equal(&d, atomic_load(&garbage_arg));
    assert_ptr_equal(junk_stuff, d.stuff);

    static struct data e;
    memset(&e, 0x5a, sizeof e);
    junk_stuff = e.stuff;
    e.cb = garbage_cb;
    assert_int_equal(0, Mockit_getit(2, &e));
    assert_true(MT_WAIT_UNTIL(atomic_load(&garbage_calls) >= 4, 1000));
    assert_int_equal(0, Mockit_destroy(&e));
    assert_ptr_equal(junk_stuff, e.stuff);
}

static void test_data_init_is_zeroed(void **state) {
    (void)state;
    for (int i = 0; i < 10; i++) {
        struct data *d = Mockit_data_init();
        assert_non_null(d);
        assert_null(d->cb);
        assert_null(d->stuff);
        assert_true(d->timer_id == 0);
        assert_int_equal(0, Mockit_destroy(d));
    }
}

/* ---- wall clock ---- */

static uint64_t realtime_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void test_MIS01_gettime_and_mstimestamp(void **state) {
    (void)state;
    time_t s = 7;
    long ms = 7;
    uint64_t stamp = 7;
    assert_int_equal(EINVAL, Mockit_gettime(NULL, &ms));
    assert_int_equal(EINVAL, Mockit_gettime(&s, NULL));
    assert_int_equal(EINVAL, Mockit_gettime(NULL, NULL));
    assert_int_equal(EINVAL, Mockit_mstimestamp(NULL));
    for (int i = 0; i < 200; i++) {
        uint64_t lo = realtime_ms();
        assert_int_equal(0, Mockit_gettime(&s, &ms));
        uint64_t hi = realtime_ms();
        MT_ASSERT_CMP(ms, >=, 0);
        MT_ASSERT_CMP(ms, <=, 999);
        uint64_t got = (uint64_t)s * 1000u + (uint64_t)ms;
        MT_ASSERT_UCMP(got, >=, lo);
        MT_ASSERT_UCMP(got, <=, hi);

        lo = realtime_ms();
        assert_int_equal(0, Mockit_mstimestamp(&stamp));
        hi = realtime_ms();
        MT_ASSERT_UCMP(stamp, >=, lo);
        MT_ASSERT_UCMP(stamp, <=, hi);
        if (i % 50 == 0) mt_sleep_ms(3);
    }
}

/* ---- version ---- */

static void *version_thread(void *arg) {
    *(const char **)arg = Mockit_version();
    return NULL;
}

static void test_MIS09_version(void **state) {
    (void)state;
    const char *v = Mockit_version();
    assert_non_null(v);
    assert_true(v[0] != 0);
    assert_string_equal(MOCKIT_VERSION_STRING, v);
    assert_ptr_equal(v, Mockit_version());   /* a static string */
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", MOCKIT_VERSION_MAJOR, MOCKIT_VERSION_MINOR,
             MOCKIT_VERSION_PATCH);
    assert_string_equal(want, v);
    pthread_t t[4];
    const char *got[4];
    for (int i = 0; i < 4; i++) mt_thread_start(&t[i], "mt-version", version_thread, &got[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_ptr_equal(v, got[i]);
    }
}

/* ---- the header as C99 and C++ (header_c99.c, header_cxx.cpp) ---- */

int mt_header_c99_check(void);
int mt_header_cxx_check(void);

static void test_MIS09_header_compiles_as_c99_and_cxx(void **state) {
    (void)state;
    assert_int_equal((int)sizeof(struct data), mt_header_c99_check());
    assert_int_equal((int)sizeof(struct data), mt_header_cxx_check());
}

/* ---- never print on bad input ---- */

static void test_MIS01_bad_input_prints_nothing(void **state) {
    (void)state;
    fflush(NULL);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved1 = dup(1), saved2 = dup(2);
    dup2(fileno(tmp), 1);
    dup2(fileno(tmp), 2);
    static struct data nocb, garbage;
    memset(&garbage, 0x3c, sizeof garbage);
    int rcs[12];
    rcs[0] = Mockit_oneoff(1, NULL);
    rcs[1] = Mockit_getit(1, NULL);
    rcs[2] = Mockit_oneoff(1, &nocb);
    rcs[3] = Mockit_getit(0, &garbage);
    rcs[4] = Mockit_destroy(NULL);
    rcs[5] = Mockit_destroy(&garbage);
    rcs[6] = Mockit_destroy((struct data *)((char *)&garbage + 3));
    rcs[7] = Mockit_overrun(NULL);
    rcs[8] = Mockit_overrun(&garbage);
    rcs[9] = Mockit_gettime(NULL, NULL);
    rcs[10] = Mockit_mstimestamp(NULL);
    rcs[11] = Mockit_bsleep(0, NULL, NULL);
    fflush(NULL);
    dup2(saved1, 1);
    dup2(saved2, 2);
    close(saved1);
    close(saved2);
    long size = (fseek(tmp, 0, SEEK_END) == 0) ? ftell(tmp) : -1;
    fclose(tmp);
    assert_int_equal(0, size);
    for (int i = 0; i < 7; i++) assert_int_equal(EINVAL, rcs[i]);
    assert_int_equal(-1, rcs[7]);
    assert_int_equal(-1, rcs[8]);
    assert_int_equal(EINVAL, rcs[9]);
    assert_int_equal(EINVAL, rcs[10]);
    assert_int_equal(0, rcs[11]);
}

/* ---- out of memory: NULL / ENOMEM, never a crash (SPEC 2, header) ---- */

static atomic_int oom_calls;

static void *oom_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&oom_calls, 1);
    return NULL;
}

struct chunk { struct chunk *next; };

/* in a fork child, before any library thread exists */
static int oom_child(void) {
    struct rlimit old, lim;
    if (getrlimit(RLIMIT_AS, &old) != 0) return 10;
    /* address space in use now, plus a little */
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 11;
    char line[256];
    unsigned long vm_kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %lu kB", &vm_kb) == 1) break;
    fclose(f);
    if (!vm_kb) return 12;
    lim = old;
    lim.rlim_cur = (rlim_t)(vm_kb + 1024) * 1024;
    if (setrlimit(RLIMIT_AS, &lim) != 0) return 13;
    struct chunk *held = NULL;
    /* eat the heap: big pieces first, then every small size class (free
     * lists are per size), so that any small allocation fails */
    for (size_t size = 4096; size >= 16; size -= size > 512 ? 512 : 8) {
        for (;;) {
            struct chunk *c = malloc(size);
            if (!c) break;
            c->next = held;
            held = c;
        }
    }
    errno = 0;
    struct data *d = Mockit_data_init();
    int e = errno;
    static struct data s;
    s.cb = oom_cb;
    int rc = Mockit_oneoff(1, &s);
    while (held) {
        struct chunk *n = held->next;
        free(held);
        held = n;
    }
    setrlimit(RLIMIT_AS, &old);
    if (d) return 1;                       /* should have failed */
    if (e != ENOMEM) return 2;
    /* The arm needs a record, a heap slot and threads.  In a fork child of
     * a process that used the library, all of those may be there already
     * (the parent's records and its threads' recycled contexts; glibc
     * reclaims the stacks of the threads that did not survive the fork):
     * then it succeeds, and the timer must work like any other. */
    int armed = rc == 0;
    if (rc != ENOMEM && rc != EAGAIN && !armed) return 3;
    if (armed) {
        for (int i = 0; i < 1000 && atomic_load(&oom_calls) < 1; i++) mt_sleep_ms(1);
        mt_sleep_ms(5);
        if (atomic_load(&oom_calls) != 1) return 8;
    }
    /* and with memory back, everything works */
    d = Mockit_data_init();
    if (!d) return 4;
    d->cb = oom_cb;
    if (Mockit_oneoff(1, d) != 0) return 5;
    for (int i = 0; i < 1000 && atomic_load(&oom_calls) < 1 + armed; i++) mt_sleep_ms(1);
    if (atomic_load(&oom_calls) != 1 + armed) return 6;
    mt_sleep_ms(5);
    if (Mockit_destroy(d) != 0) return 7;
    return 0;
}

/* first variant: the library's very first call happens out of memory (the
 * parent has not used the library yet: this test runs first); second: the
 * library is in use (scheduler and threads exist in the parent) */
static void test_out_of_memory_is_enomem(void **state) {
    const bool first_use = *(const bool *)*state;
    if (first_use) assert_int_equal(0, mt_lib_threads(NULL));
    if (mt_under_valgrind() || *mt_sanitizer()) {
        print_message("# skipped: needs the plain allocator (RLIMIT_AS)\n");
        skip();
    }
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(oom_child());
    int status = 0;
    uint64_t dl = mt_now_ns() + mt_bound_ns(10000);
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && mt_now_ns() < dl) mt_sleep_ms(2);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the out-of-memory child hung");
    }
    if (WIFSIGNALED(status)) fail_msg("the out-of-memory child died of signal %d", WTERMSIG(status));
    if (WEXITSTATUS(status) != 0) fail_msg("the out-of-memory child failed check %d", WEXITSTATUS(status));
}

static const bool first_use = true, in_use = false;

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_VTEST(test_out_of_memory_is_enomem, first_use),   /* before any library call */
        MT_TEST(test_MIS02_null_struct_and_null_callback_consume_nothing),   /* before any arm */
        MT_TEST(test_MIS03_getit_zero_is_einval),
        MT_TEST(test_BND02_huge_times_do_not_fire),
        MT_TEST(test_uninitialised_automatic_struct_works),
        MT_TEST(test_data_init_is_zeroed),
        MT_TEST(test_MIS01_gettime_and_mstimestamp),
        MT_TEST(test_MIS09_version),
        MT_TEST(test_MIS09_header_compiles_as_c99_and_cxx),
        MT_TEST(test_MIS01_bad_input_prints_nothing),
        MT_VTEST(test_out_of_memory_is_enomem, in_use),
    };
    return cmocka_run_group_tests_name("input", tests, NULL, NULL);
}
