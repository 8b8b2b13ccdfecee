// Regions: lifecycle on both backings, names, opener validation of a
// corrupt or foreign backing, every option's effect, role claims across
// processes and the liveness of a region's creator.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "shm/layout.h"
#include "support/test_support.hpp"

namespace layout = ringside::layout;
using rstest::describe;
using rstest::RegionPtr;
using rstest::RingPtr;
using rstest::Scratch;

namespace {

std::string backing_case_name(const testing::TestParamInfo<rs_backing>& info) {
    return info.param == RS_BACKING_SHM ? "Shm" : "File";
}

bool contains(const char* text, const std::string& part) { return std::string(text).find(part) != std::string::npos; }

std::string stats_of_ring(rs_region_t* region, std::uint32_t index) {
    char* json = nullptr;
    EXPECT_EQ(rs_region_ring_stats_json(region, index, &json), RS_OK);
    std::string text = json != nullptr ? json : "";
    rs_string_free(json);
    return text;
}

std::string stats_of_region(rs_region_t* region) {
    char* json = nullptr;
    EXPECT_EQ(rs_region_stats_json(region, &json), RS_OK);
    std::string text = json != nullptr ? json : "";
    rs_string_free(json);
    return text;
}

// Writes `value` through one ring and reads it back through another side.
void expect_round_trip(rs_ring_t* producer, rs_ring_t* consumer, const std::string& value) {
    ASSERT_EQ(rs_ring_write(producer, value.data(), value.size()), RS_OK) << describe(rs_last_error_code());
    rs_record record{};
    ASSERT_EQ(rs_ring_peek(consumer, &record), RS_OK);
    EXPECT_EQ(std::string(static_cast<const char*>(record.data), record.length), value);
    ASSERT_EQ(rs_ring_release(consumer), RS_OK);
}

// ---- lifecycle, both backings ------------------------------------------------

class RegionLifecycle : public testing::TestWithParam<rs_backing> {
protected:
    rs_backing backing() const { return GetParam(); }
    rs_region_options options(std::uint64_t capacity = 4096, std::uint32_t rings = 1) const {
        return rstest::region_options(backing(), capacity, rings);
    }
    Scratch scratch_;
};

TEST_P(RegionLifecycle, CreatesOpensSharesAndDestroys) {
    const std::string name = scratch_.name(backing(), "life");
    RegionPtr creator;
    ASSERT_EQ(rstest::create_region(name, options(4096, 3), creator), RS_OK) << describe(rs_last_error_code());
    EXPECT_TRUE(Scratch::exists(backing(), name));
    RegionPtr opener;
    ASSERT_EQ(rstest::open_region(name, options(), opener), RS_OK) << describe(rs_last_error_code());

    const rs_region_info created = rstest::region_info(creator.get());
    const rs_region_info opened = rstest::region_info(opener.get());
    EXPECT_EQ(created.is_creator, 1);
    EXPECT_EQ(opened.is_creator, 0);
    EXPECT_EQ(opened.epoch, created.epoch);
    EXPECT_EQ(opened.creator_pid, ::getpid());
    EXPECT_EQ(opened.creator_alive, 1);
    EXPECT_EQ(opened.backing, backing());
    EXPECT_EQ(opened.ring_count, 3u);
    EXPECT_EQ(opened.ring_capacity, 4096u);
    EXPECT_EQ(opened.total_bytes, layout::region_bytes(3, 4096));

    // Two mappings of one memory: a producer on one, a consumer on the other.
    {
        RingPtr producer;
        RingPtr consumer;
        ASSERT_EQ(rstest::create_ring(creator.get(), 2, RS_ROLE_PRODUCER, producer), RS_OK);
        ASSERT_EQ(rstest::create_ring(opener.get(), 2, RS_ROLE_CONSUMER, consumer), RS_OK);
        expect_round_trip(producer.get(), consumer.get(), "across two mappings");
        RingPtr out_of_range;
        EXPECT_EQ(rstest::create_ring(opener.get(), 3, RS_ROLE_PRODUCER, out_of_range), RS_ERR_INVALID_ARGUMENT);
    }
    opener.reset();
    EXPECT_TRUE(Scratch::exists(backing(), name)) << "an opener never unlinks";
    creator.reset();
    EXPECT_FALSE(Scratch::exists(backing(), name)) << "the creator unlinks on destroy";
}

TEST_P(RegionLifecycle, CreatingAnExistingNameFailsWithExistsAndLeavesItAlone) {
    const std::string name = scratch_.name(backing(), "exists");
    RegionPtr first;
    ASSERT_EQ(rstest::create_region(name, options(), first), RS_OK);
    RegionPtr second;
    EXPECT_EQ(rstest::create_region(name, options(), second), RS_ERR_EXISTS);
    EXPECT_TRUE(contains(rs_last_error_message(), "open it, or unlink it")) << rs_last_error_message();
    EXPECT_TRUE(Scratch::exists(backing(), name)) << "the failed create did not unlink the existing one";
    RegionPtr opener;
    ASSERT_EQ(rstest::open_region(name, options(), opener), RS_OK);
    EXPECT_EQ(rstest::region_info(opener.get()).epoch, rstest::region_info(first.get()).epoch);
}

TEST_P(RegionLifecycle, OpeningOrUnlinkingAMissingNameFailsWithNotFound) {
    const std::string name = scratch_.name(backing(), "missing");
    RegionPtr region;
    EXPECT_EQ(rstest::open_region(name, options(), region), RS_ERR_NOT_FOUND);
    EXPECT_TRUE(contains(rs_last_error_message(), name)) << rs_last_error_message();
    EXPECT_TRUE(contains(rs_last_error_message(), "create it first")) << rs_last_error_message();
    EXPECT_EQ(rs_region_unlink(name.c_str(), backing()), RS_ERR_NOT_FOUND);
    EXPECT_STRNE(rs_last_error_message(), "");
}

TEST_P(RegionLifecycle, KeepOnDestroyKeepsTheNameUntilUnlinked) {
    const std::string name = scratch_.name(backing(), "keep");
    rs_region_options keep = options();
    keep.keep_on_destroy = 1;
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, keep, region), RS_OK);
    region.reset();
    EXPECT_TRUE(Scratch::exists(backing(), name));
    ASSERT_EQ(rstest::open_region(name, options(), region), RS_OK) << "still there to open";
    region.reset();
    EXPECT_TRUE(Scratch::exists(backing(), name)) << "an opener does not unlink either";
    EXPECT_EQ(rs_region_unlink(name.c_str(), backing()), RS_OK);
    EXPECT_FALSE(Scratch::exists(backing(), name));
    EXPECT_EQ(rs_region_unlink(name.c_str(), backing()), RS_ERR_NOT_FOUND);
}

