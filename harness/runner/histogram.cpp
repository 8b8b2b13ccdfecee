#include "runner/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ringside::runner {

Histogram::Histogram(std::int64_t lowest, std::int64_t highest, int digits)
    : lowest_(lowest), highest_(highest), digits_(digits) {
    if (lowest < 1 || highest < 2 * lowest || digits < 0 || digits > 5) {
        throw std::invalid_argument("Histogram: need lowest >= 1, highest >= 2 * lowest, digits 0..5");
    }
    // AbstractHistogram.init(), step by step.
    const auto largest_single_unit = 2 * static_cast<std::int64_t>(std::pow(10, digits));
    unit_magnitude_ = static_cast<int>(std::floor(std::log(static_cast<double>(lowest)) / std::log(2.0)));
    const int sub_bucket_count_magnitude =
        static_cast<int>(std::ceil(std::log(static_cast<double>(largest_single_unit)) / std::log(2.0)));
    sub_bucket_half_count_magnitude_ = (sub_bucket_count_magnitude > 1 ? sub_bucket_count_magnitude : 1) - 1;
    sub_bucket_count_ = 1 << (sub_bucket_half_count_magnitude_ + 1);
    sub_bucket_half_count_ = sub_bucket_count_ / 2;
    sub_bucket_mask_ = (static_cast<std::int64_t>(sub_bucket_count_) - 1) << unit_magnitude_;
    // getBucketsNeededToCoverValue(highest)
    std::int64_t smallest_untrackable = static_cast<std::int64_t>(sub_bucket_count_) << unit_magnitude_;
    int buckets = 1;
    while (smallest_untrackable <= highest) {
        if (smallest_untrackable > INT64_MAX / 2) {
            ++buckets;
            break;
        }
        smallest_untrackable <<= 1;
        ++buckets;
    }
    bucket_count_ = buckets;
    leading_zero_count_base_ = 64 - unit_magnitude_ - sub_bucket_half_count_magnitude_ - 1;
    counts_.assign(static_cast<std::size_t>(bucket_count_ + 1) * static_cast<std::size_t>(sub_bucket_half_count_), 0);
}

bool Histogram::add(const Histogram& other) {
    if (!same_layout(other)) return false;
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    clamped_ += other.clamped_;
    if (other.max_ > max_) max_ = other.max_;
    if (other.min_nonzero_ < min_nonzero_) min_nonzero_ = other.min_nonzero_;
    return true;
}

void Histogram::reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = 0;
    max_ = 0;
    min_nonzero_ = INT64_MAX;
    clamped_ = 0;
}

void Histogram::set_count_at_index(int index, std::int64_t count) {
    std::int64_t& slot = counts_[static_cast<std::size_t>(index)];
    total_ += count - slot;
    slot = count;
    if (count == 0) return;
    // As Java's establishInternalTackingValues: the bucket's value stands for its samples.
    const std::int64_t value = value_from_index(index);
    if (value > max_) max_ = value;
    if (value != 0 && value < min_nonzero_) min_nonzero_ = value;
}

std::int64_t Histogram::value_from_index(int index) const {
    int bucket = (index >> sub_bucket_half_count_magnitude_) - 1;
    int sub_bucket = (index & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
    if (bucket < 0) {
        sub_bucket -= sub_bucket_half_count_;
        bucket = 0;
    }
    return static_cast<std::int64_t>(sub_bucket) << (bucket + unit_magnitude_);
}

std::int64_t Histogram::lowest_equivalent(std::int64_t value) const {
    const int bucket = bucket_index(value);
    const std::int64_t sub_bucket = value >> (bucket + unit_magnitude_);
    return sub_bucket << (bucket + unit_magnitude_);
}

std::int64_t Histogram::size_of_equivalent_range(std::int64_t value) const {
    const int bucket = bucket_index(value);
    const std::int64_t sub_bucket = value >> (bucket + unit_magnitude_);
    return std::int64_t{1} << (unit_magnitude_ + (sub_bucket >= sub_bucket_count_ ? bucket + 1 : bucket));
}

std::int64_t Histogram::min() const {
    return min_nonzero_ == INT64_MAX ? INT64_MAX : lowest_equivalent(min_nonzero_);
}

double Histogram::mean() const {
    if (total_ == 0) return 0.0;
    double sum = 0;
    for (int i = 0; i < counts_length(); ++i) {
        const std::int64_t count = counts_[static_cast<std::size_t>(i)];
        if (count != 0) sum += static_cast<double>(median_equivalent(value_from_index(i)) * count);
    }
    return sum / static_cast<double>(total_);
}

double Histogram::stddev() const {
    if (total_ == 0) return 0.0;
    const double average = mean();
    double sum = 0;
    for (int i = 0; i < counts_length(); ++i) {
        const std::int64_t count = counts_[static_cast<std::size_t>(i)];
        if (count == 0) continue;
        const double deviation = static_cast<double>(median_equivalent(value_from_index(i))) - average;
        sum += deviation * deviation * static_cast<double>(count);
    }
    return std::sqrt(sum / static_cast<double>(total_));
}

std::int64_t Histogram::value_at_percentile(double percentile) const {
    // 2.1.11: the count at the percentile is rounded up, at least 1.
    const double requested = std::min(std::max(std::nextafter(percentile, -INFINITY), 0.0), 100.0);
    const double fractional = requested * static_cast<double>(total_) / 100.0;
    const std::int64_t wanted = std::max<std::int64_t>(static_cast<std::int64_t>(std::ceil(fractional)), 1);
    std::int64_t running = 0;
    for (int i = 0; i < counts_length(); ++i) {
        running += counts_[static_cast<std::size_t>(i)];
        if (running >= wanted) {
            const std::int64_t value = value_from_index(i);
            return percentile == 0.0 ? lowest_equivalent(value) : highest_equivalent(value);
        }
    }
    return 0;
}

double Histogram::samples_needed(double quantile) {
    // 10 / (1 - q), rounded up; the guard keeps 10 / (1 - 0.9999) at 100000.
    return std::ceil(10.0 / (1.0 - quantile) * (1.0 - 1e-9));
}

std::optional<std::int64_t> Histogram::supported_percentile(double percentile) const {
    if (percentile < 100.0 && static_cast<double>(total_) < samples_needed(percentile / 100.0)) return std::nullopt;
    if (total_ == 0) return std::nullopt;
    return value_at_percentile(percentile);
}

}  // namespace ringside::runner
