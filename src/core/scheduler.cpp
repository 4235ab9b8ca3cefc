// Arming, destroying and dispatching: the state machine of a record.
//
//   (unknown) --arm--> Armed --due--> Running --returns--> Armed (interval,
//                        ^                                  or re-armed)
//   Idle <---------------+---------- (one-shot of a Mockit_data_init struct)
//   (unknown) <--------------------- (one-shot of a caller's struct)
//
// Everything here runs under mu_.  A callback runs without it.
#include "core/scheduler.hpp"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/annotate.hpp"
#include "core/chaos.hpp"
#include "core/futex.hpp"

namespace mockit {

thread_local Ctx *tls_ctx = nullptr;

namespace {
std::atomic<Scheduler *> g_scheduler{nullptr};
pthread_mutex_t g_make_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_once_t g_fork_once = PTHREAD_ONCE_INIT;

// fork(): the handlers cover g_make_mu as well as the scheduler, which may
// not exist yet.  A fork racing the first arm must not copy g_make_mu
// locked into the child (its Mockit_oneoff would wait forever), nor run a
// handler of a scheduler still being made (existing() is null until then).
void fork_prepare() {
    pthread_mutex_lock(&g_make_mu);
    if (Scheduler *s = Scheduler::existing()) s->before_fork();
}
void fork_parent() {
    if (Scheduler *s = Scheduler::existing()) s->after_fork_parent();
    pthread_mutex_unlock(&g_make_mu);
}
void fork_child() {
    if (Scheduler *s = Scheduler::existing()) s->after_fork_child();
    pthread_mutex_unlock(&g_make_mu);   // taken by this thread in fork_prepare
}
// Registered before g_make_mu is first taken, never while holding it:
// pthread_atfork waits for glibc's atfork lock, which a concurrent fork()
// holds across the whole fork, so registering under g_make_mu would keep
// g_make_mu held through that fork.
void register_fork_handlers() { pthread_atfork(fork_prepare, fork_parent, fork_child); }

// helgrind/drd: g_scheduler is an atomic, and its release store carries the
// scheduler's construction to the acquire loads (annotate.hpp).  Announced
// at load time, before any thread can touch it.
struct ToolAnnotations {
    ToolAnnotations() noexcept { MOCKIT_ATOMIC_VAR(g_scheduler); }
} tool_annotations;
}  // namespace

Scheduler *Scheduler::existing() noexcept {
    Scheduler *s = g_scheduler.load(std::memory_order_acquire);
    if (s) MOCKIT_HAPPENS_AFTER(&g_scheduler);
    return s;
}

Scheduler *Scheduler::instance() noexcept {
    if (Scheduler *s = existing()) return s;
    pthread_once(&g_fork_once, register_fork_handlers);
    // Never destroyed: library threads may run while static destructors
    // do at exit(), so the scheduler must outlive them all.
    pthread_mutex_lock(&g_make_mu);
    Scheduler *s = g_scheduler.load(std::memory_order_relaxed);
    if (!s) {
        try {
            s = new Scheduler();
            MOCKIT_HAPPENS_BEFORE(&g_scheduler);
            g_scheduler.store(s, std::memory_order_release);
        } catch (...) {
            s = nullptr;   // out of memory: the caller says ENOMEM
        }
    }
    pthread_mutex_unlock(&g_make_mu);
    return s;
}

namespace {
void init_mono_cond(pthread_cond_t *cv) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}
}  // namespace

Scheduler::Scheduler() {
    // Room for every library thread up front: the thread bookkeeping then
    // never allocates on paths that cannot report ENOMEM.
    threads_.reserve(kMaxCtx);
    idle_.reserve(kMaxCtx);
    spare_ctx_.reserve(kMaxCtx);
    pthread_mutex_init(&mu_, nullptr);
    pthread_mutex_init(&grow_mu_, nullptr);
    init_mono_cond(&start_cv_);
    // helgrind/drd: a relaxed atomic read by the spinning clock thread
    // without mu_; only a hint (it takes mu_ before acting), nothing is
    // published through it, so no happens-before to announce.
    MOCKIT_ATOMIC_VAR(spin_until_);
    // The futex words of the clock thread and of destroyers: valgrind
    // reads them for the kernel's comparison, without the lock (futex.hpp).
    MOCKIT_ATOMIC_VAR(clock_wake_);
    MOCKIT_ATOMIC_VAR(done_word_);
    MOCKIT_ATOMIC_VAR(room_word_);
    // Submission: atomics read and written without mu_; the slots' contents
    // are handed over through sub_free_ and sub_queue_ (release/acquire,
    // announced to the tools in take_slot, give_slot, submit and
    // drain_submissions).
    MOCKIT_ATOMIC_VAR(sub_free_);
    MOCKIT_ATOMIC_VAR(sub_queue_);
    MOCKIT_ATOMIC_VAR(look_by_);
    MOCKIT_ATOMIC_VAR(claimed_);
    // Kicks, waits and tables grown ahead (submit, wait_for_room,
    // offer_room): offer_'s contents are handed over through offer_state_.
    MOCKIT_ATOMIC_VAR(consumed_pub_);
    MOCKIT_ATOMIC_VAR(clock_tid_pub_);
    MOCKIT_ATOMIC_VAR(room_waiters_);
    MOCKIT_ATOMIC_VAR(behind_pub_);
    MOCKIT_ATOMIC_VAR(behind_since_pub_);
    MOCKIT_ATOMIC_VAR(behind_waiters_);
    MOCKIT_ATOMIC_VAR(behind_word_);
    MOCKIT_ATOMIC_VAR(stuck_at_);
    MOCKIT_ATOMIC_VAR(offer_state_);
    MOCKIT_ATOMIC_VAR(grow_ahead_);
    MOCKIT_ATOMIC_VAR(ahead_chunk_);
    MOCKIT_ATOMIC_VAR(ahead_slots_);
    MOCKIT_ATOMIC_VAR(ahead_heap_);
    MOCKIT_ATOMIC_VAR(ahead_want_);
    MOCKIT_ATOMIC_VAR(limit_);
    MOCKIT_ATOMIC_VAR(started_pub_);
    MOCKIT_ATOMIC_VAR(destroying_n_);
    MOCKIT_ATOMIC_VAR(next_id_);
    // Read by a patrolling standby without mu_ (patrol).
    MOCKIT_ATOMIC_VAR(running_);
    MOCKIT_ATOMIC_VAR(dispatched_);
    MOCKIT_ATOMIC_VAR(clock_dispatched_);
    MOCKIT_ATOMIC_VAR(standby_until_);
    MOCKIT_ATOMIC_VAR(standby_looks_soon_);
    MOCKIT_ATOMIC_VAR(standby_poked_);
    MOCKIT_ATOMIC_VAR(clock_busy_);
    for (uint32_t i = 0; i < kSubmissions; ++i) {
        MOCKIT_ATOMIC_VAR(subs_[i].next);
        give_slot(i + 1);
    }
}

