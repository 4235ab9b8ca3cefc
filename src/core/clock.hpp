// Time arithmetic for the core: 64-bit nanoseconds on CLOCK_MONOTONIC,
// saturating, never a 32-bit product (BND-01/04).  Pure functions, so the
// schedule maths can be unit-tested without sleeping.
#pragma once

#include <climits>
#include <cstdint>
#include <ctime>

namespace mockit {

using ns_t = int64_t;

inline constexpr ns_t kNsPerMs = 1'000'000;
inline constexpr ns_t kNsPerSec = 1'000'000'000;
inline constexpr ns_t kNever = INT64_MAX;  // "no deadline"

inline ns_t now_ns(clockid_t clock = CLOCK_MONOTONIC) noexcept {
    timespec ts;
    clock_gettime(clock, &ts);
    return ns_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

// UINT32_MAX ms is 4.3e15 ns: no overflow in 64 bits.
inline constexpr ns_t ms_to_ns(uint32_t ms) noexcept { return ns_t(ms) * kNsPerMs; }

inline constexpr ns_t sat_add(ns_t a, ns_t b) noexcept {
    ns_t r;
    return __builtin_add_overflow(a, b, &r) ? kNever : r;
}

inline constexpr timespec to_timespec(ns_t t) noexcept {
    return timespec{time_t(t / kNsPerSec), long(t % kNsPerSec)};  // tv_nsec < 1e9
}

inline constexpr int32_t sat_int32(int64_t v) noexcept {
    return v > INT32_MAX ? INT32_MAX : int32_t(v);
}

// The schedule of an interval timer is the grid origin + k*period.
// grid_catch_up: the call due at `due` is dispatched at `now` (>= due);
// how many later grid points have also passed and merge into this call.
inline constexpr int64_t grid_points_passed(ns_t due, ns_t period, ns_t now) noexcept {
    return now > due ? (now - due) / period : 0;
}

// grid_next: after a call for grid point `fired` returned at `now`, the
// next grid point to call, strictly after `fired` and not before `now`,
// and how many grid points were skipped on the way (they become the
// overrun of that next call).
struct GridNext {
    ns_t due;
    int64_t skipped;
};
inline constexpr GridNext grid_next(ns_t fired, ns_t period, ns_t now) noexcept {
    ns_t next = sat_add(fired, period);
    if (next >= now || next == kNever) return {next, 0};
    int64_t k = (now - next + period - 1) / period;  // points in [next, now)
    return {sat_add(next, k * period), k};
}

}  // namespace mockit
