// The library threads, the one kernel POSIX timer, and fork().
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "core/annotate.hpp"
#include "core/chaos.hpp"
#include "core/futex.hpp"
#include "core/scheduler.hpp"

namespace mockit {

extern thread_local Ctx *tls_ctx;

namespace {

// The clock thread hears its kernel timer through this signal, thread-
// directed at itself and blocked there (taken with sigtimedwait); no handler
// is installed, so the application's use of signals is untouched.  Not
// SIGRTMAX itself: valgrind keeps that one for its own use (SIGVGKILL) and
// interrupts the clock thread's system calls with it.
int clock_signal() noexcept { return SIGRTMAX - 1; }

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// What a thread decided under mu_ to do once it has let go of it
// (Scheduler::unlock): a kick for the clock thread (kick_clock), the
// futex wake-ups of sleepers (wake_later), the creation of a follower
// (spawn) and a shrink of the index (Scheduler::unindex).  A handful of
// wake-ups at most per hold: the clock thread may retire a follower and
// name or poke a standby as a callback starts, and after the callback
// wake destroyers and poke the standby before the next one starts.
struct Pending {
    pid_t kick = 0;
    unsigned n = 0;
    uint32_t *wake[8];
    bool all[8];
    Ctx *spawn[Scheduler::kStartFollowers] = {};   // the start makes that many at once
    unsigned spawns = 0;
    size_t shrink = 0;   // the index's new size (Scheduler::unindex)
    bool free_offer = false;   // tables replaced by an offer's (adopt_offer)
};
thread_local Pending tls_pending;

extern "C" void *thread_start(void *p) {
    // Cancellation (pthread_cancel by the application) may only act inside
    // a callback, where RunGuard cleans up; never while the thread holds or
    // waits for the scheduler's lock.
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);
    Ctx *c = static_cast<Ctx *>(p);
    tls_ctx = c;
    if (c->is_clock)
        Scheduler::existing()->clock_main(c);
    else
        Scheduler::existing()->follower_main(c);
    return nullptr;
}

}  // namespace

// Finishes the record if its callback leaves by unwinding (pthread_exit,
// pthread_cancel) so that destroyers never wait for a thread that is gone.
struct RunGuard {
    Scheduler *s;
    Ctx *self;
    uint32_t idx;
    unsigned gen;
    bool returned = false;
    ~RunGuard() {
        if (returned) return;
        pthread_mutex_lock(&s->mu_);
        if (gen == s->generation_) {
            s->drain_submissions();
            s->finish(self, idx);
            s->thread_gone(self);
        }
        s->recycle(self);   // in a fork child too: its scheduler never knew it
        s->unlock();
        tls_ctx = nullptr;
    }
};

// Runs the callback of `idx` without the lock.  Returns false when a fork()
// inside the callback left this thread in a child process whose scheduler
// does not know it: the thread must then end (the lock is not held).
bool Scheduler::run_callback(Ctx *self, uint32_t idx) {
    struct data *d = reg_.at(idx).data;
    unsigned gen = generation_;
    unlock();
    {
        RunGuard guard{this, self, idx, gen};
        MOCKIT_CHAOS_POINT();
        void *(*cb)(void *) = d->cb;
        if (cb) {
            pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, nullptr);
            cb(d);
            pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);
        }
        guard.returned = true;
    }
    MOCKIT_CHAOS_POINT();   // returned, still Running: destroyers wait here
    pthread_mutex_lock(&mu_);
    if (gen != generation_) {
        recycle(self);   // a fork child's scheduler never knew this thread
        pthread_mutex_unlock(&mu_);
        return false;
    }
    if (self->is_clock) clock_busy_.store(false, std::memory_order_relaxed);   // it watches again from here on
    // A re-arm of this timer from its callback counts: with one among the
    // taken arms, all of them are made first (in order).  Otherwise, while
    // the library serves a backlog, they are left to pop_due's share.
    take_submissions();
    if (!taken_may_wait() || taken_has(d)) apply_taken(SIZE_MAX);
    finish(self, idx);
    return true;
}