// ---- the caller's side ----

// Growing the heap or the index copies every entry into memory touched
// for the first time: at 8192 timers one arm took 1.1 ms of CPU, nearly
// all of it page faults.  Under mu_ that stalls every callback, and a
// caller preempted there (nice 19 on a busy machine: it runs again only
// after hundreds of ms) stalls them for that long (LOAD-04).  So the new
// memory is made and touched here without the lock, only the copy is
// done under it, and the old arrays are freed without it again.  Rare
// (the sizes double), so the extra lock round trips cost nothing that
// shows.  If this allocation fails, the insert under the lock tries again
// and reports ENOMEM.
//
// grow_mu_ is held around that allocation and the free, and by the fork
// handlers: the library never allocates while another thread forks, as
// when every allocation was under mu_.  An allocator without fork
// handlers (GCC 12's libasan is one) would otherwise leave its lock held
// in the child, whose first arm then hangs (contract-fork did, under ASan).
void Scheduler::grow_unlocked(bool push, size_t want) noexcept {
    bool heap = push && heap_.needs_room(kRequeueSlack + running_, want);
    size_t heap_size = heap_.room_size(kRequeueSlack + running_, want);
    Registry::Room reg_room = reg_.plan_room(want);
    std::vector<HeapEntry> heap_room;
    // grow_mu_ is held until the new arrays are installed and the old
    // ones freed: a fork never finds them held only by this thread's
    // locals (the child would have lost them).  Order: grow_mu_, then mu_.
    // unlock() applies submitted arms meanwhile: room was planned for them.
    unlock();
    pthread_mutex_lock(&grow_mu_);
    try {
        Registry::make_room(reg_room);
        if (heap) TimerHeap::make_room(heap_room, heap_size);
    } catch (...) {
    }
    pthread_mutex_lock(&mu_);
    reg_.adopt_room(reg_room, 1 + promised());
    if (heap) heap_.adopt_room(heap_room);
    if (reg_room.chunk || !reg_room.slots.empty() || heap_room.capacity() != 0) {
        unlock();   // the old arrays (or unused new ones) go
        reg_room = Registry::Room{};
        std::vector<HeapEntry>().swap(heap_room);
        pthread_mutex_lock(&mu_);
    }
    pthread_mutex_unlock(&grow_mu_);   // still holding mu_: the caller goes on
}

void Scheduler::unindex(uint32_t idx) noexcept {
    reg_.unindex(idx);
    if (reg_.shrink_wanted()) shrink_later(reg_.shrink_size());
}

// The index shrinks (Registry::shrink_wanted) as it grows: the smaller
// array is made, and the old one freed, without mu_.  An old index of
// 32768 slots or more is 128 KiB, glibc's mmap threshold, so its free is
// a munmap: under mu_, the thread that finished the last one-shots of a
// big batch was preempted on its way back from it (LOAD-04's lock probe
// put the longest hold of nearly every 40 s run there, 92-168 ms by the
// clock thread, when 90% of the 10,000 one-shots had fired).  Called by
// unlock() after the hold that unindexed; a plan that no longer fits
// (timers armed or gone meanwhile) is dropped, and the next unindex
// plans again.  So is one that finds grow_mu_ taken: a library thread
// must not wait for an arm's allocation, and a shrink only saves memory.
void Scheduler::shrink_unlocked(size_t slots) noexcept {
    Registry::Room room;
    room.slots_wanted = slots;
    // order: grow_mu_, then mu_ (grow_unlocked)
    if (pthread_mutex_trylock(&grow_mu_) != 0) return;
    try {
        Registry::make_room(room);
    } catch (...) {
    }
    if (!room.slots.empty()) {
        pthread_mutex_lock(&mu_);
        // A smaller index has less room: never less than the submitted arms
        // not yet applied were promised (they could not be inserted).
        if (room.slots.size() / 2 >= reg_.live() + promised() + 1)
            reg_.adopt_room(room);   // swaps: room.slots is now the old index
        unlock();
    }
    room = Registry::Room{};
    pthread_mutex_unlock(&grow_mu_);
}

