// Mockit_bsleep and the wall-clock readers: no scheduler, no threads.
#include "core/sleep.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <ctime>

#include "core/clock.hpp"

namespace mockit {

namespace {
// The last interrupted sleep of this thread: its exact deadline and the
// whole milliseconds it reported left.  `left` is rounded up, so a caller
// resuming with it (while (Mockit_bsleep(left, &left, NULL) == EINTR);)
// would oversleep by up to 1 ms per interruption; a call asking for exactly
// what is left of that sleep continues to its deadline instead.
thread_local ns_t t_resume_deadline = 0;
thread_local int64_t t_resume_left = -1;
}  // namespace

int sleep_ms(uint32_t ms, int64_t *left_ms, int64_t max_left) {
    *left_ms = 0;
    int64_t resume_left = t_resume_left;
    t_resume_left = -1;
    if (ms == 0) return 0;
    ns_t now = now_ns();
    // An absolute deadline: an interrupted sleep knows exactly what is left.
    ns_t deadline = sat_add(now, ms_to_ns(ms));
    // What is left is compared as it would be reported, clamped to
    // max_left: a clamped `left` stood for more, and resuming with it
    // continues to the deadline too (the total is never shorter than the
    // first request).
    if (int64_t(ms) == resume_left && t_resume_deadline > now &&
        std::min((t_resume_deadline - now + kNsPerMs - 1) / kNsPerMs, max_left) == int64_t(ms))
        deadline = t_resume_deadline;   // the rest of the interrupted sleep
    timespec ts = to_timespec(deadline);
    int rc;
    while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr)) != 0) {
        if (rc != EINTR) return rc;
        ns_t rest = deadline - now_ns();
        if (rest <= 0) return 0;              // the signal came at the very end
        *left_ms = (rest + kNsPerMs - 1) / kNsPerMs;   // rounded up
        if (*left_ms > max_left) *left_ms = max_left;
        t_resume_deadline = deadline;
        t_resume_left = *left_ms;
        return EINTR;
    }
    return 0;
}

int wall_clock(time_t *secs, long *ms) noexcept {
    timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return errno;
    *secs = ts.tv_sec;
    *ms = ts.tv_nsec / 1000000;
    return 0;
}

}  // namespace mockit
