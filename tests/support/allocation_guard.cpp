// Linked into every ringside suite: after each test, the library's live
// allocation count (rs_debug_allocation_count) must be back where it was
// when the test started, so every test is also a leak test of the handles,
// strings and buffers it used.
#include <gtest/gtest.h>

#include <cstdint>

#include "ringside/ringside.h"

namespace {

class AllocationGuard : public ::testing::EmptyTestEventListener {
    void OnTestStart(const ::testing::TestInfo&) override { start_ = rs_debug_allocation_count(); }

    // gtest delivers OnTestEnd to listeners in reverse order of registration,
    // so this runs before the result printer and the failure is reported
    // against the test (which still counts as "current" here).
    void OnTestEnd(const ::testing::TestInfo& test) override {
        const std::int64_t end = rs_debug_allocation_count();
        if (end != start_) {
            ADD_FAILURE() << "library allocations leaked by " << test.test_suite_name() << "." << test.name()
                          << ": " << start_ << " live before, " << end << " after";
        }
    }

    std::int64_t start_ = 0;
};

// Registered during static initialisation, before gtest_main runs the tests.
const bool g_registered = [] {
    ::testing::UnitTest::GetInstance()->listeners().Append(new AllocationGuard);
    return true;
}();

}  // namespace