TEST_P(RegionLifecycle, UnlinkingWhileMappedKeepsTheMappingUsable) {
    const std::string name = scratch_.name(backing(), "unlinked");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, options(), region), RS_OK);
    RingPtr producer;
    RingPtr consumer;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, producer), RS_OK);
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, consumer), RS_OK);
    ASSERT_EQ(rs_region_unlink(name.c_str(), backing()), RS_OK);
    EXPECT_FALSE(Scratch::exists(backing(), name));
    RegionPtr opener;
    EXPECT_EQ(rstest::open_region(name, options(), opener), RS_ERR_NOT_FOUND);
    expect_round_trip(producer.get(), consumer.get(), "still mapped");
    producer.reset();
    consumer.reset();
    EXPECT_EQ(rs_region_destroy(region.release()), RS_OK) << "the creator's unlink finding nothing is not an error";
}

TEST_P(RegionLifecycle, ANewRegionHasMode0600AndExactlyTheRequestedMode) {
    struct stat info {};
    const std::string name = scratch_.name(backing(), "mode");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, options(), region), RS_OK);
    ASSERT_EQ(::stat(Scratch::backing_path(backing(), name).c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600u);
    EXPECT_TRUE(S_ISREG(info.st_mode));

    // Nothing is world-writable by default, even under a umask of 0.
    const mode_t before = ::umask(0);
    const std::string open_umask = scratch_.name(backing(), "umask0");
    RegionPtr region_umask0;
    const rs_result made = rstest::create_region(open_umask, options(), region_umask0);
    ::umask(before);
    ASSERT_EQ(made, RS_OK);
    ASSERT_EQ(::stat(Scratch::backing_path(backing(), open_umask).c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0600u);

    // The umask neither narrows nor widens the requested mode.
    const mode_t saved = ::umask(0077);
    rs_region_options shared = options();
    shared.mode = 0640;
    const std::string other = scratch_.name(backing(), "mode0640");
    RegionPtr region0640;
    const rs_result created = rstest::create_region(other, shared, region0640);
    ::umask(saved);
    ASSERT_EQ(created, RS_OK);
    ASSERT_EQ(::stat(Scratch::backing_path(backing(), other).c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 07777, 0640u);
}

// Another user (root drops to nobody; anyone else loses the bits) cannot
// open a 0600 region: RS_ERR_PERMISSION, and the message says what to do.
TEST_P(RegionLifecycle, AnOpenerWithoutPermissionGetsPermissionAndAHint) {
    const std::string name = scratch_.name(backing(), "private");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, options(), region), RS_OK);
    const std::string path = Scratch::backing_path(backing(), name);
    if (::geteuid() != 0) {
        ASSERT_EQ(::chmod(path.c_str(), 0), 0);
    }
    const rs_backing kind = backing();
    const pid_t child = rstest::fork_child([&] {
        if (::geteuid() == 0 && ::setuid(65534) != 0) return 10;  // nobody
        rs_region_options open_options;
        rs_region_options_init(&open_options);
        open_options.backing = kind;
        rs_region_t* opened = nullptr;
        const rs_result result = rs_region_open(name.c_str(), &open_options, &opened);
        if (opened != nullptr) rs_region_destroy(opened);
        if (result != RS_ERR_PERMISSION) return 11;
        return std::string(rs_last_error_message()).find("no permission") != std::string::npos ? 0 : 12;
    });
    EXPECT_EQ(rstest::wait_child(child), 0) << "10: setuid failed, 11: not RS_ERR_PERMISSION, 12: no hint";
    ::chmod(path.c_str(), 0600);
}

TEST_P(RegionLifecycle, OpenIgnoresTheGeometryOptionsAndReadsTheHeader) {
    const std::string name = scratch_.name(backing(), "geometry");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, options(4096, 2), region), RS_OK);
    RegionPtr opener;
    ASSERT_EQ(rstest::open_region(name, options(1 << 20, 7), opener), RS_OK);
    const rs_region_info info = rstest::region_info(opener.get());
    EXPECT_EQ(info.ring_capacity, 4096u);
    EXPECT_EQ(info.ring_count, 2u);
}

