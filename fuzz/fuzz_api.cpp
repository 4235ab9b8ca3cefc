// fuzz_api: RELIABILITY.md FUZZ-01, an API-sequence fuzzer with a shadow
// model.  libFuzzer entry point LLVMFuzzerTestOneInput; replay_main.cpp
// replays a corpus without libFuzzer (built by meson, run by make check).
//
// Input bytes decode to a program over 8 slots: even slots are caller-owned
// static structs, odd slots come from Mockit_data_init.  Ops: data_init,
// oneoff(0-3 ms), getit(1-3 ms), destroy, destroy of a never-armed struct /
// a PROT_NONE pointer, bsleep(0-1), overrun from outside, set a slot's
// callback behaviour, sleep 0-2 ms.  Callback behaviours: no-op,
// self-destroy, destroy another (static) slot, re-arm self, re-arm another
// (static) slot, sleep <= 1 ms, overrun.
//
// The shadow model (per-slot mutex, arm log with sequence numbers) checks:
//  - never early: a call enters no earlier than the first due time of some
//    arm made since the slot's last completed destroy (and, while a slot was
//    armed exactly once as an interval, no earlier than origin + G*P with
//    G = sum(1 + overrun));
//  - no call after a destroy returned (until the next arm);
//  - at most one call per one-shot arm (per destroy epoch, and over the
//    whole input for a slot that was only ever armed as a one-shot);
//  - no self-overlap;
//  - every return value is one the contract allows;
//  - at the end: destroy all, then 10 ms of quiescence with 0 calls.
// A violation prints what broke and aborts (a crash for libFuzzer).
// MOCKIT_FUZZ_TRACE=1 prints the decoded program and the model's events
// (arms, calls, destroys) on stderr: use it to read a reproducer.
#include <mockit.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr int kSlots = 8;
constexpr int kMaxOps = 96;

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

