// The tracer's files: what the controller writes for each lane and what the
// readers (ringside-trace-read, src/python/ringside_trace) decode. Versioned
// like the shared layout: a reader refuses another major version, naming
// both. Little-endian, fixed-width fields, no pointers.
//
// Per lane, in the controller's sink directory:
//
//   lane-NNNN.rstrace   FileHeader (128 B), then blocks, appended:
//     +----------------------+-------------------------------------------+
//     | BlockHeader (128 B)  | data_bytes of data                        |
//     +----------------------+-------------------------------------------+
//     kIndexWindow / kDetailWindow: one dumped ring window, the raw records
//       exactly as they lay in the ring from the window start (layout.h
//       record format: u32 commit, u32 length, payload, aligned to 8;
//       padding records carry kPadFlag and skip to the ring's end). A
//       record's byte offset in `data` is its offset from the window start,
//       which is what an index record's detail_offset names. Except in a
//       block flagged kFlagContinued: it starts where the block of the same
//       window flagged kFlagFlushed before it ended (docs/tracer.md, "Flush
//       on demand and on stop"), at BlockHeader.window_offset. So one window
//       may lie in several blocks, each covering [window_offset,
//       window_offset + data_bytes) of it; a detail reference resolves to
//       the block of its window whose range holds the offset.
//     kSessionStart: SessionStart (an agent claimed the lane).
//     kSessionEnd:   SessionEnd (the agent closed or died; its final counters).
//
//   lane-NNNN.rstidx    IndexFileHeader (64 B), then one TimeIndexEntry
//     (64 B) per window block: where it is and the CLOCK_MONOTONIC span of
//     its events. Index windows are dumped in order, so their entries are
//     sorted by time: a reader finds the blocks of an interval by binary
//     search and seeks there.
//
// Integrity: every BlockHeader carries an FNV-1a checksum of itself; the
// records inside are validated by the reader exactly as the controller did
// (sizes, alignment, bounds). A block cut short by a crash of the
// controller is detected (data_bytes past the end of the file) and ignored.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringside::trace::sink {

inline constexpr std::uint64_t kFileMagic = 0x46454341'52545352ull;       // "RSTRACEF"
inline constexpr std::uint64_t kIndexFileMagic = 0x58454341'52545352ull;  // "RSTRACEX"
inline constexpr std::uint32_t kBlockMagic = 0x314B'4C42u;                // "BLK1"
inline constexpr std::uint16_t kFormatMajor = 1;
// 1.2: BlockHeader.window_offset; detail windows can be cut too.
// 1.1: kFlagFlushed, kFlagContinued.
inline constexpr std::uint16_t kFormatMinor = 2;

enum class BlockKind : std::uint32_t { kIndexWindow = 1, kDetailWindow = 2, kSessionStart = 3, kSessionEnd = 4 };

enum BlockFlags : std::uint32_t {
    kFlagMarked = 1,     // a detail window the agent marked
    kFlagRecovered = 2,  // dumped by the controller after the agent died (never submitted)
    kFlagTruncated = 4,  // a record failed validation: the block ends before it
    kFlagPartial = 8,    // submitted before it was full (flush or close)
    kFlagFlushed = 16,   // the committed prefix of a window the agent still held (flush snapshot; index,
                         // and from 1.2 marked detail windows)
    kFlagContinued = 32, // the rest of a window whose prefix an earlier kFlagFlushed block carried; an
                         // index block's context records (detail window) are in that block
};

enum class EndReason : std::uint32_t { kClosed = 1, kDied = 2 };

struct FileHeader {
    std::uint64_t magic;
    std::uint16_t format_major;
    std::uint16_t format_minor;
    std::uint32_t header_bytes;
    std::uint32_t lane;
    std::uint32_t clock_kind;       // trace::ClockKind: 1 TSC ticks, 2 CLOCK_MONOTONIC ns
    std::uint64_t region_epoch;     // tells traces of different regions apart
    std::uint64_t tsc_hz;           // TSC calibration of the region (0 for CLOCK_MONOTONIC)
    std::uint64_t calib_tsc;
    std::uint64_t calib_ns;
    std::uint64_t ring_capacity;
    std::uint32_t record_align;
    std::uint32_t reserved0;
    std::uint64_t created_unix_ns;
    std::uint8_t reserved[48];
};

