// The readers agree: a trace with kept and recycled payloads, marks, drops
// of every policy's kind and two sessions is decoded by the C++ reader (in
// process), by ringside-trace-read and by the Python reader
// (src/python/ringside_trace); their continuity reports match, the JSON
// lines and CSV have one row per record, and the time index finds blocks.
// And on flush snapshots (docs/tracer.md, "Flush on demand and on stop"):
// windows cut into kFlagFlushed and kFlagContinued blocks, with payloads
// referenced across the cut, decode identically in both readers.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

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

// ---- flush snapshots ----------------------------------------------------------

namespace sink = ringside::trace::sink;
using ringside::trace::ControlKind;
using ringside::trace::IndexControl;
using ringside::trace::IndexEvent;
using ringside::trace::kNoDetail;
using ringside::trace::reader::DetailStatus;
using ringside::trace::reader::lane_files;

struct FileBlock {
    sink::BlockHeader header{};
    std::vector<std::uint8_t> data;
};

// The blocks of a lane file, read with the format's own structs (the file
// is the controller's: well formed, so only the sizes are checked).
std::vector<FileBlock> file_blocks(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<std::uint8_t> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<FileBlock> blocks;
    sink::FileHeader file{};
    if (raw.size() < sizeof file) return blocks;
    std::memcpy(&file, raw.data(), sizeof file);
    for (std::size_t at = file.header_bytes; at + sizeof(sink::BlockHeader) <= raw.size();) {
        FileBlock block;
        std::memcpy(&block.header, raw.data() + at, sizeof block.header);
        const std::size_t data_at = at + block.header.header_bytes;
        if (data_at + block.header.data_bytes > raw.size()) break;
        block.data.assign(raw.begin() + static_cast<std::ptrdiff_t>(data_at),
                          raw.begin() + static_cast<std::ptrdiff_t>(data_at + block.header.data_bytes));
        blocks.push_back(std::move(block));
        at = data_at + block.header.data_bytes;
    }
    return blocks;
}

// The sequence numbers of the events of a kFlagContinued index block that
// carry a payload and precede any detail-window record of that block: their
// detail window is named only in an earlier block (the context across the cut).
std::vector<std::uint64_t> payloads_referenced_across_the_cut(const FileBlock& block) {
    std::vector<std::uint64_t> seqs;
    std::uint64_t seq = block.header.first_seq;
    for (std::size_t at = 0; at + ringside::layout::kRecordHeaderBytes <= block.data.size();) {
        std::uint32_t commit = 0;
        std::uint32_t length = 0;
        std::memcpy(&commit, block.data.data() + at, 4);
        std::memcpy(&length, block.data.data() + at + 4, 4);
        const std::uint32_t total = commit & ~ringside::layout::kPadFlag;
        if (total == 0) break;
        const std::uint8_t* payload = block.data.data() + at + ringside::layout::kRecordHeaderBytes;
        if ((commit & ringside::layout::kPadFlag) == 0 && length == sizeof(IndexControl)) {
            IndexControl control{};
            std::memcpy(&control, payload, sizeof control);
            if (control.kind == static_cast<std::uint32_t>(ControlKind::kDetailWindow)) break;
            if (control.kind == static_cast<std::uint32_t>(ControlKind::kGap) && control.first >= seq) {
                seq = control.first + control.value;
            }
        } else if ((commit & ringside::layout::kPadFlag) == 0 && length == sizeof(IndexEvent)) {
            IndexEvent event{};
            std::memcpy(&event, payload, sizeof event);
            if (event.detail != kNoDetail) seqs.push_back(seq);
            ++seq;
        }
        at += total;
    }
    return seqs;
}

// The lines of `text`, each parsed as JSON.
std::vector<json> json_lines(const std::string& text) {
    std::vector<json> out;
    for (std::size_t at = 0; at < text.size();) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        if (end > at) out.push_back(json::parse(text.substr(at, end - at)));
        at = end + 1;
    }
    return out;
}