void Scheduler::thread_gone(Ctx *self) noexcept {
    threads_.erase(std::remove(threads_.begin(), threads_.end(), self), threads_.end());
    idle_.erase(std::remove(idle_.begin(), idle_.end(), self), idle_.end());
    if (standby_ == self) standby_ = nullptr;
    if (!self->is_clock) {
        --followers_;
        return;
    }
    // The clock thread left from inside a callback: its kernel timer goes
    // with it, and a new clock thread takes over the schedule.  If this
    // thread was itself started by a start still under way (the previous
    // clock thread died too), let that start finish first, or it would mark
    // the scheduler started after we reset it, with no clock thread left.
    while (starting_) wait(&start_cv_);
    clock_tid_pub_.store(0, std::memory_order_relaxed);   // no kick for a thread id about to be free
    clock_busy_ = false;
    if (ktimer_ok_) timer_delete(ktimer_);
    ktimer_ok_ = false;
    armed_due_ = kNever;
    started_ = false;
    started_pub_.store(false, std::memory_order_release);
    start_threads();   // on failure the next arm tries again
}

bool Scheduler::program_kernel_timer(ns_t due) noexcept {
    itimerspec its{};
    if (due != kNever) its.it_value = to_timespec(due);   // zero disarms
    return timer_settime(ktimer_, TIMER_ABSTIME, &its, nullptr) == 0;
}

// The clock thread sleeps in sigtimedwait() for a later deadline: it must
// look again.  Only the clock thread sets the kernel timer (clock_main),
// so the others send it its signal, once per wait (an RT signal queues),
// after they let go of mu_.  Lost, like the timer's own, if the
// application ignores the signal while it is pending.
void Scheduler::kick_clock() noexcept {
    if (kicked_ || !clock_tid_) return;
    kicked_ = true;
    tls_pending.kick = clock_tid_;
}

// The sleeper of `word` (a follower's Ctx::wake, or clock_wake_) must look
// again: its state was changed under mu_, which the caller holds.  The
// bump makes a sleep that has not begun yet return at once (futex.hpp);
// the wake-up itself is sent by unlock().  The word may belong to a thread
// that leaves meanwhile: Ctx are recycled, never freed (new_ctx), so the
// wake-up lands on live memory and is at worst spurious.
void Scheduler::wake_later(uint32_t *word, bool all) noexcept {
    __atomic_add_fetch(word, 1, __ATOMIC_RELAXED);   // a patrolling standby reads its word without mu_
    Pending &p = tls_pending;
    for (unsigned i = 0; i < p.n; ++i) {
        if (p.wake[i] == word) {
            p.all[i] = p.all[i] || all;
            return;
        }
    }
    if (p.n < sizeof p.wake / sizeof p.wake[0]) {
        p.wake[p.n] = word;
        p.all[p.n++] = all;
    } else {
        futex_wake(word, all);   // not expected (see Pending): correct, only under the lock
    }
}

namespace {
void send_wakeups(const Pending &p) noexcept {
    if (p.kick) syscall(SYS_tgkill, pid_t(getpid()), p.kick, clock_signal());
    for (unsigned i = 0; i < p.n; ++i) futex_wake(p.wake[i], p.all[i]);
}
}  // namespace

void Scheduler::shrink_later(size_t slots) noexcept { tls_pending.shrink = slots; }
void Scheduler::free_offer_later() noexcept { tls_pending.free_offer = true; }

// A submitter's kick (submit, offer_room), without mu_: the clock thread
// takes the lock, which applies the submitted arms and installs offered
// tables.  The thread id is published for it; a clock thread that leaves
// from a callback clears it first (thread_gone).  Where the clock thread
// is inside a callback, the signal waits (it is blocked there) and the
// submitter, if the slots run out first, applies them itself as before.
void Scheduler::kick_clock_now() noexcept {
    pid_t t = clock_tid_pub_.load(std::memory_order_relaxed);
    if (t) syscall(SYS_tgkill, pid_t(getpid()), t, clock_signal());
}

void Scheduler::unlock() noexcept {
    publish();
    Pending p = tls_pending;
    tls_pending = Pending{};
    pthread_mutex_unlock(&mu_);
    send_wakeups(p);
    for (unsigned i = 0; i < p.spawns; ++i) {
        if (create_thread(p.spawn[i]) != 0) {
            pthread_mutex_lock(&mu_);
            abandon(p.spawn[i]);
            unlock();
        }
    }
    if (p.shrink) shrink_unlocked(p.shrink);
    if (p.free_offer) free_offer_unlocked();
}

void Scheduler::sleep_on(uint32_t *word, const timespec *until) noexcept {
    uint32_t seen = *word;
    unlock();   // may bump *word (a submitted arm it applies): no sleep then
    futex_sleep(word, seen, until);
    lock();
}

