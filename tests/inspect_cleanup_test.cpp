// ringside-inspect on regions left behind by crashes: it tells a region whose
// creator is dead (pid and start time), and --cleanup-stale removes such a
// region only when no creator, producer or consumer of it is alive. /dev/shm
// and the temp folder are listed before and after.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "support/test_support.hpp"

namespace {

using rstest::Scratch;

int run_inspect(const std::string& arguments, std::string& output) {
    return rstest::run_command(RINGSIDE_INSPECT, arguments, output);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::set<std::string> listing(const std::string& folder, const std::string& prefix) {
    std::set<std::string> out;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) == 0) out.insert(name);
    }
    return out;
}

// A child creates the region (keeping its name) and exits: its creator is dead.
void create_in_a_child_that_dies(const std::string& name, rs_backing backing) {
    const pid_t child = rstest::fork_child([&] {
        rs_region_options options = rstest::region_options(backing, 4096);
        options.keep_on_destroy = 1;
        rs_region_t* region = nullptr;
        if (rs_region_create(name.c_str(), &options, &region) != RS_OK) return 1;
        return rs_region_destroy(region) == RS_OK ? 0 : 2;
    });
    ASSERT_EQ(rstest::wait_child(child), 0);
}

class InspectCleanup : public testing::Test {
protected:
    // The scratch prefix without the leading '/': what --prefix matches in /dev/shm.
    std::string shm_prefix() { return scratch_.shm_name("").substr(1, prefix_length_); }
    void SetUp() override {
        const std::string probe = scratch_.shm_name("probe");
        // "/rstest.<pid>-<random>.<n>.<k>.probe": up to the third '.', "rstest.<pid>-<random>.<n>."
        prefix_length_ = probe.find('.', probe.find('.', probe.find('.') + 1) + 1);
        shm_before_ = listing("/dev/shm", "");
    }
    void TearDown() override {
        std::set<std::string> after = listing("/dev/shm", shm_prefix());
        EXPECT_TRUE(after.empty()) << "left in /dev/shm: " << *after.begin();
    }
    Scratch scratch_;
    std::size_t prefix_length_ = 0;
    std::set<std::string> shm_before_;
};

TEST_F(InspectCleanup, TheInspectorSaysACreatorIsDeadAndNamesItsPidAndStartTime) {
    const std::string name = scratch_.shm_name("dead");
    create_in_a_child_that_dies(name, RS_BACKING_SHM);
    std::string output;
    ASSERT_EQ(run_inspect(name, output), 0) << output;
    EXPECT_TRUE(contains(output, "DEAD")) << output;
    EXPECT_TRUE(contains(output, "started at tick")) << output;
    ASSERT_EQ(run_inspect(name + " --json", output), 0) << output;
    EXPECT_TRUE(contains(output, "\"creator_alive\": false")) << output;
    EXPECT_TRUE(contains(output, "\"creator_start_ticks\"")) << output;
    EXPECT_FALSE(contains(output, "\"creator_start_ticks\": 0,")) << output;
    rs_region_unlink(name.c_str(), RS_BACKING_SHM);
}

TEST_F(InspectCleanup, CleanupRemovesAStaleShmRegionAndKeepsOneWhoseCreatorIsAlive) {
    const std::string dead = scratch_.shm_name("stale");
    create_in_a_child_that_dies(dead, RS_BACKING_SHM);
    const std::string live = scratch_.shm_name("live");
    rstest::RegionPtr region;
    ASSERT_EQ(rstest::create_region(live, rstest::region_options(RS_BACKING_SHM, 4096), region), RS_OK);

    std::string output;
    ASSERT_EQ(run_inspect("--cleanup-stale --dry-run --prefix " + shm_prefix(), output), 0) << output;
    EXPECT_TRUE(contains(output, "would remove")) << output;
    EXPECT_TRUE(Scratch::exists(RS_BACKING_SHM, dead)) << "a dry run removes nothing";

    ASSERT_EQ(run_inspect("--cleanup-stale --prefix " + shm_prefix(), output), 0) << output;
    EXPECT_FALSE(Scratch::exists(RS_BACKING_SHM, dead)) << output;
    EXPECT_TRUE(Scratch::exists(RS_BACKING_SHM, live)) << output;
    EXPECT_TRUE(contains(output, "is alive")) << output;
}

TEST_F(InspectCleanup, CleanupKeepsARegionWhoseCreatorIsDeadWhileAConsumerStillUsesIt) {
    const std::string name = scratch_.shm_name("orphan");
    create_in_a_child_that_dies(name, RS_BACKING_SHM);
    rstest::RegionPtr region;
    ASSERT_EQ(rstest::open_region(name, rstest::region_options(RS_BACKING_SHM), region), RS_OK);
    rstest::RingPtr consumer;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, consumer), RS_OK);
    std::string output;
    ASSERT_EQ(run_inspect("--cleanup-stale --prefix " + shm_prefix(), output), 0) << output;
    EXPECT_TRUE(Scratch::exists(RS_BACKING_SHM, name)) << output;
    EXPECT_TRUE(contains(output, "live consumer")) << output;

    consumer.reset();  // now nobody holds a role: stale
    ASSERT_EQ(run_inspect("--cleanup-stale --prefix " + shm_prefix(), output), 0) << output;
    EXPECT_FALSE(Scratch::exists(RS_BACKING_SHM, name)) << output;
}

TEST_F(InspectCleanup, CleanupOfAFolderRemovesOnlyStaleRegionFilesAndNothingElse) {
    const std::string stale = scratch_.file_path("stale");
    create_in_a_child_that_dies(stale, RS_BACKING_FILE);
    const std::string other = scratch_.file_path("notes.txt");
    std::ofstream(other) << "not a region";
    const std::string live = scratch_.file_path("live");
    rstest::RegionPtr region;
    ASSERT_EQ(rstest::create_region(live, rstest::region_options(RS_BACKING_FILE, 4096), region), RS_OK);
    const std::set<std::string> before = listing(scratch_.dir(), "");
    ASSERT_EQ(before.size(), 3u);

    std::string output;
    ASSERT_EQ(run_inspect("--cleanup-stale --in " + scratch_.dir(), output), 0) << output;
    std::set<std::string> expected = before;
    expected.erase(std::filesystem::path(stale).filename().string());
    EXPECT_EQ(listing(scratch_.dir(), ""), expected) << output;
    region.reset();
    std::filesystem::remove(other);
}

TEST_F(InspectCleanup, BadCommandLinesAreUsageErrors) {
    std::string output;
    EXPECT_EQ(run_inspect("", output), 2) << output;
    EXPECT_TRUE(contains(output, "--cleanup-stale")) << output;
    EXPECT_EQ(run_inspect("/x --cleanup-stale", output), 2) << output;
    EXPECT_EQ(run_inspect("--prefix x", output), 2) << output;
    EXPECT_EQ(run_inspect("--cleanup-stale --in /nonexistent/folder", output), 2) << output;
    EXPECT_EQ(run_inspect(scratch_.shm_name("absent") + "", output), 3) << output;
    EXPECT_TRUE(contains(output, "RS_ERR_NOT_FOUND")) << output;
}

}  // namespace