TEST_P(RegionLifecycle, DestroyWithRingsAttachedIsBusyAndTheRegionStaysUsable) {
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(scratch_.name(backing(), "busy"), options(), region), RS_OK);
    RingPtr producer;
    RingPtr consumer;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, producer), RS_OK);
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, consumer), RS_OK);
    EXPECT_EQ(rs_region_destroy(region.get()), RS_BUSY);
    EXPECT_TRUE(contains(rs_last_error_message(), "2")) << rs_last_error_message();
    EXPECT_EQ(rstest::region_info(region.get()).ring_count, 1u) << "the handle is still valid";
    expect_round_trip(producer.get(), consumer.get(), "after BUSY");
    producer.reset();
    EXPECT_EQ(rs_region_destroy(region.get()), RS_BUSY) << "one ring is still attached";
    consumer.reset();
    EXPECT_EQ(rs_region_destroy(region.release()), RS_OK);
}

TEST_P(RegionLifecycle, ASecondHolderOfARoleIsBusyUntilTheFirstLetsGo) {
    const std::string name = scratch_.name(backing(), "claims");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, options(4096, 2), region), RS_OK);
    RegionPtr opener;
    ASSERT_EQ(rstest::open_region(name, options(), opener), RS_OK);
    for (const rs_role role : {RS_ROLE_PRODUCER, RS_ROLE_CONSUMER}) {
        SCOPED_TRACE(role == RS_ROLE_PRODUCER ? "producer" : "consumer");
        RingPtr first;
        ASSERT_EQ(rstest::create_ring(region.get(), 0, role, first), RS_OK);
        RingPtr second;
        EXPECT_EQ(rstest::create_ring(region.get(), 0, role, second), RS_BUSY);
        EXPECT_STRNE(rs_last_error_message(), "");
        EXPECT_EQ(rstest::create_ring(opener.get(), 0, role, second), RS_BUSY) << "through another mapping too";
        EXPECT_EQ(rstest::create_ring(region.get(), 1, role, second), RS_OK) << "another ring is free";
        second.reset();
        first.reset();
        EXPECT_EQ(rstest::create_ring(opener.get(), 0, role, second), RS_OK) << "free again after destroy";
    }
}

// A child claims the producer role and dies without destroying anything:
// its claim is taken over, and the new producer continues after the
// records the dead one committed.
TEST_P(RegionLifecycle, AClaimLeftByADeadProcessIsTakenOver) {
    const std::string name = scratch_.name(backing(), "dead-claim");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, options(), region), RS_OK);
    const rs_region_options open_options = options();
    const pid_t child = rstest::fork_child([&] {
        rs_region_t* opened = nullptr;
        rs_ring_t* producer = nullptr;
        if (rs_region_open(name.c_str(), &open_options, &opened) != RS_OK) return 10;
        if (rs_ring_create(opened, 0, RS_ROLE_PRODUCER, &producer) != RS_OK) return 11;
        if (rs_ring_write(producer, "from the dead", 13) != RS_OK) return 12;
        return 0;  // _exit without rs_ring_destroy: the claim stays
    });
    ASSERT_EQ(rstest::wait_child(child), 0);
    EXPECT_TRUE(contains(stats_of_ring(region.get(), 0).c_str(), "\"producer_pid\":" + std::to_string(child)))
        << stats_of_ring(region.get(), 0);

    RingPtr producer;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, producer), RS_OK) << describe(rs_last_error_code());
    EXPECT_TRUE(contains(stats_of_ring(region.get(), 0).c_str(), "\"producer_pid\":" + std::to_string(::getpid())));
    ASSERT_EQ(rs_ring_write(producer.get(), "alive", 5), RS_OK);
    RingPtr consumer;
    ASSERT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, consumer), RS_OK);
    for (const std::string expected : {"from the dead", "alive"}) {
        rs_record record{};
        ASSERT_EQ(rs_ring_peek(consumer.get(), &record), RS_OK);
        EXPECT_EQ(std::string(static_cast<const char*>(record.data), record.length), expected);
        ASSERT_EQ(rs_ring_release(consumer.get()), RS_OK);
    }
}

// Several processes race for a role whose holder died without releasing it
// (e.g. supervisors restarting a crashed producer): exactly one may win.
// Each round's winners die holding the role, so every round is a takeover.
TEST(RegionClaims, OnlyOneOfSeveralProcessesRacingForADeadHoldersRoleGetsIt) {
    constexpr int kRounds = 40;
    constexpr int kRacers = 4;
    Scratch scratch;
    const std::string name = scratch.shm_name("race");
    const rs_region_options options = rstest::region_options(RS_BACKING_SHM, 4096);
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, options, region), RS_OK);
    // A start flag the racers spin on, shared across fork.
    void* shared = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(shared, MAP_FAILED);
    auto* go = static_cast<std::atomic<int>*>(shared);
    int most_winners = 0;
    for (int round = 0; round < kRounds; ++round) {
        go->store(0);
        rstest::Pipe ready;
        rstest::Pipe results;
        rstest::Pipe finish;
        pid_t racers[kRacers] = {};
        for (pid_t& racer : racers) {
            racer = rstest::fork_child([&]() -> int {
                rs_region_t* opened = nullptr;
                if (rs_region_open(name.c_str(), &options, &opened) != RS_OK) return 10;
                if (!ready.send("R", 1)) return 11;
                while (go->load() == 0) {
                }
                rs_ring_t* producer = nullptr;
                const rs_result result = rs_ring_create(opened, 0, RS_ROLE_PRODUCER, &producer);
                const char verdict = result == RS_OK ? 'W' : result == RS_BUSY ? 'B' : 'E';
                char byte = 0;
                if (!results.send(&verdict, 1) || !finish.receive(&byte, 1)) return 12;
                return 0;  // _exit holding whatever it won: the next round takes over from the dead
            });
        }
        char byte = 0;
        for (int i = 0; i < kRacers; ++i) ASSERT_TRUE(ready.receive(&byte, 1)) << "round " << round;
        go->store(1);
        int winners = 0;
        int errors = 0;
        for (int i = 0; i < kRacers; ++i) {
            ASSERT_TRUE(results.receive(&byte, 1)) << "round " << round;
            winners += byte == 'W';
            errors += byte == 'E';
        }
        for (int i = 0; i < kRacers; ++i) ASSERT_TRUE(finish.send("F", 1));
        for (const pid_t racer : racers) EXPECT_EQ(rstest::wait_child(racer), 0);
        EXPECT_EQ(errors, 0) << "round " << round;
        EXPECT_LE(winners, 1) << "round " << round << ": " << winners << " processes hold the producer role at once";
        EXPECT_GE(winners, 1) << "round " << round << ": a dead holder's role must be taken over";
        most_winners = std::max(most_winners, winners);
    }
    ::munmap(shared, 4096);
    RecordProperty("most_winners_in_a_round", most_winners);
}

