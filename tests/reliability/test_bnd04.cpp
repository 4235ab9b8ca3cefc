// rel-bnd04: RELIABILITY.md BND-04, the schedule maths of the core
// (src/core/clock.hpp) with an injected "now": no sleeping, exact equality.
//
//  - ms_to_ns, sat_add, to_timespec, sat_int32 at their edges;
//  - due(k) = origin + k*ms exactly for k in {1, 2^20, 2^32} and
//    ms in {1, 1000, UINT32_MAX} (saturating to "never" where origin + k*ms
//    does not fit in 64-bit ns);
//  - grid_points_passed / grid_next against a 128-bit reference, 10^6
//    random cases plus the extremes;
//  - the core's dispatch/finish composition driven by a fake clock that
//    also goes backwards: never early, no negative overrun, overrun
//    accumulation saturates at INT32_MAX, sum(1+overrun) = grid index.
#include <climits>
#include <cstdint>
#include <random>

#include "core/clock.hpp"

#include <cstdarg>
#include <cstddef>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

using namespace mockit;
using i128 = __int128;

namespace {

constexpr i128 kNever128 = INT64_MAX;

// Reference: the next grid point strictly after `fired` and not before
// `now`, and how many grid points were skipped, in 128 bits; saturated.
GridNext ref_grid_next(ns_t fired, ns_t period, ns_t now) {
    i128 next = i128(fired) + period;
    if (next >= kNever128) return {kNever, 0};
    if (next >= now) return {ns_t(next), 0};
    i128 k = (i128(now) - next + period - 1) / period;
    i128 due = next + k * period;
    if (due >= kNever128) return {kNever, int64_t(k)};
    return {ns_t(due), int64_t(k)};
}

int64_t ref_passed(ns_t due, ns_t period, ns_t now) {
    return now > due ? int64_t((i128(now) - due) / period) : 0;
}

void test_BND04_ms_to_ns_and_saturation(void **) {
    const uint32_t ms[] = {0, 1, 999, 1000, 1001, 2147, 2148, 4294, 4295, 4296,
                           INT32_MAX, uint32_t(INT32_MAX) + 1u, UINT32_MAX};
    for (uint32_t m : ms) {
        i128 want = i128(m) * 1000000;
        assert_true(i128(ms_to_ns(m)) == want);
        assert_true(ms_to_ns(m) >= 0);
    }
    assert_true(sat_add(1, 2) == 3);
    assert_true(sat_add(kNever, 1) == kNever);
    assert_true(sat_add(kNever - 5, 5) == kNever);
    assert_true(sat_add(kNever - 5, 4) == kNever - 1);
    assert_true(sat_add(INT64_MAX / 2 + 1, INT64_MAX / 2 + 1) == kNever);
    // a deadline 31 years after boot (BND-03) plus the largest delay fits
    ns_t big_now = 1000000000LL * kNsPerSec;
    assert_true(sat_add(big_now, ms_to_ns(UINT32_MAX)) == big_now + ms_to_ns(UINT32_MAX));
    assert_true(sat_int32(0) == 0);
    assert_true(sat_int32(INT32_MAX) == INT32_MAX);
    assert_true(sat_int32(int64_t(INT32_MAX) + 1) == INT32_MAX);
    assert_true(sat_int32(INT64_MAX) == INT32_MAX);
}

void test_BND04_to_timespec_nsec_below_1e9(void **) {
    const ns_t v[] = {0, 1, 999999999, 1000000000, 1000000001, 1999999999,
                      ms_to_ns(1000), ms_to_ns(UINT32_MAX), kNever, kNever - 1,
                      1000000000LL * kNsPerSec + 999999999};
    for (ns_t t : v) {
        timespec ts = to_timespec(t);
        assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
        assert_true(i128(ts.tv_sec) * kNsPerSec + ts.tv_nsec == i128(t));
    }
    std::mt19937_64 rng(4);
    for (int i = 0; i < 100000; ++i) {
        ns_t t = ns_t(rng() >> 1);
        timespec ts = to_timespec(t);
        assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
        assert_true(i128(ts.tv_sec) * kNsPerSec + ts.tv_nsec == i128(t));
    }
}

void test_BND04_due_k_exact(void **) {
    const uint64_t ks[] = {1, 1ull << 20, 1ull << 32};
    const uint32_t mss[] = {1, 1000, UINT32_MAX};
    const ns_t origins[] = {0, 123456789, 1000000000LL * kNsPerSec};   // boot, a bit later, BND-03
    for (ns_t origin : origins)
        for (uint32_t m : mss)
            for (uint64_t k : ks) {
                ns_t P = ms_to_ns(m);
                i128 want = i128(origin) + i128(k) * P;
                // the call for grid point k-1 returns exactly on grid point k
                i128 fired = i128(origin) + i128(k - 1) * P;
                if (fired >= kNever128) continue;   // that call is never made
                GridNext g = grid_next(ns_t(fired), P, ns_t(fired));
                if (want >= kNever128) {
                    assert_true(g.due == kNever);   // saturates: never fires
                } else {
                    assert_true(g.due == ns_t(want));
                }
                assert_true(g.skipped == 0);
                // from the origin, with "now" exactly on grid point k: the
                // next call is grid point k, the k-1 before it are skipped
                if (want < kNever128) {
                    GridNext h = grid_next(origin, P, ns_t(want));
                    assert_true(h.due == ns_t(want));
                    assert_true(uint64_t(h.skipped) == k - 1);
                    // one ns later: grid point k+1, k skipped
                    GridNext h1 = grid_next(origin, P, ns_t(want) + 1);
                    i128 want1 = want + P;
                    assert_true(h1.due == (want1 >= kNever128 ? kNever : ns_t(want1)));
                    assert_true(uint64_t(h1.skipped) == k);
                    // dispatched late at grid point k (+ half a period):
                    // k-1 points passed beyond the first
                    ns_t first = origin + P;
                    assert_true(uint64_t(grid_points_passed(first, P, ns_t(want))) == k - 1);
                    if (want + P / 2 < kNever128)
                        assert_true(uint64_t(grid_points_passed(first, P, ns_t(want + P / 2))) == k - 1);
                }
            }
}

void test_BND04_grid_functions_match_reference(void **) {
    std::mt19937_64 rng(20240601);
    const ns_t periods[] = {1, kNsPerMs, ms_to_ns(1000), ms_to_ns(UINT32_MAX), 7, 999999999};
    for (int i = 0; i < 1000000; ++i) {
        ns_t P = (i % 3) ? periods[rng() % 6] : ms_to_ns(uint32_t(1 + rng() % UINT32_MAX));
        ns_t fired, now;
        switch (rng() % 4) {
        case 0:   // ordinary: now a little after fired
            fired = ns_t(rng() % (1ull << 62));
            now = fired + ns_t(rng() % (uint64_t(P) * 4 + 1));
            break;
        case 1:   // clock read backwards
            fired = ns_t(rng() % (1ull << 62));
            now = fired - ns_t(rng() % (1ull << 30));
            break;
        case 2:   // near the end of time
            fired = kNever - ns_t(rng() % (uint64_t(P) * 3 + 1));
            now = fired + ns_t(rng() % (uint64_t(kNever - fired) + 1));
            break;
        default:  // far behind: many points skipped
            fired = ns_t(rng() % (1ull << 40));
            now = fired + ns_t(rng() % (1ull << 62));
            break;
        }
        GridNext g = grid_next(fired, P, now), r = ref_grid_next(fired, P, now);
        if (g.due != r.due || g.skipped != r.skipped)
            fail_msg("grid_next(%lld, %lld, %lld) = {%lld, %lld}, want {%lld, %lld}", (long long)fired,
                     (long long)P, (long long)now, (long long)g.due, (long long)g.skipped,
                     (long long)r.due, (long long)r.skipped);
        assert_true(g.skipped >= 0);
        assert_true(g.due > fired || g.due == kNever);   // strictly after, never the same point twice
        if (g.due != kNever) assert_true((i128(g.due) - fired) % P == 0);   // on the grid
        int64_t p = grid_points_passed(fired, P, now);
        if (p != ref_passed(fired, P, now))
            fail_msg("grid_points_passed(%lld, %lld, %lld) = %lld", (long long)fired, (long long)P,
                     (long long)now, (long long)p);
        assert_true(p >= 0);
    }
}

// The core's use of these functions (scheduler.cpp pop_due / finish),
// replayed with a fake clock: the k-th call is dispatched at `now`, the
// callback runs `run` ns, sometimes the clock steps backwards.
void test_BND04_dispatch_composition_with_fake_clock(void **) {
    std::mt19937_64 rng(77);
    for (int trial = 0; trial < 2000; ++trial) {
        ns_t P = ms_to_ns(uint32_t(1 + rng() % 50));
        ns_t origin = (trial % 2) ? ns_t(rng() % (1ull << 40)) : 1000000000LL * kNsPerSec;
        ns_t due = origin + P;    // Armed: first grid point
        int32_t carried = 0;      // Record::overrun while Armed
        ns_t now = origin;
        uint64_t G = 0;           // grid index of the last call: sum(1 + overrun)
        for (int call = 0; call < 200; ++call) {
            // the dispatcher wakes at or after due (lateness up to 3 periods)
            ns_t wake = due + ns_t(rng() % (uint64_t(P) * 3 + 1));
            if (rng() % 10 == 0) wake = due;   // exactly on time
            now = wake;
            // pop_due
            int64_t merged = carried;
            int64_t passed = grid_points_passed(due, P, now);
            due += passed * P;
            merged += passed;
            int32_t ov = sat_int32(merged);
            assert_true(ov >= 0);
            assert_true(now >= due);   // never early
            G += 1 + uint64_t(ov);
            assert_true(i128(origin) + i128(G) * P == due);   // sum(1+ov) is the grid index
            // the callback runs, the clock may jump back a little
            ns_t run = ns_t(rng() % (uint64_t(P) * 4 + 1));
            ns_t back = (rng() % 8 == 0) ? ns_t(rng() % uint64_t(P)) : 0;
            ns_t ret = now + run - back;
            // finish
            GridNext g = grid_next(due, P, ret);
            assert_true(g.skipped >= 0);
            assert_true(g.due > due);
            carried = sat_int32(g.skipped);
            due = g.due;
        }
    }
}

void test_BND04_overrun_saturates_at_int32_max(void **) {
    // A 1 ms interval whose dispatch is 10^8 s late: 10^11 grid points.
    ns_t P = kNsPerMs;
    ns_t due = 5 * P;
    ns_t now = due + 100000000LL * kNsPerSec;
    int64_t passed = grid_points_passed(due, P, now);
    assert_true(passed == 100000000LL * 1000);
    int32_t ov = sat_int32(int64_t(7) + passed);
    assert_true(ov == INT32_MAX);
    // a callback that ran 10^8 s: the skipped count saturates too
    GridNext g = grid_next(due, P, now);
    assert_true(g.skipped > INT32_MAX);
    assert_true(sat_int32(g.skipped) == INT32_MAX);
    // carried + passed both near the limit: no wrap to negative
    assert_true(sat_int32(int64_t(INT32_MAX) + INT32_MAX) == INT32_MAX);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_BND04_ms_to_ns_and_saturation),
        cmocka_unit_test(test_BND04_to_timespec_nsec_below_1e9),
        cmocka_unit_test(test_BND04_due_k_exact),
        cmocka_unit_test(test_BND04_grid_functions_match_reference),
        cmocka_unit_test(test_BND04_dispatch_composition_with_fake_clock),
        cmocka_unit_test(test_BND04_overrun_saturates_at_int32_max),
    };
    return cmocka_run_group_tests_name("rel-bnd04", tests, nullptr, nullptr);
}
