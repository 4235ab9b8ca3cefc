// bench-lateness: wake-up lateness of one 10 ms interval timer, per design,
// optionally with many far-future timers of the same design armed.
//
//   bench-lateness --design D [--ticks 2000] [--period-ms 10] [--far N]
//                  [--start-ns T] [--samples FILE] [--run R] [--slot S]
//   bench-lateness --now          CLOCK_MONOTONIC in ns (for run.sh)
//   bench-lateness --versions     glibc, libuv, mockit versions (JSON)
//
// Designs: cns (a thread in clock_nanosleep(TIMER_ABSTIME) on the grid,
// default 50 us timer slack), cns-slack1 (same, PR_SET_TIMERSLACK 1 ns),
// sigev-thread-id (one timer_create timer, TIMER_ABSTIME interval,
// SIGEV_THREAD_ID to a sigwaitinfo thread: the bare POSIX-timer floor),
// sigev-thread (glibc SIGEV_THREAD), tpt (thread per timer, relative
// nanosleep loop: the seed's original design), libuv (one loop), mockit.
//
// lateness = callback time - the due time of that call in the design's
// own schedule: start + k*period for the grid designs (cns, sigev-*,
// mockit; k counts merged overruns), previous sleep start + period for
// tpt, the timer's own due (ms) for libuv.  drift = time of the last call
// - (start + k*period) with k = ticks elapsed by that design's count.
// The program starts its grid at --start-ns (all designs of one run share
// it, each shifted by --phase-us so they do not wake together).
#include "common.hpp"
#include "tpt.hpp"

#include <gnu/libc-version.h>
#include <semaphore.h>
#include <sys/prctl.h>

#include <atomic>
#include <mutex>

#include <mockit.h>
#ifdef HAVE_LIBUV
#include <uv.h>
#endif

using namespace bench;

namespace {

struct Rec {
    int64_t t, due, k;
};

std::vector<Rec> recs;
std::atomic<long> nrec{0};
long N = 2000;
int64_t P = 10000000;   // period in ns
uint32_t P_ms = 10;
int64_t start = 0;      // grid origin
sem_t done;
std::atomic<bool> finished{false};
std::mutex rec_mu;      // sigev-thread: callbacks may overlap

// Store one call; k = grid ticks elapsed so far (1-based).
void record(int64_t t, int64_t due, int64_t k) {
    if (finished.load(std::memory_order_relaxed)) return;
    long i = nrec.fetch_add(1, std::memory_order_relaxed);
    if (i < long(recs.size())) recs[size_t(i)] = Rec{t, due, k};
    if (k >= N || i + 1 >= long(recs.size())) {
        if (!finished.exchange(true)) sem_post(&done);
    }
}

// A design whose set-up overran its start moves to the next slot of the
// same phase, so the designs of one run still do not wake together.
void realign() {
    int64_t now = now_ns();
    if (now > start - 500000) start += ((now - start) / P + 1) * P;
}

// ---- far-future timers: how many of them got armed, and why it stopped.
long far_req = 0, far_armed = 0;
std::string far_err;

// ---- cns: the kernel floor ----
void *cns_main(void *slack1) {
    if (slack1) prctl(PR_SET_TIMERSLACK, 1UL);
    for (int64_t k = 1; k <= N; ++k) {
        int64_t due = start + k * P;
        sleep_until(due);
        record(now_ns(), due, k);
    }
    return nullptr;
}

// ---- sigev-thread-id: the bare POSIX-timer floor ----
std::atomic<pid_t> waiter_tid{0};
const int kSig = SIGRTMIN + 1;

void *sigwait_main(void *) {
    waiter_tid.store(gettid_());
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, kSig);
    int64_t k = 0;
    for (;;) {
        siginfo_t si;
        if (sigwaitinfo(&s, &si) < 0) continue;
        int64_t t = now_ns();
        if (si.si_value.sival_int != 1) continue;   // a far timer (never)
        k += 1 + si.si_overrun;
        record(t, start + k * P, k);
    }
    return nullptr;
}

timer_t tick_timer;
std::atomic<int64_t> sigev_k{0};

