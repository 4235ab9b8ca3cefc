// The original design of the seed notes, re-implemented minimally for
// comparison: one detached thread per timer, sleeping in a loop with a
// relative nanosleep(ms) and calling the callback after each sleep.
// Destroy sets a flag and cancels the thread (it does not wait: the
// thread is detached).  Nothing here is mockit code.
#pragma once

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "common.hpp"

namespace tpt {

struct Timer {
    void (*cb)(Timer *t) = nullptr;
    void *arg = nullptr;
    uint32_t ms = 0;
    bool interval = false;
    std::atomic<bool> stop{false};
    int64_t sleep_start = 0;   // for the benchmark: when the last sleep began
    pthread_t th{};
};

inline void *run(void *p) {
    Timer *t = static_cast<Timer *>(p);
    do {
        struct timespec ts = {time_t(t->ms / 1000), long(t->ms % 1000) * 1000000L};
        t->sleep_start = bench::now_ns();
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
        }
        if (t->stop.load(std::memory_order_acquire)) break;
        t->cb(t);
    } while (t->interval && !t->stop.load(std::memory_order_acquire));
    return nullptr;
}

// 0 or the pthread_create error (EAGAIN at pid_max / RLIMIT_NPROC).
inline int arm(Timer *t, uint32_t ms, bool interval, size_t stack = 0) {
    t->ms = ms;
    t->interval = interval;
    t->stop.store(false, std::memory_order_relaxed);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (stack) pthread_attr_setstacksize(&a, stack);
    int e = pthread_create(&t->th, &a, run, t);
    pthread_attr_destroy(&a);
    return e;
}

// Only for a timer whose thread is still alive (an armed far-future
// timer or an interval timer).
inline void destroy(Timer *t) {
    t->stop.store(true, std::memory_order_release);
    pthread_cancel(t->th);
}

}  // namespace tpt
