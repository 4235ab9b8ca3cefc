// MIS-09: <mockit.h> compiles as C++17 (-std=c++17 -pedantic -Werror, set in
// meson.build) and declares C linkage.
#include <mockit.h>

#include <cstddef>
#include <type_traits>

static_assert(std::is_standard_layout_v<struct data>, "struct data is a C struct");
static_assert(offsetof(struct data, cb) == 0);

extern "C" size_t mis09_cxx17_sizeof(void);
extern "C" size_t mis09_cxx17_sizeof(void) {
    int (*arm)(uint32_t, struct data *) = Mockit_oneoff;   // C linkage, exact prototype
    (void)arm;
    return sizeof(struct data);
}