int Scheduler::adopt_owned(struct data *d) noexcept {
    lock();
    int rc = 0;
    try {
        if (!make_room(false)) throw std::bad_alloc();   // a record, no heap entry
        uint32_t idx = reg_.insert(d);
        Record &r = reg_.at(idx);
        r.state = State::Idle;
        r.owned = true;
    } catch (...) {
        rc = ENOMEM;
    }
    unlock();
    return rc;
}

int Scheduler::arm(struct data *d, ns_t start, uint32_t ms, bool interval) noexcept {
    ns_t due = sat_add(start, ms_to_ns(ms));
    uint32_t period = interval ? ms : 0;
    if (submit(d, due, period)) return 0;
    lock();
    int rc = arm_locked(d, due, period, false);
    unlock();
    return rc;
}

// ---- arms without the lock ----

// d->timer_id is the caller's field, written by every arm.  Two threads
// may arm one struct at once (MIS-06) and an arm need not hold mu_: an
// atomic store (relaxed: it publishes nothing else), which helgrind and
// drd are told to leave alone (they see no order between two of them).
namespace {
void set_timer_id(struct data *d, uint64_t id) noexcept {
    MOCKIT_ATOMIC_VAR(d->timer_id);
    __atomic_store_n(&d->timer_id, id, __ATOMIC_RELAXED);
}
}  // namespace

uint32_t Scheduler::take_slot() noexcept {
    uint64_t h = sub_free_.load(std::memory_order_acquire);
    for (;;) {
        uint32_t s = uint32_t(h);
        if (!s) return 0;
        uint64_t next = subs_[s - 1].next.load(std::memory_order_relaxed);
        uint64_t nh = (((h >> 32) + 1) << 32) | next;
        if (sub_free_.compare_exchange_weak(h, nh, std::memory_order_acquire, std::memory_order_acquire)) {
            MOCKIT_HAPPENS_AFTER(&sub_free_);
            return s;
        }
    }
}

void Scheduler::give_slot(uint32_t s) noexcept { give_slots(s, s); }

// A chain of slots, first to last linked by `next`, onto the free list.
void Scheduler::give_slots(uint32_t first, uint32_t last) noexcept {
    MOCKIT_HAPPENS_BEFORE(&sub_free_);
    uint64_t h = sub_free_.load(std::memory_order_relaxed);
    uint64_t nh;
    do {
        subs_[last - 1].next.store(uint32_t(h), std::memory_order_relaxed);
        nh = (((h >> 32) + 1) << 32) | first;
    } while (!sub_free_.compare_exchange_weak(h, nh, std::memory_order_release, std::memory_order_relaxed));
}

// The arm is made by the next holder of mu_ (drain_submissions), which
// must come before the timer is due: so only while the scheduler runs, a
// slot and room (limit_) are free, no destroy is under way (that arm
// answers ECANCELED, which only the lock can tell), and look_by_ is no
// later than the deadline.  Otherwise the caller takes the lock and the
// arm is made there, as it always was.  For a timer due before look_by_
// the submission is still made; the lock is then taken only to apply it.
bool Scheduler::submit(struct data *d, ns_t due, uint32_t period) noexcept {
    if (!started_pub_.load(std::memory_order_acquire) || destroying_n_.load(std::memory_order_relaxed) ||
        due < look_by_.load(std::memory_order_relaxed))
        return false;   // it would take the lock anyway (below)
    if (behind_pub_.load(std::memory_order_relaxed) && !tls_ctx) wait_while_behind();
    uint64_t claim, limit;
    for (int waits = 0;; ++waits) {
        claim = claimed_.fetch_add(1, std::memory_order_seq_cst);
        limit = limit_.load(std::memory_order_seq_cst);
        if (claim < limit) break;
        claimed_.fetch_sub(1, std::memory_order_relaxed);
        if (waits == 2 || !wait_for_room(claim)) return false;
    }
    uint32_t s = take_slot();
    if (!s) {
        claimed_.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }
    Submission &x = subs_[s - 1];
    x.d = d;
    x.due = due;
    x.period_ms = period;
    set_timer_id(d, next_id_.fetch_add(1, std::memory_order_relaxed));
    MOCKIT_HAPPENS_BEFORE(&sub_queue_);
    uint32_t head = sub_queue_.load(std::memory_order_relaxed);
    do {
        x.next.store(head, std::memory_order_relaxed);
    } while (!sub_queue_.compare_exchange_weak(head, s, std::memory_order_seq_cst, std::memory_order_relaxed));
    MOCKIT_CHAOS_POINT();   // a publish between the push and the look at look_by_
    if (due < look_by_.load(std::memory_order_seq_cst)) {
        // Nobody wakes for it in time: apply it now (lock() does), and let
        // watch() decide whom to wake, as for any arm.
        lock();
        unlock();
        return true;
    }
    // A batch: left to the next deadline, the list would fill its slots
    // (or the room promised), and the submitter that finds none applies
    // every waiting arm itself, under the lock.  So the clock thread is
    // kicked to take the lock as kDrainKickAt arms wait, or half the
    // promise is used (one submitter sees that count; a kick too many is
    // a look for nothing).  Likewise, when room runs low the larger
    // tables are made now, here, without the lock, for the library to
    // install (offer_room), not when room has run out, under it.
    uint64_t base = consumed_pub_.load(std::memory_order_relaxed);
    if (limit > base && claim + 1 - base == std::min<uint64_t>(kDrainKickAt, (limit - base + 1) / 2)) kick_clock_now();
    if (grow_ahead_.load(std::memory_order_relaxed) &&
        offer_state_.load(std::memory_order_relaxed) != kOfferReady)
        offer_room();
    return true;
}