void sigev_thread_cb(union sigval v) {
    int64_t t = now_ns();
    if (v.sival_int != 1) return;
    std::lock_guard<std::mutex> g(rec_mu);
    int ov = timer_getoverrun(tick_timer);
    int64_t k = sigev_k += 1 + (ov > 0 ? ov : 0);
    record(t, start + k * P, k);
}

// Arm `n` far-future kernel timers; stops at the first error.  They are
// never deleted: _exit() lets the kernel free them at once (glibc keeps
// SIGEV_THREAD timers in a list that timer_delete searches: O(n^2)).
std::vector<timer_t> kfar;
void kernel_far(long n, struct sigevent ev) {
    ev.sigev_value.sival_int = 0;
    struct itimerspec far = {{0, 0}, {3600, 0}};
    kfar.reserve(size_t(n));
    for (far_armed = 0; far_armed < n; ++far_armed) {
        timer_t t;
        if (timer_create(CLOCK_MONOTONIC, &ev, &t) == 0) kfar.push_back(t);
        else {
            far_err = errname(errno);
            break;
        }
        timer_settime(t, 0, &far, nullptr);
    }
}

int run_sigev(bool thread_id, int slot) {
    // Own user for the RLIMIT_SIGPENDING count (see common.hpp); without
    // root, take at most a quarter of the user's shared allowance.
    uid_t uid = isolate_sigpending(slot);
    bool isolated = uid >= 60000;
    long lim = sigpending_limit();
    long want = far_req;
    std::string cap;
    if (lim > 0) {
        long avail = isolated ? lim - 64 : lim / 4;
        if (want > avail) {
            want = avail;
            cap = "RLIMIT_SIGPENDING=" + std::to_string(lim) + " (EAGAIN beyond)";
        }
    }
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    if (thread_id) {
        pthread_t th;
        pthread_create(&th, nullptr, sigwait_main, nullptr);
        while (!waiter_tid.load()) sleep_ms(1);
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = kSig;
        ev._sigev_un._tid = waiter_tid.load();
    } else {
        ev.sigev_notify = SIGEV_THREAD;
        ev.sigev_notify_function = sigev_thread_cb;
    }
    if (want > 0) kernel_far(want, ev);
    if (far_err.empty()) far_err = cap;
    ev.sigev_value.sival_int = 1;
    if (timer_create(CLOCK_MONOTONIC, &ev, &tick_timer) != 0) return errno;
    realign();
    struct itimerspec its;
    its.it_interval = to_ts(P);
    its.it_value = to_ts(start + P);
    return timer_settime(tick_timer, TIMER_ABSTIME, &its, nullptr) == 0 ? 0 : errno;
}

// ---- tpt: thread per timer ----
int64_t tpt_k = 0;
void tpt_tick(tpt::Timer *t) {
    int64_t now = now_ns();
    record(now, t->sleep_start + P, ++tpt_k);
}
void tpt_noop(tpt::Timer *) {}

int run_tpt() {
    static std::vector<tpt::Timer> far;
    // One thread each: a sensible cap keeps pids for the rest of the machine.
    far = std::vector<tpt::Timer>(size_t(far_req));
    for (far_armed = 0; far_armed < far_req; ++far_armed) {
        far[size_t(far_armed)].cb = tpt_noop;
        int e = tpt::arm(&far[size_t(far_armed)], 3600000, false);
        if (e) {
            far_err = errname(e);
            break;
        }
    }
    realign();
    sleep_until(start);
    start = now_ns();
    static tpt::Timer tick;
    tick.cb = tpt_tick;
    return tpt::arm(&tick, P_ms, true);
}

// ---- libuv: one loop ----
#ifdef HAVE_LIBUV
uv_loop_t loop;
uv_timer_t uv_tick;
uint64_t uv_due_ms = 0;
int64_t uv_k = 0;
std::vector<uv_timer_t> uv_far;

void uv_tick_cb(uv_timer_t *h) {
    int64_t t = now_ns();
    int64_t due = int64_t(uv_due_ms) * 1000000;
    uv_due_ms = h->timeout;   // libuv set the next due before calling us
    record(t, due, ++uv_k);
    if (finished.load()) {
        uv_timer_stop(h);
        uv_stop(h->loop);
    }
}
void uv_noop(uv_timer_t *) {}