// A holder killed but not yet reaped by its parent (a zombie) has ended: its
// claim is taken over at once, not after the parent gets round to waitpid.
TEST_P(RegionLifecycle, AClaimLeftByAZombieIsTakenOverBeforeItIsReaped) {
    const std::string name = scratch_.name(backing(), "zombie-claim");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, options(), region), RS_OK);
    const rs_region_options open_options = options();
    rstest::Pipe claimed;
    const pid_t child = rstest::fork_child([&] {
        rs_region_t* opened = nullptr;
        rs_ring_t* producer = nullptr;
        if (rs_region_open(name.c_str(), &open_options, &opened) != RS_OK) return 10;
        if (rs_ring_create(opened, 0, RS_ROLE_PRODUCER, &producer) != RS_OK) return 11;
        return claimed.send("C", 1) ? 0 : 12;  // _exit holding the claim
    });
    char byte = 0;
    ASSERT_TRUE(claimed.receive(&byte, 1));
    // Wait until the child has exited, without reaping it.
    siginfo_t info{};
    ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
    RingPtr producer;
    EXPECT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_PRODUCER, producer), RS_OK) << describe(rs_last_error_code());
    EXPECT_EQ(rstest::wait_child(child), 0);
}

TEST_P(RegionLifecycle, AClaimHeldByALiveProcessIsBusyAndNamesIt) {
    const std::string name = scratch_.name(backing(), "live-claim");
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(name, options(), region), RS_OK);
    rstest::Pipe ready;
    rstest::Pipe go;
    const rs_region_options open_options = options();
    const pid_t child = rstest::fork_child([&] {
        rs_region_t* opened = nullptr;
        rs_ring_t* consumer = nullptr;
        if (rs_region_open(name.c_str(), &open_options, &opened) != RS_OK) return 10;
        if (rs_ring_create(opened, 0, RS_ROLE_CONSUMER, &consumer) != RS_OK) return 11;
        char byte = 'R';
        if (!ready.send(&byte, 1) || !go.receive(&byte, 1)) return 12;
        if (rs_ring_destroy(consumer) != RS_OK || rs_region_destroy(opened) != RS_OK) return 13;
        return 0;
    });
    char byte = 0;
    ASSERT_TRUE(ready.receive(&byte, 1)) << "child exit " << rstest::wait_child(child);
    RingPtr consumer;
    EXPECT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, consumer), RS_BUSY);
    EXPECT_TRUE(contains(rs_last_error_message(), std::to_string(child))) << rs_last_error_message();
    ASSERT_TRUE(go.send("G", 1));
    ASSERT_EQ(rstest::wait_child(child), 0);
    EXPECT_EQ(rstest::create_ring(region.get(), 0, RS_ROLE_CONSUMER, consumer), RS_OK) << "released by destroy";
}

// A child creates a region (keep_on_destroy, so that it survives) and later
// dies without destroying it: an opener sees its creator alive, then dead.
TEST_P(RegionLifecycle, CreatorAliveTurnsZeroOnceTheCreatorHasDied) {
    const std::string name = scratch_.name(backing(), "orphan");
    rstest::Pipe ready;
    rstest::Pipe go;
    rs_region_options keep = options();
    keep.keep_on_destroy = 1;
    const pid_t child = rstest::fork_child([&] {
        rs_region_t* created = nullptr;
        if (rs_region_create(name.c_str(), &keep, &created) != RS_OK) return 10;
        char byte = 'R';
        if (!ready.send(&byte, 1) || !go.receive(&byte, 1)) return 11;
        return 0;  // _exit without destroy
    });
    char byte = 0;
    ASSERT_TRUE(ready.receive(&byte, 1)) << "child exit " << rstest::wait_child(child);
    RegionPtr region;
    ASSERT_EQ(rstest::open_region(name, options(), region), RS_OK);
    rs_region_info info = rstest::region_info(region.get());
    EXPECT_EQ(info.creator_pid, child);
    EXPECT_EQ(info.creator_alive, 1);
    EXPECT_EQ(info.is_creator, 0);
    ASSERT_TRUE(go.send("G", 1));
    ASSERT_EQ(rstest::wait_child(child), 0) << "reaped: a zombie still counts as alive";
    info = rstest::region_info(region.get());
    EXPECT_EQ(info.creator_alive, 0);
    EXPECT_TRUE(contains(stats_of_region(region.get()).c_str(), "\"creator_alive\":false"))
        << stats_of_region(region.get());
    region.reset();
    EXPECT_EQ(rs_region_unlink(name.c_str(), backing()), RS_OK) << "the survivor cleans up the name";
}