// A wait lets go of mu_ inside pthread_cond_wait: what is pending goes
// first, under the lock (only a start waits so).  pthread_cond_wait is a
// cancellation point: an application thread cancelled there would unwind
// into the library's noexcept functions (std::terminate: the process
// dies), or, past them, end holding mu_ (it is re-taken first).  So no
// call of the library but Mockit_bsleep is a cancellation point (the
// futex sleeps are none either).
int Scheduler::wait(pthread_cond_t *cv, const timespec *until) noexcept {
    Pending p = tls_pending;
    tls_pending = Pending{};
    tls_pending.shrink = p.shrink;   // made at the next unlock()
    tls_pending.free_offer = p.free_offer;
    send_wakeups(p);
    for (unsigned i = 0; i < p.spawns; ++i)
        if (create_thread(p.spawn[i]) != 0) abandon(p.spawn[i]);
    int cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    int rc = until ? pthread_cond_timedwait(cv, &mu_, until) : pthread_cond_wait(cv, &mu_);
    pthread_setcancelstate(cancel_state, nullptr);
    return rc;
}

// A Ctx is never freed while the process runs: a thread that decided a
// wake-up under mu_ sends it after the unlock, when the sleeper may have
// left.  They live in ctx_store_, inside the scheduler, made on first use:
// a new follower is mostly made by a library thread, under mu_, as a
// callback blocks, and no library thread allocates while it holds the
// lock.  (Taking a spare made on the heap, refilled after the unlock, was
// not enough: on a starved CPU a second new follower came before the
// refill in 7 of 12 runs beside stress-ng, and its Ctx was allocated under
// the lock.)  kMaxCtx bounds the Ctx in use at once (scheduler.hpp), and
// spare_ctx_ and threads_ are reserved for that many: neither allocates.
Ctx *Scheduler::new_ctx() noexcept {
    Ctx *c;
    if (!spare_ctx_.empty()) {
        c = spare_ctx_.back();
        spare_ctx_.pop_back();
        c->~Ctx();
        return new (c) Ctx;
    }
    if (ctx_made_ == kMaxCtx) return nullptr;   // not expected: the caller says ENOMEM
    c = new (ctx_store_ + ctx_made_++ * sizeof(Ctx)) Ctx;
    // helgrind/drd: valgrind reads the futex word of a sleep for the
    // kernel's comparison, outside the lock (futex.hpp).
    MOCKIT_ATOMIC_VAR(c->wake);
    return c;
}

void Scheduler::recycle(Ctx *c) noexcept {
    spare_ctx_.push_back(c);   // reserved for every Ctx: cannot allocate
}

// A timer due at `due` was just queued: make sure someone wakes for it.
void Scheduler::watch(ns_t due) noexcept {
    if (due < spin_until_.load(std::memory_order_relaxed))
        spin_until_.store(due, std::memory_order_relaxed);   // see clock_main
    if (!clock_busy_) {
        // The clock thread handles it.  The standby need not hear of it:
        // the clock thread checks the standby's deadline when it next
        // starts a callback (ensure_standby).
        if (clock_idle_) {
            // The clock thread sleeps with nothing armed: wake it (it then
            // sets the kernel timer itself).
            wake_later(&clock_wake_);
        } else if (due < armed_due_ && !(tls_ctx && tls_ctx->is_clock && !unlocking_)) {
            // The clock thread itself looks before it sleeps, unless this is
            // an arm it applies as it lets go of the lock to sleep (publish).
            kick_clock();
        }
    } else if (standby_) {
        if (due < standby_until_) poke_standby();
    } else {
        ensure_standby();
    }
}

// A callback is about to start on the clock thread (or on a follower while
// the clock thread is busy): someone must look at the next deadline in
// case that callback blocks.  The standby patrols on its own timed wait
// (standby_wait), so a standby already there is signalled only when its
// wait would end too late for the earliest timer: in a steady stream of
// fast callbacks the clock thread makes no system call for it, and nobody
// contends for the lock at the instant a timer is due.
void Scheduler::ensure_standby() noexcept {
    if (armed_ == 0) return;
    if (standby_) {
        // Its wait ends at the earliest deadline it saw when the wait
        // began.  A timer queued since while the clock thread was free
        // (watch() leaves those to the clock thread) may be due before
        // that: the wait could even run to a far timer, the intervals whose
        // callbacks were blocked past their next grid point being left out
        // of it (next_of_running).  Then the callback starting now may
        // block with that timer due and nobody watching: tell it.  A
        // backlog's grace wait ends soon anyway.
        if (!standby_looks_soon_ && standby_until_ > sat_add(next_due(), kBacklogGrace)) poke_standby();
        return;
    }
    if (!idle_.empty()) {
        Ctx *c = idle_.back();
        idle_.pop_back();
        name_standby(c);
        wake_later(&c->wake);
    } else if (followers_ < kMaxFollowers) {
        spawn(false);   // it starts as the standby; on failure timers queue
    }
}

