#pragma once
#include <cstdint>
#include <ctime>

namespace mockit {
// 0 when fully slept; EINTR with *left_ms (rounded up, at most max_left:
// what the caller's type holds) when a signal handler interrupted it.
// Not noexcept: clock_nanosleep is a cancellation point, and a thread
// cancelled here must unwind through it.
int sleep_ms(uint32_t ms, int64_t *left_ms, int64_t max_left);
int wall_clock(time_t *secs, long *ms) noexcept;
}  // namespace mockit
