// Every region mapping sits between PROT_NONE guard pages (shm/guarded_map):
// ASan does not guard mmap'ed memory, so this is what turns a stray access
// by a hostile-peer test or a fuzzer into a fault in every build.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "ringside/ringside.h"
#include "ringside/tracer.h"
#include "shm/guarded_map.hpp"
#include "support/test_support.hpp"

namespace {

struct Vma {
    std::uintptr_t first = 0;
    std::uintptr_t last = 0;
    std::string perms;
    std::string path;
};

std::vector<Vma> vmas() {
    std::vector<Vma> out;
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        Vma vma;
        char perms[8] = {};
        unsigned long long first = 0, last = 0;
        int consumed = 0;
        if (std::sscanf(line.c_str(), "%llx-%llx %7s %*s %*s %*s%n", &first, &last, perms, &consumed) < 3) continue;
        vma.first = first;
        vma.last = last;
        vma.perms = perms;
        const std::size_t slash = line.find('/');
        if (slash != std::string::npos) vma.path = line.substr(slash);
        out.push_back(vma);
    }
    return out;
}

// The perms of the mapping that covers `address`, or "" if none does.
std::string perms_at(std::uintptr_t address) {
    for (const Vma& vma : vmas()) {
        if (address >= vma.first && address < vma.last) return vma.perms;
    }
    return "";
}

// Checks that the mapping of `path` has an inaccessible page on each side.
void expect_guarded(const std::string& path) {
    const auto ranges = rstest::mappings_of(path);
    ASSERT_EQ(ranges.size(), 1u) << path << " should be mapped once";
    const auto [first, last] = ranges.front();
    EXPECT_EQ(perms_at(first - 1), "---p") << "no guard page before " << path;
    EXPECT_EQ(perms_at(last), "---p") << "no guard page after " << path;
}

TEST(GuardPages, SurroundEveryRingRegionMapping) {
    rstest::Scratch scratch;
    for (const rs_backing backing : {RS_BACKING_SHM, RS_BACKING_FILE}) {
        const std::string name = scratch.name(backing, "guarded");
        rstest::RegionPtr region;
        ASSERT_EQ(rstest::create_region(name, rstest::region_options(backing, 4096, 2), region), RS_OK);
        expect_guarded(rstest::Scratch::backing_path(backing, name));
        rstest::RegionPtr opened;
        ASSERT_EQ(rstest::open_region(name, rstest::region_options(backing), opened), RS_OK);
        region.reset();
        expect_guarded(rstest::Scratch::backing_path(backing, name));
    }
}

TEST(GuardPages, SurroundTheTracerRegionMapping) {
    rstest::Scratch scratch;
    const std::string name = scratch.shm_name("tracer");
    rs_tracer_options options;
    rs_tracer_options_init(&options);
    options.lane_count = 1;
    options.rings_per_lane = 2;
    options.ring_capacity = 4096;
    options.clock = RS_TRACER_CLOCK_MONOTONIC;
    const std::string sink = scratch.dir() + "/sink";
    options.sink_dir = sink.c_str();
    rs_tracer_controller_t* controller = nullptr;
    ASSERT_EQ(rs_tracer_controller_create(name.c_str(), &options, &controller), RS_OK) << rs_last_error_message();
    expect_guarded(rstest::Scratch::backing_path(RS_BACKING_SHM, name));
    EXPECT_EQ(rs_tracer_controller_destroy(controller), RS_OK);
    ::rmdir(sink.c_str());
}

TEST(GuardPages, LeaveNothingMappedAfterDestroy) {
    rstest::Scratch scratch;
    const std::string name = scratch.shm_name("unmapped");
    const std::string path = rstest::Scratch::backing_path(RS_BACKING_SHM, name);
    std::uintptr_t guard_before = 0;
    std::uintptr_t guard_after = 0;
    {
        rstest::RegionPtr region;
        ASSERT_EQ(rstest::create_region(name, rstest::region_options(RS_BACKING_SHM, 4096), region), RS_OK);
        const auto ranges = rstest::mappings_of(path);
        ASSERT_EQ(ranges.size(), 1u);
        guard_before = ranges.front().first - 1;
        guard_after = ranges.front().second;
        ASSERT_EQ(perms_at(guard_before), "---p");
        ASSERT_EQ(perms_at(guard_after), "---p");
    }
    EXPECT_TRUE(rstest::mappings_of(path).empty());
    // The region's own neighbourhood only: counting every mapping is not
    // stable (the ASan allocator maps memory of its own meanwhile).
    EXPECT_NE(perms_at(guard_before), "---p") << "the guard page before the region outlived it";
    EXPECT_NE(perms_at(guard_after), "---p") << "the guard page after the region outlived it";
}

TEST(GuardPagesDeathTest, FaultOnAReadJustPastGuardedMemory) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    ringside::GuardedMemory memory(4096);
    ASSERT_NE(memory.base(), nullptr);
    volatile const std::byte* base = memory.base();
    EXPECT_EQ(static_cast<int>(base[4095]), 0);
    EXPECT_DEATH((void)base[4096], "");
    EXPECT_DEATH((void)base[-1], "");
}

TEST(GuardPagesDeathTest, FaultOnAReadJustPastARegion) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    rstest::Scratch scratch;
    const std::string name = scratch.shm_name("fault");
    rstest::RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, rstest::region_options(RS_BACKING_SHM, 4096), region), RS_OK);
    // A "threadsafe" death test re-runs this body in a fresh child process,
    // which creates its own region and dies without destroying it: unlinked
    // now, its name is gone before the fault (the mapping stays). Left in
    // /dev/shm, it would fail whichever later test process gets the child's
    // pid (with a pid-only Scratch prefix, its leftover check matched it).
    ASSERT_EQ(rs_region_unlink(name.c_str(), RS_BACKING_SHM), RS_OK);
    const auto ranges = rstest::mappings_of(rstest::Scratch::backing_path(RS_BACKING_SHM, name));
    ASSERT_EQ(ranges.size(), 1u);
    volatile const std::byte* end = reinterpret_cast<const std::byte*>(ranges.front().second);
    EXPECT_DEATH((void)end[0], "");
}

}  // namespace
