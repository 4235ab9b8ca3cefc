// White-box: the pointer index against std::unordered_map, through growth,
// shrinking and backward-shift deletion; find() never dereferences keys.

#include <random>
#include <unordered_map>

#include "core/registry.hpp"

// cmocka last: it defines a fail() macro that breaks libstdc++ headers.
#include <cstdarg>
#include <cstddef>
#include <setjmp.h>
extern "C" {
#include <cmocka.h>
}

using namespace mockit;

namespace {

// Keys are never dereferenced: fabricate them from integers (some odd,
// some pointing nowhere).
struct data *key(uint64_t n) { return reinterpret_cast<struct data *>(uintptr_t(0x1000 + n * 24)); }

void test_registry_matches_model(void **) {
    Registry reg;
    std::unordered_map<uint64_t, uint32_t> model;
    std::mt19937_64 rng(777);
    for (int round = 0; round < 3; ++round) {
        // grow to 100k, then shrink to a handful: both rehash directions
        for (int i = 0; i < 100000; ++i) {
            uint64_t n = rng() % 400000;
            if (model.count(n)) continue;
            uint32_t idx = reg.insert(key(n));
            reg.at(idx).state = State::Idle;
            model[n] = idx;
        }
        assert_int_equal(reg.live(), model.size());
        for (int i = 0; i < 50000; ++i) {
            uint64_t n = rng() % 400000;
            auto it = model.find(n);
            assert_int_equal(reg.find(key(n)), it == model.end() ? 0u : it->second);
        }
        int shrinks = 0;
        for (auto it = model.begin(); it != model.end();) {
            if (model.size() > 10) {
                reg.unindex(it->second);
                reg.release(it->second);
                it = model.erase(it);
                if (reg.shrink_wanted()) {   // as the scheduler does it, memory made outside the lock
                    Registry::Room room;
                    room.slots_wanted = reg.shrink_size();
                    Registry::make_room(room);
                    reg.adopt_room(room);
                    assert_false(reg.shrink_wanted());
                    ++shrinks;
                }
            } else {
                ++it;
            }
        }
        assert_true(shrinks >= 1);
        assert_int_equal(reg.live(), model.size());
        for (auto &kv : model) assert_int_equal(reg.find(key(kv.first)), kv.second);
    }
    assert_int_equal(reg.find(nullptr), 0u);
    assert_int_equal(reg.find(key(999999999)), 0u);
}

void test_registry_reuses_records(void **) {
    Registry reg;
    uint32_t a = reg.insert(key(1));
    reg.unindex(a);
    reg.release(a);
    uint32_t b = reg.insert(key(2));
    assert_int_equal(a, b);   // the free list, not a new record
    assert_int_equal(reg.find(key(1)), 0u);
    assert_int_equal(reg.find(key(2)), b);
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_matches_model),
        cmocka_unit_test(test_registry_reuses_records),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
