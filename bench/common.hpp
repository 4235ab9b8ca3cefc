// Shared helpers of the benchmark programs in bench/: clocks, /proc
// readers, percentiles, a tiny JSON line writer, argument parsing.
//
// Every program prints its figures as one JSON object per line on stdout
// (run.sh collects them, report.py turns them into RESULTS.md).
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace bench {

inline int64_t now_ns() noexcept {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

inline struct timespec to_ts(int64_t ns) noexcept {
    struct timespec ts;
    ts.tv_sec = time_t(ns / 1000000000);
    ts.tv_nsec = long(ns % 1000000000);
    return ts;
}

// Sleep until CLOCK_MONOTONIC reaches `ns` (resumes after signals).
inline void sleep_until(int64_t ns) noexcept {
    struct timespec ts = to_ts(ns);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

inline void sleep_ms(int64_t ms) noexcept { sleep_until(now_ns() + ms * 1000000); }

inline pid_t gettid_() noexcept { return pid_t(syscall(SYS_gettid)); }

// Resident set size of this process in bytes (/proc/self/statm).
inline long rss_bytes() noexcept {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    long size = 0, res = 0;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
    fclose(f);
    return res < 0 ? -1 : res * sysconf(_SC_PAGESIZE);
}

// A /proc/meminfo field in bytes (system-wide; -1 if absent).
inline long long meminfo_bytes(const char *key) noexcept {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return -1;
    char line[256];
    size_t kl = strlen(key);
    long long v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = atoll(line + kl + 1) * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

// Kernel memory that timers and threads of the peers live in: slab
// objects (k_itimer, task_struct, ...), kernel stacks and page tables.
inline long long kernel_bytes() noexcept {
    return meminfo_bytes("Slab") + meminfo_bytes("KernelStack") + meminfo_bytes("PageTables");
}

// Scheduling entities of the whole machine (/proc/loadavg "r/total").
inline long system_threads() noexcept {
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return -1;
    double a, b, c;
    long r = 0, total = -1;
    if (fscanf(f, "%lf %lf %lf %ld/%ld", &a, &b, &c, &r, &total) != 5) total = -1;
    fclose(f);
    return total;
}

inline long read_long_file(const char *path) noexcept {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    if (fscanf(f, "%ld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

// Threads of this process whose name starts with `prefix` ("" = all but
// the calling thread): how many, and the sum of their voluntary +
// nonvoluntary context switches.
struct TaskSwitches {
    long threads = 0;
    long long switches = 0;
};
inline TaskSwitches task_switches(const char *prefix, pid_t exclude = 0) {
    TaskSwitches r;
    DIR *d = opendir("/proc/self/task");
    if (!d) return r;
    while (struct dirent *e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        if (exclude && atol(e->d_name) == exclude) continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        char line[256];
        bool match = false;
        long long sw = 0;
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "Name:", 5) == 0) {
                const char *n = line + 5;
                while (*n == ' ' || *n == '\t') ++n;
                match = strncmp(n, prefix, strlen(prefix)) == 0;
            } else if (strncmp(line, "voluntary_ctxt_switches:", 24) == 0) {
                sw += atoll(line + 24);
            } else if (strncmp(line, "nonvoluntary_ctxt_switches:", 27) == 0) {
                sw += atoll(line + 27);
            }
        }
        fclose(f);
        if (match) {
            ++r.threads;
            r.switches += sw;
        }
    }
    closedir(d);
    return r;
}

// Kernel POSIX timers owned by this process (/proc/self/timers).
inline long kernel_timers() noexcept {
    FILE *f = fopen("/proc/self/timers", "r");
    if (!f) return -1;
    char line[256];
    long n = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "ID:", 3) == 0) ++n;
    fclose(f);
    return n;
}

// Nearest-rank percentile of a sorted vector.
inline int64_t pct(const std::vector<int64_t> &s, double p) {
    if (s.empty()) return 0;
    size_t i = size_t(p / 100.0 * double(s.size()));
    if (i >= s.size()) i = s.size() - 1;
    return s[i];
}

// One JSON object on one line.
class Json {
public:
    Json &str(const char *k, const std::string &v) {
        key(k);
        s_ += '"';
        for (char c : v) {
            if (c == '"' || c == '\\') s_ += '\\';
            if (c == '\n') { s_ += "\\n"; continue; }
            s_ += c;
        }
        s_ += '"';
        return *this;
    }
    Json &num(const char *k, double v) {
        key(k);
        char b[64];
        snprintf(b, sizeof b, "%.6g", v);
        s_ += b;
        return *this;
    }
    Json &i64(const char *k, long long v) {
        key(k);
        s_ += std::to_string(v);
        return *this;
    }
    Json &boolean(const char *k, bool v) {
        key(k);
        s_ += v ? "true" : "false";
        return *this;
    }
    void print(FILE *f = stdout) {
        fprintf(f, "{%s}\n", s_.c_str());
        fflush(f);
    }

private:
    void key(const char *k) {
        if (!s_.empty()) s_ += ", ";
        s_ += '"';
        s_ += k;
        s_ += "\": ";
    }
    std::string s_;
};

// --name value / --name=value arguments.
class Args {
public:
    Args(int argc, char **argv) : argc_(argc), argv_(argv) {}
    const char *get(const char *name, const char *dflt = nullptr) const {
        size_t nl = strlen(name);
        for (int i = 1; i < argc_; ++i) {
            const char *a = argv_[i];
            if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, nl) != 0) continue;
            if (a[2 + nl] == '=') return a + 3 + nl;
            if (a[2 + nl] == 0) return i + 1 < argc_ ? argv_[i + 1] : "";
        }
        return dflt;
    }
    long long num(const char *name, long long dflt) const {
        const char *v = get(name);
        return v && *v ? atoll(v) : dflt;
    }
    bool flag(const char *name) const {
        size_t nl = strlen(name);
        for (int i = 1; i < argc_; ++i)
            if (strncmp(argv_[i], "--", 2) == 0 && strcmp(argv_[i] + 2, name) == 0 && nl) return true;
        return false;
    }

private:
    int argc_;
    char **argv_;
};

