// What every measured message carries, and how its consumer checks it.
//
//   byte 0..3   sequence number, low 32 bits, little-endian (1, 2, 3, ...;
//               0 is the stop marker and never data, so a run sends fewer
//               than 2^32 messages: Scenario validation enforces it)
//   byte 4..7   checksum31 of every other byte of the message, 31 bits
//               (bit 31 clear: an 8-byte message then fits the 63-bit
//               words of the cache-line floor)
//   byte 8..    filler: a pattern fixed per run
//
// The producer writes the filler and the sequence number, then computes the
// checksum over the bytes it wrote; the consumer recomputes it over every
// byte it received. The checksum is a Fletcher-style pair of sums over
// 64-bit words (eight SSE2 lanes for long messages), folded by a few
// multiply-xor steps: position-sensitive, ~2 ns for 8 bytes, 60-80 GB/s on
// large payloads (as fast as memcpy), and a changed byte changes it but with
// probability 2^-31.
//
// The consumer extends the 32-bit number to 64 bits around the one it
// expects next, and counts each message as in order, a gap (lost), a
// repeat (duplicated), a late one (reordered: it was counted lost, is no
// longer) or corrupted (length or checksum wrong; its number is not trusted).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace ringside::runner {

inline constexpr std::size_t kMinPayload = 8;

// The checksum of data[0, length) with bytes 4..7 (the field itself) read as zero.
std::uint32_t checksum31(const std::byte* data, std::size_t length);

class MessageCodec {
public:
    explicit MessageCodec(std::size_t payload);
    [[nodiscard]] std::size_t payload() const { return payload_; }

    // Writes the message for `seq` into out[0, payload).
    void write(std::byte* out, std::uint64_t seq) const {
        if (payload_ > kMinPayload) std::memcpy(out + 8, filler_.data(), payload_ - 8);
        const auto low = static_cast<std::uint32_t>(seq);
        std::memcpy(out, &low, 4);
        const std::uint32_t sum = checksum31(out, payload_);
        std::memcpy(out + 4, &sum, 4);
    }
    // The message's 32-bit number if its length and checksum are right.
    [[nodiscard]] bool check(const std::byte* data, std::size_t length, std::uint32_t& seq_low) const;

private:
    std::size_t payload_;
    std::vector<std::byte> filler_;
};

struct LegCounts {
    std::uint64_t sent = 0;
    std::uint64_t received = 0;  // every message that arrived, corrupted ones included
    std::uint64_t lost = 0;
    std::uint64_t duplicated = 0;
    std::uint64_t reordered = 0;
    std::uint64_t corrupted = 0;
    [[nodiscard]] bool clean() const {
        return lost == 0 && duplicated == 0 && reordered == 0 && corrupted == 0 && sent == received;
    }
};

// One consumer's view of one direction. Owned by the consuming thread, and
// written for every message: on lines of its own (over-aligned, and its
// window allocated with a line of slack at each end).
class alignas(128) SequenceChecker {
public:
    explicit SequenceChecker(const MessageCodec& codec) : codec_(&codec), seen_storage_(kWindow / 64 + 2 * kSlack, 0) {
        seen_ = seen_storage_.data() + kSlack;
    }
    SequenceChecker(const SequenceChecker&) = delete;
    SequenceChecker& operator=(const SequenceChecker&) = delete;

    enum class Verdict { kInOrder, kGap, kDuplicate, kLate, kCorrupt, kStop };
    // Classifies and counts one received message. `seq` is its 64-bit
    // number (not meaningful for kCorrupt and kStop).
    Verdict on_message(const std::byte* data, std::size_t length, std::uint64_t& seq);
    // After the last message: numbers up to `last_sent` never seen are lost.
    void finish(std::uint64_t last_sent);
    [[nodiscard]] const LegCounts& counts() const { return counts_; }
    LegCounts& counts() { return counts_; }

private:
    static constexpr std::uint64_t kWindow = 1 << 16;  // numbers remembered for duplicate detection
    static constexpr std::size_t kSlack = 16;          // 128 bytes of words
    bool test_and_set(std::uint64_t seq);
    void clear(std::uint64_t seq) { seen_[(seq % kWindow) / 64] &= ~(std::uint64_t{1} << (seq % 64)); }

    const MessageCodec* codec_;
    std::uint64_t next_ = 1;  // the number expected next
    std::vector<std::uint64_t> seen_storage_;
    std::uint64_t* seen_ = nullptr;
    LegCounts counts_;
};

}  // namespace ringside::runner
