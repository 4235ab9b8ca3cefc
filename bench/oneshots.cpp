// bench-oneshots: many one-shot timers per design.
//
//   bench-oneshots --design D --mode spread|burst|maxlive [--n N]
//                  [--window-ms 1000] [--run R] [--slot S] [--perf-ctl FIFO]
//
//   spread   N one-shots due over a 1 s window (random arming order):
//            arm time, bytes per armed timer, lateness p50/p99/max, time
//            from the last deadline to the last callback, none early.
//   burst    N one-shots all due at one instant: expirations dispatched
//            per second (N / (last callback - first callback)).
//   maxlive  arm until an error or the cap (--n): how many live timers the
//            design reaches and why it stops.  mockit's are all due at one
//            instant after the arming and must all fire (counted, none
//            early); the others are far-future and are not fired.
//
// Designs: mockit, libuv, sigev-thread-id, sigev-thread, tpt (see
// lateness.cpp).  Each timer's due time is the one the design was asked
// for: t(before the arm call) + ms for the relative APIs (mockit, tpt),
// libuv's own due (loop time + ms, ms granular), the absolute expiry for
// the kernel timers.  The callback of every design does the same work:
// one clock_gettime, one store, one atomic increment (cb_body_ns).
// --perf-ctl FIFO: write "enable" to perf's control FIFO at the first
// deadline and "disable" once the last callback came, so that
//   perf stat -D -1 --control fifo:FIFO -- bench-oneshots ... --perf-ctl FIFO
// counts the dispatch phase alone (the arming before it does other work).
// Bytes per timer: RSS delta while armed, the caller's structs and the
// benchmark's own arrays excluded (allocated and touched before); kernel
// memory (system-wide Slab + KernelStack + PageTables delta) separately.
#include "common.hpp"
#include "tpt.hpp"

#include <atomic>
#include <random>

#include <mockit.h>
#ifdef HAVE_LIBUV
#include <uv.h>
#endif

using namespace bench;

namespace {

long N = 0;
std::vector<int64_t> cbt;   // callback time per timer (0: not yet)
std::vector<int64_t> due;   // due time per timer
std::atomic<long> fired{0};

inline void hit(long i) {
    cbt[size_t(i)] = now_ns();
    fired.fetch_add(1, std::memory_order_relaxed);
}

// ---- mockit ----
std::vector<struct data> mk;
void *mk_cb(void *arg) {
    hit(static_cast<struct data *>(arg) - mk.data());
    return nullptr;
}
void *mk_noop(void *) { return nullptr; }

// ---- libuv ----
#ifdef HAVE_LIBUV
uv_loop_t loop;
std::vector<uv_timer_t> uvt;
void uv_cb(uv_timer_t *h) { hit(h - uvt.data()); }
#endif

// ---- kernel timers ----
std::vector<timer_t> kt;
const int kSig = SIGRTMIN + 1;
std::atomic<pid_t> waiter_tid{0};
void *sigwait_main(void *) {
    waiter_tid.store(gettid_());
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, kSig);
    for (;;) {
        siginfo_t si;
        if (sigwaitinfo(&s, &si) < 0) continue;
        hit(si.si_value.sival_int);
    }
    return nullptr;
}
void sigev_cb(union sigval v) { hit(v.sival_int); }

// ---- thread per timer ----
std::vector<tpt::Timer> tp;
void tpt_cb(tpt::Timer *t) { hit(t - tp.data()); }