// Kernel POSIX timers are charged to the real user's RLIMIT_SIGPENDING
// count (EAGAIN beyond it), which every process of that user shares.  A
// peer that takes tens of thousands of kernel timers would make the
// timer_create() of unrelated processes of the same user fail.  When run
// as root, such a peer first moves to a user of its own (60000 + slot):
// same limit value, its own count.  Returns the uid now in effect.
inline uid_t isolate_sigpending(int slot) noexcept {
    if (geteuid() != 0) return geteuid();
    uid_t u = uid_t(60000 + slot);
    if (setresgid(u, u, u) == 0 && setresuid(u, u, u) == 0) return u;
    return geteuid();
}

// How many kernel POSIX timers this process may still create: the
// RLIMIT_SIGPENDING soft limit minus what the user holds (unknown: we
// assume 0 after isolate_sigpending, `reserve` otherwise).
inline long sigpending_limit() noexcept {
    struct rlimit rl;
    if (getrlimit(RLIMIT_SIGPENDING, &rl) != 0) return -1;
    return rl.rlim_cur == RLIM_INFINITY ? -1 : long(rl.rlim_cur);
}

inline std::string errname(int e) {
    switch (e) {
    case 0: return "";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case ENOSPC: return "ENOSPC";
    default: return std::to_string(e);
    }
}

// Smoke mode (meson test suite bench-smoke): tiny sizes, no timing claims.
inline bool smoke() {
    const char *s = getenv("MOCKIT_BENCH_SMOKE");
    return s && *s && strcmp(s, "0") != 0;
}

}  // namespace bench
