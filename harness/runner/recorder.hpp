// The host thread's latency bookkeeping: when each message was meant to be
// sent and was sent (ticks, by sequence number), and the histograms its
// replies fill: corrected (from the intended send time) and uncorrected
// (from the actual one), in total and per .hlog interval. One writer, the
// host thread. Interval histograms come from a preallocated pool, so that
// rotating one neither allocates nor zeroes memory while measuring; once the
// pool is used up (a run longer than expected_intervals), each finished
// interval is encoded on the spot (~50 us, once per interval) and its
// histogram reused, so memory stays bounded however long the run.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runner/clock.hpp"
#include "runner/hdr_io.hpp"
#include "runner/histogram.hpp"

namespace ringside::runner {

class alignas(128) Recorder {
public:
    static constexpr std::uint64_t kStampSlots = 1 << 17;  // messages in flight at most: see max_in_flight()

    Recorder(const Clock& clock, double interval_s, std::size_t expected_intervals);

    [[nodiscard]] static constexpr std::uint64_t max_in_flight() { return kStampSlots / 2; }

    void stamp(std::uint64_t seq, std::uint64_t intended, std::uint64_t actual) {
        Stamp& s = stamps_[seq % kStampSlots];
        s.intended = intended;
        s.actual = actual;
    }
    // Starts the measured window (and interval 0) at `tick`.
    void start(std::uint64_t tick);
    // A measured reply to `seq` observed at `done`.
    void record(std::uint64_t seq, std::uint64_t done) {
        const Stamp& s = stamps_[seq % kStampSlots];
        if (done >= next_rotation_) rotate(done);
        const std::int64_t corrected = clock_->to_ns(static_cast<std::int64_t>(done - s.intended));
        const std::int64_t uncorrected = clock_->to_ns(static_cast<std::int64_t>(done - s.actual));
        corrected_.record(corrected);
        uncorrected_.record(uncorrected);
        interval_corrected_->record(corrected);
        interval_uncorrected_->record(uncorrected);
    }
    // Closes the last interval at `tick`.
    void finish(std::uint64_t tick);

    [[nodiscard]] const Histogram& corrected() const { return corrected_; }
    [[nodiscard]] const Histogram& uncorrected() const { return uncorrected_; }
    // Every interval in time order, encoded: untagged (corrected) and
    // "uncorrected" lines alternate. Valid after finish().
    [[nodiscard]] const std::vector<EncodedInterval>& intervals() const { return encoded_; }

private:
    struct Stamp {
        std::uint64_t intended;
        std::uint64_t actual;
    };
    void rotate(std::uint64_t done);
    void close_interval(double length_s, bool keep_histograms);

    const Clock* clock_;
    std::uint64_t interval_ticks_;
    std::vector<Stamp> stamps_;
    Histogram corrected_;
    Histogram uncorrected_;
    std::unique_ptr<Histogram> interval_corrected_;
    std::unique_ptr<Histogram> interval_uncorrected_;
    std::vector<std::unique_ptr<Histogram>> spares_;
    std::vector<HlogInterval> held_;         // the first intervals, as histograms (encoded at finish)
    std::vector<EncodedInterval> encoded_;   // later ones, encoded at rotation
    std::uint64_t start_ = 0;
    std::uint64_t interval_start_ = 0;
    std::uint64_t next_rotation_ = UINT64_MAX;
};

}  // namespace ringside::runner
