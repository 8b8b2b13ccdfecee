// The stress exchange between two processes, for both backings: the parent
// creates the region and consumes; a forked child opens the region by name
// (a mapping of its own, at another address than the one it inherited) and
// produces RINGSIDE_STRESS_RECORDS records, then reports its checksum
// through a pipe. The child always _exit()s; the parent's region unlinks the
// name, and the scratch checks that nothing is left in /dev/shm or the temp
// directory. Built twice (tests/CMakeLists.txt): 10 million records under
// label process (suite RingProcess), 200 thousand under quick
// (RingProcessQuick).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>

#include "support/stress_records.hpp"
#include "support/test_support.hpp"

#ifndef RINGSIDE_STRESS_RECORDS
#define RINGSIDE_STRESS_RECORDS 200000
#endif
#if RINGSIDE_STRESS_RECORDS >= 10000000
#define RINGSIDE_PROCESS_SUITE RingProcess
#else
#define RINGSIDE_PROCESS_SUITE RingProcessQuick
#endif

namespace {

constexpr std::uint64_t kRecords = RINGSIDE_STRESS_RECORDS;
constexpr std::uint64_t kCapacity = 64 * 1024;

// What the producing child sends back when it is done.
struct ChildReport {
    std::uint64_t records;
    std::uint64_t checksum;
    std::uint64_t bytes;
    std::uint64_t batches;
    char error[200];
};

// Exit codes of the child, for the parent's message.
enum ChildExit : int {
    kChildOk = 0,
    kChildOpenFailed = 10,
    kChildRingFailed = 11,
    kChildSameAddress = 12,
    kChildNoGo = 13,
    kChildProduceFailed = 14,
    kChildReportFailed = 15,
    kChildCleanupFailed = 16,
};

class RINGSIDE_PROCESS_SUITE : public testing::TestWithParam<rs_backing> {};

TEST_P(RINGSIDE_PROCESS_SUITE, AChildProcessProducesEveryRecordTheParentVerifies) {
    rstest::Scratch scratch;
    const rs_backing backing = GetParam();
    const std::string name = scratch.name(backing, "process");
    rstest::RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, rstest::region_options(backing, kCapacity), region), RS_OK)
        << rstest::describe(rs_last_error_code());
    rstest::RingPtr consumer;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, consumer), RS_OK);
    const auto parent_mappings = rstest::mappings_of(rstest::Scratch::backing_path(backing, name));
    ASSERT_EQ(parent_mappings.size(), 1u);
    const std::uintptr_t parent_start = parent_mappings.front().first;
    const std::uintptr_t parent_end = parent_mappings.front().second;

    rstest::Pipe ready;
    rstest::Pipe go;
    rstest::Pipe report;
    const rs_region_options open_options = rstest::region_options(backing);
    const pid_t child = rstest::fork_child([&]() -> int {
        rs_region_t* opened = nullptr;
        rs_ring_t* producer = nullptr;
        if (rs_region_open(name.c_str(), &open_options, &opened) != RS_OK) return kChildOpenFailed;
        if (rs_ring_create(opened, 0, RS_ROLE_PRODUCER, &producer) != RS_OK) return kChildRingFailed;
        // The first reservation lies in the child's own mapping, not the inherited one.
        void* first = nullptr;
        if (rs_ring_reserve(producer, 8, &first) != RS_OK) return kChildRingFailed;
        const auto address = reinterpret_cast<std::uintptr_t>(first);
        if (address >= parent_start && address < parent_end) return kChildSameAddress;
        // Abandoned: the records start at the same place (see ring_test's re-attach tests).
        rs_ring_destroy(producer);
        if (rs_ring_create(opened, 0, RS_ROLE_PRODUCER, &producer) != RS_OK) return kChildRingFailed;
        char byte = 'R';
        if (!ready.send(&byte, 1) || !go.receive(&byte, 1)) return kChildNoGo;

        const std::atomic<bool> never{false};
        const rstest::stress::Outcome produced = rstest::stress::produce(producer, kRecords, never);
        ChildReport sent{};
        sent.records = produced.records;
        sent.checksum = produced.checksum.state;
        sent.bytes = produced.checksum.bytes;
        sent.batches = produced.batches;
        std::snprintf(sent.error, sizeof sent.error, "%s", produced.error.c_str());
        if (!report.send(&sent, sizeof sent)) return kChildReportFailed;
        if (!produced.error.empty()) return kChildProduceFailed;
        if (rs_ring_destroy(producer) != RS_OK || rs_region_destroy(opened) != RS_OK) return kChildCleanupFailed;
        return kChildOk;
    });
    ASSERT_GT(child, 0);

    int child_status = -1;
    bool reaped = false;
    auto child_gone = [&] {
        if (!reaped && ::waitpid(child, &child_status, WNOHANG) == child) reaped = true;
        return reaped;
    };
    char byte = 0;
    if (!ready.receive(&byte, 1)) {
        ADD_FAILURE() << "the child never got ready; exit " << rstest::wait_child(child);
        return;
    }
    const auto began = std::chrono::steady_clock::now();
    ASSERT_TRUE(go.send("G", 1));
    const std::atomic<bool> never{false};
    const rstest::stress::Outcome consumed = rstest::stress::consume(consumer.get(), kRecords, never, child_gone);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();

    ChildReport received{};
    const bool got_report = report.receive(&received, sizeof received, consumed.error.empty() ? 30'000 : 1'000);
    const int exit_code = reaped ? (WIFEXITED(child_status) ? WEXITSTATUS(child_status) : 128 + WTERMSIG(child_status))
                                 : rstest::wait_child(child);
    EXPECT_EQ(exit_code, kChildOk) << "10 open, 11 ring, 12 same address, 13 no go, 14 produce ("
                                   << received.error << "), 15 report, 16 cleanup";
    EXPECT_EQ(consumed.error, "");
    ASSERT_TRUE(got_report);
    EXPECT_STREQ(received.error, "");
    EXPECT_EQ(received.records, kRecords);
    EXPECT_EQ(consumed.records, kRecords);
    EXPECT_EQ(consumed.checksum.bytes, received.bytes);
    EXPECT_EQ(consumed.checksum.state, received.checksum) << "checksums over every payload byte differ";
    EXPECT_GT(received.batches, 0u);
    std::printf("%s: %llu records, %.1f MB in %.2f s (%.2f M records/s) between two processes\n",
                backing == RS_BACKING_SHM ? "shm" : "file", static_cast<unsigned long long>(kRecords),
                received.bytes / 1e6, seconds, kRecords / seconds / 1e6);
    RecordProperty("seconds", std::to_string(seconds));

    consumer.reset();
    region.reset();
    EXPECT_FALSE(rstest::Scratch::exists(backing, name)) << "the creator's destroy removed the name";
}

std::string backing_case_name(const testing::TestParamInfo<rs_backing>& info) {
    return info.param == RS_BACKING_SHM ? "Shm" : "File";
}

// One more macro level, so RINGSIDE_PROCESS_SUITE is expanded before gtest
// pastes and stringifies it.
#define RS_INSTANTIATE_BACKINGS(suite) \
    INSTANTIATE_TEST_SUITE_P(Backings, suite, testing::Values(RS_BACKING_SHM, RS_BACKING_FILE), backing_case_name)
RS_INSTANTIATE_BACKINGS(RINGSIDE_PROCESS_SUITE);

}  // namespace