TEST_P(RegionLifecycle, FlushReturnsOk) {
    RegionPtr region;
    ASSERT_EQ(rstest::create_region(scratch_.name(backing(), "flush"), options(), region), RS_OK);
    EXPECT_EQ(rs_region_flush(region.get()), RS_OK);
}

INSTANTIATE_TEST_SUITE_P(Backings, RegionLifecycle, testing::Values(RS_BACKING_SHM, RS_BACKING_FILE),
                         backing_case_name);

// ---- names -------------------------------------------------------------------

TEST(RegionNames, InvalidShmNamesAreRejectedByCreateOpenAndUnlink) {
    Scratch scratch;
    const std::string base = scratch.shm_name("bad");  // "/rstest.<pid>...": leftovers would be caught
    const rs_region_options options = rstest::region_options(RS_BACKING_SHM, 4096);
    struct Case {
        const char* what;
        std::string name;
    };
    const Case table[] = {
        {"empty", ""},
        {"only a slash", "/"},
        {"no leading slash", base.substr(1)},
        {"a second slash", base + "/inner"},
        {"two leading slashes", "/" + base},
        {"251 bytes", base + std::string(251 - base.size(), 'x')},
        {"invalid UTF-8 byte", base + "\xff"},
        {"lone continuation byte", base + "\x80"},
        {"overlong 2-byte '/'", base + "\xc0\xaf"},
        {"overlong 3-byte '/'", base + "\xe0\x80\xaf"},
        {"overlong 4-byte", base + "\xf0\x80\x80\xaf"},
        {"UTF-16 surrogate", base + "\xed\xa0\x80"},
        {"above U+10FFFF", base + "\xf4\x90\x80\x80"},
        {"truncated sequence", base + "\xe2\x82"},
    };
    for (const Case& c : table) {
        SCOPED_TRACE(c.what);
        rs_region_t* region = nullptr;
        rs_clear_error();
        EXPECT_EQ(rs_region_create(c.name.c_str(), &options, &region), RS_ERR_INVALID_ARGUMENT);
        EXPECT_EQ(region, nullptr);
        EXPECT_STRNE(rs_last_error_message(), "");
        if (region != nullptr) rs_region_destroy(region);
        EXPECT_EQ(rs_region_open(c.name.c_str(), &options, &region), RS_ERR_INVALID_ARGUMENT);
        EXPECT_EQ(rs_region_unlink(c.name.c_str(), RS_BACKING_SHM), RS_ERR_INVALID_ARGUMENT);
    }
    rs_region_t* region = nullptr;
    EXPECT_EQ(rs_region_create(nullptr, &options, &region), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_region_open(nullptr, &options, &region), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rs_region_unlink(nullptr, RS_BACKING_SHM), RS_ERR_INVALID_ARGUMENT);
}

TEST(RegionNames, ValidShmNamesUpTo250BytesAndAnyUtf8AreAccepted) {
    Scratch scratch;
    const rs_region_options options = rstest::region_options(RS_BACKING_SHM, 4096);
    std::string longest = scratch.shm_name("long");
    longest += std::string(250 - longest.size(), 'x');
    for (const std::string& name : {longest, scratch.shm_name("caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x9a\x80")}) {
        SCOPED_TRACE(name);
        RegionPtr region;
        EXPECT_EQ(rstest::create_region(name, options, region), RS_OK) << describe(rs_last_error_code());
        EXPECT_TRUE(Scratch::exists(RS_BACKING_SHM, name));
    }
}

TEST(RegionNames, InvalidFilePathsAreRejected) {
    Scratch scratch;
    const rs_region_options options = rstest::region_options(RS_BACKING_FILE, 4096);
    const std::string too_long = scratch.dir() + "/" + std::string(4096, 'p');
    for (const std::string& path : {std::string(), scratch.file_path("bad\xff"), too_long}) {
        rs_region_t* region = nullptr;
        EXPECT_EQ(rs_region_create(path.c_str(), &options, &region), RS_ERR_INVALID_ARGUMENT) << path.size();
        EXPECT_EQ(rs_region_open(path.c_str(), &options, &region), RS_ERR_INVALID_ARGUMENT);
        EXPECT_EQ(rs_region_unlink(path.c_str(), RS_BACKING_FILE), RS_ERR_INVALID_ARGUMENT);
    }
}

// ---- what an opener refuses: files that are not regions (file backing) ----------

class RegionFile : public testing::Test {
protected:
    rs_region_options options() const { return rstest::region_options(RS_BACKING_FILE, 4096, 2); }
    // A region file that nobody has mapped any more.
    std::string kept_region(const char* tag) {
        const std::string path = scratch_.file_path(tag);
        rs_region_options keep = options();
        keep.keep_on_destroy = 1;
        RegionPtr region;
        EXPECT_EQ(rstest::create_region(path, keep, region), RS_OK) << describe(rs_last_error_code());
        return path;
    }
    rs_result open_result(const std::string& path) {
        RegionPtr region;
        return rstest::open_region(path, options(), region);
    }
    Scratch scratch_;
};

