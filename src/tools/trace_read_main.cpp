// ringside-trace-read: decodes a tracer sink directory (or lane files) to
// JSON lines or CSV, and with --verify proves per-lane sequence continuity:
// every gap is listed with its cause, duplicates and reordering are counted.
// Exit status: 0 ok, 1 verification failed (or a corrupt file), 2 usage/IO.
#include <CLI/CLI.hpp>
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tracer/trace_reader.hpp"

namespace {

using namespace ringside::trace::reader;

const char* kind_name(RowKind kind) {
    switch (kind) {
        case RowKind::kEvent: return "event";
        case RowKind::kGap: return "gap";
        case RowKind::kMark: return "mark";
    }
    return "unknown";
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::uint8_t byte : bytes) {
        out.push_back(kDigits[byte >> 4]);
        out.push_back(kDigits[byte & 15]);
    }
    return out;
}

void print_jsonl(const Row& row, bool payloads) {
    std::printf("{\"type\":\"%s\",\"lane\":%u,\"session\":%u,\"seq\":%llu,\"ts\":%llu,\"ts_ns\":%llu", kind_name(row.kind),
                row.lane, row.session, static_cast<unsigned long long>(row.seq),
                static_cast<unsigned long long>(row.ts), static_cast<unsigned long long>(row.ts_ns));
    if (row.kind == RowKind::kEvent) {
        // A payload's length is known only when its detail window was kept.
        const bool known = row.detail == DetailStatus::kNone || row.detail == DetailStatus::kKept;
        std::printf(",\"event_id\":%u,\"length\":%s,\"detail\":\"%s\"", row.event_id,
                    known ? std::to_string(row.length).c_str() : "null", detail_name(row.detail));
        if (payloads && row.detail == DetailStatus::kKept) std::printf(",\"payload\":\"%s\"", hex(row.payload).c_str());
    } else if (row.kind == RowKind::kGap) {
        std::printf(",\"count\":%llu,\"cause\":\"%s\"", static_cast<unsigned long long>(row.count),
                    cause_name(row.cause));
    } else {
        std::printf(",\"detail_window\":%u", row.detail_window);
    }
    std::printf("}\n");
}

void print_csv(const Row& row, bool payloads) {
    const bool known = row.detail == DetailStatus::kNone || row.detail == DetailStatus::kKept;
    std::printf("%s,%u,%u,%llu,%llu,%llu,%u,%s,%s,%llu,%s", kind_name(row.kind), row.lane, row.session,
                static_cast<unsigned long long>(row.seq), static_cast<unsigned long long>(row.ts),
                static_cast<unsigned long long>(row.ts_ns), row.event_id,
                row.kind == RowKind::kEvent && known ? std::to_string(row.length).c_str() : "",
                row.kind == RowKind::kEvent ? detail_name(row.detail) : "",
                static_cast<unsigned long long>(row.count), row.kind == RowKind::kGap ? cause_name(row.cause) : "");
    if (payloads) std::printf(",%s", row.detail == DetailStatus::kKept ? hex(row.payload).c_str() : "");
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Decodes ringside tracer lane files to JSON lines or CSV and verifies sequence continuity."};
    std::vector<std::string> inputs;
    std::string format = "jsonl";
    bool verify = false;
    bool payloads = false;
    std::int64_t lane = -1;
    std::uint64_t from_ns = 0;
    std::uint64_t to_ns = 0;
    app.add_option("inputs", inputs, "sink directories or lane-NNNN.rstrace files")->required();
    app.add_option("--format", format, "jsonl, csv or none")->check(CLI::IsMember({"jsonl", "csv", "none"}));
    app.add_flag("--verify", verify, "print a JSON report of sequence continuity last; exit 1 if it fails");
    app.add_flag("--payload", payloads, "include kept payloads as hex");
    app.add_option("--lane", lane, "only this lane");
    auto* from = app.add_option("--from-ns", from_ns, "only index windows ending at or after this CLOCK_MONOTONIC ns");
    auto* to = app.add_option("--to-ns", to_ns, "only index windows starting at or before this CLOCK_MONOTONIC ns");
    CLI11_PARSE(app, argc, argv);

    std::vector<std::string> files;
    for (const std::string& input : inputs) {
        struct stat info {};
        if (::stat(input.c_str(), &info) != 0) {
            std::fprintf(stderr, "ringside-trace-read: %s: no such file or directory\n", input.c_str());
            return 2;
        }
        if (S_ISDIR(info.st_mode)) {
            for (const std::string& file : lane_files(input)) files.push_back(file);
        } else {
            files.push_back(input);
        }
    }
    if (lane >= 0) {
        char suffix[48];
        std::snprintf(suffix, sizeof suffix, "lane-%04lld.rstrace", static_cast<long long>(lane));
        std::erase_if(files, [&](const std::string& f) { return f.size() < 17 || f.substr(f.size() - 17) != suffix; });
    }
    Options options;
    options.payloads = payloads;
    if (from->count() > 0) options.from_ns = from_ns;
    if (to->count() > 0) options.to_ns = to_ns;
    if (format == "csv") {
        std::printf("type,lane,session,seq,ts,ts_ns,event_id,length,detail,count,cause%s\n", payloads ? ",payload" : "");
    }
    Report report;
    for (const std::string& file : files) {
        read_lane_file(file, options,
                       [&](const Row& row) {
                           if (format == "jsonl") print_jsonl(row, payloads);
                           if (format == "csv") print_csv(row, payloads);
                       },
                       report);
    }
    for (const std::string& error : report.errors) std::fprintf(stderr, "ringside-trace-read: %s\n", error.c_str());
    if (verify) {
        std::printf("%s\n", report_json(report).c_str());
        return report.ok() ? 0 : 1;
    }
    return report.errors.empty() ? 0 : 1;
}
