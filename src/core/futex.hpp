// The library threads' own sleep and wake-up: a futex word per sleeper.
//
// Why not a condition variable: pthread_cond_signal is a system call, and
// helgrind reports one made without its mutex as dubious, so it was made
// under the scheduler's lock, where a thread preempted on its way back
// from the kernel holds the lock and stalls every callback (LOAD-04: 94%
// of those signals came from the clock thread as it started a callback).
// A futex wake needs no mutex, so it is sent after the unlock
// (Scheduler::wake_later); tools see the hand-off through the lock, which
// both sides take around every change of what the sleeper acts on.
//
// The protocol: under the lock, a waker changes the sleeper's state and
// bumps its word; the sleeper reads the word under the lock, unlocks and
// sleeps only while the word still holds that value.  A wake-up sent after
// the sleeper woke for another reason is spurious, and every sleeper looks
// again after any return.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <ctime>

namespace mockit {

// Sleeps while *word == seen, until `until` (CLOCK_MONOTONIC, absolute;
// nullptr: no time-out) or a wake-up.  Private: the words are in this
// process only.
inline void futex_sleep(uint32_t *word, uint32_t seen, const timespec *until) noexcept {
    syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, seen, until, nullptr,
            FUTEX_BITSET_MATCH_ANY);
}

// One sleeper (a thread's own word), or all (destroyers share one word).
inline void futex_wake(uint32_t *word, bool all) noexcept {
    syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, all ? INT_MAX : 1, nullptr, nullptr, 0);
}

}  // namespace mockit
