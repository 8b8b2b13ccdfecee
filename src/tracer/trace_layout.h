// The shared-memory layout of a ringside *tracer* region: its own region
// kind (magic "RSTRACE1"), separate from the ring regions of src/shm/layout.h
// but built from the same parts: every pool ring is a RingControl page and a
// data area holding records in the layout.h format (commit word per record,
// terminator, release/acquire), so the controller validates what it dumps
// with the ring code (decode_record, scan_committed).
//
// Roles. An *agent* (the traced process) owns one *lane* per producing
// thread and writes events; the *controller* (another process, or a thread)
// dumps full rings to files and hands them back. Per lane there is a fixed
// pool of rings and two SPSC queues of ring indices:
//   submit_q  agent -> controller   rings to dump (or to take back unread)
//   free_q    controller -> agent   spare rings to activate
// Every ring is at any time in exactly one place: on free_q, held by the
// agent (active, or popped and not yet active), on submit_q, or held by the
// controller while it dumps. So a queue never holds more than
// rings_per_lane <= kQueueSlots entries and can never be full.
//
//   offset 0            4096               4096*(1+L)
//   +-------------------+------------------+--------------------------------------------+
//   | TraceHeader page  | LaneControl x L  | lane 0 ring 0 | lane 0 ring 1 | ... lane L-1 ring R-1
//   |  +0   identity    |  +0    lifecycle |  +0     RingControl (layout.h, 512 B)       |
//   |  +256 controller  |  +128  agent     |  +512   RingInfo (agent line, ctrl line)   |
//   |  +384 requests    |  +384  ctrl      |  +4096  data: capacity bytes, records      |
//   |  +512 notify      |  +640  submit_q  |                                            |
//   |                   |        head/tail |  ring (l, r) = rings_offset +              |
//   |                   |  +896  free_q    |     (l * R + r) * (4096 + capacity)        |
//   |                   |        head/tail |                                            |
//   |                   |  +1152 notify    |                                            |
//   |                   |  +1280 slots x2  |                                            |
//   +-------------------+------------------+--------------------------------------------+
//
// Records in an *index* ring: IndexEvent (16 bytes) or IndexControl (32
// bytes), see below. Records in a *detail* ring: u64 seq + the event's bytes. A ring's active life
// is one *window*: it starts at RingInfo.start_position (the ring's
// read_position when it was activated) and ends when it is full; it is never
// consumed while active, so "full" is `write + needed > start + capacity`.
//
// Who writes what: every cache-line group below names its single writer.
// Fields written by the agent are untrusted by the controller, which
// range-checks every ring index and bounds-checks every record it reads.
//
// SYNC pairs (release -> acquire):
//   publish-header   creator stores magic         -> opener loads magic
//   queue-publish    pusher stores tail           -> popper loads tail
//   queue-release    popper stores head           -> pusher loads head
//   publish-record   agent stores a commit word   -> controller loads it
//   ring-reset       controller stores read_position, then queue-publish on
//                    free_q; the agent's queue-publish acquire covers both
//   lane-state       agent stores ACTIVE / CLOSED; controller stores FREE
//   window-open      agent stores RingInfo.window (after the window's other
//                    fields)          -> a flush snapshot loads it first
//   reuse-lock       agent (after an in-place reuse) or controller (after a
//                    snapshot) stores reuse_lock = 0 -> the other's CAS from 0
//
// All-zero memory is a valid state for everything but the header's magic:
// zero lanes are FREE, zero queues are empty, a zero ring is empty.
// Bump kTraceMajor for any change an old opener would misread.
// tests/tracer_layout_test.cpp pins every size and offset below.
#pragma once

#include <cstddef>
#include <cstdint>

#include "shm/layout.h"

