/*
 * test-badptr: "A pointer the library does not know gives EINVAL without
 * being dereferenced" (SPEC 2, Mockit_destroy), and Mockit_overrun's -1 /
 * EINVAL for the same pointers.  RELIABILITY MIS-01.  The library knows a
 * struct while it is armed or its callback runs, and a Mockit_data_init
 * struct until it is destroyed: so a fired one-shot is 0 (and freed) for a
 * Mockit_data_init struct and EINVAL for a caller-owned one.
 *
 * The first test runs before anything was armed in this process.
 */
#include "mtest.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mockit.h>

static void *never_cb(void *arg) {
    (void)arg;
    return NULL;
}

static void expect_overrun_einval(const struct data *d) {
    errno = 0;
    assert_int_equal(-1, Mockit_overrun(d));
    assert_int_equal(EINVAL, errno);
}

/* all the unknown pointers of MIS-01 (a)-(c); `phase` only names the run */
static void check_unknown_pointers(void) {
    assert_int_equal(EINVAL, Mockit_destroy(NULL));
    expect_overrun_einval(NULL);

    /* (a) a never-armed struct full of garbage: EINVAL, and left as it was */
    struct data garbage;
    memset(&garbage, 0x5a, sizeof garbage);
    assert_int_equal(EINVAL, Mockit_destroy(&garbage));
    expect_overrun_einval(&garbage);
    unsigned char want[sizeof garbage];
    memset(want, 0x5a, sizeof want);
    assert_memory_equal(want, &garbage, sizeof garbage);

    /* (b) a page the process may not touch: any dereference is SIGSEGV */
    long pg = sysconf(_SC_PAGESIZE);
    char *page = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    assert_int_equal(EINVAL, Mockit_destroy((struct data *)page));
    assert_int_equal(EINVAL, Mockit_destroy((struct data *)(page + 8)));
    assert_int_equal(EINVAL, Mockit_destroy((struct data *)(page + pg - sizeof(struct data))));
    expect_overrun_einval((const struct data *)page);
    expect_overrun_einval((const struct data *)(page + 16));
    munmap(page, (size_t)pg);

    /* (c) misaligned pointers */
    static _Alignas(16) char buf[64];
    for (int off = 1; off < 8; off += 2) {
        assert_int_equal(EINVAL, Mockit_destroy((struct data *)(buf + off)));
        expect_overrun_einval((const struct data *)(buf + off));
    }

    /* (d) a Mockit_data_init struct already destroyed (ASan: no use-after-free) */
    struct data *d = Mockit_data_init();
    assert_non_null(d);
    assert_int_equal(0, Mockit_destroy(d));
    assert_int_equal(EINVAL, Mockit_destroy(d));
    expect_overrun_einval(d);
}

static void test_MIS01_unknown_pointers_before_first_arm(void **state) {
    (void)state;
    check_unknown_pointers();
    assert_int_equal(0, mt_lib_threads(NULL));
}

static struct data far_away;

static void test_MIS01_unknown_pointers_with_timers_armed(void **state) {
    (void)state;
    far_away = (struct data){ .cb = never_cb };
    assert_int_equal(0, Mockit_oneoff(86400000, &far_away));
    check_unknown_pointers();
    /* a misaligned pointer into an armed struct is not that struct */
    assert_int_equal(EINVAL, Mockit_destroy((struct data *)((char *)&far_away + 1)));
    assert_int_equal(EINVAL, Mockit_destroy((struct data *)((char *)&far_away + 8)));
    expect_overrun_einval((const struct data *)((char *)&far_away + 1));
    assert_int_equal(0, Mockit_destroy(&far_away));   /* still armed, still known */
}

static void test_MIS01_destroyed_structs_are_unknown(void **state) {
    (void)state;
    /* caller-owned, armed, destroyed: known no more */
    static struct data s;
    s = (struct data){ .cb = never_cb };
    assert_int_equal(0, Mockit_getit(1000, &s));
    assert_int_equal(0, Mockit_destroy(&s));
    assert_int_equal(EINVAL, Mockit_destroy(&s));
    expect_overrun_einval(&s);

    /* Mockit_data_init, armed, destroyed (and freed) */
    struct data *d = Mockit_data_init();
    assert_non_null(d);
    d->cb = never_cb;
    assert_int_equal(0, Mockit_oneoff(86400000, d));
    assert_int_equal(0, Mockit_destroy(d));
    assert_int_equal(EINVAL, Mockit_destroy(d));
    expect_overrun_einval(d);
}

static atomic_int fired;

static void *count_cb(void *arg) {
    (void)arg;
    atomic_fetch_add(&fired, 1);
    return NULL;
}

static void test_MIS01_destroy_fired_oneoff(void **state) {
    (void)state;
    /* Mockit_data_init: known until destroyed, so 0, and it is freed
     * (valgrind / ASan leak checks see it) */
    atomic_store(&fired, 0);
    struct data *d = Mockit_data_init();
    assert_non_null(d);
    d->cb = count_cb;
    assert_int_equal(0, Mockit_oneoff(1, d));
    assert_true(MT_WAIT_UNTIL(atomic_load(&fired) == 1, 1000));
    mt_sleep_ms(20);   /* the callback has returned by now */
    expect_overrun_einval(d);
    /* it can be armed again after firing, and fires again */
    assert_int_equal(0, Mockit_oneoff(0, d));
    assert_true(MT_WAIT_UNTIL(atomic_load(&fired) == 2, 1000));
    mt_sleep_ms(20);
    assert_int_equal(0, Mockit_destroy(d));

    /* a never-armed Mockit_data_init struct is known as well */
    d = Mockit_data_init();
    assert_non_null(d);
    assert_int_equal(0, Mockit_destroy(d));

    /* caller-owned: nothing is kept once its callback returned */
    static struct data s;
    s.cb = count_cb;
    atomic_store(&fired, 0);
    assert_int_equal(0, Mockit_oneoff(1, &s));
    assert_true(MT_WAIT_UNTIL(atomic_load(&fired) == 1, 1000));
    mt_sleep_ms(20);
    assert_int_equal(EINVAL, Mockit_destroy(&s));
    expect_overrun_einval(&s);
    assert_int_equal(1, atomic_load(&fired));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        MT_TEST(test_MIS01_unknown_pointers_before_first_arm),
        MT_TEST(test_MIS01_unknown_pointers_with_timers_armed),
        MT_TEST(test_MIS01_destroyed_structs_are_unknown),
        MT_TEST(test_MIS01_destroy_fired_oneoff),
    };
    return cmocka_run_group_tests_name("badptr", tests, NULL, NULL);
}