TEST_F(RegionFile, OpeningThroughASymlinkIsRefused) {
    const std::string real = kept_region("real");
    const std::string link = scratch_.file_path("link");
    ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
    EXPECT_EQ(open_result(link), RS_ERR_PERMISSION);
    EXPECT_TRUE(contains(rs_last_error_message(), "symbolic link")) << rs_last_error_message();

    const std::string dangling = scratch_.file_path("dangling");
    const std::string target = scratch_.file_path("target");
    ASSERT_EQ(::symlink(target.c_str(), dangling.c_str()), 0);
    RegionPtr region;
    EXPECT_LT(rstest::create_region(dangling, options(), region), 0) << "create never follows a symlink";
    EXPECT_FALSE(Scratch::exists(RS_BACKING_FILE, target));
    EXPECT_TRUE(Scratch::exists(RS_BACKING_FILE, dangling)) << "and never removes what it did not create";
    ::unlink(dangling.c_str());
    ::unlink(link.c_str());
    ::unlink(real.c_str());
}

TEST_F(RegionFile, NonRegularFilesAreRejected) {
    const std::string directory = scratch_.file_path("dir");
    ASSERT_EQ(::mkdir(directory.c_str(), 0700), 0);
    const std::string fifo = scratch_.file_path("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    for (const std::string& path : {directory, fifo, std::string("/dev/null")}) {
        SCOPED_TRACE(path);
        rs_clear_error();
        const rs_result result = open_result(path);
        EXPECT_EQ(result, RS_ERR_INVALID_ARGUMENT) << describe(result);
        EXPECT_STRNE(rs_last_error_message(), "");
    }
    ::rmdir(directory.c_str());
    ::unlink(fifo.c_str());
}

struct HeaderCorruption {
    const char* what;
    std::size_t offset;
    std::size_t bytes;
    std::uint64_t value;
    rs_result expected;
};

#define RS_FIELD(name) offsetof(layout::RegionHeader, name), sizeof(layout::RegionHeader::name)

TEST_F(RegionFile, AnOpenerValidatesEveryHeaderField) {
    const std::uint64_t size = layout::region_bytes(2, 4096);
    const HeaderCorruption table[] = {
        {"bad magic", RS_FIELD(magic), 0x1122334455667788ull, RS_ERR_CORRUPT},
        {"magic zero: not published yet", RS_FIELD(magic), 0, RS_BUSY},
        {"next layout major version", RS_FIELD(layout_major), layout::kLayoutMajor + 1u, RS_ERR_VERSION_MISMATCH},
        {"older layout major version", RS_FIELD(layout_major), 0, RS_ERR_VERSION_MISMATCH},
        {"next layout minor version is fine", RS_FIELD(layout_minor), layout::kLayoutMinor + 1u, RS_OK},
        {"header_bytes too small", RS_FIELD(header_bytes), 8, RS_ERR_CORRUPT},
        {"header_bytes larger than the mapping", RS_FIELD(header_bytes), size * 2, RS_ERR_CORRUPT},
        {"total_bytes larger than the file", RS_FIELD(total_bytes), size + 4096, RS_ERR_CORRUPT},
        {"total_bytes smaller than the file", RS_FIELD(total_bytes), size - 4096, RS_ERR_CORRUPT},
        {"capacity not a power of two", RS_FIELD(ring_capacity), 3 * 4096, RS_ERR_CORRUPT},
        {"capacity below the minimum", RS_FIELD(ring_capacity), 2048, RS_ERR_CORRUPT},
        {"capacity disagrees with the size", RS_FIELD(ring_capacity), 8192, RS_ERR_CORRUPT},
        {"ring_count disagrees with the size", RS_FIELD(ring_count), 3, RS_ERR_CORRUPT},
        {"ring_count zero", RS_FIELD(ring_count), 0, RS_ERR_CORRUPT},
        {"record_align not a power of two", RS_FIELD(record_align), 12, RS_ERR_CORRUPT},
        {"record_align too large for the ring", RS_FIELD(record_align), 4096, RS_ERR_CORRUPT},
        {"backing kind says shm", RS_FIELD(backing_kind), 1, RS_ERR_CORRUPT},
        {"unknown backing kind", RS_FIELD(backing_kind), 7, RS_ERR_CORRUPT},
    };
    for (const HeaderCorruption& c : table) {
        SCOPED_TRACE(c.what);
        const std::string path = kept_region("corrupt");
        ASSERT_TRUE(rstest::poke_file(path, c.offset, &c.value, c.bytes));
        rs_clear_error();
        const rs_result result = open_result(path);
        EXPECT_EQ(result, c.expected) << describe(result);
        if (c.expected != RS_OK) {
            EXPECT_STRNE(rs_last_error_message(), "");
        }
        if (c.expected == RS_ERR_VERSION_MISMATCH) {
            const std::string theirs = std::to_string(c.value) + "." + std::to_string(layout::kLayoutMinor);
            const std::string ours = std::to_string(layout::kLayoutMajor) + "." + std::to_string(layout::kLayoutMinor);
            EXPECT_TRUE(contains(rs_last_error_message(), theirs)) << rs_last_error_message();
            EXPECT_TRUE(contains(rs_last_error_message(), ours)) << rs_last_error_message();
        }
        ::unlink(path.c_str());
    }
}

TEST_F(RegionFile, ATruncatedFileIsCorruptAndAnEmptyOneIsBusy) {
    const std::uint64_t size = layout::region_bytes(2, 4096);
    for (const std::uint64_t length : {size - 4096, size - 1, std::uint64_t{4096}, std::uint64_t{100}}) {
        SCOPED_TRACE(testing::Message() << "truncated to " << length);
        const std::string path = kept_region("truncated");
        ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(length)), 0);
        EXPECT_EQ(open_result(path), RS_ERR_CORRUPT);
        EXPECT_STRNE(rs_last_error_message(), "");
        ::unlink(path.c_str());
    }
    const std::string empty = scratch_.file_path("empty");
    const int fd = ::open(empty.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
    EXPECT_EQ(open_result(empty), RS_BUSY) << "a zero-size file is a creator that has not finished";
    ::unlink(empty.c_str());
}