void sleep_ns(uint64_t ns) {
    uint64_t t = now_ns() + ns;
    timespec ts{time_t(t / 1000000000u), long(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

[[noreturn]] void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void violation(const char *fmt, ...) {
    char buf[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "FUZZ-01 model violation: %s\n", buf);
    fflush(stderr);
    abort();
}

enum Behaviour : int {
    kNoop,
    kSelfDestroy,
    kDestroyOther,
    kRearmSelf,
    kRearmOther,
    kSleep,
    kOverrun,
    kBehaviours
};

struct Arm {
    uint64_t seq;
    uint64_t t_before;
    uint64_t first_due;   // t_before + ms
    uint32_t ms;
    bool interval;
};

struct Slot {
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct data st{};              // even slots
    struct data *d = nullptr;      // the struct in use (NULL: owned slot empty)
    bool owned = false;
    std::atomic<bool> abandoned{false};   // owned + self-destroy armed: main keeps off
    std::atomic<bool> freed{false};       // its self-destroying callback has exited
    // model, under mu
    std::vector<Arm> arms;        // arms since the last completed destroy
    uint64_t arm_seq = 0;
    bool dead = true;             // destroy returned, no arm since
    bool inside = false;
    uint64_t calls = 0;           // since the last completed destroy
    uint64_t grid = 0;            // G for the single-interval case
    // the whole input (never reset by a destroy): successful arms and calls
    uint64_t life_arms = 0, life_calls = 0;
    bool life_interval = false;   // armed as an interval at least once
    // behaviour, read by the callback
    std::atomic<int> beh{kNoop};
    std::atomic<int> arg{0};
};

Slot slots[kSlots];
const bool trace = getenv("MOCKIT_FUZZ_TRACE") != nullptr;   // MOCKIT_FUZZ_TRACE=1: print the program
std::atomic<uint64_t> total_calls{0};
std::atomic<uint64_t> seq_counter{1};
char *prot_none = nullptr;

// ---- the model's wrappers ----

// Arms slot i (the caller must own the right to touch s.d).  Allowed rcs
// depend on who calls; returns the rc.
int model_arm(int i, bool interval, uint32_t ms) {
    Slot &s = slots[i];
    pthread_mutex_lock(&s.mu);
    struct data *d = s.d;
    uint64_t t0 = now_ns();
    int rc = interval ? Mockit_getit(ms, d) : Mockit_oneoff(ms, d);
    if (rc == 0) {
        s.arms.push_back(Arm{++s.arm_seq, t0, t0 + uint64_t(ms) * 1000000u, ms, interval});
        s.dead = false;
        s.life_arms++;
        if (interval) s.life_interval = true;
        if (s.arms.size() == 1) s.grid = 0;
        if (d->timer_id == 0) violation("slot %d: timer_id 0 after an arm", i);
    }
    if (trace)
        fprintf(stderr, "fuzz:   slot %d %s(%u) -> %d (arm #%llu, %zu live in the model)\n", i,
                interval ? "getit" : "oneoff", ms, rc, (unsigned long long)s.arm_seq, s.arms.size());
    pthread_mutex_unlock(&s.mu);
    return rc;
}

// A destroy of slot i returned rc; seq_before was read before the call.
void model_destroyed(int i, uint64_t seq_before, int rc) {
    if (rc != 0 && rc != EINVAL) return;
    Slot &s = slots[i];
    pthread_mutex_lock(&s.mu);
    std::vector<Arm> keep;
    uint64_t dropped = 0;
    bool dropped_interval = false;
    for (const Arm &a : s.arms) {
        if (a.seq > seq_before) {
            keep.push_back(a);   // armed after the destroy began: may live
        } else {
            dropped++;
            if (a.interval) dropped_interval = true;
        }
    }
    // The calls so far were served by the dropped arms and the kept ones.
    // A dropped one-shot accounts for at most one of them, so at least
    // calls - dropped belong to kept arms (kept arms are the ones armed
    // between read_seq() and the destroy taking effect: a callback that
    // re-arms itself may have made and consumed many).  Keeping that lower
    // bound (not 0) leaves the "one call per one-shot arm" check exact.
    // An interval among the dropped arms may have made any number of calls.
    // G restarts (lenient): a kept interval's calls made while older arms
    // were live were not counted in it.
    uint64_t calls_before = s.calls;
    s.calls = dropped_interval || s.calls < dropped ? 0 : s.calls - dropped;
    s.grid = 0;
    s.arms.swap(keep);
    if (s.arms.empty()) s.dead = true;
    if (trace)
        fprintf(stderr, "fuzz:   slot %d destroy -> %d: arms up to #%llu dropped (%llu), %zu kept; calls %llu -> %llu\n", i,
                rc, (unsigned long long)seq_before, (unsigned long long)dropped, s.arms.size(),
                (unsigned long long)calls_before, (unsigned long long)s.calls);
    pthread_mutex_unlock(&s.mu);
}

uint64_t read_seq(int i) {
    pthread_mutex_lock(&slots[i].mu);
    uint64_t v = slots[i].arm_seq;
    pthread_mutex_unlock(&slots[i].mu);
    return v;
}

// ---- the callback ----

void *fuzz_cb(void *arg) {
    uint64_t t_entry = now_ns();
    auto *d = static_cast<struct data *>(arg);
    int i = int(reinterpret_cast<intptr_t>(d->stuff));
    if (i < 0 || i >= kSlots) violation("callback with a foreign struct (stuff %d)", i);
    Slot &s = slots[i];
    total_calls++;
    int ov = Mockit_overrun(d);
    if (ov < 0) violation("slot %d: Mockit_overrun %d inside its own callback", i, ov);

    pthread_mutex_lock(&s.mu);
    if (s.dead) violation("slot %d: called after its destroy returned (no arm since)", i);
    if (s.inside) violation("slot %d: callback overlaps itself", i);
    s.inside = true;
    s.calls++;
    s.life_calls++;
    // Destroy-independent: every call serves a distinct successful arm.
    if (!s.life_interval && s.life_calls > s.life_arms)
        violation("slot %d: %llu calls over the input for %llu one-shot arms", i,
                  (unsigned long long)s.life_calls, (unsigned long long)s.life_arms);
    uint64_t min_due = UINT64_MAX;
    bool all_oneshot = true;
    size_t candidates = 0, oneshots = 0;
    for (const Arm &a : s.arms) {
        if (a.t_before > t_entry) continue;
        candidates++;
        if (a.first_due < min_due) min_due = a.first_due;
        if (a.interval) all_oneshot = false;
        else oneshots++;
    }
    if (!candidates) violation("slot %d: called with no arm before it", i);
    if (t_entry < min_due)
        violation("slot %d: early by %llu ns", i, (unsigned long long)(min_due - t_entry));
    if (all_oneshot && s.calls > oneshots)
        violation("slot %d: %llu calls for %zu one-shot arms", i, (unsigned long long)s.calls, oneshots);
    if (s.arms.size() == 1 && s.arms[0].interval) {
        const Arm &a = s.arms[0];
        s.grid += 1 + uint64_t(ov);
        uint64_t due = a.t_before + s.grid * uint64_t(a.ms) * 1000000u;
        if (t_entry < due)
            violation("slot %d: interval call for grid point %llu early by %llu ns", i,
                      (unsigned long long)s.grid, (unsigned long long)(due - t_entry));
    }
    pthread_mutex_unlock(&s.mu);

    int beh = s.beh.load(), barg = s.arg.load();
    if (trace)
        fprintf(stderr, "fuzz:   slot %d called (timer_id %llu, overrun %d, behaviour %d; %llu calls over the input for %llu arms)\n",
                i, (unsigned long long)d->timer_id, ov, beh, (unsigned long long)s.life_calls, (unsigned long long)s.life_arms);
    bool self_destroyed = false;
    uint64_t self_seq = 0;
    switch (beh) {
    case kSelfDestroy: {
        self_seq = read_seq(i);
        int rc = Mockit_destroy(d);
        if (rc != 0) violation("slot %d: self-destroy returned %d", i, rc);
        self_destroyed = true;
        // a re-arm now is refused: the destroy is in progress
        int r2 = Mockit_oneoff(0, d);
        if (r2 != ECANCELED) violation("slot %d: re-arm after self-destroy returned %d", i, r2);
        break;
    }
    case kDestroyOther: {
        int j = (barg % (kSlots / 2)) * 2;   // a static slot
        if (j == i) break;
        uint64_t sb = read_seq(j);
        int rc = Mockit_destroy(&slots[j].st);
        if (rc != 0 && rc != EINVAL && rc != EDEADLK)
            violation("slot %d: destroy of slot %d returned %d", i, j, rc);
        model_destroyed(j, sb, rc);
        break;
    }
    case kRearmSelf: {
        bool iv = barg & 1;
        uint32_t ms = iv ? 1 + uint32_t(barg >> 1) % 3 : uint32_t(barg >> 1) % 4;
        int rc = model_arm(i, iv, ms);
        if (rc != 0 && rc != ECANCELED) violation("slot %d: re-arm of itself returned %d", i, rc);
        break;
    }
    case kRearmOther: {
        int j = (barg % (kSlots / 2)) * 2;
        bool iv = (barg >> 2) & 1;
        uint32_t ms = iv ? 1 + uint32_t(barg >> 3) % 3 : uint32_t(barg >> 3) % 4;
        int rc = model_arm(j, iv, ms);
        if (rc != 0 && rc != ECANCELED) violation("slot %d: re-arm of slot %d returned %d", i, j, rc);
        break;
    }
    case kSleep:
        sleep_ns(uint64_t(barg % 1000) * 1000u);
        break;
    case kOverrun:
        if (Mockit_overrun(d) != ov) violation("slot %d: Mockit_overrun changed within one call", i);
        break;
    default:
        break;
    }

    pthread_mutex_lock(&s.mu);
    s.inside = false;
    pthread_mutex_unlock(&s.mu);
    if (self_destroyed) {
        // the stop takes effect when this returns
        model_destroyed(i, self_seq, 0);
        if (s.owned) s.freed.store(true);   // main may reuse the slot (it is freed after return)
    }
    return nullptr;
}

// ---- watchdog for the replay driver (libFuzzer has -timeout) ----

std::atomic<uint64_t> wd_deadline{0};

void *wd_main(void *) {
    for (;;) {
        sleep_ns(100000000);
        uint64_t dl = wd_deadline.load();
        if (dl && now_ns() > dl) violation("an input ran past its deadline: a hang");
    }
    return nullptr;
}

void init_once() {
    static bool done = false;
    if (done) return;
    done = true;
    long pg = sysconf(_SC_PAGESIZE);
    prot_none = static_cast<char *>(mmap(nullptr, size_t(pg), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (int i = 0; i < kSlots; i++) slots[i].owned = i % 2;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    pthread_create(&t, nullptr, wd_main, nullptr);
    pthread_detach(t);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

double time_scale() {
    const char *v = getenv("MOCKIT_UNDER_VALGRIND");
    if (v && *v && strcmp(v, "0")) return 20;
    if (getenv("MOCKIT_UNDER_SANITIZER")) return 5;
    return 1;
}

// A slot main may touch: owned slots that are abandoned are off limits
// until their self-destroying callback has run.
bool usable(int i) {
    Slot &s = slots[i];
    if (!s.owned) return true;
    if (s.abandoned.load()) {
        if (!s.freed.load()) return false;
        s.abandoned = false;
        s.freed = false;
        pthread_mutex_lock(&s.mu);
        s.d = nullptr;   // freed by the library
        pthread_mutex_unlock(&s.mu);
    }
    return s.d != nullptr;
}

struct Reader {
    const uint8_t *p;
    size_t n;
    uint8_t next() {
        if (!n) return 0;
        n--;
        return *p++;
    }
};

// MOCKIT_FUZZ_TRACE: the op about to run, decoded (r: the bytes after
// the op code, not consumed here).
void describe_op(int n, uint8_t code, Reader r) {
    static const char *const beh_names[kBehaviours] = {"no-op", "self-destroy", "destroy-other", "rearm-self",
                                                        "rearm-other", "sleep", "overrun"};
    int i = (code >> 4) % kSlots;
    char what[160];
    switch ((code & 0x0f) % 10) {
    case 0: snprintf(what, sizeof what, "data_init"); break;
    case 1: snprintf(what, sizeof what, "oneoff(%u)", r.next() % 4); break;
    case 2: snprintf(what, sizeof what, "getit(%u)", 1 + r.next() % 3); break;
    case 3: snprintf(what, sizeof what, "destroy"); break;
    case 4: snprintf(what, sizeof what, "destroy/overrun of an unknown pointer"); break;
    case 5: snprintf(what, sizeof what, "bsleep(%d)", r.next() % 2); break;
    case 6: snprintf(what, sizeof what, "overrun from outside"); break;
    case 7: {
        uint8_t b = r.next(), a = r.next();
        int beh = b % kBehaviours;
        int j = (a % (kSlots / 2)) * 2;
        switch (beh) {
        case kDestroyOther: snprintf(what, sizeof what, "behaviour destroy-other(slot %d)", j); break;
        case kRearmSelf:
            if (a & 1) snprintf(what, sizeof what, "behaviour rearm-self(getit %u)", 1 + uint32_t(a >> 1) % 3);
            else snprintf(what, sizeof what, "behaviour rearm-self(oneoff %u)", uint32_t(a >> 1) % 4);
            break;
        case kRearmOther:
            if ((a >> 2) & 1) snprintf(what, sizeof what, "behaviour rearm-other(slot %d, getit %u)", j, 1 + uint32_t(a >> 3) % 3);
            else snprintf(what, sizeof what, "behaviour rearm-other(slot %d, oneoff %u)", j, uint32_t(a >> 3) % 4);
            break;
        case kSleep: snprintf(what, sizeof what, "behaviour sleep(%d us)", a % 1000); break;
        default: snprintf(what, sizeof what, "behaviour %s", beh_names[beh]); break;
        }
        break;
    }
    case 8: snprintf(what, sizeof what, "sleep %d ms", r.next() % 3); break;
    default: {
        uint8_t b = r.next();
        if (b & 1) snprintf(what, sizeof what, "burst: getit(%u) on every static slot", 1 + (b >> 1) % 3);
        else snprintf(what, sizeof what, "burst: oneoff(%u) on every static slot", (b >> 1) % 4);
        break;
    }
    }
    fprintf(stderr, "fuzz: op %d: slot %d (%s): %s\n", n, i, i % 2 ? "data_init" : "static", what);
}

void reset_slot(int i) {
    Slot &s = slots[i];
    pthread_mutex_lock(&s.mu);
    s.arms.clear();
    s.dead = true;
    s.inside = false;
    s.calls = 0;
    s.grid = 0;
    s.life_arms = s.life_calls = 0;
    s.life_interval = false;
    pthread_mutex_unlock(&s.mu);
    s.beh = kNoop;
    s.arg = 0;
    if (!s.owned) {
        s.st = {};
        s.st.cb = fuzz_cb;
        s.st.stuff = reinterpret_cast<void *>(intptr_t(i));
        s.d = &s.st;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    double scale = time_scale();
    wd_deadline = now_ns() + uint64_t(10e9 * scale);
    for (int i = 0; i < kSlots; i++) reset_slot(i);
    Reader r{data, size};
    for (int op = 0; op < kMaxOps && r.n; op++) {
        uint8_t code = r.next();
        int i = (code >> 4) % kSlots;
        Slot &s = slots[i];
        if (trace) describe_op(op, code, r);
        switch ((code & 0x0f) % 10) {   // low nibble: op, high nibble: slot
        case 0:   // data_init into an empty owned slot
            if (s.owned && !s.abandoned.load() && !s.d) {
                struct data *d = Mockit_data_init();
                if (!d) violation("Mockit_data_init: NULL (errno %d)", errno);
                if (d->cb || d->stuff || d->timer_id) violation("Mockit_data_init: not zeroed");
                d->cb = fuzz_cb;
                d->stuff = reinterpret_cast<void *>(intptr_t(i));
                pthread_mutex_lock(&s.mu);
                s.d = d;
                pthread_mutex_unlock(&s.mu);
            }
            break;
        case 1:
        case 2: {   // oneoff / getit
            bool iv = (code & 0x0f) % 10 == 2;
            uint8_t b = r.next();
            uint32_t ms = iv ? 1 + b % 3 : b % 4;
            if (!usable(i)) break;
            if (s.owned && s.beh.load() == kSelfDestroy) s.abandoned = true;   // it will free itself
            int rc = model_arm(i, iv, ms);
            if (s.owned ? rc != 0 : (rc != 0 && rc != ECANCELED))
                violation("slot %d: %s(%u) returned %d", i, iv ? "getit" : "oneoff", ms, rc);
            if (rc != 0 && s.owned) s.abandoned = false;
            break;
        }
        case 3: {   // destroy
            if (!usable(i)) break;
            uint64_t sb = read_seq(i);
            int rc = Mockit_destroy(s.d);
            if (s.owned ? rc != 0 : (rc != 0 && rc != EINVAL))
                violation("slot %d: destroy returned %d", i, rc);
            model_destroyed(i, sb, rc);
            if (s.owned) {
                pthread_mutex_lock(&s.mu);
                s.d = nullptr;   // freed
                pthread_mutex_unlock(&s.mu);
            }
            break;
        }
        case 4: {   // unknown pointers: never armed, PROT_NONE, misaligned
            struct data garbage;
            memset(&garbage, 0x5a, sizeof garbage);
            uint8_t b = r.next();
            struct data *p = b % 3 == 0 ? &garbage
                           : b % 3 == 1 ? reinterpret_cast<struct data *>(prot_none + (b & 0x38))
                                        : reinterpret_cast<struct data *>(reinterpret_cast<char *>(&slots[0].st) + 1 + b % 7);
            if (Mockit_destroy(p) != EINVAL) violation("destroy of an unknown pointer is not EINVAL");
            errno = 0;
            if (Mockit_overrun(p) != -1 || errno != EINVAL) violation("overrun of an unknown pointer");
            break;
        }
        case 5: {   // bsleep 0-1
            uint8_t b = r.next();
            ssize_t left = -1;
            int err = -1;
            uint64_t t0 = now_ns();
            int rc = Mockit_bsleep(b % 2, &left, &err);
            // Mockit_bsleep(3): a call right after an interrupted one, asking
            // for exactly the left it reported, continues to that sleep's
            // deadline (so it may be shorter than asked, but it ends no
            // earlier than the interrupted call's start + its ms).  The
            // library remembers that per thread across inputs; so does the
            // model (static).
            static ssize_t last_eintr_left = -1;    // of the last bsleep, if interrupted
            static uint64_t last_eintr_bound = 0;   // its start + ms
            uint64_t bound = t0 + uint64_t(b % 2) * 1000000u;
            if (last_eintr_left == b % 2 && last_eintr_bound < bound) bound = last_eintr_bound;
            last_eintr_left = -1;
            // EINTR is legitimate: libFuzzer's -timeout runs on SIGALRM
            if (rc == EINTR) {
                if (err != EINTR || left <= 0 || left > b % 2) violation("bsleep(%d): EINTR, left %zd, error %d", b % 2, left, err);
                last_eintr_left = left;
                last_eintr_bound = bound;
                break;
            }
            if (rc != 0 || left != 0 || err != 0) violation("bsleep(%d): %d %zd %d", b % 2, rc, left, err);
            if (now_ns() < bound) violation("bsleep(%d) short", b % 2);
            break;
        }
        case 6:   // overrun from outside any callback
            if (usable(i)) {
                errno = 0;
                if (Mockit_overrun(s.d) != -1 || errno != EINVAL)
                    violation("slot %d: overrun outside its callback is not -1/EINVAL", i);
            }
            break;
        case 7: {   // callback behaviour
            uint8_t b = r.next(), a = r.next();
            if (s.owned && s.abandoned.load()) break;   // fixed until it has freed itself
            int beh = b % kBehaviours;
            if (beh == kSelfDestroy && s.owned) {
                // armed owned slots would free themselves behind main's back
                // at their next call: only set it while the slot is not armed
                pthread_mutex_lock(&s.mu);
                bool armed = !s.dead;
                pthread_mutex_unlock(&s.mu);
                if (armed) break;
            }
            s.arg = a;
            s.beh = beh;
            break;
        }
        case 8:   // let time pass
            sleep_ns(uint64_t(r.next() % 3) * 1000000u);
            break;
        default: {   // a burst: arm every static slot at once
            uint8_t b = r.next();
            for (int j = 0; j < kSlots; j += 2) {
                int rc = model_arm(j, b & 1, (b & 1) ? 1 + (b >> 1) % 3 : (b >> 1) % 4);
                if (rc != 0 && rc != ECANCELED) violation("slot %d: burst arm returned %d", j, rc);
            }
            break;
        }
        }
    }

    // ---- the end: destroy everything, then nothing may run ----
    for (int i = 0; i < kSlots; i++)   // no more re-arms of others; self-destroyers go on
        if (!slots[i].abandoned.load()) slots[i].beh = kNoop;
    uint64_t dl = now_ns() + uint64_t(2e9 * scale);
    for (int i = 1; i < kSlots; i += 2)
        while (slots[i].abandoned.load() && !slots[i].freed.load()) {
            if (now_ns() > dl) violation("slot %d: a self-destroying timer was never called", i);
            sleep_ns(200000);
        }
    // callbacks may re-arm static slots until all of them are destroyed:
    // destroy twice around a pause
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < kSlots; i++) {
            Slot &s = slots[i];
            if (!usable(i)) continue;
            uint64_t sb = read_seq(i);
            int rc = Mockit_destroy(s.d);
            if (s.owned ? rc != 0 : (rc != 0 && rc != EINVAL))
                violation("slot %d: final destroy returned %d", i, rc);
            model_destroyed(i, sb, rc);
            if (s.owned) {
                pthread_mutex_lock(&s.mu);
                s.d = nullptr;
                pthread_mutex_unlock(&s.mu);
            }
        }
        if (round == 0) sleep_ns(1000000);
    }
    uint64_t c0 = total_calls.load();
    sleep_ns(10000000);
    uint64_t c1 = total_calls.load();
    if (c1 != c0) violation("%llu calls in the 10 ms after everything was destroyed", (unsigned long long)(c1 - c0));
    wd_deadline = 0;
    return 0;
}
