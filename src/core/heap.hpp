// A 4-ary min-heap of (deadline, record index), indexed: every move tells
// the owner the entry's new position so that a record can be re-keyed or
// removed in O(log n) (re-arm, destroy).  Entries are packed to 12 bytes:
// the heap is the one per-timer array the dispatcher walks, so its
// footprint is what a million-timer heap costs in cache.
#pragma once

#include <cstdint>
#include <vector>

#include "core/clock.hpp"

namespace mockit {

struct __attribute__((packed)) HeapEntry {
    ns_t due;
    uint32_t rec;
};
static_assert(sizeof(HeapEntry) == 12);

// SetPos: void(uint32_t rec, uint32_t pos), called on every placement.
template <class SetPos>
class TimerHeap {
public:
    explicit TimerHeap(SetPos set_pos) : set_pos_(set_pos) {}

    bool empty() const noexcept { return v_.empty(); }
    size_t size() const noexcept { return v_.size(); }
    ns_t top_due() const noexcept { return v_.empty() ? kNever : v_[0].due; }
    uint32_t top_rec() const noexcept { return v_[0].rec; }

    // May throw std::bad_alloc (the caller maps it to ENOMEM).
    void push(ns_t due, uint32_t rec) {
        v_.push_back(HeapEntry{due, rec});
        up(v_.size() - 1);
    }

    void pop() noexcept { erase(0); }

    void erase(size_t pos) noexcept {
        size_t last = v_.size() - 1;
        if (pos != last) {
            v_[pos] = v_[last];
            v_.pop_back();
            if (!up(pos)) down(pos);
        } else {
            v_.pop_back();
        }
    }

    void update(size_t pos, ns_t due) noexcept {
        v_[pos].due = due;
        if (!up(pos)) down(pos);
    }

    void clear() noexcept { v_.clear(); }
    void shrink() { if (v_.capacity() > 4 * v_.size() + 1024) v_.shrink_to_fit(); }

private:
    static constexpr size_t kArity = 4;

    void place(size_t pos, const HeapEntry &e) noexcept {
        v_[pos] = e;
        set_pos_(e.rec, uint32_t(pos));
    }

    // Returns true if the entry moved up.
    bool up(size_t pos) noexcept {
        HeapEntry e = v_[pos];
        size_t start = pos;
        while (pos > 0) {
            size_t parent = (pos - 1) / kArity;
            if (v_[parent].due <= e.due) break;
            place(pos, v_[parent]);
            pos = parent;
        }
        place(pos, e);
        return pos != start;
    }

    void down(size_t pos) noexcept {
        HeapEntry e = v_[pos];
        size_t n = v_.size();
        for (;;) {
            size_t first = pos * kArity + 1;
            if (first >= n) break;
            size_t best = first;
            size_t end = first + kArity < n ? first + kArity : n;
            for (size_t c = first + 1; c < end; ++c)
                if (v_[c].due < v_[best].due) best = c;
            if (v_[best].due >= e.due) break;
            place(pos, v_[best]);
            pos = best;
        }
        place(pos, e);
    }

    std::vector<HeapEntry> v_;
    SetPos set_pos_;
};

}  // namespace mockit
