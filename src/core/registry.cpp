#include "core/registry.hpp"

namespace mockit {

Registry::Registry() {
    slots_.assign(kMinSlots, 0);
    shift_ = 64 - __builtin_ctzll(kMinSlots);
    chunks_.reserve(64);
}

uint32_t Registry::find(const struct data *key) const noexcept {
    if (!key) return 0;
    size_t mask = slots_.size() - 1;
    for (size_t s = slot_of(key);; s = (s + 1) & mask) {
        uint32_t idx = slots_[s];
        if (idx == 0) return 0;
        if (const_cast<Registry *>(this)->at(idx).data == key) return idx;
    }
}

void Registry::grow_chunks() {
    chunks_.push_back(std::make_unique<Record[]>(kChunkSize));
}

void Registry::index_put(uint32_t idx) noexcept {
    size_t mask = slots_.size() - 1;
    size_t s = slot_of(at(idx).data);
    while (slots_[s] != 0) s = (s + 1) & mask;
    slots_[s] = idx;
}

void Registry::rehash(size_t new_cap) {
    std::vector<uint32_t> fresh(new_cap, 0);   // may throw: nothing changed yet
    rehash_into(fresh);
}

void Registry::rehash_into(std::vector<uint32_t> &fresh) noexcept {
    std::vector<uint32_t> &old = fresh;
    old.swap(slots_);
    shift_ = 64 - __builtin_ctzll(slots_.size());
    // Each re-insertion reads its record (the key) at a random place:
    // with a million timers a cache miss each, one after the other.  Ask
    // for the records a few slots ahead so the misses overlap.
    constexpr size_t kAhead = 16;
    for (size_t i = 0; i < old.size(); ++i) {
        if (i + kAhead < old.size() && old[i + kAhead]) prefetch(old[i + kAhead]);
        if (old[i]) index_put(old[i]);
    }
}

void Registry::make_room(Room &room) {
    // Both are written here (zeroed): the page faults of first touch
    // happen now, not under the lock.  A change meanwhile is caught by
    // adopt_room().
    if (room.chunk_wanted) room.chunk = std::make_unique<Record[]>(kChunkSize);
    if (room.slots_wanted) room.slots.assign(room.slots_wanted, 0);
}

void Registry::adopt_room(Room &room, size_t want, size_t need, bool ahead) noexcept {
    if (!need) need = want;
    // Another thread may have grown them meanwhile: install only what one
    // more insert() still needs; the rest is freed by the caller.  The
    // list of chunks itself is small (a pointer per 4096 records): it may
    // grow here; if that fails, the insert tries again and reports ENOMEM.
    if (room.chunk && records_short(want)) {
        try {
            if (chunks_.size() == chunks_.capacity()) chunks_.reserve(chunks_.capacity() * 2);
            chunks_.push_back(std::move(room.chunk));
        } catch (...) {
        }
    }
    if (!room.slots.empty() && (ahead || index_full(want)) && room.slots.size() > slots_.size() &&
        (count_ + need) * 2 <= room.slots.size())
        rehash_into(room.slots);
    else if (!room.slots.empty() && shrink_wanted() && room.slots.size() == shrink_size())
        rehash_into(room.slots);
}

uint32_t Registry::insert(struct data *key) {
    // Make room first so that a failure leaves everything unchanged.
    if (index_full()) rehash(slots_.size() * 2);
    uint32_t idx = free_;
    if (idx) {
        free_ = at(idx).link;
        --free_n_;
    } else {
        if (next_ == UINT32_MAX) throw std::bad_alloc();
        if (records_short(1)) grow_chunks();
        idx = next_++;
    }
    Record &r = at(idx);
    r = Record{};
    r.data = key;
    index_put(idx);
    ++count_;
    return idx;
}

void Registry::unindex(uint32_t idx) noexcept {
    size_t mask = slots_.size() - 1;
    size_t s = slot_of(at(idx).data);
    while (slots_[s] != idx) s = (s + 1) & mask;
    // Backward-shift deletion: pull later members of the probe run into
    // the hole when their home slot is not after it.
    size_t hole = s;
    for (size_t j = (hole + 1) & mask; slots_[j] != 0; j = (j + 1) & mask) {
        size_t home = slot_of(at(slots_[j]).data);
        bool movable = ((j - home) & mask) >= ((j - hole) & mask);
        if (movable) {
            slots_[hole] = slots_[j];
            hole = j;
        }
    }
    slots_[hole] = 0;
    --count_;   // the caller may shrink the index now (shrink_wanted)
}

void Registry::release(uint32_t idx) noexcept {
    Record &r = at(idx);
    r = Record{};
    r.state = State::Free;
    r.link = free_;
    free_ = idx;
    ++free_n_;
}

}  // namespace mockit
