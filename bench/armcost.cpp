// bench-armcost: cost of arming and destroying one timer from an
// application thread (never the library's dispatcher), with Google
// Benchmark, single-threaded and with 4 threads contending.
//
//   bench-armcost --bg=none|far|busy [benchmark flags]
//
// Backgrounds (set up once, before the benchmarks):
//   none  nothing else armed: the dispatcher is idle.
//   far   1,000,000 mockit one-shots due in 1-2 h (random); each arm is
//         due in the same range, so it lands anywhere in the heap.
//   busy  1000 interval timers of 10 ms, evenly staggered: the dispatcher
//         fires 100,000 callbacks/s while the benchmark arms and destroys
//         (mockit timers for mockit/*, kernel timers with SIGEV_THREAD_ID to
//         a sigwaitinfo thread for posix-*).
//
// What one iteration is, per design:
//   mockit/arm+destroy     Mockit_oneoff(ms, &d) + Mockit_destroy(&d)
//   posix-tid/create+arm+delete   timer_create(SIGEV_THREAD_ID) +
//                          timer_settime + timer_delete
//   posix-tid/rearm+disarm timer_settime + timer_settime(0) of one timer
//   sigev-thread/create+arm+delete   same with glibc SIGEV_THREAD
//   tpt/create+cancel      pthread_create (detached) + pthread_cancel
//   libuv/start+stop       uv_timer_start + uv_timer_stop, on the loop's
//                          own thread (libuv timers cannot be armed from
//                          another thread)
// Reported: real time per iteration per thread, and items_per_second over
// all threads (1e9 / items_per_second = aggregate ns per arm+destroy).
#include "common.hpp"
#include "tpt.hpp"

#include <benchmark/benchmark.h>

#include <atomic>

#include <mockit.h>
#ifdef HAVE_LIBUV
#include <uv.h>
#endif

using namespace bench;

namespace {

const int kSig = SIGRTMIN + 1;
std::atomic<pid_t> waiter_tid{0};
std::atomic<long> bg_calls{0};
std::string bg = "none";
long far_n = 1000000, busy_n = 1000;

void *mk_noop(void *) {
    bg_calls.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
}

void *sigwait_main(void *) {
    waiter_tid.store(gettid_());
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, kSig);
    for (;;) {
        siginfo_t si;
        if (sigwaitinfo(&s, &si) == 0 || errno != EINTR) bg_calls.fetch_add(1, std::memory_order_relaxed);
    }
    return nullptr;
}

struct sigevent tid_event() {
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = kSig;
    ev._sigev_un._tid = waiter_tid.load();
    return ev;
}

inline uint64_t xorshift(uint64_t &s) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

