// The readers agree: a trace with kept and recycled payloads, marks, drops
// of every policy's kind and two sessions is decoded by the C++ reader (in
// process), by ringside-trace-read and by the Python reader
// (src/python/ringside_trace); their continuity reports match, the JSON
// lines and CSV have one row per record, and the time index finds blocks.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "tracer_test_support.hpp"

namespace {

using namespace trtest;
using nlohmann::json;

// Runs a shell command, returns its stdout (and its exit status in `status`).
std::string run(const std::string& command, int& status) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        status = -1;
        return out;
    }
    std::array<char, 65536> buffer{};
    std::size_t got = 0;
    while ((got = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), got);
    status = ::pclose(pipe);
    return out;
}

std::string last_line(const std::string& text) {
    const std::size_t end = text.find_last_not_of('\n');
    if (end == std::string::npos) return "";
    const std::size_t start = text.rfind('\n', end);
    return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
}

std::size_t lines(const std::string& text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

class tracer_Readers : public ::testing::Test {
protected:
    void SetUp() override {
        const rs_tracer_options options = controller_options(dir_.sink(), 2, 4, 4096);
        ControllerPtr controller = make_controller(name_, options);
        ASSERT_NE(controller, nullptr);
        std::uint8_t payload[24] = {};
        for (int session = 0; session < 2; ++session) {
            AgentPtr agent = make_agent(name_, session == 0 ? RS_TRACER_DROP_NEWEST : RS_TRACER_OVERWRITE_OLDEST);
            for (std::uint32_t i = 0; i < 600; ++i) {
                std::memcpy(payload, &i, sizeof i);
                const rs_result result = rs_tracer_emit(agent.get(), i % 3, payload, i % 3 == 0 ? 0 : sizeof payload);
                ASSERT_TRUE(result == RS_OK || result == RS_FULL);
                if (i == 100) rs_tracer_mark(agent.get());
                if (i == 300) poll(controller.get());
            }
        }
        poll(controller.get());
        expected_ = read_trace(dir_.sink());
        ASSERT_TRUE(expected_.report.ok()) << report_json(expected_.report);
        ASSERT_EQ(expected_.report.sessions.size(), 2u);
    }

    void expect_same_sessions(const json& report) {
        ASSERT_EQ(report["sessions"].size(), expected_.report.sessions.size()) << report.dump();
        for (std::size_t i = 0; i < expected_.report.sessions.size(); ++i) {
            const auto& want = expected_.report.sessions[i];
            const json& got = report["sessions"][i];
            EXPECT_EQ(got["events"], want.events);
            EXPECT_EQ(got["next_seq"], want.next_seq);
            EXPECT_EQ(got["lost_explained"], want.lost_explained);
            EXPECT_EQ(got["lost_unexplained"], 0);
            EXPECT_EQ(got["details_kept"], want.details_kept);
            EXPECT_EQ(got["details_not_kept"], want.details_not_kept);
            EXPECT_EQ(got["marks"], want.marks);
            ASSERT_EQ(got["gaps"].size(), want.gaps.size());
            for (std::size_t g = 0; g < want.gaps.size(); ++g) {
                EXPECT_EQ(got["gaps"][g]["first"], want.gaps[g].first);
                EXPECT_EQ(got["gaps"][g]["count"], want.gaps[g].count);
                EXPECT_EQ(got["gaps"][g]["cause"], want.gaps[g].cause);
            }
        }
        EXPECT_EQ(report["ok"], true);
    }

    TempDir dir_;
    std::string name_ = shm_name("readers");
    Trace expected_;
};

TEST_F(tracer_Readers, CommandLineReaderReportsWhatTheLibraryReaderFound) {
    int status = 0;
    const std::string tool = RINGSIDE_TRACE_READ;
    const std::string verify = run(tool + " --format none --verify " + dir_.sink(), status);
    ASSERT_EQ(status, 0) << verify;
    expect_same_sessions(json::parse(verify));
    const std::string jsonl = run(tool + " " + dir_.sink(), status);
    EXPECT_EQ(status, 0);
    EXPECT_EQ(lines(jsonl), expected_.rows.size());
    EXPECT_EQ(json::parse(jsonl.substr(0, jsonl.find('\n')))["seq"], 0);
    const std::string csv = run(tool + " --format csv --payload " + dir_.sink(), status);
    EXPECT_EQ(status, 0);
    EXPECT_EQ(lines(csv), expected_.rows.size() + 1);  // + the column names
    EXPECT_EQ(csv.substr(0, csv.find('\n')), "type,lane,session,seq,ts,ts_ns,event_id,length,detail,count,cause,payload");
    // The time index: an interval covering everything selects every index
    // block; one before the first event selects none.
    const std::string rows_all = run(tool + " --from-ns 0 --to-ns 18446744073709551615 " + dir_.sink(), status);
    EXPECT_EQ(lines(rows_all), expected_.rows.size());
    const std::string none = run(tool + " --to-ns 1 " + dir_.sink(), status);
    EXPECT_EQ(lines(none), 0u);
    // A file that is not a trace fails the verification.
    const std::string bogus = dir_.path() + "/lane-0009.rstrace";
    std::FILE* file = std::fopen(bogus.c_str(), "w");
    std::fputs("not a trace", file);
    std::fclose(file);
    run(tool + " --format none --verify " + dir_.path() + " " + bogus, status);
    EXPECT_NE(status, 0);
}

TEST_F(tracer_Readers, PythonReaderReportsWhatTheLibraryReaderFound) {
    int status = 0;
    run("python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' 2>/dev/null", status);
    if (status != 0) GTEST_SKIP() << "python3 >= 3.8 is not available";
    const std::string python = "PYTHONPATH=" RINGSIDE_PYTHON_DIR " python3 -m ringside_trace ";
    const std::string verify = run(python + "--format none --verify " + dir_.sink(), status);
    ASSERT_EQ(status, 0) << verify;
    expect_same_sessions(json::parse(last_line(verify)));
    const std::string jsonl = run(python + "--payload " + dir_.sink(), status);
    EXPECT_EQ(status, 0);
    ASSERT_EQ(lines(jsonl), expected_.rows.size());
    // Row by row, the same records as the library reader.
    std::size_t at = 0;
    for (const auto& row : expected_.rows) {
        const std::size_t end = jsonl.find('\n', at);
        const json got = json::parse(jsonl.substr(at, end - at));
        at = end + 1;
        EXPECT_EQ(got["seq"], row.seq);
        EXPECT_EQ(got["ts_ns"], row.ts_ns);
        if (row.kind == ringside::trace::reader::RowKind::kEvent) {
            EXPECT_EQ(got["detail"], ringside::trace::reader::detail_name(row.detail));
        }
    }
    const std::string csv = run(python + "--format csv " + dir_.sink(), status);
    EXPECT_EQ(lines(csv), expected_.rows.size() + 1);
    const std::string wrong = dir_.path() + "/lane-0000.rstrace";
    std::FILE* file = std::fopen(wrong.c_str(), "w");
    std::fputs("RSTRACEF but too short", file);
    std::fclose(file);
    run(python + "--format none --verify " + wrong + " 2>/dev/null", status);
    EXPECT_NE(status, 0);
}

}  // namespace
