#include "tracer/trace_reader.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "shm/layout.h"
#include "tracer/trace_clock.hpp"

namespace ringside::trace::reader {
namespace {

using namespace sink;

class File {
public:
    explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        struct stat info {};
        if (fd_ >= 0 && ::fstat(fd_, &info) == 0) size_ = static_cast<std::uint64_t>(info.st_size);
    }
    ~File() {
        if (fd_ >= 0) ::close(fd_);
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    [[nodiscard]] bool ok() const { return fd_ >= 0; }
    [[nodiscard]] std::uint64_t size() const { return size_; }
    bool read(void* buffer, std::uint64_t bytes, std::uint64_t offset) const {
        auto* out = static_cast<char*>(buffer);
        while (bytes > 0) {
            const ssize_t got = ::pread(fd_, out, bytes, static_cast<off_t>(offset));
            if (got <= 0) return false;
            out += got;
            bytes -= static_cast<std::uint64_t>(got);
            offset += static_cast<std::uint64_t>(got);
        }
        return true;
    }

private:
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

struct Block {
    std::uint64_t offset = 0;
    BlockHeader header{};
};

// (session, detail window) -> its blocks, in file order.
using DetailBlocks = std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::size_t>>;

// One record of a window block's data, validated like the controller did.
struct Record {
    std::uint64_t offset = 0;
    const std::uint8_t* payload = nullptr;
    std::uint32_t length = 0;
};

// Calls `visit` for each record; false (with `error`) at the first bad one.
template <typename Visit>
bool for_each_record(const std::vector<std::uint8_t>& data, std::uint64_t capacity, std::string& error,
                     Visit&& visit) {
    std::uint64_t position = 0;
    while (position + layout::kRecordHeaderBytes <= data.size()) {
        std::uint32_t commit = 0;
        std::uint32_t length = 0;
        std::memcpy(&commit, data.data() + position, 4);
        std::memcpy(&length, data.data() + position + 4, 4);
        const std::uint64_t total = commit & ~layout::kPadFlag;
        if (total < layout::kRecordHeaderBytes || (total & (kRecordAlign - 1)) != 0 ||
            position + total > data.size() || total > capacity) {
            error = "record at offset " + std::to_string(position) + " has an impossible size";
            return false;
        }
        if ((commit & layout::kPadFlag) == 0) {
            if (record_bytes(length) != total) {
                error = "record at offset " + std::to_string(position) + " has a length inconsistent with its size";
                return false;
            }
            visit(Record{position, data.data() + position + layout::kRecordHeaderBytes, length});
        }
        position += total;
    }
    if (position != data.size()) {
        error = "trailing bytes after the last record";
        return false;
    }
    return true;
}

struct Verifier {
    // Sequence numbers remembered for duplicate detection, from the first
    // one seen: at most this many (128 MiB of bits), whatever the file says.
    static constexpr std::uint64_t kTracked = std::uint64_t{1} << 30;

    SessionReport report;
    std::uint64_t expected = 0;
    std::uint64_t base = 0;  // seq of seen[0]: 0, or the first seq when that is beyond kTracked
    bool based = false;
    std::vector<bool> seen;
    bool verifying = true;

    void event(std::uint64_t seq) {
        ++report.events;
        if (!verifying) return;
        if (seq == expected) {
            remember(seq);
            ++expected;
        } else if (seq > expected) {
            if (seq - expected > (1ull << 40)) {  // an absurd jump: do not allocate for it
                ++report.out_of_order;
                return;
            }
            report.gaps.push_back(Gap{expected, seq - expected, "unexplained"});
            report.lost_unexplained += seq - expected;
            remember(seq);
            expected = seq + 1;
        } else if (was_seen(seq)) {
            ++report.duplicates;
        } else {
            ++report.out_of_order;
            remember(seq);
        }
    }
    void gap(std::uint64_t first, std::uint64_t count, std::uint32_t cause) {
        if (!verifying) return;
        if (first > expected) {
            report.gaps.push_back(Gap{expected, first - expected, "unexplained"});
            report.lost_unexplained += first - expected;
            expected = first;
        }
        if (first + count <= expected) return;  // already accounted for
        const std::uint64_t start = std::max(first, expected);
        report.gaps.push_back(Gap{start, first + count - start, cause_name(cause)});
        report.lost_explained += first + count - start;
        expected = first + count;
    }
    void end(const SessionEnd& end) {
        report.ended = true;
        report.end_reason = end.reason;
        report.end_seq_next = end.seq_next;
        if (!verifying) return;
        if (end.seq_next > expected) {
            std::uint64_t dropped = 0;
            for (std::uint32_t cause = 1; cause < 4; ++cause) dropped += end.drops[cause];
            const std::uint64_t budget = dropped > report.lost_explained ? dropped - report.lost_explained : 0;
            const std::uint64_t tail = end.seq_next - expected;
            const bool explained = budget >= tail;
            report.gaps.push_back(Gap{expected, tail, explained ? "dropped_at_end" : "unexplained"});
            (explained ? report.lost_explained : report.lost_unexplained) += tail;
            expected = end.seq_next;
        }
    }
    // The vector grows with the span of sequence numbers actually seen, never
    // with a number a (corrupt) file makes up: a lane file of two records
    // claiming seq 2^39 used to ask for 64 GiB here.
    void remember(std::uint64_t seq) {
        if (!based) {
            base = seq < kTracked ? 0 : seq;  // sessions start near 0: index by seq itself then
            based = true;
        }
        if (seq < base || seq - base >= kTracked) return;  // outside the tracked span: counted, not remembered
        const std::uint64_t index = seq - base;
        if (index >= seen.size()) seen.resize(std::min(kTracked, std::max<std::uint64_t>(index + 1, seen.size() * 2)), false);
        seen[index] = true;
    }
    [[nodiscard]] bool was_seen(std::uint64_t seq) const {
        return based && seq >= base && seq - base < seen.size() && seen[seq - base];
    }
    SessionReport finish() {
        report.next_seq = expected;
        return std::move(report);
    }
};

// The offsets of index blocks whose span overlaps [from, to], from the time
// index (binary search on the sorted index-window entries).
std::vector<std::uint64_t> blocks_in_interval(const std::string& index_path, std::uint64_t from, std::uint64_t to,
                                              std::string& error) {
    std::vector<std::uint64_t> offsets;
    File file(index_path);
    IndexFileHeader header{};
    if (!file.ok() || !file.read(&header, sizeof header, 0) || header.magic != kIndexFileMagic ||
        header.entry_bytes != sizeof(TimeIndexEntry)) {
        error = index_path + ": not a readable time index";
        return offsets;
    }
    std::vector<TimeIndexEntry> entries;
    for (std::uint64_t at = header.header_bytes; at + sizeof(TimeIndexEntry) <= file.size();
         at += sizeof(TimeIndexEntry)) {
        TimeIndexEntry entry{};
        if (!file.read(&entry, sizeof entry, at)) break;
        if (entry.kind == static_cast<std::uint32_t>(BlockKind::kIndexWindow)) entries.push_back(entry);
    }
    auto first = std::lower_bound(entries.begin(), entries.end(), from,
                                  [](const TimeIndexEntry& entry, std::uint64_t ns) { return entry.last_ns < ns; });
    for (; first != entries.end() && first->first_ns <= to; ++first) offsets.push_back(first->block_offset);
    return offsets;
}

// The payload of an event with a detail: kept if its window was dumped and
// the record there is the event's (same seq); sets row.length.
// A window may lie in several blocks (a flush snapshot and the rest, format
// 1.2): the block whose [window_offset, window_offset + data_bytes) holds the
// offset, the last dumped when a window was dumped twice (a controller crash).
DetailStatus resolve_detail(Row& row, const DetailBlocks& details, const std::vector<Block>& blocks, const File& file,
                            std::vector<std::uint8_t>& data, std::size_t& loaded, bool payloads) {
    const auto found = details.find({row.session, row.detail_window});
    if (row.detail_window == 0 || found == details.end()) return DetailStatus::kNotKept;
    std::size_t chosen = SIZE_MAX;
    for (auto it = found->second.rbegin(); it != found->second.rend() && chosen == SIZE_MAX; ++it) {
        const BlockHeader& h = blocks[*it].header;
        if (row.detail_offset >= h.window_offset && row.detail_offset - h.window_offset < h.data_bytes) chosen = *it;
    }
    if (chosen == SIZE_MAX) {
        // Outside every part: not kept when only flush snapshots of the
        // window reached the file (its rest never did: reused in place, or
        // not dumped yet); bad once the window's end was dumped.
        for (const std::size_t part : found->second) {
            if ((blocks[part].header.flags & sink::kFlagFlushed) == 0) return DetailStatus::kBad;
        }
        return DetailStatus::kNotKept;
    }
    if (loaded != chosen) {
        const Block& detail = blocks[chosen];
        data.resize(detail.header.data_bytes);
        loaded = file.read(data.data(), data.size(), detail.offset + detail.header.header_bytes) ? chosen : SIZE_MAX;
    }
    const std::uint64_t at = row.detail_offset - blocks[chosen].header.window_offset;
    if (loaded != chosen || at + layout::kRecordHeaderBytes > data.size()) return DetailStatus::kBad;
    std::uint32_t commit = 0;
    std::uint32_t length = 0;
    std::uint64_t seq = 0;
    std::memcpy(&commit, data.data() + at, 4);
    std::memcpy(&length, data.data() + at + 4, 4);
    const std::uint64_t total = record_bytes(length);
    if ((commit & layout::kPadFlag) != 0 || commit != total || length < kDetailSeqBytes || at + total > data.size()) {
        return DetailStatus::kBad;
    }
    std::memcpy(&seq, data.data() + at + layout::kRecordHeaderBytes, sizeof seq);
    if (seq != row.seq) return DetailStatus::kBad;
    row.length = length - kDetailSeqBytes;
    if (payloads) {
        const std::uint8_t* bytes = data.data() + at + layout::kRecordHeaderBytes + kDetailSeqBytes;
        row.payload.assign(bytes, bytes + row.length);
    }
    return DetailStatus::kKept;
}

}  // namespace

const char* cause_name(std::uint32_t cause) {
    switch (static_cast<DropCause>(cause)) {
        case DropCause::kNoRing: return "no_ring";
        case DropCause::kOverwritten: return "overwritten";
        case DropCause::kWaitTimeout: return "wait_timeout";
        case DropCause::kReentrant: return "reentrant";
        case DropCause::kNone: break;
    }
    return "unknown";
}

const char* detail_name(DetailStatus status) {
    switch (status) {
        case DetailStatus::kNone: return "none";
        case DetailStatus::kKept: return "kept";
        case DetailStatus::kNotKept: return "not_kept";
        case DetailStatus::kBad: return "bad";
    }
    return "unknown";
}

bool Report::ok() const {
    if (!errors.empty()) return false;
    return std::all_of(sessions.begin(), sessions.end(), [](const SessionReport& s) { return s.ok(); });
}

std::vector<std::string> lane_files(const std::string& dir) {
    std::vector<std::string> files;
    DIR* handle = ::opendir(dir.c_str());
    if (handle == nullptr) return files;
    while (const dirent* entry = ::readdir(handle)) {
        const std::string name = entry->d_name;
        if (name.rfind("lane-", 0) == 0 && name.size() > 8 && name.substr(name.size() - 8) == ".rstrace") {
            files.push_back(dir + "/" + name);
        }
    }
    ::closedir(handle);
    std::sort(files.begin(), files.end());
    return files;
}

bool read_lane_file(const std::string& path, const Options& options, const std::function<void(const Row&)>& on_row,
                    Report& report) {
    File file(path);
    FileHeader header{};
    if (!file.ok() || !file.read(&header, sizeof header, 0) || header.magic != kFileMagic) {
        report.errors.push_back(path + ": not a ringside trace file");
        return false;
    }
    if (header.format_major != kFormatMajor) {
        report.errors.push_back(path + ": format " + std::to_string(header.format_major) + "." +
                                std::to_string(header.format_minor) + "; this reader reads " +
                                std::to_string(kFormatMajor) + ".x");
        return false;
    }
    const auto clock = static_cast<ClockKind>(header.clock_kind);
    // Pass 1: the blocks, validated, and where each detail window is.
    std::vector<Block> blocks;
    DetailBlocks details;
    for (std::uint64_t offset = header.header_bytes; offset < file.size();) {
        Block block{offset, {}};
        if (offset + sizeof(BlockHeader) > file.size() || !file.read(&block.header, sizeof block.header, offset)) {
            report.errors.push_back(path + ": torn block header at offset " + std::to_string(offset));
            break;
        }
        const BlockHeader& h = block.header;
        if (h.magic != kBlockMagic || h.checksum != block_checksum(h) || h.header_bytes < sizeof(BlockHeader)) {
            report.errors.push_back(path + ": bad block header at offset " + std::to_string(offset));
            break;
        }
        // Two checks, so that a huge header_bytes cannot wrap the subtraction.
        if (h.header_bytes > file.size() - offset || h.data_bytes > file.size() - offset - h.header_bytes) {
            report.errors.push_back(path + ": block at offset " + std::to_string(offset) + " runs past the end");
            break;
        }
        if (h.kind == static_cast<std::uint32_t>(BlockKind::kDetailWindow)) {
            details[{h.session, static_cast<std::uint32_t>(h.window)}].push_back(blocks.size());
        }
        blocks.push_back(block);
        offset += h.header_bytes + h.data_bytes;
    }
    report.blocks += blocks.size();
    std::vector<std::uint64_t> selected;
    const bool filtering = options.from_ns.has_value() || options.to_ns.has_value();
    if (filtering) {
        std::string error;
        std::string index_path = path.substr(0, path.size() - 8) + ".rstidx";
        selected = blocks_in_interval(index_path, options.from_ns.value_or(0), options.to_ns.value_or(UINT64_MAX),
                                      error);
        if (!error.empty()) report.errors.push_back(error);
    }
    // Pass 2: index windows in file order, joined with their details.
    std::optional<Verifier> verifier;
    auto close_session = [&] {
        if (verifier) report.sessions.push_back(verifier->finish());
        verifier.reset();
    };
    std::vector<std::uint8_t> data;
    std::vector<std::uint8_t> detail_data;
    std::size_t detail_loaded = SIZE_MAX;
    // The context a kFlagContinued block inherits from the block before it
    // (a flush snapshot of the same window): session, window, detail window.
    std::uint64_t context[3] = {~0ull, ~0ull, 0};
    for (const Block& block : blocks) {
        const BlockHeader& h = block.header;
        const std::uint64_t data_at = block.offset + h.header_bytes;
        if (h.kind == static_cast<std::uint32_t>(BlockKind::kSessionStart)) {
            // A controller that took over (after a crash or a stop) announces
            // the session again: the same number continues it.
            if (verifier && verifier->report.session == h.session) continue;
            close_session();
            verifier.emplace();
            verifier->report.lane = header.lane;
            verifier->report.session = h.session;
            verifier->verifying = !filtering;
            continue;
        }
        if (!verifier || verifier->report.session != h.session) {
            close_session();
            verifier.emplace();  // blocks without a session start (a damaged file): still read them
            verifier->report.lane = header.lane;
            verifier->report.session = h.session;
            verifier->verifying = !filtering;
        }
        if (h.kind == static_cast<std::uint32_t>(BlockKind::kSessionEnd)) {
            SessionEnd end{};
            if (h.data_bytes >= sizeof end && file.read(&end, sizeof end, data_at)) verifier->end(end);
            close_session();
            continue;
        }
        if (h.kind != static_cast<std::uint32_t>(BlockKind::kIndexWindow)) continue;
        if (filtering && std::find(selected.begin(), selected.end(), block.offset) == selected.end()) continue;
        if ((h.flags & kFlagRecovered) != 0) ++verifier->report.recovered_blocks;
        data.resize(h.data_bytes);
        if (!file.read(data.data(), data.size(), data_at)) {
            report.errors.push_back(path + ": cannot read block at offset " + std::to_string(block.offset));
            continue;
        }
        std::string error;
        std::uint64_t seq = h.first_seq;  // implicit: each event adds one, each gap its count
        // Every window opens with its context records; the rest of a window a
        // flush snapshot cut continues the context of the block before it.
        std::uint64_t detail_window =
            (h.flags & kFlagContinued) != 0 && context[0] == h.session && context[1] == h.window ? context[2] : 0;
        const bool complete = for_each_record(data, header.ring_capacity, error, [&](const Record& record) {
            Row row;
            row.lane = header.lane;
            row.session = h.session;
            if (record.length == sizeof(IndexControl)) {
                IndexControl control{};
                std::memcpy(&control, record.payload, sizeof control);
                row.ts = control.timestamp;
                row.ts_ns = to_monotonic_ns(clock, header.tsc_hz, h.open_tsc, h.open_ns, control.timestamp);
                row.seq = control.first;
                if (control.kind == static_cast<std::uint32_t>(ControlKind::kDetailWindow)) {
                    detail_window = control.value;
                    return;  // context, not a row
                }
                if (control.kind == static_cast<std::uint32_t>(ControlKind::kGap)) {
                    row.kind = RowKind::kGap;
                    row.cause = control.cause;
                    row.count = control.value;
                    verifier->gap(control.first, control.value, control.cause);
                    if (control.first >= seq) seq = control.first + control.value;
                } else if (control.kind == static_cast<std::uint32_t>(ControlKind::kMark)) {
                    row.kind = RowKind::kMark;
                    row.detail_window = static_cast<std::uint32_t>(control.value);
                    ++verifier->report.marks;
                } else {
                    report.errors.push_back(path + ": unknown control record " + std::to_string(control.kind));
                    return;
                }
                if (on_row) on_row(row);
                return;
            }
            if (record.length != sizeof(IndexEvent)) {
                report.errors.push_back(path + ": index record of " + std::to_string(record.length) + " bytes");
                return;
            }
            IndexEvent index{};
            std::memcpy(&index, record.payload, sizeof index);
            row.seq = seq++;
            row.ts = index.timestamp;
            row.ts_ns = to_monotonic_ns(clock, header.tsc_hz, h.open_tsc, h.open_ns, index.timestamp);
            row.event_id = index.event_id;
            verifier->event(row.seq);
            if (index.detail != kNoDetail) {
                row.detail_window = static_cast<std::uint32_t>(detail_window);
                row.detail_offset = index.detail;
                row.detail = resolve_detail(row, details, blocks, file, detail_data, detail_loaded, options.payloads);
                if (row.detail == DetailStatus::kKept) ++verifier->report.details_kept;
                if (row.detail == DetailStatus::kNotKept) ++verifier->report.details_not_kept;
                if (row.detail == DetailStatus::kBad) ++verifier->report.details_bad;
            }
            if (on_row) on_row(row);
        });
        if (!complete) report.errors.push_back(path + ": block at offset " + std::to_string(block.offset) + ": " + error);
        context[0] = h.session;
        context[1] = h.window;
        context[2] = detail_window;
    }
    close_session();
    return true;
}

std::string report_json(const Report& report) {
    nlohmann::json out;
    out["ok"] = report.ok();
    out["blocks"] = report.blocks;
    out["errors"] = report.errors;
    out["sessions"] = nlohmann::json::array();
    for (const SessionReport& s : report.sessions) {
        nlohmann::json gaps = nlohmann::json::array();
        for (const Gap& gap : s.gaps) gaps.push_back({{"first", gap.first}, {"count", gap.count}, {"cause", gap.cause}});
        out["sessions"].push_back({{"lane", s.lane},
                                   {"session", s.session},
                                   {"events", s.events},
                                   {"next_seq", s.next_seq},
                                   {"duplicates", s.duplicates},
                                   {"out_of_order", s.out_of_order},
                                   {"marks", s.marks},
                                   {"lost_explained", s.lost_explained},
                                   {"lost_unexplained", s.lost_unexplained},
                                   {"details_kept", s.details_kept},
                                   {"details_not_kept", s.details_not_kept},
                                   {"details_bad", s.details_bad},
                                   {"recovered_blocks", s.recovered_blocks},
                                   {"ended", s.ended},
                                   {"end_reason", s.end_reason == 1 ? "closed" : s.end_reason == 2 ? "died" : "open"},
                                   {"end_seq_next", s.end_seq_next},
                                   {"gaps", gaps},
                                   {"ok", s.ok()}});
    }
    return out.dump();
}

}  // namespace ringside::trace::reader
