// The records of the timers the library knows, and the index from a
// caller's `struct data *` to its record.
//
// Why an index at all: Mockit_destroy must answer EINVAL for a pointer it
// does not know *without dereferencing it*, so the pointer itself is the
// key.  Records live in fixed chunks (stable addresses, no allocation per
// arm once warm) and are named by 32-bit indices; the index is an
// open-addressed table of those indices (4 bytes a slot, load <= 1/2),
// linear probing with backward-shift deletion (no tombstones to sweep).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/clock.hpp"

struct data;

namespace mockit {

enum class State : uint8_t {
    Free,      // on the free list
    Armed,     // in the heap
    Running,   // its callback is being called (or about to be)
    Idle,      // a Mockit_data_init struct that is not armed
    Finished,  // destroyed while destroyers wait; out of the index
};

struct Record {
    struct data *data;   // the key; nullptr while Free
    ns_t due;            // Armed: deadline.  Running: the grid point being
                         // served, or the new deadline if `rearm`.
    uint32_t period_ms;  // 0: one-shot
    uint32_t link;       // Free: next free record.
    int32_t overrun;     // Running: this call's.  Armed: carried into the next call.
    State state;
    bool owned : 1;      // made by Mockit_data_init: destroy frees it
    bool destroying : 1; // a destroy is under way: arming is refused
    bool rearm : 1;      // re-armed while Running: `due`/`period_ms` are new
    uint16_t waiters;    // destroyers waiting for the callback to return
};
static_assert(sizeof(Record) == (sizeof(void *) == 8 ? 32 : 28), "a record is half a cache line or less");

class Registry {
public:
    Registry();

    Record &at(uint32_t idx) noexcept {
        return chunks_[idx >> kChunkBits][idx & (kChunkSize - 1)];
    }

    // Start loading what find()/unindex() of `key` and at(idx) will touch:
    // with a million timers these are cache misses, and the dispatcher
    // knows them one callback ahead.
    void prefetch_slot(const struct data *key) const noexcept {
        __builtin_prefetch(&slots_[slot_of(key)]);
    }
    void prefetch(uint32_t idx) noexcept { __builtin_prefetch(&at(idx)); }

    // 0 when unknown.  Never dereferences `key`.
    uint32_t find(const struct data *key) const noexcept;

    // A fresh record for `key` (not yet known), in the index.
    // Throws std::bad_alloc.
    uint32_t insert(struct data *key);

    // Out of the index, record still allocated (Finished, or about to be freed).
    void unindex(uint32_t idx) noexcept;
    // Back to the free list; must already be out of the index.
    void release(uint32_t idx) noexcept;

    size_t live() const noexcept { return count_; }

