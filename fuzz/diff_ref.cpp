// diff-ref: RELIABILITY.md FUZZ-04, a differential check of the schedule.
//
// A program is a list of timed ops on up to 8 static structs: oneoff(ms),
// getit(ms), destroy, with every ms >= 20.  It runs twice, at the same
// time (same origin, two threads):
//   - against libmockit: the main thread sleeps (absolute clock_nanosleep)
//     to each op's time and calls the API; callbacks log their entry;
//   - against a trivial single-thread reference: one loop that sleeps
//     (absolute clock_nanosleep) to the next op or due time, whichever is
//     first, and "calls" a timer by logging it.  Interval calls late by
//     whole periods merge them (the documented overrun rule).
// Then, per arm: one-shots have the same number of calls (0 or 1), an
// interval's count differs by at most 1; and two calls whose due times are
// >= 5 ms apart (in both runs) come in the same order in both.
//
// Programs come from files (the FUZZ-01 corpus: its oneoff / getit /
// destroy / sleep / burst ops, with the times scaled to >= 20 ms; other ops
// are ignored) or from seeds (--seeds FIRST COUNT).  Op times are moved so
// that an op on a timer is never within kSepMs of that timer's own due
// times: what a destroy or re-arm catches is then decided by the schedule,
// not by a race.  A busy machine can still move things by more than that,
// so a program whose runs disagree is run again, up to 3 times.  A run is
// "disturbed" when an op ran late (> kLateMs, either side) or when the
// reference, running beside the library, woke late for a call (the
// machine was busy then: the reference thread doubles as a load probe; a
// library late on its own is not excused).  A program passes at its first
// agreeing run, fails when no run agrees and at least one undisturbed run
// disagrees (the last such disagreement is printed), and is counted as
// disturbed when every run disagreed while disturbed.  Exit 0: no program
// failed and at least one agreed; 1: a failure; 77: everything disturbed.
#include <mockit.h>

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "corpus_files.hpp"

