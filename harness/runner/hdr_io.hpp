// HdrHistogram's file formats, written (and read back) as the Java
// reference implementation 2.1.11 does:
//
//  .hgrm  outputPercentileDistribution(): the percentile table with 5 ticks
//         per half distance, values divided by a unit ratio, and the
//         #[Mean ...] #[Max ...] #[Buckets ...] footer. Numbers are formatted
//         as java.util.Formatter does (HALF_UP on the shortest decimal form).
//
//  V2 encoding (encodeIntoByteBuffer / encodeIntoCompressedByteBuffer):
//         a 40-byte big-endian header
//           i32 cookie 0x1c849313 (V2 base 0x1c849303 | 0x10: the word-size
//               nibble Java sets for LEB128+ZigZag counts)
//           i32 payload length, i32 normalizing index offset (0),
//           i32 significant digits, i64 lowest, i64 highest, f64 ratio (1.0)
//         then the counts up to the index of the max value, each a ZigZag
//         LEB128 long (at most 9 bytes), a run of >= 2 zero counts written
//         as its negated length. Compressed form: i32 cookie 0x1c849314
//         (V2 compressed base 0x1c849304 | 0x10), i32 length of the DEFLATE
//         stream (zlib wrapper, default level), then that stream.
//
//  .hlog  HistogramLogWriter's log format 1.3: comment lines, the version,
//         StartTime and BaseTime headers, the CSV legend, then one line per
//         interval "[Tag=<tag>,]start,length,max,<base64 of the compressed V2>",
//         start relative to BaseTime in seconds, max in milliseconds (value
//         unit ratio 1e6: our values are nanoseconds).
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "runner/histogram.hpp"

namespace ringside::runner {

inline constexpr std::uint32_t kV2EncodingCookie = 0x1c849303u | 0x10u;
inline constexpr std::uint32_t kV2CompressedEncodingCookie = 0x1c849304u | 0x10u;

// java.util.Formatter's "%<width>.<decimals>f" for a finite double.
std::string java_fixed(double value, int decimals, int width = 0);

// outputPercentileDistribution(stream, ticks_per_half, unit_ratio).
void write_percentile_distribution(std::ostream& out, const Histogram& histogram, double unit_ratio = 1.0,
                                   int ticks_per_half = 5);

std::vector<std::uint8_t> encode_v2(const Histogram& histogram);
std::vector<std::uint8_t> encode_v2_compressed(const Histogram& histogram);
// Decodes either form; empty with `error` set if the bytes are not a V2 histogram.
std::optional<Histogram> decode_v2(const std::uint8_t* data, std::size_t size, std::string& error);

std::string base64_encode(const std::vector<std::uint8_t>& bytes);
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

// One interval of a log.
struct HlogInterval {
    std::string tag;       // "" = untagged
    double start_s = 0;    // relative to the log's base time
    double length_s = 0;
    Histogram histogram;
};

// An interval already encoded: what a log line holds.
struct EncodedInterval {
    std::string tag;
    double start_s = 0;
    double length_s = 0;
    std::int64_t max_ns = 0;  // the histogram's max()
    std::string base64;       // base64 of the compressed V2 encoding
};
EncodedInterval encode_interval(const std::string& tag, double start_s, double length_s, const Histogram& histogram);
inline EncodedInterval encode_interval(const HlogInterval& interval) {
    return encode_interval(interval.tag, interval.start_s, interval.length_s, interval.histogram);
}

// Writes a 1.3 log: header() once, then interval() per interval.
class HlogWriter {
public:
    explicit HlogWriter(std::ostream& out) : out_(out) {}
    // `comment` lines go first (each prefixed with '#'); start_epoch_s is
    // the wall-clock start, written as StartTime and BaseTime.
    void header(double start_epoch_s, const std::vector<std::string>& comments);
    void interval(const HlogInterval& interval) { interval_line(encode_interval(interval)); }
    void interval_line(const EncodedInterval& interval);

private:
    std::ostream& out_;
};

// Reads a log written by any 1.x writer; intervals in file order. Empty with
// `error` set (naming the line) on a malformed line.
std::optional<std::vector<HlogInterval>> read_hlog(std::string_view text, std::string& error);

}  // namespace ringside::runner