    // Memory that insert() of one more record would allocate, made and
    // touched by the caller without the scheduler lock (see
    // Scheduler::make_room), then installed under it.
    struct Room {
        bool chunk_wanted = false;
        size_t slots_wanted = 0;
        std::unique_ptr<Record[]> chunk;
        std::vector<uint32_t> slots;   // after adopt_room: the old index, to free unlocked
    };
    // How many insert()s can be made without allocating (a record and an
    // index slot each); the scheduler reserves them for arms submitted
    // without its lock (Scheduler::submit).
    size_t insert_room() const noexcept {
        size_t records = records_room();
        size_t slots = slots_.size() / 2 > count_ ? slots_.size() / 2 - count_ : 0;
        return records < slots ? records : slots;
    }
    // Whether `want` more insert()s would allocate: a chunk, or a larger index.
    bool room_needed(size_t want = 1) const noexcept { return insert_room() < want; }
    // The index is nearly empty and should shrink, to shrink_size() slots
    // (memory follows the live timers).  unindex() never shrinks it
    // itself: the caller makes the smaller array without the lock (make_room
    // with slots_wanted = shrink_size()) and installs it with adopt_room.
    // Only once few are left: the rehash runs under the lock, a pause every
    // timer due meanwhile waits for, and it costs a cache miss per live
    // entry (a million one-shots firing over a second stalled 26 ms when
    // the index halved at 500k live, 15 ms at 130k).  So a big index is
    // kept until at most kShrinkLive remain (a few ms: the scan of the old
    // slots and those entries), then shrinks to a quarter full in one go.
    bool shrink_wanted() const noexcept {
        return slots_.size() > kMinSlots && count_ * 32 < slots_.size() && count_ < kShrinkLive;
    }
    size_t shrink_size() const noexcept {
        size_t cap = kMinSlots;
        while (cap < count_ * 4) cap *= 2;
        return cap;
    }
    // Under the lock: what to make.  make_room() then makes it without.
    // Room for `want` more inserts: a chunk holds kChunkSize records, far
    // more than the scheduler ever asks for at once (scheduler.hpp).
    Room plan_room(size_t want = 1) const noexcept {
        Room r;
        r.chunk_wanted = records_short(want);
        size_t cap = slots_.size();
        while ((count_ + want) * 2 > cap) cap *= 2;
        r.slots_wanted = cap != slots_.size() ? cap : 0;
        return r;
    }
    static void make_room(Room &room);   // may throw
    // Installs what `want` more inserts still need, if it leaves room for
    // `need` (0: `want`).  `ahead`: tables planned ahead of need (the
    // scheduler's offer_room) whose plan wanted them, a larger index is
    // installed whenever it is larger and fits: a count that moved since
    // the plan must not send the planned memory back, to be planned and
    // made again (a million arms made and freed an 8 MiB index 4 times).
    void adopt_room(Room &room, size_t want = 1, size_t need = 0, bool ahead = false) noexcept;

    // fork child: forget every record that `keep` rejects.
    template <class Keep>
    void retain(Keep keep);

private:
    static constexpr size_t kMinSlots = 1024;
    static constexpr size_t kShrinkLive = 8192;
    static constexpr uint32_t kChunkBits = 12;
    static constexpr uint32_t kChunkSize = 1u << kChunkBits;

    size_t slot_of(const struct data *key) const noexcept {
        uint64_t h = uint64_t(reinterpret_cast<uintptr_t>(key)) * 0x9E3779B97F4A7C15ull;
        return size_t(h >> shift_);
    }
    void grow_chunks();
    // Records an insert can take without a new chunk: free, or never used.
    size_t records_room() const noexcept {
        size_t made = chunks_.size() << kChunkBits;
        return free_n_ + (made > next_ ? made - next_ : 0);
    }
    bool index_full(size_t want = 1) const noexcept { return (count_ + want) * 2 > slots_.size(); }
    bool records_short(size_t want) const noexcept { return records_room() < want; }
    void rehash(size_t new_cap);
    void rehash_into(std::vector<uint32_t> &fresh) noexcept;   // fresh: zeroed; gets the old
    void index_put(uint32_t idx) noexcept;

    std::vector<std::unique_ptr<Record[]>> chunks_;
    uint32_t free_ = 0;   // head of the free list, 0 = empty
    size_t free_n_ = 0;   // records on it
    uint32_t next_ = 1;   // next never-used index (0 is "none")
    std::vector<uint32_t> slots_;
    unsigned shift_ = 0;
    size_t count_ = 0;
};

template <class Keep>
void Registry::retain(Keep keep) {
    for (size_t s = 0; s < slots_.size(); ++s) slots_[s] = 0;
    free_ = 0;
    free_n_ = 0;
    for (uint32_t idx = next_ - 1; idx >= 1; --idx) {
        Record &r = at(idx);
        if (r.state == State::Free || !keep(r)) {
            r = Record{};
            r.state = State::Free;
            r.link = free_;
            free_ = idx;
            ++free_n_;
        }
    }
    count_ = 0;
    for (uint32_t idx = 1; idx < next_; ++idx)
        if (at(idx).state != State::Free) { index_put(idx); ++count_; }
}

}  // namespace mockit
