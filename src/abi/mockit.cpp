// The C ABI: every exported Mockit_* function.  Checks arguments, calls
// the core, returns 0 or a positive errno.  Nothing here throws: the core
// is noexcept, and a C++ exception never crosses into the caller.
#include <mockit.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "core/scheduler.hpp"
#include "core/sleep.hpp"

using mockit::Scheduler;

extern "C" {

MOCKIT_API int Mockit_bsleep(uint32_t ms, ssize_t *left, int *error) {
    int64_t rest = 0;
    // ILP32: ssize_t cannot hold every uint32_t; clamp rather than wrap
    // (and a call resuming with the clamped value still resumes).
    int rc = mockit::sleep_ms(ms, &rest, SSIZE_MAX);
    if (left) *left = ssize_t(rest);
    if (error) *error = rc;
    return rc;
}

MOCKIT_API struct data *Mockit_data_init(void) {
    auto *d = static_cast<struct data *>(std::calloc(1, sizeof(struct data)));
    if (!d) {
        errno = ENOMEM;
        return nullptr;
    }
    Scheduler *s = Scheduler::instance();
    if (!s || s->adopt_owned(d) != 0) {
        std::free(d);
        errno = ENOMEM;
        return nullptr;
    }
    return d;
}

MOCKIT_API int Mockit_oneoff(uint32_t ms, struct data *data) {
    if (!data || !data->cb) return EINVAL;
    // The schedule counts from the call, not from the end of the first
    // call's one-time set-up.
    mockit::ns_t start = mockit::now_ns();
    Scheduler *s = Scheduler::instance();
    return s ? s->arm(data, start, ms, false) : ENOMEM;
}

MOCKIT_API int Mockit_getit(uint32_t ms, struct data *data) {
    if (!data || !data->cb || ms == 0) return EINVAL;
    mockit::ns_t start = mockit::now_ns();
    Scheduler *s = Scheduler::instance();
    return s ? s->arm(data, start, ms, true) : ENOMEM;
}

MOCKIT_API int Mockit_destroy(struct data *data) {
    Scheduler *s = Scheduler::existing();   // none yet: nothing is known
    if (!data || !s) return EINVAL;
    return s->destroy(data);
}

MOCKIT_API int Mockit_overrun(const struct data *data) {
    Scheduler *s = Scheduler::existing();
    if (!s) {
        errno = EINVAL;
        return -1;
    }
    return s->overrun(data);
}

MOCKIT_API int Mockit_gettime(time_t *secs, long *ms) {
    if (!secs || !ms) return EINVAL;
    return mockit::wall_clock(secs, ms);
}

MOCKIT_API int Mockit_mstimestamp(uint64_t *ms) {
    if (!ms) return EINVAL;
    time_t s;
    long m;
    if (int rc = mockit::wall_clock(&s, &m)) return rc;
    *ms = uint64_t(s) * 1000u + uint64_t(m);
    return 0;
}

MOCKIT_API const char *Mockit_version(void) { return MOCKIT_VERSION_STRING; }

}  // extern "C"
