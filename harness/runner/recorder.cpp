#include "runner/recorder.hpp"

namespace ringside::runner {

Recorder::Recorder(const Clock& clock, double interval_s, std::size_t expected_intervals)
    : clock_(&clock), interval_ticks_(clock.from_ns(interval_s * 1e9)), stamps_(kStampSlots, Stamp{0, 0}) {
    if (interval_ticks_ == 0) interval_ticks_ = 1;
    // Two per interval (corrected, uncorrected), plus the two in use.
    for (std::size_t i = 0; i < 2 * expected_intervals; ++i) spares_.push_back(std::make_unique<Histogram>());
    interval_corrected_ = std::make_unique<Histogram>();
    interval_uncorrected_ = std::make_unique<Histogram>();
    held_.reserve(2 * expected_intervals);
}

void Recorder::start(std::uint64_t tick) {
    start_ = tick;
    interval_start_ = tick;
    next_rotation_ = tick + interval_ticks_;
}

void Recorder::close_interval(double length_s, bool keep_histograms) {
    const double start_s = static_cast<double>(clock_->to_ns(static_cast<std::int64_t>(interval_start_ - start_))) / 1e9;
    if (keep_histograms && spares_.size() >= 2) {
        held_.push_back(HlogInterval{"", start_s, length_s, std::move(*interval_corrected_)});
        held_.push_back(HlogInterval{"uncorrected", start_s, length_s, std::move(*interval_uncorrected_)});
        interval_corrected_ = std::move(spares_.back());
        spares_.pop_back();
        interval_uncorrected_ = std::move(spares_.back());
        spares_.pop_back();
        return;
    }
    // The pool is used up: encode now and reuse the histograms.
    encoded_.push_back(encode_interval("", start_s, length_s, *interval_corrected_));
    encoded_.push_back(encode_interval("uncorrected", start_s, length_s, *interval_uncorrected_));
    if (interval_corrected_->count() != 0) interval_corrected_->reset();
    if (interval_uncorrected_->count() != 0) interval_uncorrected_->reset();
}

void Recorder::rotate(std::uint64_t done) {
    const double length_s = static_cast<double>(clock_->to_ns(static_cast<std::int64_t>(interval_ticks_))) / 1e9;
    while (done >= next_rotation_) {
        // Empty intervals are kept: a stall shows as a gap in the log, not as a missing line.
        close_interval(length_s, true);
        interval_start_ = next_rotation_;
        next_rotation_ += interval_ticks_;
    }
}

void Recorder::finish(std::uint64_t tick) {
    if (next_rotation_ == UINT64_MAX) return;  // never started, or finished
    const double length_s =
        tick > interval_start_ ? static_cast<double>(clock_->to_ns(static_cast<std::int64_t>(tick - interval_start_))) / 1e9
                               : 0.0;
    const bool last_has_samples = interval_corrected_->count() > 0;
    const bool none_yet = held_.empty() && encoded_.empty();
    if (last_has_samples || none_yet) close_interval(length_s, false);
    // The held intervals came first: put them, encoded, before the rest.
    std::vector<EncodedInterval> all;
    all.reserve(held_.size() + encoded_.size());
    for (const HlogInterval& interval : held_) all.push_back(encode_interval(interval));
    for (EncodedInterval& interval : encoded_) all.push_back(std::move(interval));
    encoded_ = std::move(all);
    held_.clear();
    next_rotation_ = UINT64_MAX;
}

}  // namespace ringside::runner
