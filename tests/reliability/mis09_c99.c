/* MIS-09: <mockit.h> compiles as strict C99 (-std=c99 -pedantic -Werror,
 * set in meson.build) and needs nothing else. */
#include <mockit.h>

size_t mis09_c99_sizeof(void);
const char *mis09_c99_version(void);

size_t mis09_c99_sizeof(void) { return sizeof(struct data); }
const char *mis09_c99_version(void) { return Mockit_version(); }
