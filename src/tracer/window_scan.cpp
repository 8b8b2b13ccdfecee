// scan_window: see window_scan.hpp.
#include "tracer/window_scan.hpp"

#include <atomic>
#include <cstring>

namespace ringside::trace {

ScannedWindow scan_window(const RingView& view, RingKind kind, std::uint64_t origin, std::uint64_t start,
                          std::uint64_t first_seq) {
    ScannedWindow window;
    window.origin = origin;
    window.start = start;
    std::uint64_t position = start;
    std::uint64_t seq = first_seq;
    for (;;) {
        if (position - origin + layout::kRecordHeaderBytes > view.capacity) {
            window.truncated = true;  // no terminator within a lap: the agent always leaves one
            break;
        }
        // SYNC: publish-record. acquire: the payload written before the
        // agent's release store is visible.
        const std::uint32_t commit = commit_word(view, position).load(std::memory_order_acquire);
        if (commit == 0) break;
        const DecodedRecord record = decode_record(view, position, commit);
        if (record.status != RingStatus::kOk ||
            position + record.total - origin + layout::kRecordHeaderBytes > view.capacity) {
            ++window.violations;
            window.truncated = true;
            break;
        }
        if (!record.padding) {
            ++window.records;
            const std::byte* payload = view.data + view.offset_of(position) + layout::kRecordHeaderBytes;
            std::uint64_t ts = 0;
            bool event = false;
            if (kind == RingKind::kNone) {
                // A window taken back unread: only its structure matters.
            } else if (kind == RingKind::kIndex) {
                if (record.length == sizeof(IndexEvent)) {
                    IndexEvent index{};
                    std::memcpy(&index, payload, sizeof index);
                    ts = index.timestamp;
                    event = true;
                } else if (record.length == sizeof(IndexControl)) {
                    IndexControl control{};
                    std::memcpy(&control, payload, sizeof control);
                    // The readers' rule: a flush snapshot's next_seq must be the
                    // number a reader gives the next record.
                    if (control.kind == static_cast<std::uint32_t>(ControlKind::kGap) && control.first >= seq) {
                        seq = control.first + control.value;
                    }
                } else {
                    ++window.violations;
                }
            } else if (record.length < kDetailSeqBytes) {
                ++window.violations;
            } else {
                std::memcpy(&seq, payload, sizeof seq);
                event = true;
            }
            if (event) {
                if (!window.has_seq) {
                    if (kind == RingKind::kDetail) window.first_seq = seq;
                    window.first_ts = ts;
                    window.has_seq = true;
                }
                ++window.events;
                window.last_seq = seq;
                window.last_ts = ts;
                if (kind == RingKind::kIndex) ++seq;
            }
        }
        position += record.total;
    }
    if (kind == RingKind::kIndex) window.first_seq = first_seq;
    window.next_seq = seq;
    window.end = position;
    return window;
}

}  // namespace ringside::trace