void *uv_main(void *) {
    uv_run(&loop, UV_RUN_DEFAULT);
    return nullptr;
}

int run_libuv() {
    uv_loop_init(&loop);
    uv_far.resize(size_t(far_req));
    for (far_armed = 0; far_armed < far_req; ++far_armed) {
        uv_timer_t *h = &uv_far[size_t(far_armed)];
        uv_timer_init(&loop, h);
        uv_timer_start(h, uv_noop, 3600000, 0);
    }
    uv_timer_init(&loop, &uv_tick);
    realign();
    sleep_until(start);
    start = now_ns();
    uv_update_time(&loop);
    uv_timer_start(&uv_tick, uv_tick_cb, P_ms, P_ms);
    uv_due_ms = uv_tick.timeout;
    pthread_t th;
    return pthread_create(&th, nullptr, uv_main, nullptr);
}
#endif

// ---- mockit ----
struct data mk_tick;
int64_t mk_k = 0;
std::vector<struct data> mk_far;

void *mk_tick_cb(void *arg) {
    int64_t t = now_ns();
    int ov = Mockit_overrun(static_cast<struct data *>(arg));
    mk_k += 1 + (ov > 0 ? ov : 0);
    record(t, start + mk_k * P, mk_k);
    return nullptr;
}
void *mk_noop(void *) { return nullptr; }
std::atomic<int> warm{0};
void *mk_warm(void *) {
    warm.store(1);
    return nullptr;
}

int run_mockit(int64_t *call_ns) {
    // Start the library's threads first: the first arm creates them, and
    // that is not what this figure is about.
    struct data w;
    memset(&w, 0, sizeof w);
    w.cb = mk_warm;
    Mockit_oneoff(1, &w);
    while (!warm.load()) sleep_ms(1);
    mk_far.resize(size_t(far_req));
    for (far_armed = 0; far_armed < far_req; ++far_armed) {
        struct data *d = &mk_far[size_t(far_armed)];
        d->cb = mk_noop;
        int e = Mockit_oneoff(3600000, d);
        if (e) {
            far_err = errname(e);
            break;
        }
    }
    realign();
    sleep_until(start);
    mk_tick.cb = mk_tick_cb;
    int64_t t0 = now_ns();
    int e = Mockit_getit(P_ms, &mk_tick);
    *call_ns = now_ns() - t0;
    start = t0;   // the grid counts from the call; t0 is before it: conservative
    return e;
}

}  // namespace