void BM_mockit(benchmark::State &state) {
    struct data d;
    memset(&d, 0, sizeof d);
    d.cb = mk_noop;
    uint64_t rs = 0x9E3779B97F4A7C15ull * uint64_t(state.thread_index() + 1);
    for (auto _ : state) {
        uint32_t ms = 3600000 + uint32_t(xorshift(rs) % 3600000);
        int e = Mockit_oneoff(ms, &d);
        int f = Mockit_destroy(&d);
        if (e | f) {
            state.SkipWithError("Mockit_oneoff/destroy failed");
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_posix_create(benchmark::State &state) {
    struct sigevent ev = tid_event();
    struct itimerspec far = {{0, 0}, {3600, 0}};
    struct itimerspec zero = {};
    for (auto _ : state) {
        timer_t t;
        if (timer_create(CLOCK_MONOTONIC, &ev, &t) != 0) {
            state.SkipWithError("timer_create failed");
            break;
        }
        timer_settime(t, 0, &far, nullptr);
        timer_delete(t);
    }
    (void)zero;
    state.SetItemsProcessed(state.iterations());
}

void BM_posix_rearm(benchmark::State &state) {
    struct sigevent ev = tid_event();
    struct itimerspec far = {{0, 0}, {3600, 0}};
    struct itimerspec zero = {};
    timer_t t;
    if (timer_create(CLOCK_MONOTONIC, &ev, &t) != 0) {
        state.SkipWithError("timer_create failed");
        return;
    }
    for (auto _ : state) {
        timer_settime(t, 0, &far, nullptr);
        timer_settime(t, 0, &zero, nullptr);
    }
    timer_delete(t);
    state.SetItemsProcessed(state.iterations());
}

void sigev_noop(union sigval) {}

void BM_sigev_thread(benchmark::State &state) {
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = sigev_noop;
    struct itimerspec far = {{0, 0}, {3600, 0}};
    for (auto _ : state) {
        timer_t t;
        if (timer_create(CLOCK_MONOTONIC, &ev, &t) != 0) {
            state.SkipWithError("timer_create failed");
            break;
        }
        timer_settime(t, 0, &far, nullptr);
        timer_delete(t);
    }
    state.SetItemsProcessed(state.iterations());
}

void tpt_noop(tpt::Timer *) {}

void BM_tpt(benchmark::State &state) {
    // A ring of timers: a cancelled thread may still touch its record for
    // a moment after pthread_cancel returns.
    std::vector<tpt::Timer> ring(256);
    size_t i = 0;
    for (auto _ : state) {
        tpt::Timer &t = ring[i++ & 255];
        t.cb = tpt_noop;
        if (tpt::arm(&t, 3600000, false) != 0) {
            state.SkipWithError("pthread_create failed");
            break;
        }
        tpt::destroy(&t);
    }
    state.SetItemsProcessed(state.iterations());
    sleep_ms(100);   // let the cancelled threads go before the ring does
}

#ifdef HAVE_LIBUV
void uv_noop(uv_timer_t *) {}
void BM_libuv(benchmark::State &state) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_t h;
    uv_timer_init(&loop, &h);
    uint64_t rs = 88172645463325252ull;
    for (auto _ : state) {
        uint64_t ms = 3600000 + xorshift(rs) % 3600000;
        uv_timer_start(&h, uv_noop, ms, 0);
        uv_timer_stop(&h);
    }
    uv_close(reinterpret_cast<uv_handle_t *>(&h), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    state.SetItemsProcessed(state.iterations());
}
#endif

std::vector<struct data> bg_structs;
std::vector<timer_t> bg_timers;

// Background load, set up once.
void setup_background(bool posix) {
    if (bg == "far") {
        bg_structs.assign(size_t(far_n), data{});
        uint64_t rs = 1;
        for (auto &d : bg_structs) {
            d.cb = mk_noop;
            Mockit_oneoff(3600000 + uint32_t(xorshift(rs) % 3600000), &d);
        }
    } else if (bg == "busy" && !posix) {
        bg_structs.assign(size_t(busy_n), data{});
        int64_t t0 = now_ns();
        for (long i = 0; i < busy_n; ++i) {
            sleep_until(t0 + i * 10000000 / busy_n);
            bg_structs[size_t(i)].cb = mk_noop;
            Mockit_getit(10, &bg_structs[size_t(i)]);
        }
    } else if (bg == "busy" && posix) {
        struct sigevent ev = tid_event();
        int64_t t0 = now_ns() + 20000000;
        bg_timers.resize(size_t(busy_n));
        for (long i = 0; i < busy_n; ++i) {
            timer_create(CLOCK_MONOTONIC, &ev, &bg_timers[size_t(i)]);
            struct itimerspec its = {to_ts(10000000), to_ts(t0 + i * 10000000 / busy_n)};
            timer_settime(bg_timers[size_t(i)], TIMER_ABSTIME, &its, nullptr);
        }
    }
    sleep_ms(50);
}

}  // namespace

int main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    Args a(argc, argv);
    bg = a.get("bg", "none");
    far_n = a.num("far", smoke() ? 1000 : 1000000);
    busy_n = a.num("busy", smoke() ? 10 : 1000);
    const char *only = a.get("design", "");   // mockit | posix | all peers ("")

    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, kSig);
    pthread_sigmask(SIG_BLOCK, &s, nullptr);
    pthread_t th;
    pthread_create(&th, nullptr, sigwait_main, nullptr);
    while (!waiter_tid.load()) sleep_ms(1);

    // The library's threads exist before measuring (the first arm starts them).
    {
        struct data w;
        memset(&w, 0, sizeof w);
        w.cb = mk_noop;
        Mockit_oneoff(1, &w);
        sleep_ms(20);
    }
    const bool posix_only = strcmp(only, "posix") == 0;
    setup_background(posix_only);

    std::string tag = "/bg:" + bg;
    auto reg = [&](const char *name, void (*fn)(benchmark::State &), bool four) {
        std::string n = std::string(name) + tag;
        benchmark::RegisterBenchmark(n.c_str(), fn)->UseRealTime()->Threads(1);
        if (four) benchmark::RegisterBenchmark(n.c_str(), fn)->UseRealTime()->Threads(4);
    };
    if (!posix_only) reg("mockit/arm+destroy", BM_mockit, true);
    if (strcmp(only, "mockit") != 0) {
        reg("posix-tid/create+arm+delete", BM_posix_create, true);
        if (!posix_only) {
            reg("posix-tid/rearm+disarm", BM_posix_rearm, false);
            reg("sigev-thread/create+arm+delete", BM_sigev_thread, true);
            reg("tpt/create+cancel", BM_tpt, true);
#ifdef HAVE_LIBUV
            reg("libuv/start+stop(loop-thread)", BM_libuv, false);
#endif
        }
    }
    long c0 = bg_calls.load();
    int64_t t0 = now_ns();
    benchmark::RunSpecifiedBenchmarks();
    double secs = double(now_ns() - t0) / 1e9;
    fprintf(stderr, "background callbacks: %.0f/s\n", double(bg_calls.load() - c0) / secs);
    benchmark::Shutdown();
    _exit(0);
}