// `c` patrols from now on; it looks at the deadlines as soon as it runs.
void Scheduler::name_standby(Ctx *c) noexcept {
    c->role = Role::Standby;
    c->watching = false;
    standby_ = c;
    standby_until_ = kNever;
    standby_looks_soon_ = true;
}

// Wake the standby to look again, once per wait: a backlog served by the
// clock thread must not cost a system call per callback.
void Scheduler::poke_standby() noexcept {
    if (standby_poked_.load(std::memory_order_relaxed)) return;
    standby_poked_.store(true, std::memory_order_relaxed);
    wake_later(&standby_->wake);
}

void Scheduler::go_idle(Ctx *self) noexcept {
    self->role = Role::Idle;
    self->idle_since = now_ns();
    idle_.push_back(self);   // reserved for every thread: cannot allocate
}

// idle_ is taken from the back (ensure_standby), so its front has been
// idle longest.  Called on the dispatch path (pop_due), so surplus
// threads leave while the library works and an idle process never wakes
// for them; the count drops here so that two dispatches in a row never
// retire more than the surplus.
void Scheduler::retire_surplus(ns_t now) noexcept {
    if (idle_.empty()) return;
    Ctx *c = idle_.front();
    if (now - c->idle_since < kSurplusIdle) return;
    idle_.erase(idle_.begin());
    --followers_;
    c->role = Role::Retire;
    wake_later(&c->wake);
}

// A new library thread.  The clock thread is made at once and waited for
// (a start, or a clock thread that died in a callback).  A follower is
// created by unlock(), once the caller has let go of mu_: pthread_create
// is a clone and a stack's mmap, and a caller preempted on the way back
// would hold every callback up (the followers of a start too: the clock
// thread runs by then, and LOAD-04 saw it wait 135.9 ms for the lock
// while the first arm made them under it).  It is counted and named
// standby here, so nobody makes a second one meanwhile; if it cannot be
// made, abandon() takes that back and timers queue until the next try
// (ensure_standby).
int Scheduler::spawn(bool clock) noexcept {
    Ctx *c = new_ctx();
    if (!c) return ENOMEM;
    c->is_clock = clock;
    c->role = clock ? Role::Clock : Role::Standby;
    c->generation = generation_;
    try {
        threads_.push_back(c);
    } catch (...) {
        recycle(c);
        return ENOMEM;
    }
    Pending &p = tls_pending;
    bool later = !clock && p.spawns < sizeof p.spawn / sizeof p.spawn[0];
    if (later) {
        p.spawn[p.spawns++] = c;
    } else if (int rc = create_thread(c)) {
        threads_.pop_back();
        recycle(c);
        return rc;
    }
    if (!clock) {
        ++followers_;
        name_standby(c);
        return 0;
    }
    // Wait for the clock thread to create its kernel timer.
    start_reported_ = false;
    while (!start_reported_) wait(&start_cv_);
    return start_status_;
}

int Scheduler::create_thread(Ctx *c) noexcept {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    // Born with every signal blocked: a new thread inherits the creator's
    // mask, so block all around pthread_create (this cannot fail, unlike
    // pthread_attr_setsigmask_np, which allocates).
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int rc = pthread_create(&t, &attr, thread_start, c);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    pthread_attr_destroy(&attr);
    return rc;
}

// Under mu_ again after a deferred pthread_create failed (spawn).
void Scheduler::abandon(Ctx *c) noexcept {
    threads_.erase(std::remove(threads_.begin(), threads_.end(), c), threads_.end());
    idle_.erase(std::remove(idle_.begin(), idle_.end(), c), idle_.end());
    --followers_;
    if (standby_ == c) standby_ = nullptr;
    recycle(c);
}

int Scheduler::start_threads() noexcept {
    // spawn(true) releases the lock while the clock thread starts: other
    // first arms must wait for that start, not begin another scheduler.
    while (starting_) wait(&start_cv_);
    if (started_) return 0;
    starting_ = true;
    int rc = spawn(true);
    starting_ = false;
    pthread_cond_broadcast(&start_cv_);
    if (rc) return rc;
    started_ = true;
    started_pub_.store(true, std::memory_order_release);
    // Two followers from the start: the standby and the one that stands by
    // while the standby runs a timer of a blocked clock thread.  Neither a
    // slow callback nor its first successor then waits for a
    // pthread_create, which on a starved CPU (nice 19 under load) is
    // measured in hundreds of ms for a new thread's first run.  They are
    // created as this arm lets go of the lock (spawn).  Not fatal if it
    // fails.
    while (followers_ < kStartFollowers && spawn(false) == 0) {
        standby_ = nullptr;
        go_idle(threads_.back());
    }
    return 0;
}

