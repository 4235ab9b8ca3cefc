// flt11_globals.cpp - the C++ side of FLT-11 (see test_flt11.c): global
// objects whose constructors and destructors use the library.  They run in
// every rel-flt11 process, but act only in the child whose MOCKIT_FLT11
// mode names them.
#include "flt11.h"

namespace {

// Constructed before any library use in its process (it uses none), so its
// destructor is registered before the library's first use and runs after
// every exit handler registered later.  Defined first in this file: within
// a file, globals are constructed in order and destroyed in reverse.
struct DestroyAtExitRegisteredEarly {
    bool on = flt11_mode_is("cxx-dtor-before");
    ~DestroyAtExitRegisteredEarly() {
        if (on) flt11_destroy_all("a C++ global destructor registered before first use");
    }
};
DestroyAtExitRegisteredEarly g_early;

// Arms in its constructor (before main); its destructor is registered when
// that constructor returns, i.e. after the library's first use.
struct ArmInConstructor {
    bool on = flt11_mode_is("cxx-ctor");
    ArmInConstructor() {
        if (on) flt11_arm_all("a C++ global constructor");
    }
    ~ArmInConstructor() {
        if (on) flt11_destroy_all("that C++ global's destructor");
    }
};
ArmInConstructor g_arming;

struct DestroyAtExitRegisteredLate {
    ~DestroyAtExitRegisteredLate() {
        flt11_destroy_all("a C++ function-local static's destructor registered after first use");
    }
};

}  // namespace

extern "C" void flt11_cxx_late_guard(void) {
    static DestroyAtExitRegisteredLate guard;   // its destructor is registered now
    (void)guard;
}
