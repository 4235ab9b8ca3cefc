/* The public header compiles as strict C99 (-std=c99 -pedantic -Werror)
 * and needs nothing else: SPEC 2.  Linked into test-input. */
#include <mockit.h>

int mt_header_c99_check(void);

static void *c99_cb(void *arg) { return arg; }

int mt_header_c99_check(void) {
    struct data d = { c99_cb, 0, 0 };
    ssize_t left = 0;       /* <sys/types.h> came with the header */
    time_t secs = 0;
    long ms = 0;
    uint64_t stamp = 0;     /* <stdint.h> too */
    (void)sleep;            /* and <unistd.h> (the usage notes call sleep()) */
    if (Mockit_bsleep(0, &left, 0) != 0) return 1;
    if (Mockit_gettime(&secs, &ms) != 0 || Mockit_mstimestamp(&stamp) != 0) return 2;
    if (Mockit_getit(0, &d) == 0) return 3;
    if (Mockit_version()[0] == 0) return 4;
    return (int)sizeof(struct data);
}
