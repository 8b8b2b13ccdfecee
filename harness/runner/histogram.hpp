// A log-linear latency histogram with HdrHistogram's exact bucket layout
// (Gil Tene's HdrHistogram, AbstractHistogram.java, 2.1.x), so that our
// .hgrm and .hlog files are read by HdrHistogram's own tools and give the
// same numbers:
//   - values are integers (nanoseconds here) from `lowest` (1) to `highest`
//     (>= 10 s), kept to `digits` significant decimal digits (3): any value
//     is reported within 0.1 % of itself;
//   - bucket b holds sub-buckets of width 2^b; the first bucket has unit
//     width. Index and value arithmetic follow countsArrayIndex() and
//     valueFromIndex() of the Java code;
//   - merge (add) is lossless: the same layout adds count by count;
//   - percentiles follow getValueAtPercentile() of 2.1.11 (ceil of the
//     fractional count, highest equivalent value), mean and standard
//     deviation use each bucket's median equivalent value.
// Recording is one index computation and one increment: no allocation, no
// branch on the value beyond the range clamp. Not thread-safe: one writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ringside::runner {

// 100 s in nanoseconds: above any run the watchdog lets finish.
inline constexpr std::int64_t kDefaultHighest = 100'000'000'000;

class Histogram {
public:
    // lowest >= 1, highest >= 2 * lowest, digits 0..5 (as HdrHistogram).
    Histogram(std::int64_t lowest = 1, std::int64_t highest = kDefaultHighest, int digits = 3);

    // Records `value` (`count` times). Values above highest() are clamped to
    // it and counted in clamped(); negative values are recorded as 0.
    void record(std::int64_t value, std::int64_t count = 1) {
        if (value < 0) value = 0;
        if (value > highest_) {
            value = highest_;
            clamped_ += count;
        }
        counts_[static_cast<std::size_t>(index_of(value))] += count;
        total_ += count;
        if (value > max_) max_ = value;
        if (value != 0 && value < min_nonzero_) min_nonzero_ = value;
    }
    // Adds every count of `other`, which must have the same layout.
    // Returns false (and adds nothing) if the layouts differ.
    bool add(const Histogram& other);
    void reset();

    [[nodiscard]] std::int64_t count() const { return total_; }
    [[nodiscard]] std::int64_t clamped() const { return clamped_; }
    // HdrHistogram's getMaxValue(): the highest equivalent of the largest value (0 if empty).
    [[nodiscard]] std::int64_t max() const { return max_ == 0 ? 0 : highest_equivalent(max_); }
    // The largest value recorded, exactly.
    [[nodiscard]] std::int64_t max_exact() const { return max_; }
    // HdrHistogram's getMinValue(): lowest equivalent of the smallest value.
    [[nodiscard]] std::int64_t min() const;
    [[nodiscard]] double mean() const;
    [[nodiscard]] double stddev() const;
    // getValueAtPercentile(percentile), percentile in [0, 100]; 0 if empty.
    [[nodiscard]] std::int64_t value_at_percentile(double percentile) const;

    // HdrHistogram's minimum sample count for quantile q (0 < q < 1) to be
    // supported: 10 / (1 - q). Fewer samples: the percentile is unsupported.
    [[nodiscard]] static double samples_needed(double quantile);
    // The value at `percentile`, or empty when count() cannot support it.
    [[nodiscard]] std::optional<std::int64_t> supported_percentile(double percentile) const;

    // --- layout (HdrHistogram names) ---
    [[nodiscard]] std::int64_t lowest() const { return lowest_; }
    [[nodiscard]] std::int64_t highest() const { return highest_; }
    [[nodiscard]] int digits() const { return digits_; }
    [[nodiscard]] int bucket_count() const { return bucket_count_; }
    [[nodiscard]] int sub_bucket_count() const { return sub_bucket_count_; }
    [[nodiscard]] int counts_length() const { return static_cast<int>(counts_.size()); }
    [[nodiscard]] std::int64_t count_at_index(int index) const { return counts_[static_cast<std::size_t>(index)]; }
    // For decoders: sets one bucket's count (and the totals), as Java's
    // fillCountsArrayFromBuffer + establishInternalTackingValues do.
    void set_count_at_index(int index, std::int64_t count);

    [[nodiscard]] int index_of(std::int64_t value) const {
        const int bucket = bucket_index(value);
        const int sub_bucket = static_cast<int>(value >> (bucket + unit_magnitude_));
        return ((bucket + 1) << sub_bucket_half_count_magnitude_) + (sub_bucket - sub_bucket_half_count_);
    }
    [[nodiscard]] std::int64_t value_from_index(int index) const;
    [[nodiscard]] std::int64_t lowest_equivalent(std::int64_t value) const;
    [[nodiscard]] std::int64_t size_of_equivalent_range(std::int64_t value) const;
    [[nodiscard]] std::int64_t next_non_equivalent(std::int64_t value) const {
        return lowest_equivalent(value) + size_of_equivalent_range(value);
    }
    [[nodiscard]] std::int64_t highest_equivalent(std::int64_t value) const { return next_non_equivalent(value) - 1; }
    [[nodiscard]] std::int64_t median_equivalent(std::int64_t value) const {
        return lowest_equivalent(value) + (size_of_equivalent_range(value) >> 1);
    }
    [[nodiscard]] bool same_layout(const Histogram& other) const {
        return lowest_ == other.lowest_ && highest_ == other.highest_ && digits_ == other.digits_;
    }

private:
    [[nodiscard]] int bucket_index(std::int64_t value) const {
        // 64 - clz: value | mask is never 0.
        return leading_zero_count_base_ - __builtin_clzll(static_cast<std::uint64_t>(value | sub_bucket_mask_));
    }

    std::int64_t lowest_;
    std::int64_t highest_;
    int digits_;
    int unit_magnitude_ = 0;
    int sub_bucket_half_count_magnitude_ = 0;
    int sub_bucket_count_ = 0;
    int sub_bucket_half_count_ = 0;
    std::int64_t sub_bucket_mask_ = 0;
    int bucket_count_ = 0;
    int leading_zero_count_base_ = 0;
    std::vector<std::int64_t> counts_;
    std::int64_t total_ = 0;
    std::int64_t max_ = 0;
    std::int64_t min_nonzero_ = INT64_MAX;
    std::int64_t clamped_ = 0;
};

}  // namespace ringside::runner
