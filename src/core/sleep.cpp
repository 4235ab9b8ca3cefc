// Mockit_bsleep and the wall-clock readers: no scheduler, no threads.
#include "core/sleep.hpp"

#include <cerrno>
#include <climits>
#include <ctime>

#include "core/clock.hpp"

namespace mockit {

int sleep_ms(uint32_t ms, int64_t *left_ms) {
    *left_ms = 0;
    if (ms == 0) return 0;
    // An absolute deadline: an interrupted sleep knows exactly what is
    // left, and a caller resuming with *left does not drift.
    ns_t deadline = sat_add(now_ns(), ms_to_ns(ms));
    timespec ts = to_timespec(deadline);
    int rc;
    while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr)) != 0) {
        if (rc != EINTR) return rc;
        ns_t rest = deadline - now_ns();
        if (rest <= 0) return 0;              // the signal came at the very end
        *left_ms = (rest + kNsPerMs - 1) / kNsPerMs;   // rounded up
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
