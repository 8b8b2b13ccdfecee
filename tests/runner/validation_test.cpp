// What every message carries and how its consumer judges it: the checksum
// sees every byte, and the sequence checker counts each loss, duplicate,
// late arrival and corruption exactly once.
#include <gtest/gtest.h>

#include <vector>

#include "runner/message.hpp"

namespace {

using ringside::runner::checksum31;
using ringside::runner::MessageCodec;
using ringside::runner::SequenceChecker;
using Verdict = SequenceChecker::Verdict;

struct Stream {
    // The buffer has room to spare: g++ cannot see that write() stays within `payload`.
    explicit Stream(std::size_t payload) : codec(payload), checker(codec), buffer(payload + 64) {}
    Verdict deliver(std::uint64_t seq) {
        codec.write(buffer.data(), seq);
        std::uint64_t got = 0;
        return checker.on_message(buffer.data(), codec.payload(), got);
    }
    MessageCodec codec;
    SequenceChecker checker;
    std::vector<std::byte> buffer;
};

TEST(RunnerValidation, ChecksumChangesWhenAnyByteChanges) {
    for (std::size_t length : {8u, 9u, 31u, 32u, 33u, 63u, 64u, 65u, 100u, 127u, 128u, 4096u}) {
        MessageCodec codec(length);
        std::vector<std::byte> message(length);
        codec.write(message.data(), 12345);
        const std::uint32_t sum = checksum31(message.data(), length);
        for (std::size_t i = 0; i < length; ++i) {
            if (i >= 4 && i < 8) continue;  // the checksum field itself
            for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
                message[i] ^= std::byte{flip};
                EXPECT_NE(checksum31(message.data(), length), sum) << "length " << length << ", byte " << i;
                message[i] ^= std::byte{flip};
            }
        }
    }
}

TEST(RunnerValidation, AcceptsAnInOrderStreamOfEverySize) {
    for (std::size_t payload : {8u, 64u, 65536u}) {
        Stream stream(payload);
        for (std::uint64_t seq = 1; seq <= 1000; ++seq) ASSERT_EQ(stream.deliver(seq), Verdict::kInOrder);
        stream.checker.finish(1000);
        const auto& c = stream.checker.counts();
        EXPECT_EQ(c.received, 1000u);
        EXPECT_EQ(c.lost + c.duplicated + c.reordered + c.corrupted, 0u);
    }
}

TEST(RunnerValidation, CountsAGapAsLost) {
    Stream stream(16);
    stream.deliver(1);
    EXPECT_EQ(stream.deliver(4), Verdict::kGap);
    EXPECT_EQ(stream.checker.counts().lost, 2u);
}

TEST(RunnerValidation, CountsARepeatAsDuplicated) {
    Stream stream(16);
    stream.deliver(1);
    stream.deliver(2);
    EXPECT_EQ(stream.deliver(2), Verdict::kDuplicate);
    EXPECT_EQ(stream.deliver(1), Verdict::kDuplicate);
    EXPECT_EQ(stream.checker.counts().duplicated, 2u);
    EXPECT_EQ(stream.checker.counts().lost, 0u);
}

TEST(RunnerValidation, CountsALateMessageAsReorderedAndNoLongerLost) {
    Stream stream(16);
    stream.deliver(1);
    stream.deliver(3);
    EXPECT_EQ(stream.deliver(2), Verdict::kLate);
    EXPECT_EQ(stream.checker.counts().reordered, 1u);
    EXPECT_EQ(stream.checker.counts().lost, 0u);
    EXPECT_EQ(stream.deliver(2), Verdict::kDuplicate) << "a second copy of a late message is a duplicate";
}

TEST(RunnerValidation, CountsAFlippedByteOrAWrongLengthAsCorrupted) {
    Stream stream(64);
    stream.codec.write(stream.buffer.data(), 1);
    stream.buffer[40] ^= std::byte{0x10};
    std::uint64_t seq = 0;
    EXPECT_EQ(stream.checker.on_message(stream.buffer.data(), 64, seq), Verdict::kCorrupt);
    stream.codec.write(stream.buffer.data(), 1);
    EXPECT_EQ(stream.checker.on_message(stream.buffer.data(), 63, seq), Verdict::kCorrupt);
    EXPECT_EQ(stream.checker.counts().corrupted, 2u);
    EXPECT_EQ(stream.deliver(1), Verdict::kInOrder) << "a corrupted message's number is not trusted";
}

TEST(RunnerValidation, CountsMessagesThatNeverCameAsLostAtTheEnd) {
    Stream stream(8);
    for (std::uint64_t seq = 1; seq <= 10; ++seq) stream.deliver(seq);
    stream.checker.finish(13);
    EXPECT_EQ(stream.checker.counts().lost, 3u);
}

TEST(RunnerValidation, RecognisesTheStopMessageWithoutCountingIt) {
    Stream stream(8);
    stream.deliver(1);
    EXPECT_EQ(stream.deliver(0), Verdict::kStop);
    EXPECT_EQ(stream.checker.counts().received, 1u);
}

TEST(RunnerValidation, RemembersLongGapsWithoutFalseDuplicates) {
    Stream stream(8);
    stream.deliver(1);
    EXPECT_EQ(stream.deliver(200'000), Verdict::kGap);  // a gap longer than the duplicate window
    EXPECT_EQ(stream.deliver(199'999), Verdict::kLate);
    EXPECT_EQ(stream.checker.counts().lost, 199'997u);
}

}  // namespace