void Scheduler::clock_main(Ctx *self) {
    pthread_setname_np(pthread_self(), "mockit-clock");
    const int sig = clock_signal();

    sigevent sev;
    std::memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = sig;
    sev._sigev_un._tid = pid_t(syscall(SYS_gettid));
    timer_t t{};
    int rc = timer_create(CLOCK_MONOTONIC, &sev, &t) == 0 ? 0 : errno;

    pthread_mutex_lock(&mu_);
    start_status_ = rc;
    start_reported_ = true;
    pthread_cond_broadcast(&start_cv_);
    if (rc) {
        threads_.erase(std::remove(threads_.begin(), threads_.end(), self), threads_.end());
        recycle(self);
        pthread_mutex_unlock(&mu_);
        return;
    }
    ktimer_ = t;
    ktimer_ok_ = true;
    armed_due_ = kNever;
    ktimer_failed_ = false;
    kicked_ = false;
    clock_tid_ = sev._sigev_un._tid;
    clock_tid_pub_.store(clock_tid_, std::memory_order_relaxed);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    // Never trust a wake-up: re-read the clock, dispatch what is due,
    // re-arm for what is left.  Signals may be stale or merged.
    ns_t now = now_ns();
    bool fresh = true;
    for (;;) {
        if (armed_due_ <= now) armed_due_ = kNever;   // it has gone off
        if (uint32_t idx = pop_due(self, now)) {
            // seq_cst: before ensure_standby's look at the standby's wait,
            // which a patrolling standby sets without mu_ (patrol).
            clock_busy_.store(true);
            ensure_standby();
            self->role = Role::Running;
            if (!run_callback(self, idx)) return;
            self->role = Role::Clock;
            // What was due at `now` is still due: a backlog is served
            // without a clock read per callback, in deadline order; the
            // clock is read again when it runs out.
            fresh = false;
            continue;
        }
        if (!fresh) {
            now = now_ns();
            fresh = true;
            continue;
        }
        ns_t next = earliest();
        if (next - now <= kSpinHorizon) {
            // Sooner than a sleep and a wake-up would take: wait on the
            // CPU, without the lock (an earlier arm shortens the wait).
            spin_until_.store(next, std::memory_order_relaxed);
            unlock();
            while (now_ns() < spin_until_.load(std::memory_order_relaxed)) cpu_relax();
            pthread_mutex_lock(&mu_);
            spin_until_.store(kNever, std::memory_order_relaxed);
            now = now_ns();
            continue;
        }
        if (next != armed_due_) {
            // Set the kernel timer without the lock, then look again.
            // Nobody else sets it: an arm of an earlier deadline meanwhile
            // sends this thread its signal (watch()).
            armed_due_ = next;
            unlock();
            bool ok = program_kernel_timer(next);
            pthread_mutex_lock(&mu_);
            ktimer_failed_ = !ok;
            now = now_ns();
            continue;
        }
        ns_t backstop = armed_due_;
        if (backstop == kNever) {
            // Nothing armed: sleep until an arm wakes us (watch()).  Not in
            // sigwaitinfo: that wait has no backstop, and the one signal of
            // the kernel timer an arm would set can be lost (an application
            // setting SIG_IGN on it discards it while pending): the library
            // would stall for good.  A futex word cannot lose it.
            clock_idle_ = true;
            sleep_on(&clock_wake_);
            clock_idle_ = false;
            now = now_ns();
            continue;
        }
        // The signal should come at `backstop`; a signal can still be
        // lost (an application setting it to SIG_IGN discards a pending
        // one), so never wait much past the deadline for it, and not past
        // it at all when the kernel refused the timer.
        ns_t slack = ktimer_failed_ ? 0 : kSignalBackstop;
        unlock();
        siginfo_t si;
        // Any return is a reason to look again, EINTR included: a signal
        // flushed while we were being woken (SIG_IGN set on it) still woke us.
        ns_t left = backstop - now_ns() + slack;
        timespec ts = to_timespec(left > 0 ? left : 0);
        sigtimedwait(&set, &si, &ts);
        pthread_mutex_lock(&mu_);
        kicked_ = false;   // whatever woke it, it looks now
        now = now_ns();
    }
}

