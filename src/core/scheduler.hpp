// The scheduler: every armed timer of the process, one lock, one kernel
// POSIX timer, and the library threads that call the callbacks.
//
// Threads (all detached, all signals blocked, named):
//  - "mockit-clock" owns the kernel timer (timer_create, SIGEV_THREAD_ID to
//    itself, armed TIMER_ABSTIME for the earliest deadline) and waits for
//    it in sigtimedwait() (on its futex word while nothing is armed: see
//    clock_main).  It alone sets the timer, and without the lock: a thread
//    is most often preempted on its way back from a system call, and one
//    preempted holding mu_ stalls every callback (LOAD-04 measured 100+ ms
//    holds by the clock thread, many inside timer_settime).  An arm of an
//    earlier deadline meanwhile sends it the signal (kick_clock).  For the
//    same reason no thread wakes a library thread under mu_: they sleep
//    on futex words (futex.hpp), and a wake-up decided under mu_ is sent
//    after the unlock (wake_later); a follower made for blocked callbacks
//    is created after it too (spawn).  Only the start of the clock thread
//    uses a condition variable.
//    When it wakes it runs the due callback itself: handing every expiry
//    to another thread would add a second wake-up to every callback's
//    lateness (SPEC section 5).
//  - "mockit-cb" followers.  While timers are armed, one follower stands
//    by: it patrols on a timed futex wait (just after the next deadline,
//    or at it while the clock thread is inside a callback) and takes a
//    due timer when the clock thread is stuck in a callback, so a slow or
//    blocked callback delays no other timer.  The clock thread
//    does not wake it per callback (see standby_wait).
//    A follower that takes a due timer runs it and names the next standby;
//    two are made with the clock thread, more only when none is idle (at
//    most kMaxFollowers), and idle ones sleep without a timeout: no timer
//    armed, no wake-up.  One beyond the first two that has been idle for
//    kSurplusIdle leaves when the library next dispatches (retire_surplus).
//
// Destroy is timer_delete_sync: a record whose callback runs is `Running`
// until the callback returns, and a destroyer from another thread sleeps
// on `done_word_` for that.
//
// An arm from an application thread mostly takes no lock at all (submit):
// a thread preempted while it holds mu_ stalls every callback for as long
// as it waits for a CPU, and an application thread at nice 19 beside busy
// processes waits hundreds of ms (LOAD-04 measured library threads
// waiting up to 478.8 ms behind one inside Mockit_oneoff).  The arm is
// written into a submission slot and pushed on a lock-free list; every
// thread that holds mu_ applies the list before it lets go (unlock), so
// the list is applied by whichever library thread next takes the lock.
// That is soon enough when the timer is due no earlier than `look_by_`,
// the earliest deadline the library already wakes for, published at each
// unlock; an earlier one is applied at once, under the lock, as before.
// Nor does a batch of arms put the lock in the arming thread's hands: a
// submitter kicks the clock thread to apply the list once kDrainKickAt
// arms wait, long before the slots run out, and when the tables run low
// it makes larger ones without the lock, which the next holder installs
// (offer_room).  The library then does all the work of a burst, so it
// pushes back: while timers are overdue a library thread makes only a
// share of the waiting arms per callback, and an application thread's
// arm waits for the backlog (take_submissions, wait_while_behind).
#pragma once

#include <mockit.h>
#include <pthread.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <ctime>
#include <vector>

#include "core/clock.hpp"
#include "core/heap.hpp"
#include "core/registry.hpp"