// One lane, whose windows flushes cut while the agent holds them: each
// cycle emits events (most with payloads, in marked detail windows that
// switch inside the index window), reserves one more event, lets a flush
// snapshot the committed prefix (kFlagFlushed), commits it and marks; the
// agent's next emit serves the pending request and submits the window, whose
// rest (the reserved event and the mark) is a kFlagContinued block. One
// cycle flushes twice after the commit: a second snapshot of the same
// window, flagged both. The last session marks nothing: its payloads across
// the cut are not kept, which the readers must say alike.
class tracer_FlushSnapshotReaders : public ::testing::Test {
protected:
    void SetUp() override {
        ControllerPtr controller = make_controller(name_, controller_options(dir_.sink(), 1, 8, 4096));
        ASSERT_NE(controller, nullptr);
        std::uint8_t payload[56] = {};
        std::uint64_t seq = 0;
        auto emit = [&](rs_tracer_agent_t* agent, std::uint32_t count, bool marking) {
            for (std::uint32_t i = 0; i < count; ++i, ++seq) {
                std::memcpy(payload, &seq, sizeof seq);
                const std::uint32_t length = seq % 5 == 0 ? 0 : static_cast<std::uint32_t>(8 + seq % 48);
                ASSERT_EQ(rs_tracer_emit(agent, static_cast<std::uint32_t>(seq % 7), payload, length), RS_OK);
                if (marking && seq % 16 == 1) {
                    ASSERT_EQ(rs_tracer_mark(agent), RS_OK);
                }
            }
        };
        auto cut = [&](rs_tracer_controller_t* control, rs_tracer_agent_t* agent, bool twice) {
            void* data = nullptr;
            ASSERT_EQ(rs_tracer_reserve(agent, 9, 40, &data), RS_OK);
            std::memset(data, 0, 40);
            std::memcpy(data, &seq, sizeof seq);
            ++seq;
            // The agent holds a reservation: the snapshot stops before it.
            ASSERT_EQ(rs_tracer_controller_flush(control, 0), RS_OK);
            ASSERT_EQ(rs_tracer_commit(agent), RS_OK);
            if (twice) {
                ASSERT_EQ(rs_tracer_controller_flush(control, 0), RS_OK);
            }
        };
        for (int session = 0; session < 2; ++session) {
            const bool marking = session == 0;
            seq = 0;
            AgentPtr agent = make_agent(name_);
            ASSERT_NE(agent, nullptr);
            if (marking) {
                ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
            }
            for (int cycle = 0; cycle < 3; ++cycle) {
                emit(agent.get(), 40 + 30 * cycle, marking);  // more than one detail window per index window
                cut(controller.get(), agent.get(), cycle == 1);
                if (marking) {
                    ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
                }
                poll(controller.get());
            }
            emit(agent.get(), 10, marking);  // serves the last request
            if (marking) {
                ASSERT_EQ(rs_tracer_mark(agent.get()), RS_OK);
            }
            ASSERT_FALSE(HasFailure());  // the helpers' assertions return from the helper only
            agent.reset();  // close: submits the rest of the last window
            poll(controller.get());  // and frees the lane for the next session
        }
        ASSERT_EQ(rs_tracer_controller_stop(controller.get(), 0), RS_OK);
        expected_ = read_trace(dir_.sink(), true, true);
    }

    TempDir dir_;
    std::string name_ = shm_name("flushreaders");
    Trace expected_;
};

TEST_F(tracer_FlushSnapshotReaders, TheTraceHasFlushedAndContinuedBlocksWithPayloadsReferencedAcrossTheCut) {
    const std::vector<std::string> files = lane_files(dir_.sink());
    ASSERT_EQ(files.size(), 1u);
    std::size_t flushed = 0;
    std::size_t flushed_and_continued = 0;
    std::set<std::pair<std::uint32_t, std::uint64_t>> across;  // (session, seq)
    for (const FileBlock& block : file_blocks(files[0])) {
        if (block.header.kind != static_cast<std::uint32_t>(sink::BlockKind::kIndexWindow)) continue;
        const std::uint32_t flags = block.header.flags;
        if ((flags & sink::kFlagFlushed) != 0) ++flushed;
        if ((flags & sink::kFlagFlushed) != 0 && (flags & sink::kFlagContinued) != 0) ++flushed_and_continued;
        if ((flags & sink::kFlagContinued) == 0) continue;
        for (std::uint64_t seq : payloads_referenced_across_the_cut(block)) across.insert({block.header.session, seq});
    }
    EXPECT_EQ(flushed, 8u);  // per session, one snapshot per cycle and the second of cycle 1
    EXPECT_EQ(flushed_and_continued, 2u);
    EXPECT_EQ(across.size(), 6u);  // each cycle's reserved event, in both sessions
    // The library reader resolves them: kept where the window was marked.
    std::size_t kept = 0;
    std::size_t not_kept = 0;
    for (const auto& row : expected_.rows) {
        if (row.kind != ringside::trace::reader::RowKind::kEvent || across.count({row.session, row.seq}) == 0) continue;
        ASSERT_NE(row.detail_window, 0u);
        (row.detail == DetailStatus::kKept ? kept : not_kept) += 1;
        if (row.detail == DetailStatus::kKept) {
            std::uint64_t number = ~0ull;
            ASSERT_GE(row.payload.size(), sizeof number);
            std::memcpy(&number, row.payload.data(), sizeof number);
            EXPECT_EQ(number, row.seq);
        }
    }
    EXPECT_EQ(kept, 3u);
    EXPECT_EQ(not_kept, 3u);
}

