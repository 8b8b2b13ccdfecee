// Helpers shared by the tracer suites (tests/tracer_*_test.cpp): a private
// sink directory, unique region names, handles that clean up, the reader,
// and a model of how many records fit a ring window.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ringside/ringside.h"
#include "ringside/tracer.h"
#include "support/test_support.hpp"
#include "tracer/trace_layout.h"
#include "tracer/trace_reader.hpp"

namespace trtest {

// A fresh directory under the temp folder, removed with everything in it.
class TempDir {
public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/rstrace.XXXXXX";
        std::vector<char> buffer(pattern.begin(), pattern.end());
        buffer.push_back('\0');
        if (::mkdtemp(buffer.data()) != nullptr) path_ = buffer.data();
        sink_ = path_ + "/sink";
    }
    ~TempDir() {
        std::error_code ignored;
        if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::string& path() const { return path_; }
    // A reference, so options.sink_dir = sink().c_str() stays valid.
    [[nodiscard]] const std::string& sink() const { return sink_; }

private:
    std::string path_;
    std::string sink_;
};

// pid plus a random tag per process: a region leaked by a dead test process
// (a crash, a killed death-test child) never collides with a later process
// that happens to get the same pid.
inline std::string shm_name(const char* tag) {
    static const std::string prefix = [] {
        std::random_device random;
        char hex[16];
        std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(random()));
        return "/rstrace." + std::to_string(::getpid()) + "-" + hex + ".";
    }();
    static int counter = 0;
    return prefix + std::to_string(++counter) + "." + tag;
}

struct ControllerDestroyer {
    void operator()(rs_tracer_controller_t* controller) const {
        if (controller == nullptr) return;
        rs_tracer_controller_stop(controller, 0);
        EXPECT_EQ(rs_tracer_controller_destroy(controller), RS_OK) << rs_last_error_message();
    }
};
struct AgentCloser {
    void operator()(rs_tracer_agent_t* agent) const {
        if (agent != nullptr) {
            EXPECT_EQ(rs_tracer_close(agent), RS_OK) << rs_last_error_message();
        }
    }
};
using ControllerPtr = std::unique_ptr<rs_tracer_controller_t, ControllerDestroyer>;
using AgentPtr = std::unique_ptr<rs_tracer_agent_t, AgentCloser>;

inline rs_tracer_options controller_options(const std::string& sink, std::uint32_t lanes, std::uint32_t rings,
                                            std::uint64_t capacity) {
    rs_tracer_options options;
    rs_tracer_options_init(&options);
    options.lane_count = lanes;
    options.rings_per_lane = rings;
    options.ring_capacity = capacity;
    options.sink_dir = sink.c_str();  // the caller keeps `sink` alive until create returns
    options.sync_on_flush = 0;        // tests need no durability, only the data
    return options;
}

inline ControllerPtr make_controller(const std::string& name, const rs_tracer_options& options) {
    rs_tracer_controller_t* controller = nullptr;
    const rs_result result = rs_tracer_controller_create(name.c_str(), &options, &controller);
    EXPECT_EQ(result, RS_OK) << rs_last_error_message();
    return ControllerPtr(controller);
}

inline AgentPtr make_agent(const std::string& name, rs_tracer_policy policy = RS_TRACER_DROP_NEWEST,
                           std::uint64_t wait_timeout_ns = 1'000'000) {
    rs_tracer_agent_options options;
    rs_tracer_agent_options_init(&options);
    options.policy = policy;
    options.wait_timeout_ns = wait_timeout_ns;
    rs_tracer_agent_t* agent = nullptr;
    const rs_result result = rs_tracer_open(name.c_str(), &options, &agent);
    EXPECT_EQ(result, RS_OK) << rs_last_error_message();
    return AgentPtr(agent);
}

inline std::uint32_t poll(rs_tracer_controller_t* controller) {
    std::uint32_t work = 0;
    EXPECT_EQ(rs_tracer_controller_poll(controller, &work), RS_OK) << rs_last_error_message();
    return work;
}

// Decodes every lane file of `dir`.
struct Trace {
    ringside::trace::reader::Report report;
    std::vector<ringside::trace::reader::Row> rows;
};
inline Trace read_trace(const std::string& dir, bool keep_rows = true, bool payloads = false) {
    Trace trace;
    ringside::trace::reader::Options options;
    options.payloads = payloads;
    for (const std::string& file : ringside::trace::reader::lane_files(dir)) {
        ringside::trace::reader::read_lane_file(
            file, options,
            [&](const ringside::trace::reader::Row& row) {
                if (keep_rows) trace.rows.push_back(row);
            },
            trace.report);
    }
    return trace;
}

// A model of RingAppender's rule, written from its contract: a window of
// `capacity` bytes starting at ring offset `start` holds records of
// `total` bytes while position + padding + total + 8 <= start + capacity.
// `first_total` (if non-zero) is one record placed before them (a window's
// context record), not counted.
inline std::uint64_t records_that_fit(std::uint64_t capacity, std::uint64_t start, std::uint64_t total,
                                      std::uint64_t* end = nullptr, std::uint64_t first_total = 0) {
    std::uint64_t position = start;
    std::uint64_t count = 0;
    if (first_total != 0) {
        const std::uint64_t offset = position % capacity;
        position += (offset + first_total > capacity ? capacity - offset : 0) + first_total;
    }
    for (;;) {
        const std::uint64_t offset = position % capacity;
        const std::uint64_t padding = offset + total > capacity ? capacity - offset : 0;
        if (position + padding + total + 8 > start + capacity) break;
        position += padding + total;
        ++count;
    }
    if (end != nullptr) *end = position;
    return count;
}

// Index and detail record sizes in the ring (header included): an event, a
// control record (gap, mark, detail window), a detail record.
inline constexpr std::uint64_t kIndexTotal = 24;
inline constexpr std::uint64_t kControlTotal = 40;
inline std::uint64_t detail_total(std::uint64_t payload) { return (8 + 8 + payload + 7) & ~std::uint64_t{7}; }

// The JSON text a stats call returned, copied; its buffer freed.
inline std::string stats_text(rs_result result, char* text) {
    EXPECT_EQ(result, RS_OK) << rs_last_error_message();
    std::string copy = text != nullptr ? text : "";
    rs_string_free(text);
    return copy;
}

inline std::string lane_stats(rs_tracer_agent_t* agent) {
    char* text = nullptr;
    const rs_result result = rs_tracer_agent_stats_json(agent, &text);
    return stats_text(result, text);
}

inline std::string controller_stats_text(rs_tracer_controller_t* controller) {
    char* text = nullptr;
    const rs_result result = rs_tracer_controller_stats_json(controller, &text);
    return stats_text(result, text);
}

}  // namespace trtest
