// A 4-ary min-heap of (deadline, record index) with lazy deletion.
//
// Destroying or re-arming a timer does not search the heap: the old entry
// stays and is recognised as stale when it reaches the top (the owner's
// `valid` predicate: its record is no longer Armed with that deadline).
// So the heap never writes back into the records while it sifts -- with a
// million timers those writes were a cache miss per level -- and destroy
// is O(1).  Stale entries are bounded by compaction (the owner calls
// compact() when they outnumber the live ones).  Entries are packed to
// 12 bytes: the heap is the per-timer array the dispatcher walks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/clock.hpp"

namespace mockit {

struct __attribute__((packed)) HeapEntry {
    ns_t due;
    uint32_t rec;
};
static_assert(sizeof(HeapEntry) == 12);

class TimerHeap {
public:
    bool empty() const noexcept { return v_.empty(); }
    size_t size() const noexcept { return v_.size(); }
    size_t capacity() const noexcept { return v_.capacity(); }
    ns_t top_due() const noexcept { return v_.empty() ? kNever : v_[0].due; }
    const HeapEntry &top() const noexcept { return v_[0]; }
    // The entry that comes after top() (the least of its children), or
    // nullptr: what the dispatcher prefetches two callbacks ahead.
    const HeapEntry *second() const noexcept {
        size_t n = std::min(v_.size(), kArity + 1);
        const HeapEntry *best = nullptr;
        for (size_t c = 1; c < n; ++c)
            if (!best || v_[c].due < best->due) best = &v_[c];
        return best;
    }

    // May throw std::bad_alloc (the caller maps it to ENOMEM).
    void push(ns_t due, uint32_t rec) {
        v_.push_back(HeapEntry{due, rec});
        up(v_.size() - 1);
    }

    void pop() noexcept {
        HeapEntry last = v_.back();
        v_.pop_back();
        if (!v_.empty()) {
            v_[0] = last;
            down(0);
        }
    }

    // The entry last pushed, if it is still a leaf at the end (the usual
    // case for a timeout armed and cancelled before anything earlier
    // fires): remove it now rather than leave it stale.
    bool drop_if_last(ns_t due, uint32_t rec) noexcept {
        if (v_.empty() || v_.back().rec != rec || v_.back().due != due) return false;
        v_.pop_back();
        return true;
    }

    // Keep only the entries `keep` accepts, then restore the heap: O(n).
    template <class Keep>
    void compact(Keep keep) noexcept {
        v_.erase(std::remove_if(v_.begin(), v_.end(),
                                [&](const HeapEntry &e) { return !keep(e); }),
                 v_.end());
        for (size_t i = v_.size() / kArity + 1; i-- > 0;)
            if (i < v_.size()) down(i);
    }

    void clear() noexcept { v_.clear(); }

    // Growth without the lock (Scheduler::make_room): when the next push
    // would leave less than `slack` free entries, make_room() reserves the
    // larger array and touches its pages (their faults happen then, not
    // under the lock); adopt_room() under the lock copies the entries into
    // it.  Afterwards `fresh` holds the old array, to be freed unlocked.
    // The slack is for the re-queues of the timers whose callbacks run:
    // each pushes its entry back under the lock (Scheduler::finish), and a
    // library thread must never reallocate there.
    bool needs_room(size_t slack, size_t want = 1) const noexcept { return v_.size() + want + slack > v_.capacity(); }
    size_t room_size(size_t slack, size_t want = 1) const noexcept {
        size_t n = std::max<size_t>(v_.capacity() * 2, 128);
        while (n < v_.size() + want + slack) n *= 2;
        return n;
    }
    // Pushes that fit without reallocating, `slack` kept back.
    size_t push_room(size_t slack) const noexcept {
        return v_.capacity() > v_.size() + slack ? v_.capacity() - v_.size() - slack : 0;
    }
    static void make_room(std::vector<HeapEntry> &fresh, size_t n) {   // may throw
        fresh.reserve(n);
        // Raw storage of trivially copyable entries: a byte per page.
        volatile char *p = reinterpret_cast<char *>(fresh.data());
        for (size_t off = 0; off < n * sizeof(HeapEntry); off += 4096) p[off] = 0;
    }
    void adopt_room(std::vector<HeapEntry> &fresh) noexcept {
        if (fresh.capacity() <= v_.capacity()) return;   // grown meanwhile
        fresh.assign(v_.begin(), v_.end());   // fits: no allocation
        v_.swap(fresh);
    }

private:
    static constexpr size_t kArity = 4;

    void up(size_t pos) noexcept {
        HeapEntry e = v_[pos];
        while (pos > 0) {
            size_t parent = (pos - 1) / kArity;
            if (v_[parent].due <= e.due) break;
            v_[pos] = v_[parent];
            pos = parent;
        }
        v_[pos] = e;
    }

    void down(size_t pos) noexcept {
        HeapEntry e = v_[pos];
        size_t n = v_.size();
        for (;;) {
            size_t first = pos * kArity + 1;
            if (first >= n) break;
            size_t best = first;
            size_t end = std::min(first + kArity, n);
            for (size_t c = first + 1; c < end; ++c)
                if (v_[c].due < v_[best].due) best = c;
            if (v_[best].due >= e.due) break;
            v_[pos] = v_[best];
            pos = best;
        }
        v_[pos] = e;
    }

    std::vector<HeapEntry> v_;
};

}  // namespace mockit
