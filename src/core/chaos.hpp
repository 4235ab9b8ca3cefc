// FUZZ-05 "chaos build" (meson -Dchaos=true): random yields and short
// sleeps at the internal race windows, so the race tests explore more
// interleavings.  Compiles to nothing in a normal build.
#pragma once

#ifdef MOCKIT_CHAOS
#include <sched.h>
#include <time.h>
#include <cstdint>
namespace mockit {
inline void chaos_point() noexcept {
    static thread_local uint64_t s = 0x9E3779B97F4A7C15ull ^ uint64_t(uintptr_t(&s));
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    switch (s % 4) {
    case 0: sched_yield(); break;
    case 1: { timespec ts{0, long(s % 200000)}; nanosleep(&ts, nullptr); break; }
    default: break;
    }
}
}  // namespace mockit
#define MOCKIT_CHAOS_POINT() ::mockit::chaos_point()
#else
#define MOCKIT_CHAOS_POINT() ((void)0)
#endif
