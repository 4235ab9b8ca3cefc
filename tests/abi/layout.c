/*
 * MIS-09 / ABI-01: the layout of struct data is ABI, frozen for
 * libmockit.so.1.  These assertions fail the build if it changes; the
 * program then checks the version macros against the project version and
 * the library's Mockit_version().
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mockit.h>

#if UINTPTR_MAX == UINT64_MAX           /* LP64: x86_64, aarch64, ... */
_Static_assert(sizeof(struct data) == 24, "sizeof(struct data) is ABI: 24 on LP64");
_Static_assert(offsetof(struct data, cb) == 0, "offsetof(struct data, cb) is ABI");
_Static_assert(offsetof(struct data, stuff) == 8, "offsetof(struct data, stuff) is ABI");
_Static_assert(offsetof(struct data, timer_id) == 16, "offsetof(struct data, timer_id) is ABI");
#elif UINTPTR_MAX == UINT32_MAX         /* ILP32: i386 (uint64_t 4-aligned in structs) */
_Static_assert(sizeof(struct data) == 16, "sizeof(struct data) is ABI: 16 on i386");
_Static_assert(offsetof(struct data, cb) == 0, "offsetof(struct data, cb) is ABI");
_Static_assert(offsetof(struct data, stuff) == 4, "offsetof(struct data, stuff) is ABI");
_Static_assert(offsetof(struct data, timer_id) == 8, "offsetof(struct data, timer_id) is ABI");
#else
#error "struct data: no layout recorded for this data model"
#endif
_Static_assert(sizeof(((struct data *)0)->timer_id) == 8, "timer_id is 64 bits");

#ifndef PROJECT_VERSION
#define PROJECT_VERSION MOCKIT_VERSION_STRING
#endif

int main(void) {
    char macros[64];
    int fail = 0;

    snprintf(macros, sizeof macros, "%d.%d.%d", MOCKIT_VERSION_MAJOR,
             MOCKIT_VERSION_MINOR, MOCKIT_VERSION_PATCH);
    printf("struct data: size %zu, cb@%zu stuff@%zu timer_id@%zu\n",
           sizeof(struct data), offsetof(struct data, cb),
           offsetof(struct data, stuff), offsetof(struct data, timer_id));
    printf("project %s, header %s (%s), library %s\n", PROJECT_VERSION,
           MOCKIT_VERSION_STRING, macros, Mockit_version());
    if (strcmp(macros, MOCKIT_VERSION_STRING) != 0) {
        printf("FAIL: MOCKIT_VERSION_MAJOR/MINOR/PATCH disagree with MOCKIT_VERSION_STRING\n");
        fail = 1;
    }
    if (strcmp(MOCKIT_VERSION_STRING, PROJECT_VERSION) != 0) {
        printf("FAIL: the header's version is not the project's (meson.build)\n");
        fail = 1;
    }
    if (strcmp(Mockit_version(), MOCKIT_VERSION_STRING) != 0) {
        printf("FAIL: Mockit_version() is not the header's version\n");
        fail = 1;
    }
    return fail;
}