// No slot free, or no room: the arm would take the lock and apply every
// waiting arm itself (or install the offered tables), a hold of 10-100 us
// per 256 arms when there were 256 slots, in which a preempted
// application thread stalls every callback.  Where the library can do that instead, the submitter kicks
// the clock thread and sleeps until its publish() (at most kRoomWait),
// then tries once more.  Needed when the arming thread keeps its CPU: the
// kick at kDrainKickAt wakes the clock thread, but on the arming thread's
// CPU it mostly waits for the end of the arming thread's time slice (a
// 5 ms burst of 10,000 arms without load: 41 holds by the arming thread,
// the clock thread's first after the burst).  Not for growth with nothing
// offered (an allocation failed), nor on a library thread (a callback's
// arms: the clock thread may be the caller).
bool Scheduler::wait_for_room(uint64_t claim) noexcept {
    if (tls_ctx) return false;
    // Out of room with larger tables planned: make them first.
    if (grow_ahead_.load(std::memory_order_relaxed) && offer_state_.load(std::memory_order_relaxed) != kOfferReady)
        offer_room();
    bool no_slot = claim - consumed_pub_.load(std::memory_order_relaxed) >= kSubmissions;
    if (!no_slot && offer_state_.load(std::memory_order_relaxed) != kOfferReady) return false;
    room_waiters_.fetch_add(1, std::memory_order_seq_cst);
    uint32_t seen = __atomic_load_n(&room_word_, __ATOMIC_SEQ_CST);
    // The kick is a system call: the clock thread's publish() after it
    // sees this waiter (and bumps room_word_, so no wake-up is lost).
    if (claimed_.load(std::memory_order_seq_cst) >= limit_.load(std::memory_order_seq_cst)) {
        kick_clock_now();
        MOCKIT_CHAOS_POINT();   // the kicked publish before the sleep: room_word_ moved, no sleep
        timespec until = to_timespec(now_ns() + kRoomWait);
        futex_sleep(&room_word_, seen, &until);
    }
    room_waiters_.fetch_sub(1, std::memory_order_relaxed);
    return true;
}

// Backpressure: timers are overdue (behind_), so an arm added now would
// wait in the taken list behind them (pop_due applies kShare per
// callback), or, due soon, make the library apply every taken arm ahead
// of the due callbacks.  So an application thread sleeps until the
// backlog is served (publish() wakes it), kRoomWait at a time, at most
// kBehindWaits times, and only while the library makes progress: a
// library with every thread stuck in a callback (LOAD-03) would not serve
// it sooner, and the first waiter that sees no callback start in a whole
// wait lets the arms through until one does (stuck_at_).  Nor when no arm
// waits at all (one arm is not a flood), nor once the backlog is older
// than kBehindPatience (an overload the arms did not make).  Measured with a million arms due
// within 1-1000 ms of each (LOAD-01): without it the arming thread, no
// longer slowed by the lock, armed in 0.6-1.3 s and the clock thread
// could not apply and dispatch that fast (late p50 0.3-0.4 s); with it
// arming takes 1.5-1.8 s and the late p99 is 0.4-12.5 ms.
void Scheduler::wait_while_behind() noexcept {
    if (now_ns() - behind_since_pub_.load(std::memory_order_relaxed) > kBehindPatience) return;
    for (unsigned i = 0; i < kBehindWaits; ++i) {
        uint64_t started = dispatched_.load(std::memory_order_relaxed);
        if (started == stuck_at_.load(std::memory_order_relaxed) ||
            claimed_.load(std::memory_order_relaxed) == consumed_pub_.load(std::memory_order_relaxed))
            return;
        behind_waiters_.fetch_add(1, std::memory_order_seq_cst);
        uint32_t seen = __atomic_load_n(&behind_word_, __ATOMIC_SEQ_CST);
        ns_t until = 0;
        if (behind_pub_.load(std::memory_order_seq_cst)) {
            MOCKIT_CHAOS_POINT();   // the backlog served before the sleep: behind_word_ moved, no sleep
            until = now_ns() + kRoomWait;
            timespec ts = to_timespec(until);
            futex_sleep(&behind_word_, seen, &ts);
        }
        behind_waiters_.fetch_sub(1, std::memory_order_relaxed);
        if (!behind_pub_.load(std::memory_order_relaxed)) return;
        if (until && dispatched_.load(std::memory_order_relaxed) == started && now_ns() >= until) {
            stuck_at_.store(started, std::memory_order_relaxed);
            return;
        }
    }
}

// ---- tables grown ahead ----

// Under mu_ (publish).  Room is low once fewer than ahead_want() more
// inserts fit: half the live timers again (at most kAheadMax), beyond the
// promised arms.  So a batch of arms finds the larger tables made and
// installed before it would have to grow them under the lock, and the
// index, grown at a third full or later, stays far from its shrink
// (Registry::shrink_wanted).
// The heap's stale entries are not counted: they go before it grows
// (make_heap_room), and a heap grown for them would stay large for good
// (LOAD05 heap_follows_live_timers).
namespace {
// Runs at every unlock: a store only when the value changes, so the
// submitters' cache lines are not taken from them for nothing.
template <class T>
void store_changed(std::atomic<T> &a, T v, std::memory_order order = std::memory_order_relaxed) noexcept {
    if (a.load(std::memory_order_relaxed) != v) a.store(v, order);
}
}  // namespace

