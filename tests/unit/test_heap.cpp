// White-box: the lazy-deletion heap against a std::multiset model, with
// random push / pop / compact (stale entries are what compact drops).
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "core/heap.hpp"

// cmocka last: it defines a fail() macro that breaks libstdc++ headers.
#include <cstdarg>
#include <cstddef>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

using namespace mockit;

namespace {

void test_heap_matches_model(void **) {
    TimerHeap heap;
    std::multiset<std::pair<ns_t, uint32_t>> model;
    std::vector<bool> dead(1000, false);   // "stale" records, for compact()
    std::mt19937_64 rng(12345);
    for (int step = 0; step < 200000; ++step) {
        switch (rng() % 8) {
        case 0: case 1: case 2: case 3: {
            uint32_t rec = uint32_t(rng() % dead.size());
            ns_t due = ns_t(rng() % 1000);   // many ties on purpose
            heap.push(due, rec);
            model.insert({due, rec});
            break;
        }
        case 4: case 5: case 6:
            if (!heap.empty()) {
                assert_int_equal(heap.top_due(), model.begin()->first);
                // second(): the least entry after the top (prefetch hint)
                if (model.size() > 1)
                    assert_int_equal(heap.second()->due, std::next(model.begin())->first);
                else
                    assert_null(heap.second());
                // the entry on top has the least due; among ties any record
                auto it = model.find({heap.top().due, heap.top().rec});
                assert_true(it != model.end());
                model.erase(it);
                heap.pop();
            }
            break;
        case 7:
            if (step % 64 == 7) {
                for (size_t i = 0; i < dead.size(); ++i) dead[i] = rng() % 3 == 0;
                heap.compact([&](const HeapEntry &e) { return !dead[e.rec]; });
                for (auto it = model.begin(); it != model.end();)
                    it = dead[it->second] ? model.erase(it) : std::next(it);
            }
            break;
        }
        assert_int_equal(heap.size(), model.size());
    }
    ns_t last = -1;
    while (!heap.empty()) {
        assert_true(heap.top_due() >= last);
        last = heap.top_due();
        heap.pop();
    }
    assert_int_equal(heap.top_due(), kNever);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_matches_model),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
