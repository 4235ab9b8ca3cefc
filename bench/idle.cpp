// bench-idle: wake-ups per second of library threads with no timer armed.
//
//   bench-idle --design mockit|sigev-thread|libuv [--seconds S] [--run R]
//
// Wake-ups = voluntary + nonvoluntary context switches (from
// /proc/self/task/*/status) of the library's threads: those named mockit-*
// for mockit, every thread but main for the peers (glibc's SIGEV_THREAD
// helper thread; a libuv loop thread kept alive by an async handle).
// mockit: first a process that never armed (how many library threads
// exist), then after timers were armed, fired and destroyed.
#include "common.hpp"

#include <atomic>

#include <mockit.h>
#ifdef HAVE_LIBUV
#include <uv.h>
#endif

using namespace bench;

namespace {
std::atomic<int> calls{0};
void *mk_cb(void *) {
    calls.fetch_add(1);
    return nullptr;
}
void sigev_cb(union sigval) { calls.fetch_add(1); }
#ifdef HAVE_LIBUV
uv_loop_t loop;
uv_async_t async;
uv_timer_t timer;
void uv_cb(uv_timer_t *h) {
    calls.fetch_add(1);
    uv_close(reinterpret_cast<uv_handle_t *>(h), nullptr);
}
#endif
}  // namespace

int main(int argc, char **argv) {
    Args a(argc, argv);
    std::string design = a.get("design", "mockit");
    double secs = double(a.num("ms", smoke() ? 200 : 3000)) / 1000.0;
    Json j;
    j.str("test", "idle").str("design", design).i64("run", a.num("run", 0));
    pid_t me = gettid_();
    const char *prefix = design == "mockit" ? "mockit-" : "";
    pid_t exclude = design == "mockit" ? 0 : me;

    if (design == "mockit") {
        Mockit_bsleep(1, nullptr, nullptr);
        TaskSwitches s0 = task_switches(prefix);
        sleep_until(now_ns() + int64_t(secs * 1e9 / 3));
        TaskSwitches s1 = task_switches(prefix);
        j.i64("threads_before_arm", s0.threads).i64("switches_before_arm", s1.switches - s0.switches);
        struct data one, every;
        memset(&one, 0, sizeof one);
        memset(&every, 0, sizeof every);
        one.cb = every.cb = mk_cb;
        Mockit_oneoff(1, &one);
        Mockit_getit(5, &every);
        sleep_ms(100);
        Mockit_destroy(&every);
        Mockit_destroy(&one);   // fired: EINVAL for a caller-owned struct, harmless
    } else if (design == "sigev-thread") {
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_THREAD;
        ev.sigev_notify_function = sigev_cb;
        timer_t t;
        timer_create(CLOCK_MONOTONIC, &ev, &t);
        struct itimerspec its = {{0, 5000000}, {0, 1000000}};
        timer_settime(t, 0, &its, nullptr);
        sleep_ms(100);
        timer_delete(t);
    } else if (design == "libuv") {
#ifdef HAVE_LIBUV
        uv_loop_init(&loop);
        uv_async_init(&loop, &async, nullptr);
        uv_timer_init(&loop, &timer);
        uv_timer_start(&timer, uv_cb, 5, 5);
        pthread_t th;
        pthread_create(&th, nullptr, [](void *) -> void * {
            uv_run(&loop, UV_RUN_DEFAULT);
            return nullptr;
        }, nullptr);
        sleep_ms(100);
        uv_async_send(&async);   // wake it once so it runs the close
        // uv_timer_stop must run on the loop thread: the callback closes it.
#else
        j.str("skipped", "libuv not found").print();
        return 0;
#endif
    } else {
        fprintf(stderr, "bench-idle: unknown design %s\n", design.c_str());
        return 2;
    }
    sleep_ms(200);
    TaskSwitches s0 = task_switches(prefix, exclude);
    int64_t t0 = now_ns();
    sleep_until(t0 + int64_t(secs * 1e9));
    TaskSwitches s1 = task_switches(prefix, exclude);
    double dt = double(now_ns() - t0) / 1e9;
    j.i64("callbacks", calls.load()).i64("threads", s1.threads);
    j.i64("switches", s1.switches - s0.switches).num("seconds", dt);
    j.num("wakeups_per_sec", double(s1.switches - s0.switches) / dt);
    j.print();
    _exit(0);
}