// Per-arm cost from a short calibration: the time of n arms of the same
// design (far-future), which are then disarmed outside the timing.
double calibrate(const std::string &design) {
    const int n = design == "tpt" ? 100 : design.rfind("sigev", 0) == 0 ? 500 : 20000;
    int64_t t0 = now_ns(), t1 = t0;
    if (design == "mockit") {
        std::vector<struct data> c((size_t(n)));
        for (auto &d : c) {
            d.cb = mk_noop;
            Mockit_oneoff(3600000, &d);
        }
        t1 = now_ns();
        for (auto &d : c) Mockit_destroy(&d);
    }
#ifdef HAVE_LIBUV
    else if (design == "libuv") {
        std::vector<uv_timer_t> c((size_t(n)));
        for (auto &h : c) {
            uv_timer_init(&loop, &h);
            uv_timer_start(&h, uv_cb, 3600000, 0);
        }
        t1 = now_ns();
        for (auto &h : c) uv_timer_stop(&h);
        for (auto &h : c) uv_close(reinterpret_cast<uv_handle_t *>(&h), nullptr);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
#endif
    else if (design == "tpt") {
        std::vector<tpt::Timer> c((size_t(n)));
        for (auto &t : c) {
            t.cb = tpt_cb;
            tpt::arm(&t, 3600000, false);
        }
        t1 = now_ns();
        for (auto &t : c) tpt::destroy(&t);
        sleep_ms(20);
    } else {
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = kSig;
        ev._sigev_un._tid = gettid_();
        struct itimerspec far = {{0, 0}, {3600, 0}};
        std::vector<timer_t> c((size_t(n)));
        int m = 0;
        for (; m < n; ++m) {
            if (timer_create(CLOCK_MONOTONIC, &ev, &c[size_t(m)]) != 0) break;
            timer_settime(c[size_t(m)], 0, &far, nullptr);
        }
        t1 = now_ns();
        for (int i = 0; i < m; ++i) timer_delete(c[size_t(i)]);
    }
    return double(t1 - t0) / n;
}

int64_t ceil_ms(int64_t ns) { return ns <= 0 ? 0 : (ns + 999999) / 1000000; }

}  // namespace

int main(int argc, char **argv) {
    Args a(argc, argv);
    std::string design = a.get("design", "mockit");
    std::string mode = a.get("mode", "spread");
    const bool maxlive = mode == "maxlive";
    // maxlive: only mockit fires them all (its target); the peers' figure
    // is how many they hold.
    const bool fire = !maxlive || design == "mockit";
    N = a.num("n", smoke() ? 1000 : 1000000);
    int64_t window = a.num("window-ms", mode == "spread" ? 1000 : 0) * 1000000;
    int slot = int(a.num("slot", 0));
    Json j;
    j.str("test", "oneshots").str("mode", mode).str("design", design).i64("run", a.num("run", 0));

    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, kSig);
    pthread_sigmask(SIG_BLOCK, &ss, nullptr);

    std::string stop;   // why fewer than N were armed
    const bool kernel = design == "sigev-thread-id" || design == "sigev-thread";
    if (kernel) {
        uid_t uid = isolate_sigpending(slot);
        long lim = sigpending_limit();
        long avail = lim < 0 ? N : uid >= 60000 ? lim - 64 : lim / 4;
        if (!maxlive && avail < N) {
            N = avail;
            stop = "RLIMIT_SIGPENDING=" + std::to_string(lim);
        }
        if (maxlive && uid < 60000 && avail < N) {
            N = avail;
            stop = "cap: a quarter of RLIMIT_SIGPENDING (not root, the count is shared)";
        }
    }
    if (design == "tpt" && maxlive) {
        // Leave pids for the rest of the machine: stop 4096 short of what
        // pid_max (and threads-max) leave free now.
        long pid_max = read_long_file("/proc/sys/kernel/pid_max");
        long tmax = read_long_file("/proc/sys/kernel/threads-max");
        long used = system_threads();
        long room = std::min(pid_max, tmax) - used - 4096;
        if (room < N) {
            N = std::max(0L, room);
            stop = "cap: pid_max " + std::to_string(pid_max) + " - " + std::to_string(used) +
                   " threads in use - 4096 kept free";
        }
    }
#ifndef HAVE_LIBUV
    if (design == "libuv") {
        j.str("skipped", "libuv not found").print();
        return 0;
    }
#else
    uv_loop_init(&loop);
#endif
    pid_t waiter = 0;
    if (design == "sigev-thread-id") {
        pthread_t th;
        pthread_create(&th, nullptr, sigwait_main, nullptr);
        while (!(waiter = waiter_tid.load())) sleep_ms(1);
    }

    // The benchmark's own arrays and the caller's structs: allocated and
    // touched before the RSS baseline.
    cbt.assign(size_t(N), 0);
    due.assign(size_t(N), 0);
    std::vector<uint32_t> perm((size_t(N)));
    for (long i = 0; i < N; ++i) perm[size_t(i)] = uint32_t(i);
    std::mt19937_64 rng(12345);
    std::shuffle(perm.begin(), perm.end(), rng);
    size_t struct_size = 0;
    if (design == "mockit") {
        mk.assign(size_t(N), data{});
        struct_size = sizeof(struct data);
    }