TEST(RegionShm, AnEmptyShmObjectIsBusyAndAShmRegionOpenedAsAFileIsCorrupt) {
    Scratch scratch;
    const std::string name = scratch.shm_name("empty");
    const int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
    RegionPtr region;
    EXPECT_EQ(rstest::open_region(name, rstest::region_options(RS_BACKING_SHM), region), RS_BUSY);
    ::shm_unlink(name.c_str());

    const std::string shm = scratch.shm_name("as-file");
    RegionPtr creator;
    ASSERT_EQ(rstest::create_region(shm, rstest::region_options(RS_BACKING_SHM, 4096), creator), RS_OK);
    EXPECT_EQ(rstest::open_region(Scratch::backing_path(RS_BACKING_SHM, shm), rstest::region_options(RS_BACKING_FILE),
                                  region),
              RS_ERR_CORRUPT)
        << "the header says shm";
    EXPECT_TRUE(contains(rs_last_error_message(), "backing")) << rs_last_error_message();
}

// ---- options -------------------------------------------------------------------

class RegionOptions : public testing::TestWithParam<rs_backing> {
protected:
    Scratch scratch_;
};

// 16 MiB: prefault maps and touches every page at create (mincore: all
// resident; smaps: all mapped), without it only the header page is touched.
TEST_P(RegionOptions, PrefaultMakesEveryPageResidentUpFront) {
    constexpr std::uint64_t kCapacity = 16ull << 20;
    const std::size_t pages = layout::region_bytes(1, kCapacity) / 4096;
    for (const int prefault : {1, 0}) {
        SCOPED_TRACE(testing::Message() << "prefault " << prefault);
        const std::string name = scratch_.name(GetParam(), "prefault");
        rs_region_options options = rstest::region_options(GetParam(), kCapacity);
        options.prefault = prefault;
        RegionPtr region;
        ASSERT_EQ(rstest::create_region(name, options, region), RS_OK) << describe(rs_last_error_code());
        EXPECT_EQ(rstest::region_info(region.get()).prefaulted, prefault);
        const auto ranges = rstest::mappings_of(Scratch::backing_path(GetParam(), name));
        ASSERT_EQ(ranges.size(), 1u);
        ASSERT_EQ(ranges[0].second - ranges[0].first, pages * 4096);
        const std::size_t resident = rstest::resident_pages(ranges[0].first, pages * 4096);
        const rstest::SmapsEntry smaps = rstest::smaps_of(ranges[0].first);
        ASSERT_TRUE(smaps.found);
        if (prefault) {
            EXPECT_EQ(resident, pages);
            EXPECT_EQ(smaps.rss_bytes, pages * 4096);
        } else {
            EXPECT_LT(resident, pages) << "fewer pages resident without prefault";
            EXPECT_LT(smaps.rss_bytes, pages * 4096 / 8) << "and hardly any mapped";
        }
    }
}

TEST_P(RegionOptions, PrefaultOnOpenMapsEveryPageOfTheOpenersMapping) {
    const std::string name = scratch_.name(GetParam(), "prefault-open");
    rs_region_options options = rstest::region_options(GetParam(), 1 << 20);
    RegionPtr creator;
    ASSERT_EQ(rstest::create_region(name, options, creator), RS_OK);
    const auto before = rstest::mappings_of(Scratch::backing_path(GetParam(), name));
    RegionPtr opener;
    ASSERT_EQ(rstest::open_region(name, options, opener), RS_OK);
    EXPECT_EQ(rstest::region_info(opener.get()).prefaulted, 1);
    for (const auto& range : rstest::mappings_of(Scratch::backing_path(GetParam(), name))) {
        if (range == before.front()) continue;
        EXPECT_EQ(rstest::smaps_of(range.first).rss_bytes, range.second - range.first);
    }
}

TEST_P(RegionOptions, LockMemoryLocksTheWholeMappingOrSaysPermission) {
    if (!rstest::kMlockIsReal) GTEST_SKIP() << "this sanitizer's mlock interceptor locks nothing";
    const std::string name = scratch_.name(GetParam(), "locked");
    rs_region_options options = rstest::region_options(GetParam(), 1 << 20);
    options.lock_memory = 1;
    RegionPtr region;
    const rs_result result = rstest::create_region(name, options, region);
    if (result == RS_ERR_PERMISSION) {
        EXPECT_TRUE(contains(rs_last_error_message(), "RLIMIT_MEMLOCK")) << rs_last_error_message();
        GTEST_SKIP() << "mlock refused here (RLIMIT_MEMLOCK too low, no CAP_IPC_LOCK): " << rs_last_error_message();
    }
    ASSERT_EQ(result, RS_OK) << describe(result);
    EXPECT_EQ(rstest::region_info(region.get()).memory_locked, 1);
    const auto ranges = rstest::mappings_of(Scratch::backing_path(GetParam(), name));
    ASSERT_EQ(ranges.size(), 1u);
    const rstest::SmapsEntry smaps = rstest::smaps_of(ranges[0].first);
    EXPECT_EQ(smaps.locked_bytes, ranges[0].second - ranges[0].first);
    EXPECT_NE(smaps.vm_flags.find(" lo"), std::string::npos) << smaps.vm_flags;

    RegionPtr unlocked;
    ASSERT_EQ(rstest::create_region(scratch_.name(GetParam(), "unlocked"), rstest::region_options(GetParam(), 4096),
                                    unlocked),
              RS_OK);
    EXPECT_EQ(rstest::region_info(unlocked.get()).memory_locked, 0);
}