void Scheduler::follower_main(Ctx *self) {
    pthread_setname_np(pthread_self(), "mockit-cb");
    prctl(PR_SET_TIMERSLACK, 1UL);   // a standby's timed wait is a deadline
    pthread_mutex_lock(&mu_);
    for (;;) {
        uint32_t idx = 0;
        switch (self->role) {
        case Role::Idle:
            sleep_on(&self->wake);
            continue;
        case Role::Retire:
            // retire_surplus took it out of idle_ and of the count.
            threads_.erase(std::remove(threads_.begin(), threads_.end(), self), threads_.end());
            recycle(self);
            unlock();
            tls_ctx = nullptr;
            return;
        case Role::Running:
            // Back from a callback.  While the clock thread is still stuck
            // in the callback it was in when this thread took its timer,
            // this thread serves what is already due, as the clock thread
            // would: handing each due timer to the standby instead would
            // cost a wake-up and a thread hand-off per callback, and on a
            // starved CPU the backlog would grow meanwhile.  If the clock
            // thread has moved on, the backlog is its own: two threads
            // taking turns at the lock for it would only slow it down.
            // The same holds while this thread covers for a clock thread
            // without a CPU (standby_wait).
            if ((clock_busy_ || self->covering) && clock_dispatched_ == self->clock_seen &&
                (idx = pop_due(self, now_ns())) != 0)
                break;
            self->covering = false;
            // While timers are armed one follower patrols as the standby;
            // if there is none, this one takes it.
            if (!standby_ && armed_ != 0) {
                name_standby(self);
                continue;
            }
            go_idle(self);
            continue;
        case Role::Standby:
        case Role::Clock:
            if (armed_ == 0 || (standby_ && standby_ != self)) {
                // Nothing to watch (or another follower was named): sleep
                // without a timeout until named again.
                if (standby_ == self) standby_ = nullptr;
                go_idle(self);
                continue;
            }
            standby_ = self;
            if (!standby_wait(self)) continue;
            standby_ = nullptr;
            self->role = Role::Running;
            idx = pop_due(self, now_ns());
            if (!idx) continue;
            break;
        }
        self->clock_seen = clock_dispatched_;
        if (clock_busy_) ensure_standby();
        if (!run_callback(self, idx)) return;
    }
}

// The standby's patrol.  It wakes on its own time-out, never per callback:
//  - the clock thread is free: it sleeps until the earliest deadline plus
//    kBacklogGrace, by when a free clock thread has long started that
//    callback (if the clock thread is late, until the clock thread's own
//    backstop);
//  - the clock thread is inside a callback: it sleeps until the earliest
//    deadline and, once that has passed, takes the timer if the busy
//    threads are stuck: no callback at all was started since it last
//    looked, or the clock thread started none and no follower is inside a
//    callback (the followers that helped went idle: nobody else will come
//    back for the timer).  While others make progress it leaves due timers
//    to them and looks again after kBacklogGrace, so threads grow with
//    blocked callbacks, not with load;
//  - a timer is kSignalBackstop overdue with the clock thread in no
//    callback and no callback started since it last looked: the kernel
//    left the clock thread without a CPU, and it serves the due timers.
// Returns true when it should take the earliest timer now; false after a
// wait (the caller re-evaluates).
namespace {
// When the standby looks next, given the earliest deadline `top` (the
// rule of the list above; patrol applies it too): at that deadline while
// the clock thread is in a callback, kBacklogGrace after it while the
// clock thread is free; with a timer already due, after kBacklogGrace
// (a busy clock thread's backlog) or kSignalBackstop (a free one's).
ns_t standby_next_look(bool clock_busy, ns_t top, ns_t now) noexcept {
    if (top > now) return clock_busy ? top : sat_add(top, Scheduler::kBacklogGrace);
    return now + (clock_busy ? Scheduler::kBacklogGrace : Scheduler::kSignalBackstop);
}
}  // namespace

