// HdrHistogram's formats as the runner writes them: the V2 encoding and its
// compressed form round-trip every count; the .hlog round-trips intervals
// and tags; numbers are formatted as java.util.Formatter does; and
// HdrHistogram's own HistogramLogProcessor (Debian's libhdrhistogram-java)
// reads our .hlog and prints exactly our .hgrm. The Java test is skipped,
// saying why, when java or the jar is missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "run_binary.hpp"
#include "runner/hdr_io.hpp"
#include "runner/recorder.hpp"

namespace {

using namespace ringside::runner;

Histogram sample_histogram(unsigned seed, int n) {
    std::mt19937_64 random(seed);
    std::lognormal_distribution<double> latency(6.5, 1.5);
    Histogram histogram;
    for (int i = 0; i < n; ++i) histogram.record(static_cast<std::int64_t>(latency(random)));
    histogram.record(0);
    histogram.record(99'000'000'000);  // near the top of the range
    return histogram;
}

void expect_same_counts(const Histogram& a, const Histogram& b) {
    ASSERT_TRUE(a.same_layout(b));
    for (int i = 0; i < a.counts_length(); ++i) ASSERT_EQ(a.count_at_index(i), b.count_at_index(i)) << "index " << i;
    EXPECT_EQ(a.count(), b.count());
    EXPECT_EQ(a.max(), b.max());
}

std::string hgrm_of(const Histogram& histogram) {
    std::ostringstream text;
    write_percentile_distribution(text, histogram, 1.0);
    return text.str();
}

TEST(RunnerHdrIo, V2EncodingRoundTripsEveryCount) {
    const Histogram histogram = sample_histogram(3, 100'000);
    for (const auto& bytes : {encode_v2(histogram), encode_v2_compressed(histogram)}) {
        std::string error;
        const std::optional<Histogram> decoded = decode_v2(bytes.data(), bytes.size(), error);
        ASSERT_TRUE(decoded) << error;
        expect_same_counts(histogram, *decoded);
    }
}

TEST(RunnerHdrIo, WritesTheCookiesHdrHistogramWrites) {
    const Histogram histogram = sample_histogram(5, 10);
    const std::vector<std::uint8_t> plain = encode_v2(histogram);
    const std::vector<std::uint8_t> compressed = encode_v2_compressed(histogram);
    auto cookie = [](const std::vector<std::uint8_t>& b) {
        return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
    };
    // V2 bases 0x1c849303 / 0x1c849304 with the 0x10 word-size nibble Java 2.1.x sets.
    EXPECT_EQ(cookie(plain), 0x1c849313u);
    EXPECT_EQ(cookie(compressed), 0x1c849314u);
    EXPECT_EQ(plain.size(), 40 + ((std::uint32_t{plain[4]} << 24) | (std::uint32_t{plain[5]} << 16) |
                                  (std::uint32_t{plain[6]} << 8) | plain[7]));
}

TEST(RunnerHdrIo, RejectsBytesThatAreNotAHistogram) {
    std::string error;
    const std::vector<std::uint8_t> junk(64, 0x42);
    EXPECT_FALSE(decode_v2(junk.data(), junk.size(), error));
    EXPECT_FALSE(error.empty());
}

TEST(RunnerHdrIo, Base64RoundTripsEveryLength) {
    for (std::size_t n = 0; n < 20; ++n) {
        std::vector<std::uint8_t> bytes(n);
        for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<std::uint8_t>(i * 37 + 200);
        const std::string text = base64_encode(bytes);
        EXPECT_EQ(text.size() % 4, 0u);
        EXPECT_EQ(base64_decode(text), bytes);
    }
    EXPECT_EQ(base64_encode({'M', 'a'}), "TWE=");
}

TEST(RunnerHdrIo, FormatsNumbersAsJavaUtilFormatterDoes) {
    EXPECT_EQ(java_fixed(0.0005, 3), "0.001");    // HALF_UP
    EXPECT_EQ(java_fixed(0.0015, 3), "0.002");    // on the shortest decimal, not the binary value (C prints 0.001)
    EXPECT_EQ(java_fixed(2.5, 0), "3");
    EXPECT_EQ(java_fixed(1234.5678, 3), "1234.568");
    EXPECT_EQ(java_fixed(99.9999, 2), "100.00");
    EXPECT_EQ(java_fixed(0.0, 12), "0.000000000000");
    EXPECT_EQ(java_fixed(731.0, 3, 12), "     731.000");
    EXPECT_EQ(java_fixed(1e-7, 3), "0.000");
    EXPECT_EQ(java_fixed(123456789012.0, 3), "123456789012.000");
}

TEST(RunnerHdrIo, PercentileDistributionHasHdrHistogramsLayout) {
    const std::string text = hgrm_of(sample_histogram(9, 1000));
    EXPECT_EQ(text.rfind("       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 0), 0u) << text;
    EXPECT_NE(text.find(" 1.000000000000       1002\n"), std::string::npos) << "the 100% line has no 1/(1-p)";
    EXPECT_NE(text.find("#[Mean    = "), std::string::npos);
    EXPECT_NE(text.find(", Total count    =         1002]"), std::string::npos) << text;
    EXPECT_NE(text.find("#[Buckets =           27, SubBuckets     =         2048]"), std::string::npos) << text;
}

TEST(RunnerHdrIo, LogRoundTripsIntervalsAndTags) {
    std::ostringstream log;
    HlogWriter writer(log);
    writer.header(1'700'000'000.25, {"[a comment]"});
    std::vector<HlogInterval> written;
    for (int i = 0; i < 3; ++i) {
        written.push_back({"", i * 1.0, 1.0, sample_histogram(20 + i, 5000)});
        written.push_back({"uncorrected", i * 1.0, 1.0, sample_histogram(40 + i, 3000)});
    }
    for (const HlogInterval& interval : written) writer.interval(interval);
    const std::string text = log.str();
    EXPECT_NE(text.find("#[Histogram log format version 1.3]\n"), std::string::npos);
    EXPECT_NE(text.find("#[StartTime: 1700000000.250 (seconds since epoch), "), std::string::npos);
    EXPECT_NE(text.find("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n"),
              std::string::npos);
    EXPECT_NE(text.find("\nTag=uncorrected,1.000,1.000,"), std::string::npos) << text.substr(0, 600);
    std::string error;
    const auto read = read_hlog(text, error);
    ASSERT_TRUE(read) << error;
    ASSERT_EQ(read->size(), written.size());
    for (std::size_t i = 0; i < written.size(); ++i) {
        EXPECT_EQ((*read)[i].tag, written[i].tag);
        EXPECT_DOUBLE_EQ((*read)[i].start_s, written[i].start_s);
        expect_same_counts((*read)[i].histogram, written[i].histogram);
    }
}

TEST(RunnerHdrIo, RecorderKeepsEveryIntervalInOrderPastItsPreallocatedPool) {
    std::string error;
    const Clock clock = Clock::make("monotonic", error);  // ticks are nanoseconds
    ASSERT_TRUE(error.empty()) << error;
    Recorder recorder(clock, 0.001, 2);  // room for 2 intervals; the run spans 10
    recorder.start(1'000'000);
    for (std::uint64_t seq = 1; seq <= 1000; ++seq) {
        const std::uint64_t sent = 1'000'000 + seq * 10'000;  // one every 10 us: 10 ms in all
        recorder.stamp(seq, sent, sent + 100);
        recorder.record(seq, sent + 500 + seq);
    }
    recorder.finish(1'000'000 + 1001 * 10'000);
    std::int64_t corrected = 0;
    double previous_start = -1;
    std::size_t untagged = 0;
    for (const EncodedInterval& interval : recorder.intervals()) {
        const auto bytes = base64_decode(interval.base64);
        ASSERT_TRUE(bytes);
        const std::optional<Histogram> h = decode_v2(bytes->data(), bytes->size(), error);
        ASSERT_TRUE(h) << error;
        if (!interval.tag.empty()) continue;
        ++untagged;
        EXPECT_GT(interval.start_s, previous_start);
        previous_start = interval.start_s;
        corrected += h->count();
    }
    EXPECT_EQ(untagged, 11u);
    EXPECT_EQ(corrected, 1000);
    EXPECT_EQ(recorder.corrected().count(), 1000);
    EXPECT_EQ(recorder.uncorrected().max_exact(), 400 + 1000);
}

// ---- HdrHistogram's own reader -------------------------------------------------

std::string hdrhistogram_jar() {
    if (const char* env = std::getenv("RINGSIDE_HDRHISTOGRAM_JAR")) return env;
    for (const char* path : {"/usr/share/java/HdrHistogram.jar", "/usr/share/java/hdrhistogram.jar"}) {
        if (std::filesystem::exists(path)) return path;
    }
    return "";
}

std::string java_binary() {
    for (const char* path : {"/usr/bin/java", "/usr/local/bin/java"}) {
        if (std::filesystem::exists(path)) return path;
    }
    return "";
}

// Runs HistogramLogProcessor on `log` (values in ns, so unit ratio 1) and
// returns its percentile distribution for `tag` ("" = untagged).
std::string java_distribution(const std::string& log, const std::string& tag, const rstest::ScratchDir& dir) {
    const std::string out = dir.prefix(tag.empty() ? "java" : "java-" + tag);
    std::vector<std::string> args = {"-cp", hdrhistogram_jar(), "org.HdrHistogram.HistogramLogProcessor",
                                     "-i", log, "-o", out, "-outputValueUnitRatio", "1"};
    if (!tag.empty()) {
        args.push_back("-tag");
        args.push_back(tag);
    }
    const rstest::Run run = rstest::run_program(java_binary(), args, 120);
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return rstest::without_leading_comments(rstest::read_text(out + ".hgrm"));
}

TEST(RunnerHdrIo, HdrHistogramsLogProcessorReadsOurLogAndPrintsOurPercentiles) {
    if (java_binary().empty() || hdrhistogram_jar().empty()) {
        GTEST_SKIP() << "needs java and HdrHistogram's jar (apt-get install libhdrhistogram-java, or set "
                        "RINGSIDE_HDRHISTOGRAM_JAR): found java '" << java_binary() << "', jar '" << hdrhistogram_jar() << "'";
    }
    rstest::ScratchDir dir;
    const std::string log_path = dir.prefix("run.hlog");
    Histogram untagged;
    Histogram uncorrected;
    {
        std::ofstream log(log_path);
        HlogWriter writer(log);
        writer.header(1'700'000'000.0, {"[ringside runner test]"});
        for (int i = 0; i < 4; ++i) {
            const Histogram a = sample_histogram(100 + i, 20'000);
            const Histogram b = sample_histogram(200 + i, 7'000);
            writer.interval({"", i * 0.5, 0.5, a});
            writer.interval({"uncorrected", i * 0.5, 0.5, b});
            untagged.add(a);
            uncorrected.add(b);
        }
    }
    // The merged intervals, printed by Java and by us: the same table, line for line
    // (Java puts two comment lines about the time range before it).
    EXPECT_EQ(java_distribution(log_path, "", dir), hgrm_of(untagged));
    EXPECT_EQ(java_distribution(log_path, "uncorrected", dir), hgrm_of(uncorrected));
}

}  // namespace