// Drops CAP_IPC_LOCK (root ignores RLIMIT_MEMLOCK with it) from the calling
// thread's effective and permitted sets.
bool drop_ipc_lock_capability() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return false;
    const std::uint32_t bit = 1u << (CAP_IPC_LOCK % 32);
    data[CAP_IPC_LOCK / 32].effective &= ~bit;
    data[CAP_IPC_LOCK / 32].permitted &= ~bit;
    return ::syscall(SYS_capset, &header, data) == 0;
}

TEST_P(RegionOptions, LockMemoryBeyondRlimitMemlockFailsWithPermissionAndLeavesNothing) {
    if (!rstest::kMlockIsReal) GTEST_SKIP() << "this sanitizer's mlock interceptor never fails";
    const std::string name = scratch_.name(GetParam(), "memlock");
    rs_region_options options = rstest::region_options(GetParam(), 1 << 20);
    options.lock_memory = 1;
    const pid_t child = rstest::fork_child([&] {
        if (!drop_ipc_lock_capability()) return 20;
        const rlimit limit{64 * 1024, 64 * 1024};
        if (::setrlimit(RLIMIT_MEMLOCK, &limit) != 0) return 21;
        rs_region_t* region = nullptr;
        const rs_result result = rs_region_create(name.c_str(), &options, &region);
        if (region != nullptr) rs_region_destroy(region);
        if (result != RS_ERR_PERMISSION) return 22;
        if (!contains(rs_last_error_message(), "RLIMIT_MEMLOCK")) return 23;
        return 0;
    });
    EXPECT_EQ(rstest::wait_child(child), 0) << "20/21: could not set up the limit; 22: not RS_ERR_PERMISSION; "
                                               "23: message does not name RLIMIT_MEMLOCK";
    EXPECT_FALSE(Scratch::exists(GetParam(), name)) << "a failed create removes what it created";
}

TEST_P(RegionOptions, HugePagesIsBestEffortAndReportsWhatWasGranted) {
    for (const int huge : {0, 1}) {
        SCOPED_TRACE(testing::Message() << "huge_pages " << huge);
        const std::string name = scratch_.name(GetParam(), "huge");
        rs_region_options options = rstest::region_options(GetParam(), 4 << 20);
        options.huge_pages = huge;
        RegionPtr region;
        ASSERT_EQ(rstest::create_region(name, options, region), RS_OK) << "never a failure";
        const int granted = rstest::region_info(region.get()).huge_pages;
        if (huge == 0) {
            EXPECT_EQ(granted, 0);
        }
        const auto ranges = rstest::mappings_of(Scratch::backing_path(GetParam(), name));
        ASSERT_FALSE(ranges.empty());
        const bool advised = rstest::smaps_of(ranges[0].first).vm_flags.find(" hg") != std::string::npos;
        EXPECT_EQ(granted == 1, advised) << "reported as granted exactly when the mapping carries MADV_HUGEPAGE";
    }
}

INSTANTIATE_TEST_SUITE_P(Backings, RegionOptions, testing::Values(RS_BACKING_SHM, RS_BACKING_FILE), backing_case_name);

TEST(RegionFlush, AFlushIntervalRunsAThreadThatDestroyStops) {
    Scratch scratch;
    const int before = rstest::threads_named("rs-flush");
    const std::string path = scratch.file_path("flushed");
    rs_region_options options = rstest::region_options(RS_BACKING_FILE, 4096);
    options.flush_interval_ms = 5;
    RegionPtr creator;
    ASSERT_EQ(rstest::create_region(path, options, creator), RS_OK) << describe(rs_last_error_code());
    EXPECT_EQ(rstest::threads_named("rs-flush"), before + 1);
    RegionPtr opener;
    ASSERT_EQ(rstest::open_region(path, options, opener), RS_OK);
    EXPECT_EQ(rstest::threads_named("rs-flush"), before + 2) << "an opener may ask for one too";
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // let them flush a few times
    EXPECT_EQ(rs_region_flush(creator.get()), RS_OK);
    opener.reset();
    creator.reset();
    EXPECT_EQ(rstest::threads_named("rs-flush"), before) << "destroy stops and joins the thread";
}

TEST(RegionFlush, AFlushIntervalOnShmIsInvalid) {
    Scratch scratch;
    const std::string name = scratch.shm_name("flush");
    rs_region_options options = rstest::region_options(RS_BACKING_SHM, 4096);
    options.flush_interval_ms = 5;
    RegionPtr region;
    EXPECT_EQ(rstest::create_region(name, options, region), RS_ERR_INVALID_ARGUMENT);
    EXPECT_TRUE(contains(rs_last_error_message(), "flush_interval_ms")) << rs_last_error_message();
    EXPECT_FALSE(Scratch::exists(RS_BACKING_SHM, name));
    RegionPtr creator;
    ASSERT_EQ(rstest::create_region(name, rstest::region_options(RS_BACKING_SHM, 4096), creator), RS_OK);
    EXPECT_EQ(rstest::open_region(name, options, region), RS_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(rstest::threads_named("rs-flush"), 0);
}

}  // namespace