bool Scheduler::standby_wait(Ctx *self) noexcept {
    ns_t now = now_ns();
    ns_t top = next_due();
    if (clock_busy_ && top <= now && self->watching &&
        (self->mark == dispatched_ ||
         (self->clock_mark == clock_dispatched_ && !follower_in_callback(self)))) {
        self->watching = false;
        return true;
    }
    // The clock thread is in no callback, yet a timer is kSignalBackstop
    // overdue and nobody started a callback since this thread last looked:
    // the clock thread has no CPU (a nice 19 process beside busy ones: the
    // kernel runs a thread that used CPU only after the others caught up).
    // This thread got one: it serves the due timers until the clock thread
    // dispatches again.
    if (!clock_busy_ && top != kNever && now - top >= kSignalBackstop && self->watching &&
        self->mark == dispatched_) {
        self->watching = false;
        self->covering = true;
        return true;
    }
    self->watching = true;
    self->mark = dispatched_;
    self->clock_mark = clock_dispatched_;
    // A timer whose callback runs is not in the heap, yet its next
    // deadline is coming: a lone interval beside far timers would let this
    // thread sleep past it, and if the clock thread then stalls between
    // callbacks (preempted while it sets the kernel timer) nobody would
    // cover.
    if (top > now) top = std::min(top, next_of_running(now));
    bool busy = clock_busy_;
    standby_until_ = standby_next_look(busy, top, now);
    standby_looks_soon_ = busy && top <= now;
    standby_poked_.store(false, std::memory_order_relaxed);
    patrol(self);
    return false;
}

// The standby's sleep until standby_until_.  Mostly it wakes to find the
// clock thread free and callbacks started since it last looked: then all
// it has to do is set its next wake-up, and it does that here without
// mu_.  In a steady stream of timers the standby wakes about once per
// deadline, and when it took the lock for that, the followers held it
// 12,137 times in a 20 s LOAD-04 run without load (the clock thread
// 34,827); at nice 19 on a busy machine a holder waits for a CPU for
// hundreds of ms, and every callback waits for it (one LOAD-04 run had
// the clock thread wait 1074.6 ms for a follower's hold).  Anything else
// is looked at under the lock (standby_wait): a poke, a callback
// running, a clock thread kSignalBackstop late, nothing armed.
//
// Its wait is then set without the lock, which ensure_standby reads to
// decide on a poke as a callback starts.  The two sides are ordered as
// Dekker's: the clock thread stores clock_busy_ and then reads
// standby_until_, this thread stores standby_until_ and then reads
// clock_busy_ (all seq_cst), so either the clock thread sees the new
// wait or this thread sees the callback and looks under the lock.  The
// other pokes (watch) come while clock_busy_ is set as well.
void Scheduler::patrol(Ctx *self) noexcept {
    ns_t until = standby_until_.load(std::memory_order_relaxed);
    // A poke bumps the word under mu_, with standby_poked_ set: while the
    // word still holds `seen` there was none since this wait began.
    const uint32_t seen = self->wake;
    // The marks are this thread's, but written back under the lock: a
    // fork child reuses the Ctx of a thread it does not have (recycle),
    // and helgrind sees no order between a write made here without the
    // lock and that reuse.
    uint64_t mark = self->mark, clock_mark = self->clock_mark;
    // running_ alone would do (it counts the clock thread's callback
    // too), but clock_busy_ is the seq_cst half of the ordering above.
    // A follower's callback sends it to the lock: next_of_running.
    auto callback_runs = [this] { return clock_busy_.load() || running_.load() != 0; };
    unlock();
    for (;;) {
        timespec ts = to_timespec(until);
        futex_sleep(&self->wake, seen, &ts);
        if (__atomic_load_n(&self->wake, __ATOMIC_RELAXED) != seen) break;   // poked
        ns_t now = now_ns();
        if (now < until) continue;   // a spurious return
        uint64_t progress = dispatched_.load(std::memory_order_relaxed);
        if (callback_runs()) break;
        ns_t top = look_by_.load();
        if (top == kNever) break;   // nothing armed: it goes idle
        // No callback started and one is due: the clock thread is late.
        // Look again when it is kSignalBackstop late, and then cover under
        // the lock (standby_wait) if it still is.
        bool late = progress == mark && top <= now;
        if (late && now - top >= kSignalBackstop) break;
        if (progress != mark) {
            mark = progress;
            clock_mark = clock_dispatched_.load(std::memory_order_relaxed);
        }
        until = late ? top + kSignalBackstop : standby_next_look(false, top, now);
        // Waiting for a late clock thread, this thread looks again soon
        // anyway: the clock thread starting that callback at last sends no
        // poke (ensure_standby).  Had it one, each late callback on a busy
        // machine would cost a system call and a hold of the lock by this
        // thread (1,555 in a 20 s LOAD-04 run).  If that callback blocks,
        // the next timer waits at most until this wait ends.
        if (standby_looks_soon_.load(std::memory_order_relaxed) != late) standby_looks_soon_.store(late);
        standby_until_.store(until);
        MOCKIT_CHAOS_POINT();   // a callback starting between the store and the look
        if (callback_runs()) break;
    }
    lock();
    self->mark = mark;
    self->clock_mark = clock_mark;
}

