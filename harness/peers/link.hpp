// The shape every ping-pong / throughput peer in harness/ has, so one
// benchmark template can drive ringside and its comparison peers alike.
//
//   Link          owns the shared state of two one-way channels:
//                 channel 0 carries side A -> side B, channel 1 B -> A.
//     bool open(std::string& error)            main thread, before any side
//     bool attach(Side&, int side, std::string& error)   in the side's own thread
//     void detach(Side&)                       in the side's own thread
//     void close()                             main thread, after both sides
//   Side          { Sender out; Receiver in; }
//   Sender        Io try_send(std::uint64_t value)           never blocks
//   Receiver      Io try_peek(std::uint64_t& value)          never blocks
//                 Io release()   after a successful peek (a no-op for copying peers)
// Optional, for the batched throughput rows:
//   Sender        Io send_batch(const std::uint64_t* values, std::size_t n, std::size_t& sent)
//   Receiver      Io peek_batch(std::uint64_t* out, std::size_t max, std::size_t& got)
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringside::peers {

enum class Io {
    kDone,      // the operation happened
    kRetry,     // full or empty now: try again
    kFailed,    // the peer reported an error (corrupt ring, wrong length, ...)
    kTimedOut,  // a bounded wait ran out (set by the harness's spin loop)
    kAborted,   // the other side gave up (set by the harness's spin loop)
};

inline const char* io_name(Io io) {
    switch (io) {
        case Io::kDone: return "done";
        case Io::kRetry: return "retry";
        case Io::kFailed: return "failed";
        case Io::kTimedOut: return "timed out";
        case Io::kAborted: return "aborted by the other side";
    }
    return "unknown";
}

// Two cache lines: adjacent-line prefetchers pull pairs of lines, so
// independently written words sit this far apart.
inline constexpr std::size_t kFalseSharingRange = 128;

}  // namespace ringside::peers
