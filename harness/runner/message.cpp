#include "runner/message.hpp"

namespace ringside::runner {
namespace {

std::uint64_t load64(const std::byte* at) {
    std::uint64_t word;
    std::memcpy(&word, at, sizeof word);
    return word;
}

constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ull;

// The word-by-word pair of sums over data[i, length), the last word
// zero-padded: ta += word, tb += ta. Both checksum paths end with it, and
// it is inlined into each (checksum31 runs on every message).
[[gnu::always_inline]] inline void sum_words(const std::byte* data, std::size_t i, std::size_t length, std::uint64_t& ta,
                                             std::uint64_t& tb) {
    for (; i + 8 <= length; i += 8) {
        ta += load64(data + i);
        tb += ta;
    }
    if (i < length) {
        std::uint64_t word = 0;
        std::memcpy(&word, data + i, length - i);
        ta += word;
        tb += ta;
    }
}

// The length and the word sums folded with multiply-xor steps (each path
// then adds its own, and both end with the same two-line mix, left in
// place: as a shared function GCC gives each path its own epilogue).
[[gnu::always_inline]] inline std::uint64_t fold(std::size_t length, std::uint64_t ta, std::uint64_t tb) {
    std::uint64_t h = (length + 0x2545f4914f6cdd1dull) * kMul;
    h = (h ^ ta) * kMul;
    return (h ^ (tb + (tb >> 31))) * kMul;
}

}  // namespace

namespace {

// Eight 64-bit lanes as four SSE2 vectors (the x86-64 baseline, no -march
// needed): per 64-byte block, a += words and b += a, lane by lane.
using Lanes = std::uint64_t __attribute__((vector_size(16)));

Lanes load_lanes(const std::byte* at) {
    Lanes v;
    std::memcpy(&v, at, sizeof v);
    return v;
}

}  // namespace

std::uint32_t checksum31(const std::byte* data, std::size_t length) {
    if (length >= 8 && length < 64) {
        // Short messages: word by word in place, the checksum field (bytes
        // 4..7, the high half of the first little-endian word) masked out.
        std::uint64_t ta = load64(data) & 0xffffffffull;
        std::uint64_t tb = ta;
        sum_words(data, 8, length, ta, tb);
        std::uint64_t h = fold(length, ta, tb);
        h ^= h >> 29;
        return static_cast<std::uint32_t>(h ^ (h >> 32)) & 0x7fffffffu;
    }
    // Bytes 4..7 (the checksum field) count as zero: the first 64 bytes are
    // summed from a copy with the field cleared, the rest in place.
    std::byte head[64] = {};
    const std::size_t head_length = length < 64 ? length : 64;
    std::memcpy(head, data, head_length);
    if (head_length >= 8) std::memset(head + 4, 0, 4);
    // Named accumulators, not arrays: they stay in registers.
    Lanes a0 = {}, a1 = {}, a2 = {}, a3 = {};
    Lanes b0 = {}, b1 = {}, b2 = {}, b3 = {};
    auto block = [&](const std::byte* at) {
        a0 += load_lanes(at);
        a1 += load_lanes(at + 16);
        a2 += load_lanes(at + 32);
        a3 += load_lanes(at + 48);
        b0 += a0;
        b1 += a1;
        b2 += a2;
        b3 += a3;
    };
    const std::byte* source = head;
    std::size_t i = 0;
    if (length >= 64) {
        block(head);
        source = data;
        for (i = 64; i + 64 <= length; i += 64) block(data + i);
    }
    std::uint64_t ta = 0;
    std::uint64_t tb = 0;
    sum_words(source, i, length, ta, tb);
    // Fold the sums with multiply-xor steps (the checksum sits on the echo
    // path of every round trip).
    std::uint64_t h = fold(length, ta, tb);
    if (length >= 64) {
        // Sixteen independent products (no chain of multiplies): each value
        // through a bijection, times its own odd weight, summed.
        std::uint64_t sum = 0;
        std::uint64_t weight = 0x9e3779b97f4a7c15ull;
        for (const Lanes& v : {a0, a1, a2, a3, b0, b1, b2, b3}) {
            for (int lane = 0; lane < 2; ++lane) {
                sum += (v[lane] ^ (v[lane] >> 29)) * weight;
                weight += 0x6a09e667f3bcc908ull;  // even step: weights stay odd
            }
        }
        h = (h ^ sum) * kMul;
    }
    h ^= h >> 29;
    return static_cast<std::uint32_t>(h ^ (h >> 32)) & 0x7fffffffu;
}

MessageCodec::MessageCodec(std::size_t payload) : payload_(payload < kMinPayload ? kMinPayload : payload) {
    filler_.resize(payload_ > 8 ? payload_ - 8 : 0);
    std::uint64_t state = 0x243f6a8885a308d3ull;  // fixed: every run sends the same bytes
    for (std::byte& byte : filler_) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        byte = static_cast<std::byte>(state);
    }
}

bool MessageCodec::check(const std::byte* data, std::size_t length, std::uint32_t& seq_low) const {
    if (length != payload_) return false;
    std::uint32_t stored;
    std::memcpy(&stored, data + 4, 4);
    std::memcpy(&seq_low, data, 4);
    return checksum31(data, length) == stored;
}

SequenceChecker::Verdict SequenceChecker::on_message(const std::byte* data, std::size_t length, std::uint64_t& seq) {
    std::uint32_t low = 0;
    if (!codec_->check(data, length, low)) {
        ++counts_.received;
        ++counts_.corrupted;
        return Verdict::kCorrupt;
    }
    if (low == 0) return Verdict::kStop;
    ++counts_.received;
    // The 64-bit number nearest to the one expected.
    seq = next_ + static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int32_t>(low - static_cast<std::uint32_t>(next_))));
    if (seq == next_) {
        test_and_set(seq);
        ++next_;
        return Verdict::kInOrder;
    }
    if (seq > next_) {
        counts_.lost += seq - next_;
        for (std::uint64_t skipped = seq - next_ > kWindow ? seq - kWindow : next_; skipped < seq; ++skipped) {
            clear(skipped);
        }
        test_and_set(seq);
        next_ = seq + 1;
        return Verdict::kGap;
    }
    if (next_ - seq >= kWindow || test_and_set(seq)) {
        ++counts_.duplicated;
        return Verdict::kDuplicate;
    }
    ++counts_.reordered;
    --counts_.lost;  // it was counted lost when the gap opened
    return Verdict::kLate;
}

void SequenceChecker::finish(std::uint64_t last_sent) {
    if (last_sent >= next_) counts_.lost += last_sent - next_ + 1;
    next_ = last_sent + 1;
}

bool SequenceChecker::test_and_set(std::uint64_t seq) {
    std::uint64_t& word = seen_[(seq % kWindow) / 64];
    const std::uint64_t bit = std::uint64_t{1} << (seq % 64);
    const bool was = (word & bit) != 0;
    word |= bit;
    return was;
}

}  // namespace ringside::runner