struct BlockHeader {
    std::uint32_t magic;            // kBlockMagic
    std::uint32_t header_bytes;
    std::uint32_t kind;             // BlockKind
    std::uint32_t flags;            // BlockFlags
    std::uint64_t data_bytes;
    std::uint32_t session;          // the agent session of the lane
    std::uint32_t ring;             // pool ring the window lived in
    std::uint64_t window;           // window number (per session and kind, from 1)
    std::uint64_t records;          // records in data (padding not counted)
    std::uint64_t first_seq;        // first/last event seq in the block (index: events; detail: payloads)
    std::uint64_t last_seq;
    std::uint64_t first_ts;         // first/last event timestamp, trace clock (index windows)
    std::uint64_t last_ts;
    std::uint64_t open_tsc;         // the window's anchor pair: ns = open_ns + (ts - open_tsc) * 1e9 / tsc_hz
    std::uint64_t open_ns;
    std::uint64_t full_ns;          // CLOCK_MONOTONIC when the agent submitted it (0: recovered)
    std::uint64_t dump_unix_ns;
    std::uint32_t violations;       // records the controller rejected in this window
    std::uint32_t checksum;         // FNV-1a 32 of the header with this field zero
    std::uint64_t window_offset;    // 1.2: offset from the window's start of data's first byte (0 before 1.2)
};

struct SessionStart {
    std::int32_t pid;
    std::int32_t tid;
    std::uint64_t start_ticks;
    std::uint32_t session;
    std::uint32_t policy;           // rs_tracer_policy
    std::uint64_t open_tsc;
    std::uint64_t open_ns;
    std::uint64_t open_unix_ns;
    std::uint8_t reserved[16];
};

struct SessionEnd {
    std::uint32_t session;
    std::uint32_t reason;           // EndReason
    std::uint64_t seq_next;         // events the agent attempted: the next seq it would have used
    std::uint64_t drops[5];         // events lost, by trace::DropCause
    std::uint64_t detail_lost[5];   // payloads lost from kept windows, by trace::DropCause
    std::uint64_t index_rings_submitted;
    std::uint64_t detail_rings_kept;
    std::uint64_t detail_rings_recycled;
    std::uint64_t bytes_written;
};

struct IndexFileHeader {
    std::uint64_t magic;            // kIndexFileMagic
    std::uint16_t format_major;
    std::uint16_t format_minor;
    std::uint32_t header_bytes;
    std::uint32_t lane;
    std::uint32_t entry_bytes;      // sizeof(TimeIndexEntry)
    std::uint64_t region_epoch;
    std::uint8_t reserved[32];
};

struct TimeIndexEntry {
    std::uint64_t block_offset;     // of the BlockHeader in lane-NNNN.rstrace
    std::uint32_t kind;             // BlockKind
    std::uint32_t flags;
    std::uint32_t session;
    std::uint32_t reserved;
    std::uint64_t window;
    std::uint64_t first_seq;
    std::uint64_t last_seq;
    std::uint64_t first_ns;         // CLOCK_MONOTONIC span of the block's events
    std::uint64_t last_ns;
};

static_assert(sizeof(FileHeader) == 128, "FileHeader is 128 bytes");
static_assert(sizeof(BlockHeader) == 128, "BlockHeader is 128 bytes");
static_assert(sizeof(SessionStart) == 64, "SessionStart is 64 bytes");
static_assert(sizeof(SessionEnd) == 128, "SessionEnd is 128 bytes");
static_assert(sizeof(IndexFileHeader) == 64, "IndexFileHeader is 64 bytes");
static_assert(sizeof(TimeIndexEntry) == 64, "TimeIndexEntry is 64 bytes");

inline std::uint32_t fnv1a(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint32_t hash = 2166136261u;
    for (std::size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 16777619u;
    return hash;
}

inline std::uint32_t block_checksum(BlockHeader header) {
    header.checksum = 0;
    return fnv1a(&header, sizeof header);
}

}  // namespace ringside::trace::sink
