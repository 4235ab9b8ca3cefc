// White-box: the indexed 4-ary heap against a std::multimap model, with
// random push / pop / erase / update, checking every recorded position.

#include <map>
#include <random>
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

struct Pos {
    std::vector<uint32_t> *pos;
    void operator()(uint32_t rec, uint32_t p) const noexcept { (*pos)[rec] = p; }
};

void test_heap_matches_model(void **) {
    std::vector<uint32_t> pos(5000, UINT32_MAX);
    TimerHeap<Pos> heap(Pos{&pos});
    std::map<uint32_t, ns_t> live;   // rec -> due
    std::mt19937_64 rng(12345);
    for (int step = 0; step < 200000; ++step) {
        uint32_t rec = uint32_t(rng() % pos.size());
        ns_t due = ns_t(rng() % 1000);   // many ties on purpose
        auto it = live.find(rec);
        switch (rng() % 4) {
        case 0:
        case 1:
            if (it == live.end()) { heap.push(due, rec); live[rec] = due; }
            else { heap.update(pos[rec], due); it->second = due; }
            break;
        case 2:
            if (it != live.end()) { heap.erase(pos[rec]); live.erase(it); }
            break;
        case 3:
            if (!heap.empty()) {
                ns_t min = kNever;
                for (auto &kv : live) min = kv.second < min ? kv.second : min;
                assert_int_equal(heap.top_due(), min);
                uint32_t top = heap.top_rec();
                assert_int_equal(live.at(top), min);
                heap.pop();
                live.erase(top);
            }
            break;
        }
        assert_int_equal(heap.size(), live.size());
    }
    for (auto &kv : live) assert_int_equal(pos[kv.first] < heap.size(), 1);
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