#ifdef HAVE_LIBUV
    if (design == "libuv") {
        uvt.resize(size_t(N));
        memset(static_cast<void *>(uvt.data()), 0, uvt.size() * sizeof(uv_timer_t));
        struct_size = sizeof(uv_timer_t);
    }
#endif
    if (kernel) {
        kt.assign(size_t(N), timer_t{});
        struct_size = sizeof(timer_t);
    }
    if (design == "tpt") {
        tp = std::vector<tpt::Timer>(size_t(N));
        struct_size = sizeof(tpt::Timer);
    }

    // Callback body cost (what every design's callback does).
    {
        std::vector<int64_t> save(cbt.begin(), cbt.begin() + std::min<long>(N, 100000));
        long m = long(save.size());
        int64_t t0 = now_ns();
        for (int r = 0; r < 10; ++r)
            for (long i = 0; i < m; ++i) hit(i);
        j.num("cb_body_ns", m ? double(now_ns() - t0) / (10.0 * m) : 0);
        std::copy(save.begin(), save.end(), cbt.begin());
        fired.store(0);
    }

    double cal = calibrate(design);
    j.num("calibrate_ns", cal);
    // The first deadline: after the whole arming, with room to spare.
    // Clamped: a noisy calibration must not make the run wait for nothing
    // (a timer armed after its due time is counted in "stop").
    int64_t margin = std::min<int64_t>(int64_t(cal * (maxlive ? 2.5 : 2.0) * double(N)), maxlive ? 20000000000LL : 4000000000LL) + 300000000;
    if (maxlive && !fire) margin = 3600LL * 1000000000;

    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    if (design == "sigev-thread-id") {
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = kSig;
        ev._sigev_un._tid = waiter;
    } else if (design == "sigev-thread") {
        ev.sigev_notify = SIGEV_THREAD;
        ev.sigev_notify_function = sigev_cb;
    }

    long rss0 = rss_bytes();
    long long k0 = kernel_bytes();
    int64_t t_arm0 = now_ns();
    const int64_t T0 = t_arm0 + margin;
#ifdef HAVE_LIBUV
    uv_update_time(&loop);
    const int64_t L = int64_t(uv_now(&loop));
#endif
    long armed = 0, overran = 0;
    int64_t now = t_arm0;
    for (; armed < N; ++armed) {
        const long i = armed;
        const int64_t want = T0 + (window ? int64_t(perm[size_t(i)]) * window / N : 0);
        int e = 0;
        if (design == "mockit") {
            now = now_ns();
            int64_t ms = ceil_ms(want - now);
            if (ms == 0) ++overran;
            due[size_t(i)] = now + ms * 1000000;
            mk[size_t(i)].cb = mk_cb;
            e = Mockit_oneoff(uint32_t(ms), &mk[size_t(i)]);
        }
#ifdef HAVE_LIBUV
        else if (design == "libuv") {
            // Loop time is frozen while we arm (as in any libuv program).
            int64_t ms = ceil_ms(want - L * 1000000);
            due[size_t(i)] = (L + ms) * 1000000;
            uv_timer_init(&loop, &uvt[size_t(i)]);
            e = -uv_timer_start(&uvt[size_t(i)], uv_cb, uint64_t(ms), 0);
        }
#endif
        else if (design == "tpt") {
            now = now_ns();
            int64_t ms = ceil_ms(want - now);
            if (ms == 0) ++overran;
            due[size_t(i)] = now + ms * 1000000;
            tp[size_t(i)].cb = tpt_cb;
            e = tpt::arm(&tp[size_t(i)], uint32_t(ms), false);
        } else {
            ev.sigev_value.sival_int = int(i);
            if (timer_create(CLOCK_MONOTONIC, &ev, &kt[size_t(i)]) != 0) {
                e = errno;
            } else {
                struct itimerspec its = {{0, 0}, to_ts(want)};
                due[size_t(i)] = want;
                timer_settime(kt[size_t(i)], TIMER_ABSTIME, &its, nullptr);
            }
        }
        if (e) {
            stop = errname(e);
            break;
        }
    }
    int64_t t_arm1 = now_ns();
    long rss1 = rss_bytes();
    long long k1 = kernel_bytes();
    long fired_during_arm = fired.load();
    if (overran) stop += (stop.empty() ? "" : "; ") + std::to_string(overran) + " armed after their due time";

    j.i64("n_req", a.num("n", N)).i64("armed", armed).str("stop", stop);
    j.i64("struct_bytes", long(struct_size));
    j.num("arm_total_ms", double(t_arm1 - t_arm0) / 1e6);
    j.num("arm_ns_per_timer", armed ? double(t_arm1 - t_arm0) / armed : 0);
    j.num("rss_bytes_per_timer", armed ? double(rss1 - rss0) / armed : 0);
    j.num("kernel_bytes_per_timer", armed ? double(k1 - k0) / armed : 0);
    j.i64("fired_during_arm", fired_during_arm);
    // (/proc/self/timers is slow to read with ~100k timers: not for those)
    j.i64("kernel_timers", kernel ? armed : kernel_timers());

    if (!fire) {
        j.print();
        _exit(0);
    }