int main(int argc, char **argv) {
    Args a(argc, argv);
    if (a.flag("now")) {
        printf("%" PRId64 "\n", now_ns());
        return 0;
    }
    if (a.flag("versions")) {
        Json j;
        j.str("test", "versions").str("glibc", gnu_get_libc_version()).str("mockit", Mockit_version());
#ifdef HAVE_LIBUV
        j.str("libuv", uv_version_string());
#else
        j.str("libuv", "");
#endif
        j.print();
        return 0;
    }
    std::string design = a.get("design", "mockit");
    N = a.num("ticks", smoke() ? 20 : 2000);
    P_ms = uint32_t(a.num("period-ms", 10));
    P = int64_t(P_ms) * 1000000;
    far_req = a.num("far", 0);
    int slot = int(a.num("slot", 0));
    const char *samples = a.get("samples");
    int64_t phase = a.num("phase-us", 0) * 1000;
    int64_t req_start = a.num("start-ns", 0);
    FILE *sf = samples ? fopen(samples, "w") : nullptr;   // before any uid change

    recs.resize(size_t(N) + 2);
    sem_init(&done, 0, 0);
    int64_t t_setup = now_ns();
    // Every thread of the process blocks the POSIX-timer signal.
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, kSig);
    pthread_sigmask(SIG_BLOCK, &s, nullptr);

    if (req_start == 0) req_start = now_ns() + 200000000;
    start = req_start + phase;
    int err = 0;
    int64_t call_ns = 0;
    pthread_t th;
    // Designs that arm at `start` themselves do their far timers first and
    // sleep until then; the grid designs below are armed for `start`.
    if (design == "cns" || design == "cns-slack1") {
        realign();
        sleep_until(start - 2000000);
        err = pthread_create(&th, nullptr, cns_main, design == "cns-slack1" ? &th : nullptr);
    } else if (design == "sigev-thread-id" || design == "sigev-thread") {
        err = run_sigev(design == "sigev-thread-id", slot);
    } else if (design == "tpt") {
        err = run_tpt();
    } else if (design == "libuv") {
#ifdef HAVE_LIBUV
        err = run_libuv();
#else
        Json().str("test", "lateness").str("design", design).str("skipped", "libuv not found").print();
        return 0;
#endif
    } else if (design == "mockit") {
        err = run_mockit(&call_ns);
    } else {
        fprintf(stderr, "bench-lateness: unknown design %s\n", design.c_str());
        return 2;
    }
    int64_t setup_ns = now_ns() - t_setup;
    if (err) {
        Json().str("test", "lateness").str("design", design).str("error", errname(err)).print();
        return 1;
    }
    // Timeout: 3x the nominal run plus 10 s.
    struct timespec dl = {};
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += time_t(3 * N * P / 1000000000 + 10);
    bool timed_out = sem_timedwait(&done, &dl) != 0;
    finished.store(true);
    if (design == "mockit") Mockit_destroy(&mk_tick);
    long n = std::min(nrec.load(), long(recs.size()));
    std::vector<int64_t> lat;
    lat.reserve(size_t(n));
    long early = 0;
    long double sum = 0;
    for (long i = 0; i < n; ++i) {
        int64_t l = recs[size_t(i)].t - recs[size_t(i)].due;
        if (l < 0) ++early;
        lat.push_back(l);
        sum += l;
        if (sf) fprintf(sf, "%" PRId64 "\n", l);
    }
    if (sf) fclose(sf);
    std::vector<int64_t> sorted = lat;
    std::sort(sorted.begin(), sorted.end());
    // drift: the last call's distance from the grid start + k*period (it
    // includes that call's own lateness), and the systematic part: the
    // median grid error of the last 100 calls minus that of the first 100
    // (constant wake-up latency cancels, a schedule that slides does not).
    int64_t drift = 0, last_k = 0, drift_sys = 0;
    if (n > 0) {
        const Rec &r = recs[size_t(n - 1)];
        last_k = r.k;
        drift = r.t - (start + r.k * P);
        long w = std::min(100L, n);
        std::vector<int64_t> head, tail;
        for (long i = 0; i < w; ++i) {
            head.push_back(recs[size_t(i)].t - (start + recs[size_t(i)].k * P));
            tail.push_back(recs[size_t(n - w + i)].t - (start + recs[size_t(n - w + i)].k * P));
        }
        std::sort(head.begin(), head.end());
        std::sort(tail.begin(), tail.end());
        drift_sys = pct(tail, 50) - pct(head, 50);
    }
    Json j;
    j.str("test", "lateness").str("design", design).i64("run", a.num("run", 0));
    j.i64("far_req", far_req).i64("far_armed", far_armed).str("far_stop", far_err);
    j.i64("ticks", last_k).i64("calls", n).i64("early", early);
    j.i64("p50_ns", pct(sorted, 50)).i64("p90_ns", pct(sorted, 90)).i64("p99_ns", pct(sorted, 99));
    j.i64("p999_ns", pct(sorted, 99.9)).i64("max_ns", sorted.empty() ? 0 : sorted.back());
    j.i64("min_ns", sorted.empty() ? 0 : sorted.front()).num("mean_ns", n ? double(sum / n) : 0);
    j.i64("drift_ns", drift).i64("drift_sys_ns", drift_sys).i64("start_late_ns", start - req_start - phase);
    j.num("setup_ms", double(setup_ns) / 1e6).i64("arm_call_ns", call_ns);
    j.boolean("timed_out", timed_out);
    j.print();
    // exit(): every design's timers and threads die with the process.
    _exit(0);
}
