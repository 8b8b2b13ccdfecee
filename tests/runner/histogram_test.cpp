// The runner's histogram against the truth: percentiles of sorted samples
// to 3 significant digits, lossless merge, the layout across 1 ns .. >10 s,
// and percentiles the sample count cannot support reported as absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "runner/histogram.hpp"

namespace {

using ringside::runner::Histogram;

std::vector<std::int64_t> lognormal_samples(std::size_t n, unsigned seed) {
    std::mt19937_64 random(seed);
    std::lognormal_distribution<double> latency(7.0, 1.8);  // median ~1 us, tail into tens of ms
    std::vector<std::int64_t> samples(n);
    for (auto& s : samples) s = std::max<std::int64_t>(1, static_cast<std::int64_t>(latency(random)));
    return samples;
}

// The sample a percentile refers to: rank ceil(q * n), at least 1, with q
// in parts per million so that the rank is exact integer arithmetic.
std::int64_t exact_percentile(std::vector<std::int64_t> sorted, std::int64_t ppm) {
    std::sort(sorted.begin(), sorted.end());
    const auto n = static_cast<std::int64_t>(sorted.size());
    const std::int64_t rank = std::max<std::int64_t>(1, (ppm * n + 999'999) / 1'000'000);
    return sorted[static_cast<std::size_t>(std::min(rank, n) - 1)];
}

TEST(RunnerHistogram, PercentilesMatchSortedSamplesToThreeSignificantDigits) {
    const std::vector<std::int64_t> samples = lognormal_samples(200'000, 7);
    Histogram histogram;
    for (std::int64_t s : samples) histogram.record(s);
    for (std::int64_t ppm : {0, 10'000, 250'000, 500'000, 900'000, 990'000, 999'000, 999'900, 1'000'000}) {
        const double p = static_cast<double>(ppm) / 10'000.0;
        const std::int64_t exact = exact_percentile(samples, ppm);
        const std::int64_t reported = histogram.value_at_percentile(p);
        // The reported value is an end of the bucket holding the exact sample
        // (the top; the bottom for p0): within 0.1 % of it.
        if (ppm != 0) {
            EXPECT_GE(reported, exact) << "p" << p;
        }
        EXPECT_LE(std::abs(reported - exact), exact / 1000 + 1) << "p" << p << ": exact " << exact << ", reported " << reported;
    }
    EXPECT_EQ(histogram.count(), 200'000);
    EXPECT_EQ(histogram.max_exact(), *std::max_element(samples.begin(), samples.end()));
    double sum = 0;
    for (std::int64_t s : samples) sum += static_cast<double>(s);
    EXPECT_NEAR(histogram.mean(), sum / static_cast<double>(samples.size()), sum / static_cast<double>(samples.size()) * 1e-3);
}

TEST(RunnerHistogram, MergeIsLossless) {
    const std::vector<std::int64_t> samples = lognormal_samples(50'000, 11);
    Histogram whole;
    Histogram left;
    Histogram right;
    for (std::size_t i = 0; i < samples.size(); ++i) {
        whole.record(samples[i]);
        (i % 3 == 0 ? left : right).record(samples[i]);
    }
    ASSERT_TRUE(left.add(right));
    ASSERT_EQ(left.counts_length(), whole.counts_length());
    for (int i = 0; i < whole.counts_length(); ++i) ASSERT_EQ(left.count_at_index(i), whole.count_at_index(i)) << i;
    EXPECT_EQ(left.count(), whole.count());
    EXPECT_EQ(left.max_exact(), whole.max_exact());
    EXPECT_EQ(left.min(), whole.min());
    EXPECT_EQ(left.value_at_percentile(99.9), whole.value_at_percentile(99.9));
}

TEST(RunnerHistogram, RefusesToMergeADifferentLayout) {
    Histogram three_digits(1, 100'000'000'000, 3);
    Histogram two_digits(1, 100'000'000'000, 2);
    two_digits.record(5);
    EXPECT_FALSE(three_digits.add(two_digits));
    EXPECT_EQ(three_digits.count(), 0);
}

TEST(RunnerHistogram, CoversOneNanosecondToBeyondTenSecondsAtThreeDigits) {
    Histogram histogram;
    EXPECT_GE(histogram.highest(), 10'000'000'000);
    for (std::int64_t value = 1; value <= 2000; ++value) {
        EXPECT_EQ(histogram.lowest_equivalent(value), value) << "unit resolution up to 2000";
    }
    for (std::int64_t value : std::initializer_list<std::int64_t>{1, 7, 999, 2048, 123'456, 9'999'999, 1'000'000'000,
                                                                   10'000'000'000, 99'999'999'999}) {
        EXPECT_LE(histogram.lowest_equivalent(value), value);
        EXPECT_GE(histogram.highest_equivalent(value), value);
        EXPECT_LE(histogram.size_of_equivalent_range(value), std::max<std::int64_t>(1, value / 1000)) << value;
        EXPECT_EQ(histogram.index_of(histogram.value_from_index(histogram.index_of(value))), histogram.index_of(value));
    }
}

TEST(RunnerHistogram, ClampsValuesAboveItsRangeAndCountsThem) {
    Histogram histogram(1, 1'000'000, 3);
    histogram.record(5'000'000);
    histogram.record(-3);
    EXPECT_EQ(histogram.count(), 2);
    EXPECT_EQ(histogram.clamped(), 1);
    EXPECT_EQ(histogram.max_exact(), 1'000'000);
    EXPECT_EQ(histogram.value_at_percentile(0.0), 0);
}

TEST(RunnerHistogram, LeavesOutPercentilesTheSampleCountCannotSupport) {
    // 10 / (1 - q) samples: p50 needs 20, p90 100, p99 1000, p99.9 10000, p99.99 100000.
    EXPECT_EQ(Histogram::samples_needed(0.5), 20);
    EXPECT_EQ(Histogram::samples_needed(0.9), 100);
    EXPECT_EQ(Histogram::samples_needed(0.99), 1000);
    EXPECT_EQ(Histogram::samples_needed(0.999), 10000);
    EXPECT_EQ(Histogram::samples_needed(0.9999), 100000);
    Histogram histogram;
    for (int i = 1; i <= 19; ++i) histogram.record(i);
    EXPECT_FALSE(histogram.supported_percentile(50.0).has_value());
    histogram.record(20);
    EXPECT_EQ(histogram.supported_percentile(50.0), 10);
    EXPECT_FALSE(histogram.supported_percentile(90.0).has_value());
    for (int i = 0; i < 99'980; ++i) histogram.record(100);
    EXPECT_TRUE(histogram.supported_percentile(99.99).has_value()) << "exactly 100000 samples support p99.99";
    EXPECT_TRUE(histogram.supported_percentile(100.0).has_value());
    EXPECT_FALSE(Histogram().supported_percentile(100.0).has_value()) << "an empty histogram has no max";
}

}  // namespace