namespace {

constexpr int kTimers = 8;
constexpr int64_t kMs = 1000000;
constexpr int64_t kSepMs = 8;      // an op stays this far from its timer's due times
constexpr int64_t kLateMs = 3;     // an op later than this disturbs the run
constexpr int64_t kOrderMs = 5;    // order compared for due times this far apart
constexpr int64_t kMaxProgramMs = 300;
constexpr int kAttempts = 3;

int64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void sleep_until(int64_t t) {
    timespec ts{time_t(t / 1000000000), long(t % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

enum Kind { kOneoff, kGetit, kDestroy };

struct Op {
    int64_t t_ms;   // nominal, from the program's start
    int timer;
    Kind kind;
    uint32_t ms;
};

using Program = std::vector<Op>;

// A call, in either run: which arm (op index) and grid point it serves.
struct Call {
    int arm;        // index of the arming op in the program
    int64_t g;      // grid point (1 for a one-shot)
    int64_t due;    // absolute, from the run's own arm time
    int64_t t;      // entry
};

struct RunResult {
    std::vector<Call> calls;   // in entry order
    int64_t max_op_late = 0;   // an op's call after its time
    int64_t max_call_late = 0; // a call's entry after its due time
    std::string error;         // an API call failed
};

// ---- building programs ----

// The nominal schedule of one timer while building: its due times after t.
struct Virt {
    bool armed = false;
    int64_t due = 0, period = 0;
};

bool near_due(const Virt &v, int64_t t) {
    if (!v.armed) return false;
    if (!v.period) return std::llabs(v.due - t) < kSepMs;
    if (t < v.due) return v.due - t < kSepMs;
    int64_t off = (t - v.due) % v.period;
    return off < kSepMs || v.period - off < kSepMs;
}

// Appends an op at the first time >= t (ms) clear of its timer's due times.
int64_t place(Program &p, Virt *virt, int64_t t, int timer, Kind kind, uint32_t ms) {
    Virt &v = virt[timer];
    while (near_due(v, t)) t++;
    p.push_back(Op{t, timer, kind, ms});
    if (kind == kDestroy) {
        v.armed = false;
    } else {
        v.armed = true;
        v.due = t + ms;
        v.period = kind == kGetit ? ms : 0;
    }
    return t;
}

// Ends the program: destroy every timer that may still be armed.
void finish(Program &p, Virt *virt, int64_t t) {
    for (int j = 0; j < kTimers; j++) {
        bool used = false;
        for (const Op &o : p) used |= o.timer == j;
        if (used) t = place(p, virt, t, j, kDestroy, 0);
    }
}

// From a FUZZ-01 input: low nibble op (fuzz_api.cpp's numbering), high
// nibble slot.  oneoff ms 0-3 -> 20/30/40/50, getit ms 1-3 -> 20/30/40,
// sleep n -> n * 10 ms, burst -> arm every even slot.  Everything else
// (data_init, behaviours, bsleep, overrun, bad pointers) is skipped.
Program from_bytes(const std::vector<uint8_t> &b) {
    Program p;
    Virt virt[kTimers];
    size_t k = 0;
    auto next = [&]() -> uint8_t { return k < b.size() ? b[k++] : 0; };
    int64_t t = 5;
    while (k < b.size() && t < kMaxProgramMs) {
        uint8_t code = next();
        int slot = (code >> 4) % kTimers;
        switch ((code & 0x0f) % 10) {
        case 1: t = place(p, virt, t, slot, kOneoff, 20 + 10 * (next() % 4)); break;
        case 2: t = place(p, virt, t, slot, kGetit, 20 + 10 * (next() % 3)); break;
        case 3: t = place(p, virt, t, slot, kDestroy, 0); break;
        case 4: case 5: next(); break;
        case 7: next(); next(); break;
        case 8: t += 10 * (next() % 3); break;
        case 9: {
            uint8_t a = next();
            for (int j = 0; j < kTimers; j += 2)
                t = place(p, virt, t, j, (a & 1) ? kGetit : kOneoff, (a & 1) ? 20 + 10 * ((a >> 1) % 3) : 20 + 10 * ((a >> 1) % 4));
            break;
        }
        default: break;
        }
    }
    finish(p, virt, t + 30);
    return p;
}

uint64_t rnd(uint64_t &s) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

// A random program over 4 timers: 6-14 ops, gaps 0-40 ms.
Program from_seed(uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    if (!s) s = 1;
    Program p;
    Virt virt[kTimers];
    int n = 6 + int(rnd(s) % 9);
    int64_t t = 5;
    for (int i = 0; i < n && t < kMaxProgramMs; i++) {
        int j = int(rnd(s) % 4);
        int kind = int(rnd(s) % 5);   // 2/5 oneoff, 2/5 getit, 1/5 destroy
        uint32_t ms = 20 + uint32_t(rnd(s) % 41);
        t = place(p, virt, t, j, kind < 2 ? kOneoff : kind < 4 ? kGetit : kDestroy, ms);
        t += int64_t(rnd(s) % 41);
    }
    finish(p, virt, t + 30);
    return p;
}

// ---- the run against libmockit ----

struct LogEntry {
    int timer;
    uint64_t timer_id;
    int overrun;
    int64_t t;
};

struct data g_st[kTimers];
LogEntry g_log[4096];
std::atomic<int> g_log_n{0};

void *lib_cb(void *arg) {
    int64_t t = now_ns();
    auto *d = static_cast<struct data *>(arg);
    int n = g_log_n.fetch_add(1);
    if (n < int(sizeof g_log / sizeof g_log[0]))
        g_log[n] = LogEntry{int(d - g_st), d->timer_id, Mockit_overrun(d), t};
    return nullptr;
}

RunResult run_lib(const Program &p, int64_t origin) {
    RunResult r;
    g_log_n = 0;
    for (int j = 0; j < kTimers; j++) {
        g_st[j] = {};
        g_st[j].cb = lib_cb;
    }
    std::vector<int64_t> arm_t(p.size(), 0);
    std::vector<uint64_t> arm_id(p.size(), 0);
    for (size_t k = 0; k < p.size(); k++) {
        const Op &o = p[k];
        int64_t at = origin + o.t_ms * kMs;
        sleep_until(at);
        int64_t t0 = now_ns();
        r.max_op_late = std::max(r.max_op_late, t0 - at);
        int rc;
        if (o.kind == kDestroy) {
            rc = Mockit_destroy(&g_st[o.timer]);
            if (rc == EINVAL) rc = 0;   // a fired one-shot, or never armed
        } else {
            rc = o.kind == kGetit ? Mockit_getit(o.ms, &g_st[o.timer]) : Mockit_oneoff(o.ms, &g_st[o.timer]);
            arm_t[k] = t0;
            arm_id[k] = g_st[o.timer].timer_id;
        }
        if (rc) {
            char buf[120];
            snprintf(buf, sizeof buf, "op %zu on timer %d: rc %d", k, o.timer, rc);
            r.error = buf;
        }
    }
    int n = std::min(g_log_n.load(), int(sizeof g_log / sizeof g_log[0]));
    // attribute each call to its arm by timer_id (rewritten on every arm)
    std::vector<int64_t> grid(p.size(), 0);
    for (int i = 0; i < n; i++) {
        const LogEntry &e = g_log[i];
        int arm = -1;
        for (size_t k = 0; k < p.size(); k++)
            if (p[k].kind != kDestroy && p[k].timer == e.timer && arm_id[k] == e.timer_id) arm = int(k);
        if (arm < 0) {
            r.error = "a call with an unknown timer_id";
            continue;
        }
        const Op &o = p[size_t(arm)];
        int64_t g = o.kind == kGetit ? grid[size_t(arm)] + 1 + (e.overrun > 0 ? e.overrun : 0) : 1;
        grid[size_t(arm)] = g;
        r.calls.push_back(Call{arm, g, arm_t[size_t(arm)] + g * int64_t(o.ms) * kMs, e.t});
        r.max_call_late = std::max(r.max_call_late, r.calls.back().t - r.calls.back().due);
    }
    // entry order: the log index order is the order the callbacks took
    // their slots, close to entry order; sort by the entry time
    std::stable_sort(r.calls.begin(), r.calls.end(), [](const Call &a, const Call &b) { return a.t < b.t; });
    return r;
}

// ---- the reference: one thread, one absolute clock_nanosleep loop ----

RunResult run_ref(const Program &p, int64_t origin) {
    RunResult r;
    struct T {
        bool armed = false;
        int arm = -1;
        int64_t arm_t = 0, due = 0, period = 0, g = 0;
    } tm[kTimers];
    size_t k = 0;
    for (;;) {
        int next_t = -1;
        for (int j = 0; j < kTimers; j++)
            if (tm[j].armed && (next_t < 0 || tm[j].due < tm[next_t].due)) next_t = j;
        int64_t op_at = k < p.size() ? origin + p[k].t_ms * kMs : INT64_MAX;
        if (next_t < 0 && k >= p.size()) break;
        if (next_t >= 0 && tm[next_t].due < op_at) {
            T &x = tm[next_t];
            sleep_until(x.due);
            int64_t t = now_ns();
            r.max_call_late = std::max(r.max_call_late, t - x.due);
            if (x.period) {   // late by whole periods: they merge into this call
                int64_t passed = (t - x.due) / x.period;
                x.g += passed;
                x.due += passed * x.period;
            }
            r.calls.push_back(Call{x.arm, x.g, x.due, t});
            if (x.period) {
                x.g++;
                x.due += x.period;
            } else {
                x.armed = false;
            }
            continue;
        }
        sleep_until(op_at);
        int64_t t0 = now_ns();
        r.max_op_late = std::max(r.max_op_late, t0 - op_at);
        const Op &o = p[k];
        T &x = tm[o.timer];
        if (o.kind == kDestroy) {
            x.armed = false;
        } else {
            x.armed = true;
            x.arm = int(k);
            x.arm_t = t0;
            x.period = o.kind == kGetit ? int64_t(o.ms) * kMs : 0;
            x.g = 1;
            x.due = t0 + int64_t(o.ms) * kMs;
        }
        k++;
    }
    return r;
}

struct RefJob {
    const Program *p;
    int64_t origin;
    RunResult result;
};

void *ref_main(void *arg) {
    auto *j = static_cast<RefJob *>(arg);
    j->result = run_ref(*j->p, j->origin);
    return nullptr;
}

// ---- comparing ----

std::string describe(const Program &p) {
    std::string s;
    char buf[80];
    for (size_t k = 0; k < p.size(); k++) {
        const Op &o = p[k];
        snprintf(buf, sizeof buf, "  #%zu t=%lld ms timer %d %s", k, (long long)o.t_ms, o.timer,
                 o.kind == kDestroy ? "destroy" : o.kind == kGetit ? "getit" : "oneoff");
        s += buf;
        if (o.kind != kDestroy) {
            snprintf(buf, sizeof buf, "(%u)", o.ms);
            s += buf;
        }
        s += "\n";
    }
    return s;
}

// "" when the runs agree.
std::string compare(const Program &p, const RunResult &lib, const RunResult &ref) {
    char buf[300];
    if (!lib.error.empty()) return "library run: " + lib.error;
    for (size_t k = 0; k < p.size(); k++) {
        if (p[k].kind == kDestroy) continue;
        int64_t nl = 0, nr = 0;
        for (const Call &c : lib.calls) nl += c.arm == int(k);
        for (const Call &c : ref.calls) nr += c.arm == int(k);
        int64_t tol = p[k].kind == kGetit ? 1 : 0;
        if (std::llabs(nl - nr) > tol) {
            snprintf(buf, sizeof buf, "arm #%zu (timer %d %s(%u)): %lld calls, the reference %lld", k, p[k].timer,
                     p[k].kind == kGetit ? "getit" : "oneoff", p[k].ms, (long long)nl, (long long)nr);
            return buf;
        }
    }
    // order: calls present in both runs (same arm and grid point)
    struct Both {
        int64_t due_l, due_r;
        size_t pos_l, pos_r;
        int arm;
        int64_t g;
    };
    std::vector<Both> both;
    for (size_t i = 0; i < lib.calls.size(); i++)
        for (size_t j = 0; j < ref.calls.size(); j++)
            if (lib.calls[i].arm == ref.calls[j].arm && lib.calls[i].g == ref.calls[j].g)
                both.push_back(Both{lib.calls[i].due, ref.calls[j].due, i, j, lib.calls[i].arm, lib.calls[i].g});
    for (const Both &a : both)
        for (const Both &b : both) {
            if (b.due_l - a.due_l < kOrderMs * kMs || b.due_r - a.due_r < kOrderMs * kMs) continue;
            // a is due >= 5 ms before b in both runs: both call a first
            if (a.pos_l > b.pos_l || a.pos_r > b.pos_r) {
                snprintf(buf, sizeof buf,
                         "order: arm #%d grid %lld (due %.1f ms before arm #%d grid %lld) came %s in the %s run", a.arm,
                         (long long)a.g, (b.due_l - a.due_l) / 1e6, b.arm, (long long)b.g, "after",
                         a.pos_l > b.pos_l ? "library" : "reference");
                return buf;
            }
        }
    return "";
}

struct Totals {
    int programs = 0, compared = 0, disturbed = 0, retried = 0, failed = 0;
    long long calls = 0;
};

void check(const std::string &name, const Program &p, Totals &tot, bool verbose) {
    tot.programs++;
    std::string last;
    int late_runs = 0;
    for (int attempt = 0; attempt < kAttempts; attempt++) {
        if (attempt) tot.retried++;
        // Both at once, from the same origin: the reference thread then
        // also measures how late this machine wakes threads meanwhile.
        RefJob job{&p, now_ns() + 3 * kMs, {}};
        pthread_t th;
        if (pthread_create(&th, nullptr, ref_main, &job) != 0) {
            fprintf(stderr, "diff-ref: pthread_create failed\n");
            exit(2);
        }
        RunResult lib = run_lib(p, job.origin);
        pthread_join(th, nullptr);
        const RunResult &ref = job.result;
        // Disturbed: an op ran late in either run (the schedules differ),
        // or the reference, running beside the library, woke late (the
        // machine was busy; lateness of the library alone is its own).
        bool late = lib.max_op_late > kLateMs * kMs || ref.max_op_late > kLateMs * kMs ||
                    ref.max_call_late > kLateMs * kMs;
        std::string why = compare(p, lib, ref);
        if (verbose)
            fprintf(stderr,
                    "diff-ref: %s attempt %d: %zu ops, %zu/%zu calls (library/reference), ops late <= %.2f/%.2f ms, "
                    "calls late <= %.2f/%.2f ms: %s\n",
                    name.c_str(), attempt + 1, p.size(), lib.calls.size(), ref.calls.size(), lib.max_op_late / 1e6,
                    ref.max_op_late / 1e6, lib.max_call_late / 1e6, ref.max_call_late / 1e6,
                    why.empty() ? "agree" : why.c_str());
        if (why.empty()) {   // (even if late: the runs agree on what happened)
            tot.compared++;
            tot.calls += (long long)lib.calls.size();
            return;
        }
        if (late) {
            late_runs++;
            continue;   // a mismatch, but not comparable: the schedule moved
        }
        last = why;
    }
    if (last.empty()) {
        tot.disturbed++;
        fprintf(stderr, "diff-ref: %s: every run was disturbed (ops or reference calls late > %lld ms)\n", name.c_str(),
                (long long)kLateMs);
        return;
    }
    tot.failed++;
    fprintf(stderr, "diff-ref: FAIL %s: %s (%d of %d runs late)\nprogram:\n%s", name.c_str(), last.c_str(), late_runs,
            kAttempts, describe(p).c_str());
}

}  // namespace

int main(int argc, char **argv) {
    Totals tot;
    bool verbose = getenv("MOCKIT_DIFF_VERBOSE") != nullptr;
    std::vector<std::string> files;
    long first = 0, count = 0, max_files = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seeds") && i + 2 < argc) {
            first = atol(argv[i + 1]);
            count = atol(argv[i + 2]);
            i += 2;
        } else if (!strcmp(argv[i], "--max-files") && i + 1 < argc) {
            max_files = atol(argv[++i]);
        } else if (!strcmp(argv[i], "-v")) {
            verbose = true;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [-v] [--seeds FIRST COUNT] [--max-files N] [FILE|DIR]...\n", argv[0]);
            return 2;
        } else {
            if (!corpus_files(argv[i], files)) {
                fprintf(stderr, "diff-ref: cannot stat %s\n", argv[i]);
                exit(2);
            }
        }
    }
    std::sort(files.begin(), files.end());
    if (max_files >= 0 && files.size() > size_t(max_files)) {
        // an even spread over the sorted list, the same every run
        std::vector<std::string> pick;
        for (long k = 0; k < max_files; k++) pick.push_back(files[size_t(k) * files.size() / size_t(max_files)]);
        files.swap(pick);
    }
    for (const std::string &f : files) {
        FILE *fp = fopen(f.c_str(), "rb");
        if (!fp) {
            fprintf(stderr, "diff-ref: cannot open %s\n", f.c_str());
            return 2;
        }
        std::vector<uint8_t> b;
        int c;
        while ((c = fgetc(fp)) != EOF) b.push_back(uint8_t(c));
        fclose(fp);
        Program p = from_bytes(b);
        if (p.empty()) continue;   // no oneoff/getit/destroy in it
        check(f.substr(f.find_last_of('/') + 1), p, tot, verbose);
    }
    for (long s = first; s < first + count; s++) check("seed " + std::to_string(s), from_seed(uint64_t(s)), tot, verbose);
    printf("diff-ref: %d programs: %d agree with the reference (%lld library calls), %d failed, %d disturbed; %d reruns\n",
           tot.programs, tot.compared, tot.calls, tot.failed, tot.disturbed, tot.retried);
    if (tot.failed) return 1;
    if (!tot.compared) return 77;
    return 0;
}
