#include "runner/recorder.hpp"

namespace ringside::runner {

Recorder::Recorder(const Clock& clock, double interval_s, std::size_t expected_intervals)
    : clock_(&clock), interval_ticks_(clock.from_ns(interval_s * 1e9)), stamps_(kStampSlots, Stamp{0, 0}) {
    if (interval_ticks_ == 0) interval_ticks_ = 1;
    // Two per interval (corrected, uncorrected), plus the two in use.
    for (std::size_t i = 0; i < 2 * expected_intervals; ++i) spares_.push_back(std::make_unique<Histogram>());
    interval_corrected_ = take_spare();
    interval_uncorrected_ = take_spare();
    intervals_.reserve(2 * expected_intervals + 2);
}

std::unique_ptr<Histogram> Recorder::take_spare() {
    if (spares_.empty()) return std::make_unique<Histogram>();  // more intervals than expected: allocate now
    std::unique_ptr<Histogram> spare = std::move(spares_.back());
    spares_.pop_back();
    return spare;
}

void Recorder::start(std::uint64_t tick) {
    start_ = tick;
    interval_start_ = tick;
    next_rotation_ = tick + interval_ticks_;
}

void Recorder::rotate(std::uint64_t done) {
    while (done >= next_rotation_) {
        const double start_s = static_cast<double>(clock_->to_ns(static_cast<std::int64_t>(interval_start_ - start_))) / 1e9;
        const double length_s = static_cast<double>(clock_->to_ns(static_cast<std::int64_t>(interval_ticks_))) / 1e9;
        // Empty intervals are kept: a stall shows as a gap in the log, not as a missing line.
        intervals_.push_back(HlogInterval{"", start_s, length_s, std::move(*interval_corrected_)});
        intervals_.push_back(HlogInterval{"uncorrected", start_s, length_s, std::move(*interval_uncorrected_)});
        interval_corrected_ = take_spare();
        interval_uncorrected_ = take_spare();
        interval_start_ = next_rotation_;
        next_rotation_ += interval_ticks_;
    }
}

void Recorder::finish(std::uint64_t tick) {
    if (next_rotation_ == UINT64_MAX) return;  // never started
    const double start_s = static_cast<double>(clock_->to_ns(static_cast<std::int64_t>(interval_start_ - start_))) / 1e9;
    const double length_s =
        tick > interval_start_ ? static_cast<double>(clock_->to_ns(static_cast<std::int64_t>(tick - interval_start_))) / 1e9
                               : 0.0;
    if (interval_corrected_->count() > 0 || intervals_.empty()) {
        intervals_.push_back(HlogInterval{"", start_s, length_s, std::move(*interval_corrected_)});
        intervals_.push_back(HlogInterval{"uncorrected", start_s, length_s, std::move(*interval_uncorrected_)});
    }
    next_rotation_ = UINT64_MAX;
}

}  // namespace ringside::runner