namespace mockit {

// A counter that only holders of mu_ change, read without it elsewhere:
// a load and a store, not a locked read-modify-write, on the dispatch path.
template <class T>
inline void count_up(std::atomic<T> &c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
template <class T>
inline void count_down(std::atomic<T> &c) noexcept {
    c.store(c.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

enum class Role : uint8_t { Clock, Running, Standby, Idle, Retire };

// One library thread.
struct Ctx {
    uint32_t wake = 0;          // followers: futex word, bumped under mu_ (wake_later)
    Role role = Role::Idle;
    bool is_clock = false;
    uint32_t current = 0;       // record whose callback this thread runs
    uint32_t waiting_for = 0;   // record this thread waits to see finished
    const struct data *cur_data = nullptr;  // for Mockit_overrun, lock-free
    int32_t cur_overrun = 0;
    unsigned generation = 0;    // fork generation it belongs to
    ns_t idle_since = 0;        // when it last went Idle (retire_surplus)
    // Standby bookkeeping (see standby_wait).
    bool watching = false;      // `mark` is set
    uint64_t mark = 0;          // dispatched_ when it began watching
    uint64_t clock_mark = 0;    // clock_dispatched_ then
    uint64_t clock_seen = 0;    // clock_dispatched_ when it took its timer
    bool covering = false;      // took it for a clock thread left without a CPU
};

class Scheduler {
public:
    // The process's scheduler, made on first use; nullptr only when that
    // allocation fails (ENOMEM for the caller, and a later call retries).
    static Scheduler *instance() noexcept;
    // The scheduler if one was made (nothing to destroy before that).
    static Scheduler *existing() noexcept;

    int arm(struct data *d, ns_t start, uint32_t ms, bool interval) noexcept;
    // Arms in submission slots at once: a batch larger than this waits for
    // a slot's return (wait_for_room), at worst by taking the lock (the
    // arm is then made as before).  1024, not 256: fewer hand-offs to the
    // clock thread in a burst, for 18 KiB more of the scheduler's memory.
    static constexpr uint32_t kSubmissions = 1024;
    // Waiting arms at which a submitter kicks the clock thread to apply
    // them: the rest of the slots is the time it has to come.
    static constexpr uint32_t kDrainKickAt = kSubmissions / 8;
    // How long a submitter that found no slot (or only offered room) waits
    // for the kicked clock thread before it takes the lock itself: a
    // clock thread inside a callback does not come.
    static constexpr ns_t kRoomWait = 1'000'000;
    int destroy(struct data *d) noexcept;
    int overrun(const struct data *d) noexcept;
    int adopt_owned(struct data *d) noexcept;   // Mockit_data_init

    // Threads (threads.cpp).
    void clock_main(Ctx *self);
    void follower_main(Ctx *self);

    // fork handlers (threads.cpp).
    void before_fork() noexcept;
    void after_fork_parent() noexcept;
    void after_fork_child() noexcept;

    static constexpr unsigned kMaxFollowers = 64;
    // Thread contexts in use at once: the clock thread and the followers,
    // one of a clock thread that died in a callback while its successor
    // starts (thread_gone), and one of a thread that forked inside a
    // callback and still runs in the child (after_fork_child).
    static constexpr unsigned kMaxCtx = kMaxFollowers + 3;
    static constexpr unsigned kStartFollowers = 2;   // made with the clock thread
    // A follower beyond kStartFollowers (made when callbacks blocked) that
    // has had no work for this long leaves: a burst of blocked callbacks
    // does not keep its threads for the life of the process, and a burst
    // that recurs within it finds them there.  Checked when a callback is
    // dispatched, never on a timer: an idle process still never wakes.
    static constexpr ns_t kSurplusIdle = 10'000'000'000;
    // A standby takes a due timer only if no callback was started since it
    // began watching: then the busy threads are stuck in callbacks.  While
    // they make progress it leaves due timers to them and looks again after
    // this grace.  So threads grow with blocked callbacks, not with load,
    // and two threads do not fight over the lock for a backlog.
    static constexpr ns_t kBacklogGrace = 250'000;
    // How long past a deadline the clock thread waits for its signal
    // before it looks anyway (a lost signal must not stall the timers).
    static constexpr ns_t kSignalBackstop = 5'000'000;
    // A deadline closer than this is waited for on the CPU by the clock
    // thread: a kernel timer, a signal and a wake-up take longer than that
    // on a virtual machine (p50 ~80 us measured here), so sleeping would
    // only make the callback later.
    static constexpr ns_t kSpinHorizon = 50'000;

private:
    Scheduler();

    // An arm submitted without mu_ (submit); applied by drain_submissions.
    struct Submission {
        struct data *d;
        ns_t due;
        uint32_t period_ms;
        std::atomic<uint32_t> next;   // slot number + 1 of the next; 0 = none
    };
    bool submit(struct data *d, ns_t due, uint32_t period) noexcept;   // without mu_; false: take the lock
    // Under mu_: every submitted arm, in order (take_submissions, then
    // apply_taken of all).
    void drain_submissions() noexcept {
        take_submissions();
        apply_taken(SIZE_MAX);
    }
    // Backpressure.  The submitted arms are taken off sub_queue_ at every
    // hold (take_submissions, cheap: a list reversal) into the taken list,
    // in order, but while timers are overdue (behind_) a library thread
    // applies only kShare of them per callback it starts (pop_due), and an
    // application thread's arm waits for the backlog (wait_while_behind):
    // an arming thread that submits faster than the library dispatches is
    // slowed instead of making the due callbacks wait behind its arms
    // (the library, not the arming thread, makes them: see submit).
    // Without it, a burst of a million
    // arms due within a second left every due callback behind the whole
    // burst's inserts (LOAD-01 late p99 0.4-0.7 s).  Applying part of the
    // list is safe while the timers of its arms are not due (taken_min_)
    // and the timer about to fire has no arm among them (taken_has: that
    // arm replaces its schedule); otherwise all of it is applied first.
    void take_submissions() noexcept;
    void apply_taken(size_t most) noexcept;
    // Whether a taken arm may be for `d` (no false "no").  The filter is
    // made on first use, when the list outlives a hold (only while the
    // library serves a backlog), and kept up by take_submissions until the
    // list empties: an arm applied in the hold that took it sets no bit.
    bool taken_has(const struct data *d) noexcept {
        if (!taken_head_) return false;
        if (!taken_filter_on_) make_taken_filter();
        size_t h = taken_bit(d);
        return taken_bits_[h / 64] >> (h % 64) & 1;
    }
    void make_taken_filter() noexcept;
    void set_taken_bit(const struct data *d) noexcept {
        size_t h = taken_bit(d);
        taken_bits_[h / 64] |= uint64_t(1) << (h % 64);
    }
    static size_t taken_bit(const struct data *d) noexcept {
        return size_t((uint64_t(uintptr_t(d)) * 0x9E3779B97F4A7C15ull) >> (64 - kTakenBitsLog2));
    }
    // Arms applied per callback started while timers are overdue.
    static constexpr size_t kShare = 2;
    // While timers are overdue an application thread's arm waits for the
    // library to serve them, kRoomWait at a time, at most this many times
    // (wait_while_behind).
    static constexpr unsigned kBehindWaits = 4;
    // ... and only in the first kBehindPatience of a backlog: one that
    // lasts longer is an overload the arms did not make (intervals due
    // faster than the library dispatches), which waiting arms would not
    // end; they would only take 4 ms each (LIFE-09's 10,000 arms beside
    // 3,334 intervals of 1-7 ms took over 60 s under ASan).
    static constexpr ns_t kBehindPatience = 20'000'000;
    void wait_while_behind() noexcept;
    // Under mu_, on a library thread's unlock: the taken list may wait for
    // pop_due's share.  Only while the library serves a backlog, and only
    // when no taken arm is due before the earliest armed timer: the
    // library wakes for that one, not for the taken arms.
    bool taken_may_wait() noexcept;
    void end_stale_behind(ns_t top) noexcept;
    // The earliest deadline, armed or in the taken list.
    ns_t earliest() noexcept {
        ns_t t = next_due();
        return taken_min_ < t ? taken_min_ : t;
    }
    int arm_locked(struct data *d, ns_t due, uint32_t period, bool submitted) noexcept;
    uint32_t take_slot() noexcept;         // 0: none free
    void give_slot(uint32_t s) noexcept;
    void give_slots(uint32_t first, uint32_t last) noexcept;   // a chain linked by `next`
    void lock() noexcept;                  // pthread_mutex_lock(&mu_), then drain_submissions
    void publish() noexcept;               // before an unlock: look_by_ and limit_
    void kick_clock_now() noexcept;        // without mu_: the clock thread takes the lock soon
    bool wait_for_room(uint64_t claim) noexcept;   // a submitter without room: false, take the lock
    // Tables grown ahead of need (scheduler.cpp, offer_room).
    // Room is low below this many inserts: the arms waiting to be made,
    // and half the live timers again, at least kDrainKickAt (what a batch
    // submits before it kicks the clock thread) and at most kAheadMax
    // (the tables grow no earlier than that for large counts: a million
    // timers keep the memory they had).  Not the promise (limit_): that
    // follows room(), and growing for it would grow the tables of a
    // program with a few timers until the promise reached kSubmissions.
    static constexpr size_t kAheadMax = 8 * kSubmissions;
    size_t ahead_want() const noexcept {
        uint64_t c = claimed_.load(std::memory_order_relaxed);
        size_t waiting = c > consumed_ ? size_t(c - consumed_) : 0;
        return 1 + waiting + std::max<size_t>(std::min(reg_.live() / 2, kAheadMax), kDrainKickAt);
    }
    void plan_ahead(size_t room) noexcept;   // under mu_, in publish: grow_ahead_ and its plan
    void offer_room() noexcept;            // a submitter, without mu_: makes the planned tables
    void adopt_offer() noexcept;           // under mu_: installs them
    void free_offer_unlocked() noexcept;   // after unlock(): the old tables go
    int drop_spent_offer() noexcept;       // holding grow_mu_: frees a spent offer
    // Inserts that allocate nothing.  A timer whose callback runs keeps a
    // heap entry's room for its re-queue (finish), so a pop and the
    // re-queue leave it unchanged.
    size_t room() const noexcept {
        size_t r = reg_.insert_room(), h = heap_.push_room(kRequeueSlack + running_);
        return r < h ? r : h;
    }
    // The most submitted arms that can still be waiting to be made (under
    // mu_: only its holders change limit_ and consumed_).
    size_t promised() const noexcept {
        uint64_t l = limit_.load(std::memory_order_relaxed), c = claimed_.load(std::memory_order_relaxed);
        if (c > l) l = c;
        return l > consumed_ ? size_t(l - consumed_) : 0;
    }

    // Under mu_.
    uint32_t pop_due(Ctx *self, ns_t now) noexcept;
    void prefetch_next() noexcept;
    void finish(Ctx *self, uint32_t idx) noexcept;
    bool run_callback(Ctx *self, uint32_t idx);
    void watch(ns_t due) noexcept;          // the earliest deadline may be `due`
    void ensure_standby() noexcept;        // a standby watches the next deadline
    void name_standby(Ctx *c) noexcept;    // c becomes standby_ (not yet waiting)
    void poke_standby() noexcept;          // standby_ looks again (once per wait)
    void go_idle(Ctx *self) noexcept;      // a follower joins idle_
    void retire_surplus(ns_t now) noexcept;   // the longest-idle surplus follower leaves
    bool program_kernel_timer(ns_t due) noexcept;   // clock thread only, without mu_
    void kick_clock() noexcept;            // the clock thread looks again (after unlock())
    // Wake the sleeper of `word` (all of them if `all`) after unlock().
    void wake_later(uint32_t *word, bool all = false) noexcept;
    void unlock() noexcept;                // pthread_mutex_unlock(&mu_), then what is pending
    // A library thread sleeps on its futex word without mu_ (see futex.hpp).
    void sleep_on(uint32_t *word, const timespec *until = nullptr) noexcept;
    int wait(pthread_cond_t *cv, const timespec *until = nullptr) noexcept;   // pending sent first
    Ctx *new_ctx() noexcept;               // from spare_ctx_, else made in ctx_store_
    void recycle(Ctx *c) noexcept;         // into spare_ctx_: never freed (see new_ctx)
    bool entry_valid(const HeapEntry &e) noexcept;
    ns_t next_due() noexcept;               // earliest live deadline; drops stale tops
    void queue(uint32_t idx, ns_t due);     // push + Armed; may throw
    void unqueue(uint32_t idx) noexcept;    // Armed -> not: its entry goes stale
    bool standby_wait(Ctx *self) noexcept;  // true: take a due timer now
    void patrol(Ctx *self) noexcept;        // standby_wait's sleep: lets go of mu_, takes it again
    bool follower_in_callback(const Ctx *except) const noexcept;
    ns_t next_of_running(ns_t now) noexcept;   // next deadline of a timer in its callback
    int start_threads() noexcept;           // first arm, or after fork
    // Before an insert (and a heap push, if `push`): grow the tables with
    // memory made without mu_.  See make_heap_room (scheduler.cpp).
    // Room is made for the submitted arms not yet made as well: they were
    // promised it (limit_).  False if it could not be made (ENOMEM).  While
    // it grows the tables (grow_unlocked drops mu_), no larger promise is
    // made (publish).
    bool make_room(bool push) noexcept {
        // Tables a submitter made ahead (offer_room) first: the copy into
        // them is due anyway, and no allocation is made under this hold.
        if (offer_state_.load(std::memory_order_acquire) == kOfferReady) adopt_offer();
        for (int tries = 0;; ++tries) {
            size_t want = 1 + promised();
            size_t slack = kRequeueSlack + running_;
            bool heap = push && heap_.needs_room(slack, want);
            if (heap) {
                make_heap_room();
                heap = heap_.needs_room(slack, want);
            }
            if (!heap && !reg_.room_needed(want)) return true;
            if (tries == 4) return false;   // the allocations failed
            ++growing_;
            grow_unlocked(push, want);
            --growing_;
        }
    }
    void make_heap_room() noexcept;         // drops stale entries before the heap grows
    void compact_heap() noexcept;           // every stale entry out: O(n)
    // Every library thread may be inside a callback at once, and each
    // re-queues one heap entry under the lock when it returns (finish).
    static constexpr size_t kRequeueSlack = kMaxFollowers + 1;
    void grow_unlocked(bool push, size_t want) noexcept;   // drops and retakes mu_
    // Out of the index; a shrink it calls for is made by unlock().
    void unindex(uint32_t idx) noexcept;
    void shrink_later(size_t slots) noexcept;   // threads.cpp (tls_pending)
    void free_offer_later() noexcept;           // threads.cpp (tls_pending)
    void shrink_unlocked(size_t slots) noexcept;   // without mu_, from unlock()
    int spawn(bool clock) noexcept;         // a follower: created by unlock()
    int create_thread(Ctx *c) noexcept;     // pthread_create, all signals blocked
    void abandon(Ctx *c) noexcept;          // a follower whose thread could not be made
    bool would_deadlock(const Ctx *self, uint32_t target) const noexcept;
    Ctx *runner_of(uint32_t idx) const noexcept;
    void forget(uint32_t idx) noexcept;     // unindex + release or Finished
    void thread_gone(Ctx *self) noexcept;

    pthread_mutex_t mu_;
    pthread_mutex_t grow_mu_;   // held around grow_unlocked's malloc/free, and across fork
    uint32_t done_word_ = 0;    // futex word: a waited-for record finished
    pthread_cond_t start_cv_;   // the clock thread reported in
    uint32_t clock_wake_ = 0;   // futex word: the clock thread sleeps with nothing armed
    Registry reg_;
    TimerHeap heap_;
    size_t armed_ = 0;          // records in state Armed
    size_t stale_ = 0;          // heap entries that no longer match a record
    std::atomic<uint64_t> next_id_{1};

    // Submission (submit, drain_submissions).  The slots' free list is a
    // stack with a tag against ABA ({tag:32, slot+1:32}); submitted arms
    // are pushed on sub_queue_ and taken all at once, so it needs none.
    Submission subs_[kSubmissions];
    std::atomic<uint64_t> sub_free_{0};
    std::atomic<uint32_t> sub_queue_{0};
    bool draining_ = false;     // under mu_: apply_taken is running
    // The taken list (take_submissions): slots linked by `next`, oldest
    // first; the earliest deadline among them (kept while part of the list
    // is applied: too early is safe, the library looks sooner); a bit per
    // hash of their structs, while taken_filter_on_ (taken_has).
    uint32_t taken_head_ = 0, taken_tail_ = 0;
    ns_t taken_min_ = kNever;
    static constexpr unsigned kTakenBitsLog2 = 14;
    uint64_t taken_bits_[(size_t(1) << kTakenBitsLog2) / 64] = {};
    bool taken_filter_on_ = false;
    // Under mu_: the last pop_due left another timer due at once (the
    // library serves a backlog): library threads apply kShare arms per
    // callback, not the whole taken list.
    bool behind_ = false;
    ns_t behind_at_ = 0;        // the `now` it was set for
    ns_t behind_since_ = 0;     // the `now` it last became true
    bool unlocking_ = false;    // under mu_: drained by publish(), after the decisions
    unsigned growing_ = 0;      // under mu_: make_room growths under way (publish)
    // Published at every unlock: a library thread takes mu_ (and applies
    // the submissions) by look_by_, the earliest live deadline; kNever
    // when nothing is armed.  seq_cst with sub_queue_: a submitter either
    // is seen by publish() or sees the value it stored.
    std::atomic<ns_t> look_by_{0};
    // Room promised to submitters: a submit succeeds while claimed_ stays
    // below limit_ = consumed_ + min(room() - 1, kSubmissions), set at
    // each unlock (one is kept for the next arm under the lock, which
    // first makes room for 1 + promised()).  claimed_ - consumed_ counts
    // the arms still to be made, so a lower limit_ breaks no promise.
    std::atomic<uint64_t> claimed_{0};
    std::atomic<uint64_t> limit_{0};
    uint64_t consumed_ = 0;     // under mu_: submitted arms made (drain_submissions)
    std::atomic<uint64_t> consumed_pub_{0};   // consumed_, for submit (kDrainKickAt)
    std::atomic<bool> started_pub_{false};   // started_, for submit
    std::atomic<pid_t> clock_tid_pub_{0};    // clock_tid_, for kick_clock_now
    // Submitters asleep in wait_for_room, on room_word_ (a futex word),
    // woken by the next publish().
    std::atomic<uint32_t> room_waiters_{0};
    uint32_t room_word_ = 0;
    std::atomic<bool> behind_pub_{false};   // behind_, for submit
    std::atomic<ns_t> behind_since_pub_{0};  // behind_since_, for submit
    // Submitters asleep in wait_while_behind, on behind_word_ (a futex
    // word), woken by the first publish() with behind_ false.
    std::atomic<uint32_t> behind_waiters_{0};
    uint32_t behind_word_ = 0;
    // dispatched_ when a submitter waited kRoomWait for the backlog and no
    // callback started: until one does, submitters do not wait.
    std::atomic<uint64_t> stuck_at_{UINT64_MAX};
    // Tables grown ahead (offer_room).  publish() sets grow_ahead_ while
    // room() is below ahead_want(), with the sizes to make; a submitter
    // makes them into offer_ holding grow_mu_ and marks it ready; the next
    // holder of mu_ installs what still fits (adopt_offer), which leaves
    // the old arrays in offer_, spent, freed after its unlock (or by the
    // next offer_room).  offer_state_ orders the two sides' use of offer_.
    struct Offer {
        Registry::Room reg;
        std::vector<HeapEntry> heap;
        size_t want = 0;   // ahead_want() when planned
    };
    enum : int { kOfferNone, kOfferReady, kOfferSpent };
    Offer offer_;
    std::atomic<int> offer_state_{kOfferNone};
    std::atomic<bool> grow_ahead_{false};
    std::atomic<bool> ahead_chunk_{false};
    std::atomic<size_t> ahead_slots_{0};
    std::atomic<size_t> ahead_heap_{0};
    std::atomic<size_t> ahead_want_{0};
    std::atomic<uint32_t> destroying_n_{0};  // records with `destroying` (submit then takes the lock)
    // Written under mu_ only (count_up/count_down: no atomic read-modify-
    // write on the dispatch path), read without it by a patrolling
    // standby as well (patrol).
    std::atomic<size_t> running_{0};           // records Running (room)
    std::atomic<uint64_t> dispatched_{0};      // callbacks started: the progress a standby watches
    std::atomic<uint64_t> clock_dispatched_{0};   // of those, started by the clock thread

    // Threads, under mu_.
    std::vector<Ctx *> threads_;
    std::vector<Ctx *> idle_;   // followers waiting to be named standby
    std::vector<Ctx *> spare_ctx_;   // of threads gone: a late wake-up finds live memory
    unsigned ctx_made_ = 0;          // of ctx_store_ (new_ctx)
    alignas(Ctx) unsigned char ctx_store_[kMaxCtx * sizeof(Ctx)];
    Ctx *standby_ = nullptr;
    // The standby's wait, written under mu_, and by the standby itself
    // without it while it patrols (patrol); clock_busy_ is read there too.
    std::atomic<ns_t> standby_until_{kNever};
    std::atomic<bool> standby_looks_soon_{false};  // just named, or in a backlog's grace wait (ensure_standby)
    std::atomic<bool> standby_poked_{false};       // signalled since its wait began
    std::atomic<bool> clock_busy_{false};
    bool clock_idle_ = false;   // it sleeps on clock_wake_ (watch() wakes it)
    bool started_ = false;
    bool starting_ = false;     // a start_threads() waits for its clock thread
    int start_status_ = 0;      // set by the clock thread at start-up
    bool start_reported_ = false;
    pid_t clock_tid_ = 0;
    timer_t ktimer_{};
    bool ktimer_ok_ = false;
    ns_t armed_due_ = kNever;   // what the clock thread sets the kernel timer to
    bool ktimer_failed_ = false;   // timer_settime failed: wait for the deadline itself
    bool kicked_ = false;       // a kick is on its way to the clock thread
    std::atomic<ns_t> spin_until_{kNever};   // the clock thread spins until (clock_main)
    unsigned followers_ = 0;
    unsigned generation_ = 0;   // bumped in a fork child

    friend struct RunGuard;
};

}  // namespace mockit