TEST_F(tracer_FlushSnapshotReaders, VerificationOfACutTraceFindsNoUnexplainedGapAndNoDuplicate) {
    ASSERT_TRUE(expected_.report.ok()) << report_json(expected_.report);
    ASSERT_EQ(expected_.report.sessions.size(), 2u);
    for (const auto& session : expected_.report.sessions) {
        EXPECT_EQ(session.lost_unexplained, 0u);
        EXPECT_EQ(session.duplicates, 0u);
        EXPECT_EQ(session.out_of_order, 0u);
        EXPECT_EQ(session.details_bad, 0u);
        EXPECT_EQ(session.events, session.next_seq);
    }
    EXPECT_GT(expected_.report.sessions[0].details_kept, 0u);
    EXPECT_EQ(expected_.report.sessions[0].details_not_kept, 0u);  // every detail window was marked
    EXPECT_EQ(expected_.report.sessions[1].details_kept, 0u);      // none was
}

TEST_F(tracer_FlushSnapshotReaders, PythonReaderDecodesACutTraceExactlyAsTheCommandLineReader) {
    int status = 0;
    run("python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' 2>/dev/null", status);
    if (status != 0) GTEST_SKIP() << "python3 >= 3.8 is not available";
    const std::string tool = std::string(RINGSIDE_TRACE_READ) + " ";
    const std::string python = "PYTHONPATH=" RINGSIDE_PYTHON_DIR " python3 -m ringside_trace ";
    // The continuity reports: every session field, the errors, the verdict.
    const std::string cpp_verify = run(tool + "--format none --verify " + dir_.sink(), status);
    ASSERT_EQ(status, 0) << cpp_verify;
    const std::string py_verify = run(python + "--format none --verify " + dir_.sink(), status);
    ASSERT_EQ(status, 0) << py_verify;
    const json cpp_report = json::parse(last_line(cpp_verify));
    const json py_report = json::parse(last_line(py_verify));
    EXPECT_EQ(py_report["sessions"], cpp_report["sessions"]);
    EXPECT_EQ(py_report["errors"], cpp_report["errors"]);
    EXPECT_EQ(py_report["ok"], true);
    EXPECT_EQ(cpp_report["ok"], true);
    for (const json& session : py_report["sessions"]) {
        EXPECT_EQ(session["lost_unexplained"], 0) << session.dump();
        EXPECT_EQ(session["duplicates"], 0) << session.dump();
        EXPECT_EQ(session["details_bad"], 0) << session.dump();
    }
    // JSON lines with payloads: the same rows, field by field. The Python
    // reader also names an event's detail reference (window, offset), which
    // ringside-trace-read does not print: those must be the library reader's.
    const std::string cpp_jsonl = run(tool + "--payload " + dir_.sink(), status);
    ASSERT_EQ(status, 0);
    const std::string py_jsonl = run(python + "--payload " + dir_.sink(), status);
    ASSERT_EQ(status, 0);
    const std::vector<json> cpp_rows = json_lines(cpp_jsonl);
    std::vector<json> py_rows = json_lines(py_jsonl);
    ASSERT_EQ(cpp_rows.size(), expected_.rows.size());
    ASSERT_EQ(py_rows.size(), cpp_rows.size());
    for (std::size_t i = 0; i < cpp_rows.size(); ++i) {
        const auto& row = expected_.rows[i];
        json& got = py_rows[i];
        if (row.kind == ringside::trace::reader::RowKind::kEvent && row.detail != DetailStatus::kNone) {
            ASSERT_EQ(got["detail_window"], row.detail_window) << "row " << i << ": " << got.dump();
            ASSERT_EQ(got["detail_offset"], row.detail_offset) << "row " << i << ": " << got.dump();
            got.erase("detail_window");
            got.erase("detail_offset");
        }
        ASSERT_EQ(got, cpp_rows[i]) << "row " << i;
    }
    // CSV with payloads: the same text.
    const std::string cpp_csv = run(tool + "--format csv --payload " + dir_.sink(), status);
    ASSERT_EQ(status, 0);
    const std::string py_csv = run(python + "--format csv --payload " + dir_.sink(), status);
    ASSERT_EQ(status, 0);
    EXPECT_EQ(lines(cpp_csv), expected_.rows.size() + 1);
    EXPECT_EQ(py_csv, cpp_csv);
}

}  // namespace