// The earliest deadline after `now` of a timer whose callback runs (its
// next grid point, or the time it was re-armed for); kNever if none.
ns_t Scheduler::next_of_running(ns_t now) noexcept {
    ns_t soonest = kNever;
    for (const Ctx *c : threads_) {
        if (!c->current) continue;
        const Record &r = reg_.at(c->current);
        ns_t next = r.rearm ? r.due : r.period_ms ? sat_add(r.due, ms_to_ns(r.period_ms)) : kNever;
        if (next > now && next < soonest) soonest = next;
    }
    return soonest;
}

bool Scheduler::follower_in_callback(const Ctx *except) const noexcept {
    for (const Ctx *c : threads_)
        if (c != except && !c->is_clock && c->current) return true;
    return false;
}

// ---- fork: the child starts with no timers and no library threads ----

// grow_mu_ first: no thread is inside the allocator for the library's
// growth (grow_unlocked) while the process forks (see scheduler.cpp).
void Scheduler::before_fork() noexcept {
    pthread_mutex_lock(&grow_mu_);
    pthread_mutex_lock(&mu_);
}

void Scheduler::after_fork_parent() noexcept {
    pthread_mutex_unlock(&mu_);
    pthread_mutex_unlock(&grow_mu_);
}

void Scheduler::after_fork_child() noexcept {
    // Only the forking thread exists.  It holds mu_ (before_fork()) and
    // unlocks it, the pthread_atfork() way: re-initialising a mutex that is
    // locked is undefined, and helgrind/drd then see the old lock still held
    // ("re-lock a non-recursive lock", "mutex reinitialization").  The
    // start's condition variable is re-made rather than trusted: waiters
    // of the parent that do not exist here may be counted in it.
    pthread_mutex_unlock(&mu_);
    pthread_mutex_unlock(&grow_mu_);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&start_cv_, &a);
    pthread_condattr_destroy(&a);
    ++generation_;
    heap_.clear();
    armed_ = stale_ = 0;
    // Mockit_data_init structs stay known (so destroy frees them), disarmed.
    reg_.retain([](Record &r) {
        if (!r.owned || r.state == State::Finished) return false;
        r.state = State::Idle;
        r.destroying = r.rearm = false;
        r.waiters = 0;
        r.overrun = 0;
        r.period_ms = 0;
        return true;
    });
    for (Ctx *c : threads_)
        if (c != tls_ctx) recycle(c);   // their threads do not exist here
    threads_.clear();
    idle_.clear();
    standby_ = nullptr;
    standby_looks_soon_ = standby_poked_ = false;
    clock_busy_ = false;
    clock_idle_ = false;
    started_ = false;
    starting_ = false;
    ktimer_ok_ = false;   // POSIX timers are not inherited
    armed_due_ = kNever;
    spin_until_.store(kNever, std::memory_order_relaxed);
    followers_ = 0;
    tls_pending = Pending{};
    clock_wake_ = done_word_ = 0;
    kicked_ = ktimer_failed_ = false;
    // Arms submitted by the parent's other threads are the parent's.
    started_pub_.store(false, std::memory_order_relaxed);
    destroying_n_.store(0, std::memory_order_relaxed);
    sub_queue_.store(0, std::memory_order_relaxed);
    sub_free_.store(0, std::memory_order_relaxed);
    for (uint32_t i = 0; i < kSubmissions; ++i) give_slot(i + 1);
    claimed_.store(0, std::memory_order_relaxed);
    limit_.store(0, std::memory_order_relaxed);
    look_by_.store(0, std::memory_order_relaxed);
    consumed_ = 0;
    consumed_pub_.store(0, std::memory_order_relaxed);
    taken_head_ = taken_tail_ = 0;
    taken_min_ = kNever;
    std::memset(taken_bits_, 0, sizeof taken_bits_);
    taken_filter_on_ = behind_ = false;
    behind_at_ = behind_since_ = 0;
    room_waiters_.store(0, std::memory_order_relaxed);
    behind_pub_.store(false, std::memory_order_relaxed);
    behind_since_pub_.store(0, std::memory_order_relaxed);
    behind_waiters_.store(0, std::memory_order_relaxed);
    behind_word_ = 0;
    stuck_at_.store(UINT64_MAX, std::memory_order_relaxed);
    room_word_ = 0;
    clock_tid_pub_.store(0, std::memory_order_relaxed);
    draining_ = unlocking_ = false;
    growing_ = 0;
    running_ = 0;
}

}  // namespace mockit
