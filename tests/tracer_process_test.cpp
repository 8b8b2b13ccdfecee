// The tracer across processes: an agent process emits tens of millions of
// events while a controller in another process dumps them, and the reader
// proves every kept event arrived once, in order; an agent killed with
// SIGKILL mid-stream has every committed event recovered by a controller
// started after the crash (file backing), also when the controller that
// served it was killed too.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tracer_test_support.hpp"

namespace {

using namespace trtest;
using nlohmann::json;
using ringside::trace::reader::DetailStatus;
using ringside::trace::reader::RowKind;

// Runs in a forked child: emits `events` events (or forever with 0) whose
// 16-byte payload starts with their sequence number; marks every 2^20.
// `paced`: about 4 M events/s instead of as fast as possible.
int agent_process(const std::string& name, rs_backing backing, std::uint64_t events, bool paced = false) {
    rs_tracer_agent_options options;
    rs_tracer_agent_options_init(&options);
    options.backing = backing;
    rs_tracer_agent_t* agent = nullptr;
    for (int attempt = 0; rs_tracer_open(name.c_str(), &options, &agent) != RS_OK; ++attempt) {
        if (attempt > 2000) return 10;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::uint64_t payload[2] = {0, 0xC0FFEE};
    for (std::uint64_t seq = 0; events == 0 || seq < events; ++seq) {
        payload[0] = seq;
        const rs_result result = rs_tracer_emit(agent, 1 + static_cast<std::uint32_t>(seq % 5), payload, sizeof payload);
        if (result != RS_OK && result != RS_FULL) return 11;
        if ((seq & 0xFFFFF) == 0xFFFFF) rs_tracer_mark(agent);
        if (paced && (seq & 4095) == 4095) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return rs_tracer_close(agent) == RS_OK ? 0 : 12;
}

json inspect(const std::string& name, rs_backing backing) {
    char* text = nullptr;
    if (rs_tracer_inspect_json(name.c_str(), backing, &text) != RS_OK) return json::object();
    json value = json::parse(text);
    rs_string_free(text);
    return value;
}

std::uint64_t lane_events(const std::string& name, rs_backing backing) {
    const json report = inspect(name, backing);
    if (!report.contains("lanes") || report["lanes"].empty()) return 0;
    return report["lanes"][0]["events_attempted"].get<std::uint64_t>();
}

// Reads the trace streaming (tens of millions of rows are never held) and
// checks every kept payload against its sequence number.
ringside::trace::reader::Report verify(const std::string& sink, std::uint64_t& bad_payloads) {
    ringside::trace::reader::Report report;
    ringside::trace::reader::Options options;
    options.payloads = true;
    for (const std::string& file : ringside::trace::reader::lane_files(sink)) {
        ringside::trace::reader::read_lane_file(
            file, options,
            [&](const ringside::trace::reader::Row& row) {
                if (row.kind != RowKind::kEvent || row.detail != DetailStatus::kKept) return;
                std::uint64_t seq = 0;
                if (row.payload.size() != 16) {
                    ++bad_payloads;
                    return;
                }
                std::memcpy(&seq, row.payload.data(), sizeof seq);
                if (seq != row.seq || row.event_id != 1 + seq % 5) ++bad_payloads;
            },
            report);
    }
    return report;
}

TEST(tracer_Processes, TensOfMillionsOfEventsArriveOnceAndInOrder) {
    TempDir dir;
    const std::string name = shm_name("two");
    rs_tracer_options options = controller_options(dir.sink(), 1, 16, 1u << 20);
    ControllerPtr controller = make_controller(name, options);
    ASSERT_NE(controller, nullptr);
    constexpr std::uint64_t kEvents = 20'000'000;
    // Forked before the drain thread exists: the child inherits no thread.
    const pid_t child = rstest::fork_child([&] { return agent_process(name, RS_BACKING_SHM, kEvents); });
    ASSERT_EQ(rs_tracer_controller_start(controller.get()), RS_OK);
    ASSERT_EQ(rstest::wait_child(child, 240'000), 0);
    ASSERT_EQ(rs_tracer_controller_stop(controller.get(), 1'000'000'000), RS_OK);
    std::uint64_t bad_payloads = 0;
    const auto report = verify(dir.sink(), bad_payloads);
    ASSERT_TRUE(report.ok()) << report_json(report);
    ASSERT_EQ(report.sessions.size(), 1u);
    const auto& session = report.sessions[0];
    EXPECT_EQ(session.events + session.lost_explained, kEvents);
    EXPECT_EQ(session.next_seq, kEvents);
    EXPECT_EQ(session.end_reason, 1u);  // closed
    EXPECT_GT(session.details_kept, 0u);
    EXPECT_EQ(bad_payloads, 0u);
    std::printf("[ info ] %llu events kept, %llu dropped (explained), %llu payloads kept\n",
                static_cast<unsigned long long>(session.events),
                static_cast<unsigned long long>(session.lost_explained),
                static_cast<unsigned long long>(session.details_kept));
    char* text = nullptr;
    ASSERT_EQ(rs_tracer_controller_stats_json(controller.get(), &text), RS_OK);
    const json stats = json::parse(text);
    rs_string_free(text);
    const json& lane = stats["lanes"][0];
    EXPECT_LE(lane["wakes_sent"].get<std::uint64_t>(), lane["submits"].get<std::uint64_t>());
    EXPECT_LE(stats["controller_wakeups"].get<std::uint64_t>(), lane["submits"].get<std::uint64_t>());
    EXPECT_EQ(lane["violations"]["total"], 0);
}

TEST(tracer_Processes, KilledAgentsCommittedEventsAreRecoveredByALaterController) {
    TempDir dir;
    const std::string region = dir.path() + "/region.rstrace-shm";
    rs_tracer_options options = controller_options(dir.sink(), 1, 8, 1u << 20);
    options.backing = RS_BACKING_FILE;
    options.keep_on_destroy = 1;
    ControllerPtr first = make_controller(region, options);
    ASSERT_NE(first, nullptr);
    const pid_t child = rstest::fork_child([&] { return agent_process(region, RS_BACKING_FILE, 0, true); });
    ASSERT_EQ(rs_tracer_controller_start(first.get()), RS_OK);
    while (lane_events(region, RS_BACKING_FILE) < 200'000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // The first controller goes away while the agent keeps writing: its
    // windows wait in the region (the pool holds ~200 k events: no drops).
    ASSERT_EQ(rs_tracer_controller_stop(first.get(), 1'000'000'000), RS_OK);
    first.reset();
    const std::uint64_t at_stop = lane_events(region, RS_BACKING_FILE);
    while (lane_events(region, RS_BACKING_FILE) < at_stop + 30'000) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    ASSERT_EQ(rstest::wait_child(child), 128 + SIGKILL);
    const std::uint64_t attempted = lane_events(region, RS_BACKING_FILE);

    options.open_existing = 1;
    ControllerPtr later = make_controller(region, options);
    ASSERT_NE(later, nullptr);
    poll(later.get());
    ASSERT_EQ(rs_tracer_controller_stop(later.get(), 0), RS_OK);
    later.reset();
    ::unlink(region.c_str());
    std::uint64_t bad_payloads = 0;
    const auto report = verify(dir.sink(), bad_payloads);
    ASSERT_TRUE(report.ok()) << report_json(report);
    ASSERT_EQ(report.sessions.size(), 1u);
    const auto& session = report.sessions[0];
    EXPECT_TRUE(session.ended);
    EXPECT_EQ(session.end_reason, 2u);  // died
    EXPECT_EQ(session.end_seq_next, attempted);
    // Every committed event is there or explained. (+1: killed between an
    // event's commit and the store of seq_next, the event is recovered.)
    EXPECT_GE(session.next_seq, attempted);
    EXPECT_LE(session.next_seq, attempted + 1);
    EXPECT_GE(session.recovered_blocks, 1u);  // the active index window, never submitted
    EXPECT_EQ(session.lost_explained, 0u);
    EXPECT_EQ(bad_payloads, 0u);
    std::printf("[ info ] %llu events recovered in order, %llu drops explained, %llu recovered windows\n",
                static_cast<unsigned long long>(session.events),
                static_cast<unsigned long long>(session.lost_explained),
                static_cast<unsigned long long>(session.recovered_blocks));
}

TEST(tracer_Processes, KilledControllerAndAgentAreRecoveredFromTheFile) {
    TempDir dir;
    const std::string region = dir.path() + "/region.rstrace-shm";
    const std::string sink = dir.sink();
    const pid_t controller = rstest::fork_child([&] {
        rs_tracer_options options = controller_options(sink, 1, 8, 1u << 16);
        options.backing = RS_BACKING_FILE;
        rs_tracer_controller_t* handle = nullptr;
        if (rs_tracer_controller_create(region.c_str(), &options, &handle) != RS_OK) return 20;
        if (rs_tracer_controller_start(handle) != RS_OK) return 21;
        for (;;) ::pause();
    });
    const pid_t agent = rstest::fork_child([&] { return agent_process(region, RS_BACKING_FILE, 0); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (lane_events(region, RS_BACKING_FILE) < 500'000 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(::kill(controller, SIGKILL), 0);
    ASSERT_EQ(::kill(agent, SIGKILL), 0);
    EXPECT_EQ(rstest::wait_child(controller), 128 + SIGKILL);
    EXPECT_EQ(rstest::wait_child(agent), 128 + SIGKILL);
    const std::uint64_t attempted = lane_events(region, RS_BACKING_FILE);
    ASSERT_GT(attempted, 0u);

    rs_tracer_options options = controller_options(sink, 1, 8, 1u << 16);
    options.backing = RS_BACKING_FILE;
    options.open_existing = 1;
    ControllerPtr later = make_controller(region, options);  // takes over the dead controller's claim
    ASSERT_NE(later, nullptr);
    poll(later.get());
    ASSERT_EQ(rs_tracer_controller_stop(later.get(), 0), RS_OK);
    later.reset();
    ::unlink(region.c_str());
    std::uint64_t bad_payloads = 0;
    const auto report = verify(sink, bad_payloads);
    ASSERT_EQ(report.sessions.size(), 1u) << report_json(report);
    const auto& session = report.sessions[0];
    // At least once across a controller crash: a window whose dump finished
    // but whose ring was not yet handed back is dumped again. Nothing is lost.
    EXPECT_EQ(session.lost_unexplained, 0u) << report_json(report);
    EXPECT_EQ(session.out_of_order, 0u);
    EXPECT_GE(session.next_seq, attempted);
    EXPECT_LE(session.next_seq, attempted + 1);
    EXPECT_EQ(session.end_reason, 2u);
    EXPECT_EQ(bad_payloads, 0u);
}

// Killed but not reaped, an agent is a zombie: its pid and start time still
// match the lane's claim in /proc, but it has ended (process_exited), so the
// controller recovers its lane at once instead of waiting for the reaper.
TEST(tracer_Processes, AKilledAgentNotYetReapedIsRecoveredAsDead) {
    TempDir dir;
    const std::string name = shm_name("zombie");
    rs_tracer_options options = controller_options(dir.sink(), 1, 8, 1u << 16);
    ControllerPtr controller = make_controller(name, options);
    ASSERT_NE(controller, nullptr);
    rstest::Pipe ready;
    const pid_t agent = rstest::fork_child([&] {
        rs_tracer_agent_options agent_options;
        rs_tracer_agent_options_init(&agent_options);
        rs_tracer_agent_t* handle = nullptr;
        if (rs_tracer_open(name.c_str(), &agent_options, &handle) != RS_OK) return 10;
        const std::uint64_t payload[2] = {0, 0xC0FFEE};
        for (int i = 0; i < 100; ++i) rs_tracer_emit(handle, 1, payload, sizeof payload);
        const char byte = 1;
        ready.send(&byte, 1);
        for (;;) ::pause();
    });
    char byte = 0;
    ASSERT_TRUE(ready.receive(&byte, 1));
    ASSERT_EQ(::kill(agent, SIGKILL), 0);
    // Wait (bounded) until it is a zombie; it is reaped only at the end.
    char state = 0;
    for (int i = 0; i < 5000 && state != 'Z'; ++i) {
        std::ifstream stat("/proc/" + std::to_string(agent) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        const std::size_t paren = text.rfind(')');
        state = paren != std::string::npos && paren + 2 < text.size() ? text[paren + 2] : 0;
        if (state != 'Z') std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ(state, 'Z');
    poll(controller.get());
    char* text = nullptr;
    ASSERT_EQ(rs_tracer_controller_stats_json(controller.get(), &text), RS_OK);
    const json stats = json::parse(text);
    rs_string_free(text);
    EXPECT_EQ(stats["lanes"][0]["recoveries"], 1) << "a zombie agent's lane is recovered before it is reaped";
    EXPECT_EQ(rstest::wait_child(agent), 128 + SIGKILL);
}

TEST(tracer_Processes, ControllerExecutableServesAgentsUntilSigterm) {
    TempDir dir;
    const std::string name = shm_name("exe");
    const std::string sink = dir.sink();
    const pid_t controller = ::fork();
    ASSERT_GE(controller, 0);
    if (controller == 0) {
        const int quiet = ::open("/dev/null", O_WRONLY);
        ::dup2(quiet, 1);
        ::dup2(quiet, 2);
        ::execl(RINGSIDE_TRACER_CONTROLLER, "ringside-tracer-controller", name.c_str(), "--sink-dir", sink.c_str(),
                "--lanes", "2", "--rings", "8", "--ring-capacity", "65536", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    rs_tracer_agent_t* agent = nullptr;
    for (int attempt = 0; rs_tracer_open(name.c_str(), nullptr, &agent) != RS_OK && attempt < 10'000; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_NE(agent, nullptr) << "the controller executable never created the region";
    constexpr std::uint64_t kEvents = 100'000;
    std::uint64_t ok = 0;
    std::uint64_t payload[2] = {0, 0};
    for (std::uint64_t seq = 0; seq < kEvents; ++seq) {
        payload[0] = seq;
        if (rs_tracer_emit(agent, 1 + static_cast<std::uint32_t>(seq % 5), payload, sizeof payload) == RS_OK) ++ok;
        if (seq == 50'000) rs_tracer_mark(agent);
    }
    // The inspector sees the live lane.
    std::FILE* pipe = ::popen((std::string(RINGSIDE_TRACE_TOOL) + " inspect --json " + name).c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string text;
    char buffer[4096];
    for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) text.append(buffer, got);
    EXPECT_EQ(::pclose(pipe), 0);
    const json report = json::parse(text);
    EXPECT_EQ(report["lanes"].at(0)["events_attempted"], kEvents);
    EXPECT_EQ(report["controller_running"], true);
    ASSERT_EQ(rs_tracer_close(agent), RS_OK);
    ASSERT_EQ(::kill(controller, SIGTERM), 0);
    EXPECT_EQ(rstest::wait_child(controller), 0);
    EXPECT_FALSE(std::filesystem::exists("/dev/shm" + name));  // unlinked on exit
    std::uint64_t bad_payloads = 0;
    const auto trace = verify(sink, bad_payloads);
    ASSERT_TRUE(trace.ok()) << report_json(trace);
    ASSERT_EQ(trace.sessions.size(), 1u);
    EXPECT_EQ(trace.sessions[0].events, ok);
    EXPECT_EQ(trace.sessions[0].next_seq, kEvents);
    EXPECT_TRUE(trace.sessions[0].ended);
    EXPECT_GT(trace.sessions[0].details_kept, 0u);
    EXPECT_EQ(bad_payloads, 0u);
}

}  // namespace