namespace ringside::trace {

inline constexpr std::uint64_t kTraceMagic = 0x31454341'52545352ull;  // "RSTRACE1" little-endian
// 2.0: LaneControl.reuse_lock (an overwrite-oldest agent must hold it to
// reuse a window in place: a 1.x agent would not, so it must not open a 2.x
// region), RingInfo.marked holds the marked window's number, flushed_events.
// 1.1: RingInfo.flushed_* (flush snapshots).
inline constexpr std::uint16_t kTraceMajor = 2;
inline constexpr std::uint16_t kTraceMinor = 0;

inline constexpr std::uint32_t kTraceHeaderBytes = 4096;
inline constexpr std::uint32_t kLaneControlBytes = 4096;
inline constexpr std::uint32_t kRingControlBytes = 4096;
inline constexpr std::uint32_t kRingInfoOffset = 512;  // RingInfo inside a ring's control page
inline constexpr std::uint32_t kLine = layout::kFalseSharingRange;
inline constexpr std::uint32_t kRecordAlign = 8;

inline constexpr std::uint32_t kQueueSlots = 256;  // power of two, >= rings_per_lane
inline constexpr std::uint32_t kMaxLanes = 256;
inline constexpr std::uint32_t kMinRingsPerLane = 2;
inline constexpr std::uint32_t kMaxRingsPerLane = kQueueSlots;
inline constexpr std::uint32_t kNoRing = 0xFFFF'FFFFu;

enum class ClockKind : std::uint32_t { kTsc = 1, kMonotonic = 2 };
enum class RingKind : std::uint32_t { kNone = 0, kIndex = 1, kDetail = 2 };
enum class LaneState : std::uint32_t { kFree = 0, kActive = 1, kClosed = 2 };

// Why an event (or its payload) was lost. Index 0 is unused.
enum class DropCause : std::uint32_t {
    kNone = 0,
    kNoRing = 1,       // drop newest: no spare ring
    kOverwritten = 2,  // overwrite oldest: the unsubmitted full ring was reused
    kWaitTimeout = 3,  // bounded wait ran out
    kReentrant = 4,    // emit re-entered on its own lane (signal handler): dropped, no sequence number
};
inline constexpr std::uint32_t kDropCauses = 5;

// Violations the controller counts (never trusts the agent). Index 0 unused.
enum class Violation : std::uint32_t {
    kNone = 0,
    kBadEntry = 1,        // submit_q entry with an unknown action
    kRingOutOfRange = 2,  // ring index >= rings_per_lane
    kRingNotHeld = 3,     // duplicate submit, or a ring still on free_q
    kQueueCorrupt = 4,    // a queue index moved backwards or past capacity
    kBadRecord = 5,       // a record header failed validation while dumping
    kBadPosition = 6,     // a window start that is not record-aligned
    kBadRingInfo = 7,     // ring kind/window disagree with the submit entry
};
inline constexpr std::uint32_t kViolationKinds = 8;

// submit_q entry: ring index in the low bits, action in the top nibble.
inline constexpr std::uint32_t kEntryRingMask = 0x000F'FFFFu;
inline constexpr std::uint32_t kEntryActionShift = 28;
enum class SubmitAction : std::uint32_t { kDumpIndex = 1, kDumpDetail = 2, kReturn = 3 };
constexpr std::uint32_t submit_entry(std::uint32_t ring, SubmitAction action) {
    return ring | (static_cast<std::uint32_t>(action) << kEntryActionShift);
}

// Event ids above RS_TRACER_MAX_EVENT_ID are reserved for later record kinds.
inline constexpr std::uint32_t kFirstReservedEventId = 0xFFFF'FF00u;

// Index-ring records. An event is an IndexEvent: with its 8-byte record
// header it takes 24 bytes of the ring and of the sink (the sink's disk
// bandwidth is what limits the sustained rate). Its sequence number is
// implicit: a window starts at RingInfo.first_seq (the dump's block header
// carries it), each event record adds one, each gap record adds its count.
// Control records (IndexControl, 32-byte payload) are told apart by their
// length. A window opens with its gap records, then (if a detail window is
// active) a kDetailWindow record, so it decodes on its own.
struct IndexEvent {
    std::uint64_t timestamp;  // trace clock (TraceHeader.clock_kind)
    std::uint32_t event_id;
    std::uint32_t detail;     // offset of its detail record from the current detail window's start, or kNoDetail
};
inline constexpr std::uint32_t kNoDetail = 0xFFFF'FFFFu;

enum class ControlKind : std::uint32_t { kGap = 1, kMark = 2, kDetailWindow = 3 };
struct IndexControl {
    std::uint64_t timestamp;
    std::uint32_t kind;       // ControlKind
    std::uint32_t cause;      // gap: the DropCause
    std::uint64_t first;      // gap: first lost seq; mark and detail window: the next event's seq
    std::uint64_t value;      // gap: events lost; mark: the marked window (0: the next); detail window: its number
};
inline constexpr std::uint32_t kDetailSeqBytes = 8;  // a detail record: u64 seq, then the payload

// ---------------------------------------------------------------------------
// Page 0.
struct TraceHeader {
    // --- identity (+0): written once by the creator; magic last, release ("SYNC: publish-header")
    std::uint64_t magic;
    std::uint16_t layout_major;
    std::uint16_t layout_minor;
    std::uint32_t header_bytes;        // sizeof(TraceHeader)
    std::uint64_t total_bytes;
    std::uint64_t ring_capacity;       // data bytes per ring, power of two
    std::uint32_t lane_count;
    std::uint32_t rings_per_lane;
    std::uint32_t record_align;        // kRecordAlign
    std::uint32_t backing_kind;        // layout::BackingKind
    std::uint32_t clock_kind;          // ClockKind
    std::int32_t creator_pid;
    std::uint64_t creator_start_ticks;
    std::uint64_t epoch;               // random per creation
    std::uint64_t created_unix_ns;
    std::uint64_t tsc_hz;              // TSC ticks per second, calibrated at creation (0 for kMonotonic)
    std::uint64_t calib_tsc;           // an anchor pair taken at the end of calibration
    std::uint64_t calib_ns;            // CLOCK_MONOTONIC ns
    std::uint8_t identity_pad[256 - 104];
    // --- controller line (+256): written by the controller only
    std::uint64_t controller_claim;    // (pid << 32) | low 32 bits of its start ticks; CAS from 0
    std::uint64_t controller_start_ticks;
    std::int32_t controller_pid;
    std::uint32_t controller_running;  // 1 while a drain thread runs
    std::uint64_t wakeups;             // drain-thread parks ended by an agent's wake
    std::uint64_t timer_wakeups;       // parks ended by the liveness timer
    std::uint64_t flushes_served;
    std::uint8_t controller_pad[kLine - 48];
    // --- request line (+384): written by the controller rarely, read by agents on every emit
    std::uint64_t flush_request;       // bumped to ask every agent to submit its partial rings
    std::uint8_t request_pad[kLine - 8];
    // --- notify line (+512): the drain thread's park/wake words (src/wait/park.hpp)
    std::uint32_t submit_sequence;     // futex word: bumped by an agent that wakes the controller
    std::uint32_t controller_waiters;  // drain threads parked
    std::uint8_t notify_pad[kLine - 8];
};

// One page per lane.
struct LaneControl {
    // --- lifecycle (+0): claim by CAS (agent 0 -> mine, controller mine -> 0 at reset)
    std::uint64_t claim;               // (pid << 32) | low 32 bits of the agent's start ticks; 0 = free
    std::uint32_t state;               // LaneState; agent: FREE -> ACTIVE -> CLOSED; controller: -> FREE
    std::uint32_t session;             // bumped by each agent that claims the lane
    std::int32_t agent_pid;
    std::int32_t agent_tid;
    std::uint64_t agent_start_ticks;
    std::uint32_t policy;              // rs_tracer_policy of the agent
    std::uint32_t reserved0;
    std::uint64_t open_tsc;            // anchor pair taken by the agent at claim
    std::uint64_t open_ns;
    std::uint64_t open_unix_ns;
    std::uint64_t flush_ack;           // the last TraceHeader.flush_request the agent served
    // Who may touch the lane's active windows beyond appending: 0 nobody,
    // kReuseByAgent while an overwrite-oldest agent reuses a full window in
    // place, kReuseByController while a flush snapshot reads one. CAS from 0,
    // never waited for (docs/tracer.md, "Overwrite oldest and flush").
    std::uint32_t reuse_lock;
    std::uint32_t reserved1;
    std::uint8_t lifecycle_pad[kLine - 80];
    // --- agent metrics (+128): written by the agent only (relaxed), zeroed at claim
    std::uint64_t seq_next;            // events attempted: written + dropped
    std::uint64_t bytes_written;       // payload bytes of written events
    std::uint64_t index_rings_submitted;
    std::uint64_t detail_rings_kept;   // marked windows submitted for dumping
    std::uint64_t detail_rings_recycled;  // unmarked windows reused on the spot or returned unread
    std::uint64_t drops[kDropCauses];  // events lost, by DropCause
    std::uint64_t detail_lost[kDropCauses];  // payloads lost (the event itself was indexed), by DropCause
    std::uint64_t free_q_empty;        // times a ring was needed and free_q was empty
    std::uint64_t wakes_sent;          // controller wake-ups issued (one at most per submit)
    std::uint64_t marks;
    std::uint64_t flushes;
    std::uint32_t active_index_ring;   // kNoRing when none
    std::uint32_t active_detail_ring;
    std::uint64_t index_window;        // windows activated so far, per kind
    std::uint64_t detail_window;
    std::uint64_t submits;             // rings pushed on submit_q (dumps and returns): each wake follows one
    std::uint8_t agent_pad[2 * kLine - 184];
    // --- controller metrics (+384): written by the controller only (relaxed), cumulative
    std::uint64_t index_rings_dumped;
    std::uint64_t detail_rings_dumped;
    std::uint64_t rings_returned;      // taken back unread (return entries, empty rings)
    std::uint64_t records_dumped;
    std::uint64_t dump_bytes;
    std::uint64_t dump_latency_ns_total;  // ring full -> write() returned, summed
    std::uint64_t dump_latency_ns_max;
    std::uint64_t dump_latency_ns_last;
    std::uint64_t recoveries;          // dead agents whose rings were recovered
    std::uint64_t recovered_rings;
    std::uint64_t violations[kViolationKinds];
    std::uint64_t flush_snapshots;     // blocks dumped by a flush from a window the agent still held
    std::uint8_t controller_pad[2 * kLine - 152];
    // --- submit_q (+640): head written by the controller, tail by the agent
    std::uint64_t submit_head;         // SYNC: queue-release
    std::uint8_t submit_head_pad[kLine - 8];
    std::uint64_t submit_tail;         // SYNC: queue-publish
    std::uint8_t submit_tail_pad[kLine - 8];
    // --- free_q (+896): head written by the agent, tail by the controller
    std::uint64_t free_head;           // SYNC: queue-release
    std::uint8_t free_head_pad[kLine - 8];
    std::uint64_t free_tail;           // SYNC: queue-publish
    std::uint8_t free_tail_pad[kLine - 8];
    // --- free notify (+1152): bounded-wait agents park here, the controller wakes them
    std::uint32_t free_sequence;       // futex word
    std::uint32_t agent_waiters;
    std::uint8_t free_notify_pad[kLine - 8];
    // --- slots (+1280): written by each queue's pusher
    std::uint32_t submit_slots[kQueueSlots];
    std::uint32_t free_slots[kQueueSlots];
};

// In each ring's control page, after the ring's RingControl.
struct RingInfo {
    // --- agent line: written at activation and at submit (untrusted)
    std::uint32_t kind;                // RingKind
    std::uint32_t marked;              // detail: mark_word(window) once the window was marked, else 0
    std::uint64_t window;              // per lane and kind, from 1
    std::uint64_t start_position;      // ring position where the window starts
    std::uint64_t first_seq;           // first sequence number the window covers
    std::uint64_t open_tsc;            // anchor pair at activation
    std::uint64_t open_ns;
    std::uint64_t full_tsc;            // anchor pair at submit (0 until then)
    std::uint64_t full_ns;
    std::uint64_t records;             // records written in the window (at submit)
    std::uint8_t agent_pad[kLine - 72];
    // --- controller line
    std::uint32_t controller_holds;    // 1 from pop off submit_q until push onto free_q
    std::uint32_t reserved0;
    std::uint64_t dumps;
    // A flush dumped the committed prefix of the window still held by the
    // agent (docs/tracer.md, "Flush on demand"): when the ring is taken back
    // (submitted, or recovered, maybe by a later controller) only the rest
    // is dumped. Valid while flushed_window == window; zeroed at give-back.
    std::uint64_t flushed_window;      // 0: no prefix on disk
    std::uint64_t flushed_position;    // ring position after the last record dumped
    std::uint64_t flushed_seq;         // sequence number of the next event after it
    std::uint64_t flushed_records;     // records dumped from the window so far
    std::uint64_t flushed_events;      // of which events (index) or payloads (detail): an overwrite loses the rest
    std::uint8_t controller_pad[kLine - 56];
};

// LaneControl.reuse_lock values.
inline constexpr std::uint32_t kReuseFree = 0;
inline constexpr std::uint32_t kReuseByAgent = 1;
inline constexpr std::uint32_t kReuseByController = 2;

// RingInfo.marked of a marked window: its number's low 32 bits (never 0), so
// a value left by another window of the same ring cannot pass for this one's.
constexpr std::uint32_t mark_word(std::uint64_t window) {
    const auto low = static_cast<std::uint32_t>(window);
    return low != 0 ? low : 1u;
}

// The claim word of a lane or of the controller: who holds it, in a form a
// reused pid cannot impersonate (the start time tells two processes apart).
constexpr std::uint64_t claim_word(std::int32_t pid, std::uint64_t start_ticks) {
    return (std::uint64_t{static_cast<std::uint32_t>(pid)} << 32) | (start_ticks & 0xFFFF'FFFFull);
}
constexpr std::int32_t claim_pid(std::uint64_t claim) { return static_cast<std::int32_t>(claim >> 32); }
constexpr std::uint32_t claim_ticks(std::uint64_t claim) { return static_cast<std::uint32_t>(claim); }

constexpr std::uint64_t ring_stride(std::uint64_t capacity) { return kRingControlBytes + capacity; }
constexpr std::uint64_t lane_control_offset(std::uint32_t lane) {
    return kTraceHeaderBytes + std::uint64_t{lane} * kLaneControlBytes;
}
constexpr std::uint64_t rings_offset(std::uint32_t lanes) { return lane_control_offset(lanes); }
constexpr std::uint64_t ring_control_offset(std::uint32_t lanes, std::uint32_t rings_per_lane,
                                            std::uint64_t capacity, std::uint32_t lane, std::uint32_t ring) {
    return rings_offset(lanes) + (std::uint64_t{lane} * rings_per_lane + ring) * ring_stride(capacity);
}
constexpr std::uint64_t trace_region_bytes(std::uint32_t lanes, std::uint32_t rings_per_lane,
                                           std::uint64_t capacity) {
    return rings_offset(lanes) + std::uint64_t{lanes} * rings_per_lane * ring_stride(capacity);
}
// Ring bytes one record of `payload` bytes takes (header included, aligned).
constexpr std::uint64_t record_bytes(std::uint64_t payload) {
    return (layout::kRecordHeaderBytes + payload + kRecordAlign - 1) & ~std::uint64_t{kRecordAlign - 1};
}
// The largest event payload a detail ring of `capacity` accepts.
constexpr std::uint64_t max_event_payload(std::uint64_t capacity) {
    return layout::max_payload(capacity) - kDetailSeqBytes;
}

static_assert(sizeof(IndexEvent) == 16 && sizeof(IndexControl) == 32,
              "index records are told apart by their payload size");
static_assert(sizeof(TraceHeader) == 640, "TraceHeader: identity 256 + controller, request, notify lines");
static_assert(offsetof(TraceHeader, controller_claim) == 256 && offsetof(TraceHeader, flush_request) == 384 &&
                  offsetof(TraceHeader, submit_sequence) == 512,
              "each TraceHeader line group has one writer and starts on its own 128-byte line pair");
static_assert(sizeof(TraceHeader) <= kTraceHeaderBytes, "TraceHeader fits page 0");
static_assert(offsetof(LaneControl, seq_next) == 128 && offsetof(LaneControl, index_rings_dumped) == 384 &&
                  offsetof(LaneControl, submit_head) == 640 && offsetof(LaneControl, submit_tail) == 768 &&
                  offsetof(LaneControl, free_head) == 896 && offsetof(LaneControl, free_tail) == 1024 &&
                  offsetof(LaneControl, free_sequence) == 1152 && offsetof(LaneControl, submit_slots) == 1280,
              "agent-written and controller-written LaneControl fields live on different 128-byte line pairs");
static_assert(offsetof(LaneControl, submit_tail) - offsetof(LaneControl, submit_head) >= kLine &&
                  offsetof(LaneControl, free_tail) - offsetof(LaneControl, free_head) >= kLine,
              "a queue's head and tail must live on different cache-line pairs");
static_assert(sizeof(LaneControl) <= kLaneControlBytes, "LaneControl fits its page");
static_assert(offsetof(LaneControl, free_sequence) % 4 == 0 && offsetof(TraceHeader, submit_sequence) % 4 == 0,
              "futex words must be 4-byte aligned");
static_assert(sizeof(RingInfo) == 2 * kLine, "RingInfo is an agent line and a controller line");
static_assert(kRingInfoOffset >= sizeof(layout::RingControl) &&
                  kRingInfoOffset + sizeof(RingInfo) <= kRingControlBytes,
              "RingInfo follows the RingControl inside the ring's control page");
static_assert((kQueueSlots & (kQueueSlots - 1)) == 0, "queue slots are a power of two");

}  // namespace ringside::trace
