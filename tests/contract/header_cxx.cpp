// The public header compiles as C++ (-pedantic -Werror) with C linkage for
// every function and no C++ symbol: SPEC 2.  Linked into test-input.
#include <mockit.h>

#include <type_traits>

static_assert(std::is_standard_layout<struct data>::value, "struct data is a C struct");
static_assert(std::is_same<decltype(&Mockit_oneoff), int (*)(uint32_t, struct data *)>::value,
              "Mockit_oneoff prototype");
static_assert(std::is_same<decltype(&Mockit_overrun), int (*)(const struct data *)>::value,
              "Mockit_overrun prototype");

namespace {
extern "C" void *cxx_cb(void *arg) { return arg; }
}

extern "C" int mt_header_cxx_check(void);

extern "C" int mt_header_cxx_check(void) {
    struct data d = {cxx_cb, nullptr, 0};
    if (Mockit_getit(0, &d) == 0) return 1;
    if (Mockit_version()[0] == 0) return 2;
    return static_cast<int>(sizeof(struct data));
}