void Scheduler::plan_ahead(size_t room) noexcept {
    size_t want = ahead_want();
    if (room >= want) {   // the common case, on every unlock: nothing low
        store_changed(grow_ahead_, false);
        return;
    }
    size_t slack = kRequeueSlack + running_;
    size_t live_entries = heap_.size() - stale_;
    bool heap_low = live_entries + want + slack > heap_.capacity();
    bool low = heap_low || reg_.room_needed(want);
    if (low) {
        // want + slack > stale_ when heap_low (the capacity holds the size)
        size_t heap = heap_low ? heap_.room_size(0, want + slack - stale_) : 0;
        Registry::Room r = reg_.plan_room(want);
        store_changed(ahead_heap_, heap);
        store_changed(ahead_slots_, r.slots_wanted);
        store_changed(ahead_chunk_, r.chunk_wanted);
        store_changed(ahead_want_, want);
    }
    store_changed(grow_ahead_, low, std::memory_order_release);
}

// A submitter, without mu_: makes the tables publish() planned, as
// grow_unlocked would, holding grow_mu_ (no allocation while the process
// forks), and leaves them for the next holder of mu_, which it kicks.
// The sizes are read without the lock and may be stale: the holder
// installs only what still fits (adopt_offer).  One thread at a time;
// another finding grow_mu_ taken goes on.
void Scheduler::offer_room() noexcept {
    if (pthread_mutex_trylock(&grow_mu_) != 0) return;
    int state = drop_spent_offer();   // the last one's old arrays
    bool made = false;
    if (state == kOfferNone && grow_ahead_.load(std::memory_order_acquire)) {
        offer_.reg.chunk_wanted = ahead_chunk_.load(std::memory_order_relaxed);
        offer_.reg.slots_wanted = ahead_slots_.load(std::memory_order_relaxed);
        size_t heap = ahead_heap_.load(std::memory_order_relaxed);
        offer_.want = ahead_want_.load(std::memory_order_relaxed);
        try {
            Registry::make_room(offer_.reg);
            if (heap) TimerHeap::make_room(offer_.heap, heap);
        } catch (...) {
        }
        made = offer_.reg.chunk || !offer_.reg.slots.empty() || offer_.heap.capacity() != 0;
        if (made) {
            MOCKIT_HAPPENS_BEFORE(&offer_state_);
            offer_state_.store(kOfferReady, std::memory_order_release);
        } else {
            // Nothing to make, or the allocation failed: not again on
            // every submit; the next unlock plans again.  An arm that
            // finds no room grows the tables under the lock (ENOMEM there).
            offer_ = Offer{};
            grow_ahead_.store(false, std::memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&grow_mu_);
    if (made) kick_clock_now();
}

// Under mu_: the offered tables are installed if they still fit (timers
// may have gone or come since the plan); what is not installed, and the
// arrays replaced, stay in offer_ until free_offer_unlocked.
void Scheduler::adopt_offer() noexcept {
    MOCKIT_HAPPENS_AFTER(&offer_state_);
    // The records chunk if the count the plan was made for, or today's,
    // still wants it; a larger index whenever it fits.
    reg_.adopt_room(offer_.reg, std::max(offer_.want, ahead_want()), 1 + promised(), true);
    if (offer_.heap.capacity() != 0) heap_.adopt_room(offer_.heap);
    MOCKIT_HAPPENS_BEFORE(&offer_state_);
    offer_state_.store(kOfferSpent, std::memory_order_release);
    free_offer_later();
}

// After the unlock that followed adopt_offer: the old arrays are freed
// without mu_, holding grow_mu_, as grow_unlocked frees them.  If another
// thread holds grow_mu_, the next offer_room frees them.
void Scheduler::free_offer_unlocked() noexcept {
    if (pthread_mutex_trylock(&grow_mu_) != 0) return;
    drop_spent_offer();
    pthread_mutex_unlock(&grow_mu_);
}

// Holding grow_mu_: an offer adopt_offer has spent (its arrays are the
// tables it replaced) is freed.  Returns offer_state_ after.
int Scheduler::drop_spent_offer() noexcept {
    int state = offer_state_.load(std::memory_order_acquire);
    if (state != kOfferSpent) return state;
    MOCKIT_HAPPENS_AFTER(&offer_state_);
    offer_ = Offer{};
    offer_state_.store(kOfferNone, std::memory_order_relaxed);
    return kOfferNone;
}

// Under mu_.  The submitted arms join the taken list in submission order
// (sub_queue_ is a stack: reversed first).
void Scheduler::take_submissions() noexcept {
    if (sub_queue_.load(std::memory_order_relaxed) == 0) return;
    uint32_t s = sub_queue_.exchange(0, std::memory_order_seq_cst);
    MOCKIT_HAPPENS_AFTER(&sub_queue_);
    uint32_t prev = 0, newest = s;
    while (s) {
        Submission &x = subs_[s - 1];
        uint32_t next = x.next.load(std::memory_order_relaxed);
        x.next.store(prev, std::memory_order_relaxed);
        if (x.due < taken_min_) taken_min_ = x.due;
        if (taken_filter_on_) set_taken_bit(x.d);
        prev = s;
        s = next;
    }
    if (taken_tail_)
        subs_[taken_tail_ - 1].next.store(prev, std::memory_order_relaxed);
    else
        taken_head_ = prev;
    taken_tail_ = newest;
}

// Under mu_.  The oldest `most` taken arms, each as arm_locked would have
// made it at submit time; the room for them was promised (limit_), so
// nothing here allocates.  An arm of a struct whose destroy began after
// submit() looked is dropped, as if made just before that destroy, which
// then removed it.  Not re-entered: arm_locked may let go of mu_ (the first
// arm waits for its clock thread), and an arm applied meanwhile by another
// thread would overtake the one in hand.
void Scheduler::apply_taken(size_t most) noexcept {
    if (draining_ || !taken_head_) return;
    draining_ = true;
    uint32_t first = 0, last = 0;
    for (size_t n = 0; taken_head_ && n < most; ++n) {
        uint32_t s = taken_head_;
        Submission &x = subs_[s - 1];
        struct data *d = x.d;
        ns_t due = x.due;
        uint32_t period = x.period_ms;
        taken_head_ = x.next.load(std::memory_order_relaxed);
        if (!taken_head_) taken_tail_ = 0;
        ++consumed_;
        if (!first) first = s;
        last = s;
        // The slots go back chained, in one compare-and-swap (a slot given
        // back per arm was a CAS against the submitter's on the other CPU,
        // per arm: take_slot was 11% of a million-arm burst's profile once
        // the clock thread applied them).  At the end of the list the
        // chain ends: a take while arm_locked lets go of mu_ starts a new
        // one, not linked to it.
        if (!taken_head_) {
            give_slots(first, last);
            first = 0;
        }
        arm_locked(d, due, period, true);
    }
    if (first) give_slots(first, last);
    if (!taken_head_) {
        taken_min_ = kNever;
        if (taken_filter_on_) {
            std::memset(taken_bits_, 0, sizeof taken_bits_);
            taken_filter_on_ = false;
        }
    }
    consumed_pub_.store(consumed_, std::memory_order_relaxed);
    draining_ = false;
}

// Under mu_: the filter of the taken list (taken_has), from the list.
// Once per backlog, at most kSubmissions entries.
void Scheduler::make_taken_filter() noexcept {
    for (uint32_t s = taken_head_; s; s = subs_[s - 1].next.load(std::memory_order_relaxed))
        set_taken_bit(subs_[s - 1].d);
    taken_filter_on_ = true;
}

// The cheap tests first: this runs at every unlock and callback return
// of a library thread serving a backlog.
bool Scheduler::taken_may_wait() noexcept {
    if (!behind_ || !taken_head_ || !tls_ctx) return false;
    ns_t top = next_due();
    end_stale_behind(top);
    return behind_ && taken_min_ >= top;
}

// behind_ ends too when the due timers go without a pop (destroyed or
// re-armed): then nothing due at behind_at_ is left.  `top`: next_due().
void Scheduler::end_stale_behind(ns_t top) noexcept {
    if (behind_ && top > behind_at_) behind_ = false;
}

void Scheduler::lock() noexcept {
    pthread_mutex_lock(&mu_);
    drain_submissions();
}

// Under mu_, as it is let go: apply what was submitted, then publish when
// the library next looks and how much room submitters may take.  Again if
// a submission came meanwhile: one that finds look_by_ older than our
// store was seen by our load of sub_queue_, or sees the value we stored.
void Scheduler::publish() noexcept {
    unlocking_ = true;
    if (offer_state_.load(std::memory_order_acquire) == kOfferReady) adopt_offer();
    do {
        // A library thread serving overdue timers leaves the taken list to
        // pop_due's share (backpressure); everyone else applies it all.
        take_submissions();
        if (!taken_may_wait()) apply_taken(SIZE_MAX);
        ns_t top = started_ ? next_due() : 0;
        end_stale_behind(top);
        // At most a slot's worth: no more can wait to be made, and a larger
        // promise would only keep the index from shrinking (shrink_unlocked).
        // Stored only when changed: the value there is still true.
        size_t r = room();
        uint64_t limit = consumed_ + std::min<size_t>(r ? r - 1 : 0, kSubmissions);
        if (!growing_) store_changed(limit_, limit);
        plan_ahead(r);
        // Waiters for room are woken when there is some: while the library
        // serves a backlog, not for the kShare arms of each callback (a
        // wake-up per callback, and the submitter back for the next two).
        if (behind_pub_.load(std::memory_order_relaxed) != behind_) {
            if (behind_) behind_since_pub_.store(behind_since_, std::memory_order_relaxed);
            behind_pub_.store(behind_, std::memory_order_seq_cst);
        }
        if (room_waiters_.load(std::memory_order_relaxed) &&
            (!behind_ || limit_.load(std::memory_order_relaxed) >=
                             claimed_.load(std::memory_order_relaxed) + kSubmissions / 4))
            wake_later(&room_word_, true);
        if (!behind_ && behind_waiters_.load(std::memory_order_seq_cst)) wake_later(&behind_word_, true);
        // A later look_by_ than the truth is safe (its submitters take the
        // lock), an earlier one is not: only a move later needs the store
        // ordered before our look at sub_queue_.
        ns_t look = std::min(top, taken_min_), was = look_by_.load(std::memory_order_relaxed);
        if (look > was)
            look_by_.store(look, std::memory_order_seq_cst);
        else if (look < was)
            look_by_.store(look, std::memory_order_relaxed);
        MOCKIT_CHAOS_POINT();   // a submission between the store and the look at the list
        // A drain under way (its thread waits for a clock thread to start,
        // inside arm_locked) finishes the list when it resumes.
    } while (!draining_ && sub_queue_.load(std::memory_order_seq_cst) != 0);
    unlocking_ = false;
}

// Under mu_.  `submitted`: from drain_submissions (no room to make, the
// timer_id was set by submit).
int Scheduler::arm_locked(struct data *d, ns_t due, uint32_t period, bool submitted) noexcept {
    if (!started_) {
        if (int rc = start_threads()) return rc;
    }
    if (!submitted && !make_room(true)) return ENOMEM;
    uint32_t idx = reg_.find(d);
    bool queued = true;
    try {
        if (!idx) {
            idx = reg_.insert(d);
            Record &r = reg_.at(idx);
            r.period_ms = period;
            try {
                queue(idx, due);
            } catch (...) {
                unindex(idx);
                reg_.release(idx);
                throw;
            }
        } else {
            Record &r = reg_.at(idx);
            if (r.destroying) return ECANCELED;
            switch (r.state) {
            case State::Armed:
                unqueue(idx);   // one struct is one timer: the old entry goes stale
                [[fallthrough]];
            case State::Idle:
                try {
                    queue(idx, due);
                } catch (...) {
                    if (!r.owned) {   // nothing is kept for a caller's idle struct
                        unindex(idx);
                        reg_.release(idx);
                    }
                    throw;
                }
                r.period_ms = period;
                r.overrun = 0;
                break;
            case State::Running:
                // Never overlap: the new schedule starts when the running
                // call returns (finish()).
                r.due = due;
                r.period_ms = period;
                r.rearm = true;
                queued = false;
                break;
            case State::Free:
            case State::Finished:
                break;  // not in the index
            }
        }
    } catch (...) {
        return ENOMEM;
    }
    if (!submitted) set_timer_id(d, next_id_.fetch_add(1, std::memory_order_relaxed));
    if (queued) watch(due);
    return 0;
}

void Scheduler::forget(uint32_t idx) noexcept {
    Record &r = reg_.at(idx);
    struct data *d = r.data;
    bool owned = r.owned;
    if (r.destroying) destroying_n_.fetch_sub(1, std::memory_order_relaxed);
    unindex(idx);
    if (r.waiters) {
        r.state = State::Finished;   // the last waiter releases it
        wake_later(&done_word_, true);
    } else {
        reg_.release(idx);
    }
    if (owned) std::free(d);
}

int Scheduler::destroy(struct data *d) noexcept {
    MOCKIT_CHAOS_POINT();   // a destroy racing the expiry decision
    lock();   // arms submitted before it are made first
    uint32_t idx = reg_.find(d);   // does not dereference d
    if (!idx) {
        unlock();
        return EINVAL;
    }
    Record &r = reg_.at(idx);
    int rc = 0;
    switch (r.state) {
    case State::Armed:
        unqueue(idx);
        forget(idx);
        break;
    case State::Idle:
        forget(idx);
        break;
    case State::Running: {
        Ctx *self = (tls_ctx && tls_ctx->generation == generation_) ? tls_ctx : nullptr;
        if (self && self->current == idx) {
            // From inside its own callback: no wait; finish() stops it.
            if (!r.destroying) destroying_n_.fetch_add(1, std::memory_order_relaxed);
            r.destroying = true;
            r.rearm = false;
            break;
        }
        if (self && self->current && would_deadlock(self, idx)) {
            rc = EDEADLK;
            break;
        }
        if (!r.destroying) destroying_n_.fetch_add(1, std::memory_order_relaxed);
        r.destroying = true;
        r.rearm = false;
        ++r.waiters;
        if (self) self->waiting_for = idx;
        MOCKIT_CHAOS_POINT();
        while (r.state == State::Running) sleep_on(&done_word_);
        if (self) self->waiting_for = 0;
        // Records live in chunks that never move: r is still valid.
        if (--r.waiters == 0 && r.state == State::Finished) reg_.release(idx);
        break;
    }
    case State::Free:
    case State::Finished:
        rc = EINVAL;
        break;
    }
    unlock();
    return rc;
}

int Scheduler::overrun(const struct data *d) noexcept {
    // Only the thread running d's callback may ask: no lock needed.
    Ctx *self = tls_ctx;
    if (d && self && self->current && self->cur_data == d) return self->cur_overrun;
    errno = EINVAL;
    return -1;
}

Ctx *Scheduler::runner_of(uint32_t idx) const noexcept {
    for (Ctx *c : threads_)
        if (c->current == idx) return c;
    return nullptr;
}

// Would `self` (inside a callback) waiting for `target` close a cycle of
// callbacks each waiting for the next?  Then the caller gets EDEADLK.
bool Scheduler::would_deadlock(const Ctx *self, uint32_t target) const noexcept {
    for (size_t hops = 0; hops <= threads_.size(); ++hops) {
        const Ctx *r = runner_of(target);
        if (!r) return false;
        if (r == self) return true;
        if (!r->waiting_for) return false;
        target = r->waiting_for;
    }
    return false;
}

// ---- the library threads' side ----

bool Scheduler::entry_valid(const HeapEntry &e) noexcept {
    const Record &r = reg_.at(e.rec);
    return r.state == State::Armed && r.due == e.due;
}

ns_t Scheduler::next_due() noexcept {
    while (!heap_.empty() && !entry_valid(heap_.top())) {
        heap_.pop();
        --stale_;
    }
    return heap_.top_due();
}

void Scheduler::queue(uint32_t idx, ns_t due) {
    heap_.push(due, idx);
    Record &r = reg_.at(idx);
    r.due = due;
    r.state = State::Armed;
    ++armed_;
}

void Scheduler::unqueue(uint32_t idx) noexcept {
    Record &r = reg_.at(idx);
    r.state = State::Idle;   // the caller sets the real next state
    --armed_;
    if (heap_.drop_if_last(r.due, idx)) return;
    if (armed_ == 0) {
        // Nothing armed: drop every entry.  The kernel timer is left as it
        // is: disarming it here would cost a system call on every destroy;
        // if it goes off, the clock thread finds nothing and disarms it.
        heap_.clear();
        stale_ = 0;
        // The patrolling standby goes idle now rather than at its deadline:
        // nothing armed, no wake-up later.
        if (standby_) poke_standby();
        return;
    }
    if (++stale_ > 1024 && stale_ > heap_.size() / 2) compact_heap();
}

void Scheduler::compact_heap() noexcept {
    heap_.compact([this](const HeapEntry &e) { return entry_valid(e); });
    stale_ = 0;
}

// Before the heap grows, stale entries are dropped instead when they are a
// quarter of it or more: its size then follows the most timers armed at
// once, not how they were destroyed.  Otherwise a rare run of destroys
// with far deadlines (their entries stay until compaction) raises the
// array for good, late in a long run (LOAD-05 saw 12 KiB becoming 24 KiB
// after 90 minutes).  O(n) under the lock, as the growth's copy is, and
// at most once per n/4 pushes.
void Scheduler::make_heap_room() noexcept {
    if (stale_ > heap_.size() / 4) compact_heap();
}

// With a million timers every record, struct and index slot a callback
// touches is a cache miss.  The next pops are known: the next record was
// asked for one pop ago, so its struct and index slot can be asked for
// now, and the record after it.  (A prefetch never faults, stale entries
// included.)
void Scheduler::prefetch_next() noexcept {
    if (heap_.empty()) return;
    const Record &n = reg_.at(heap_.top().rec);
    __builtin_prefetch(n.data);   // run_callback reads its cb
    if (!n.period_ms && !n.owned) reg_.prefetch_slot(n.data);
    if (const HeapEntry *after = heap_.second()) reg_.prefetch(after->rec);
}

uint32_t Scheduler::pop_due(Ctx *self, ns_t now) noexcept {
    // An arm submitted before this may re-arm or replace a due timer, or
    // be due itself: then every taken arm is made first, as it would have
    // been had it taken the lock.  So is the list when nothing is due.
    // Otherwise kShare of them: the rest waits for the backlog of due
    // timers (behind_), and so do their submitters (backpressure).
    take_submissions();
    ns_t top = next_due();
    if (taken_head_) {
        // kShare: none of them re-arms the top (taken_has)
        bool all = top > now || taken_min_ <= now || taken_has(reg_.at(heap_.top().rec).data);
        apply_taken(all ? SIZE_MAX : kShare);
        top = next_due();
    }
    if (top > now) {
        behind_ = false;
        return 0;
    }
    if (followers_ > kStartFollowers) retire_surplus(now);
    uint32_t idx = heap_.top().rec;
    heap_.pop();
    --armed_;
    Record &r = reg_.at(idx);
    if (!r.period_ms && !r.owned) reg_.prefetch_slot(r.data);   // finish() unindexes it
    prefetch_next();
    r.state = State::Running;
    count_up(running_);
    count_up(dispatched_);
    if (self->is_clock) count_up(clock_dispatched_);
    int64_t merged = r.overrun;
    if (r.period_ms) {
        // Late by whole periods (a stopped process, a busy machine): those
        // grid points merge into this call; the grid does not move.
        ns_t period = ms_to_ns(r.period_ms);
        int64_t passed = grid_points_passed(r.due, period, now);
        r.due += passed * period;
        merged += passed;
    }
    r.overrun = sat_int32(merged);
    self->current = idx;
    self->cur_data = r.data;
    self->cur_overrun = r.overrun;
    // The next entry is not checked (its record was only just prefetched):
    // a stale one makes behind_ true a callback early, which is safe.
    bool was = behind_;
    behind_ = heap_.top_due() <= now;
    behind_at_ = now;
    if (behind_ && !was) behind_since_ = now;
    return idx;
}

void Scheduler::finish(Ctx *self, uint32_t idx) noexcept {
    count_down(running_);
    self->current = 0;
    self->cur_data = nullptr;
    Record &r = reg_.at(idx);
    if (r.destroying) {
        forget(idx);
        return;
    }
    ns_t next;
    if (r.rearm) {
        r.rearm = false;
        r.overrun = 0;
        next = r.due;
    } else if (r.period_ms) {
        GridNext g = grid_next(r.due, ms_to_ns(r.period_ms), now_ns());
        r.overrun = sat_int32(g.skipped);
        next = g.due;
    } else {
        if (r.owned) {
            r.state = State::Idle;
        } else {
            unindex(idx);   // nothing is kept for a caller's struct
            reg_.release(idx);
        }
        return;
    }
    try {
        queue(idx, next);
    } catch (...) {
        // Out of memory for the heap slot this record just gave up: drop the
        // schedule rather than lose track of the record.
        r.state = State::Idle;
        if (!r.owned) {
            unindex(idx);
            reg_.release(idx);
        }
        return;
    }
    watch(next);
}

}  // namespace mockit