#ifdef HAVE_LIBUV
    pthread_t uvth;
    if (design == "libuv")
        pthread_create(&uvth, nullptr, [](void *) -> void * {
            uv_run(&loop, UV_RUN_DEFAULT);
            return nullptr;
        }, nullptr);
#endif
    int64_t last_due = 0;
    for (long i = 0; i < armed; ++i) last_due = std::max(last_due, due[size_t(i)]);
    const std::string perf_ctl = a.get("perf-ctl", "");
    auto perf_say = [&](const char *what) {
        if (perf_ctl.empty()) return;
        FILE *f = fopen(perf_ctl.c_str(), "w");
        if (f) {
            fprintf(f, "%s\n", what);
            fclose(f);
        }
    };
    if (!perf_ctl.empty()) {
        while (now_ns() < T0 - 1000000) sleep_ms(1);
        perf_say("enable");
    }
    // Wait for all of them: as long as callbacks keep coming (a loaded
    // machine dispatches slowly), at most 5 s without one, and at most
    // 120 s after the last due time.
    const int64_t deadline = last_due + 120000000000LL;
    long seen = -1;
    int64_t progress = now_ns();
    while (fired.load() < armed && now_ns() < deadline && now_ns() - progress < 5000000000LL) {
        sleep_ms(10);
        long f = fired.load();
        if (f != seen || now_ns() < last_due) {
            seen = f;
            progress = now_ns();
        }
    }
    perf_say("disable");
    sleep_ms(20);   // a callback that would fire twice
    long nf = fired.load();

    std::vector<int64_t> lat;
    lat.reserve(size_t(armed));
    long early = 0, missing = 0;
    int64_t first = INT64_MAX, last = 0;
    for (long i = 0; i < armed; ++i) {
        int64_t c = cbt[size_t(i)];
        if (!c) {
            ++missing;
            continue;
        }
        int64_t l = c - due[size_t(i)];
        if (l < 0) ++early;
        lat.push_back(l);
        first = std::min(first, c);
        last = std::max(last, c);
    }
    std::sort(lat.begin(), lat.end());
    j.i64("fired", nf).i64("missing", missing).i64("early", early);
    j.i64("p50_ns", pct(lat, 50)).i64("p99_ns", pct(lat, 99)).i64("max_ns", lat.empty() ? 0 : lat.back());
    j.i64("min_ns", lat.empty() ? 0 : lat.front());
    j.i64("last_after_last_due_ns", last ? last - last_due : 0);
    j.i64("dispatch_span_ns", last > first ? last - first : 0);
    j.num("per_sec", last > first ? double(lat.size()) * 1e9 / double(last - first) : 0);
    j.print();
    // _exit(): the kernel frees the timers and threads at once (deleting
    // them one by one is slower: glibc keeps SIGEV_THREAD timers in a list
    // that timer_delete searches, O(n^2) for ~100k timers).
    // bench-smoke asserts no timing, only mockit's promise: every one-shot
    // fires, none early.
    _exit(smoke() && design == "mockit" && (missing || early || nf != armed) ? 1 : 0);
}
