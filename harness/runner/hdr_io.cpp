#include "runner/hdr_io.hpp"

#include <zlib.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace ringside::runner {
namespace {

// Java's (long) cast of a double: NaN is 0, out-of-range values saturate.
std::int64_t java_d2l(double value) {
    if (std::isnan(value)) return 0;
    if (value >= 9.223372036854775807e18) return INT64_MAX;
    if (value <= -9.223372036854775808e18) return INT64_MIN;
    return static_cast<std::int64_t>(value);
}

std::int64_t java_long_add(std::int64_t a, std::int64_t b) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}
std::int64_t java_long_mul(std::int64_t a, std::int64_t b) {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b));
}

std::string pad_left(std::string text, int width) {
    if (static_cast<int>(text.size()) < width) text.insert(0, static_cast<std::size_t>(width) - text.size(), ' ');
    return text;
}

// ---- ZigZag LEB128, as org.HdrHistogram.ZigZagEncoding ----

void put_zigzag(std::vector<std::uint8_t>& out, std::int64_t signed_value) {
    std::uint64_t value = (static_cast<std::uint64_t>(signed_value) << 1) ^ static_cast<std::uint64_t>(signed_value >> 63);
    for (int i = 0; i < 8; ++i) {
        if ((value >> 7) == 0) {
            out.push_back(static_cast<std::uint8_t>(value));
            return;
        }
        out.push_back(static_cast<std::uint8_t>((value & 0x7F) | 0x80));
        value >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(value));  // the 9th byte carries 8 bits
}

bool get_zigzag(const std::uint8_t*& at, const std::uint8_t* end, std::int64_t& out) {
    std::uint64_t value = 0;
    for (int i = 0; i < 9; ++i) {
        if (at == end) return false;
        const std::uint8_t byte = *at++;
        if (i == 8) {
            value |= static_cast<std::uint64_t>(byte) << 56;
            break;
        }
        value |= static_cast<std::uint64_t>(byte & 0x7F) << (7 * i);
        if ((byte & 0x80) == 0) break;
    }
    out = static_cast<std::int64_t>((value >> 1) ^ (~(value & 1) + 1));
    return true;
}

void put_be32(std::vector<std::uint8_t>& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}
void put_be64(std::vector<std::uint8_t>& out, std::uint64_t value) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}
void set_be32(std::uint8_t* at, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) at[i] = static_cast<std::uint8_t>(value >> (24 - 8 * i));
}
std::uint32_t get_be32(const std::uint8_t* at) {
    return (std::uint32_t{at[0]} << 24) | (std::uint32_t{at[1]} << 16) | (std::uint32_t{at[2]} << 8) | at[3];
}
std::uint64_t get_be64(const std::uint8_t* at) {
    return (std::uint64_t{get_be32(at)} << 32) | get_be32(at + 4);
}

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string java_fixed(double value, int decimals, int width) {
    // The shortest decimal that round-trips: digits d0 d1 ... with d0 at
    // the power of ten `exponent`, so d[i] sits at 10^(exponent - i).
    char buffer[64];
    const bool negative = std::signbit(value) && value != 0.0;
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, std::fabs(value), std::chars_format::scientific);
    std::string digits;
    const char* p = buffer;
    for (; p != end && *p != 'e'; ++p) {
        if (*p != '.') digits.push_back(*p);
    }
    int exponent = 0;
    if (p != end) {
        const char* at = p + 1;
        if (*at == '+') ++at;  // from_chars takes '-' but not '+'
        std::from_chars(at, end, exponent);
    }
    auto digit_at_power = [&](int power) {
        const int i = exponent - power;
        return i >= 0 && i < static_cast<int>(digits.size()) ? digits[static_cast<std::size_t>(i)] : '0';
    };
    // Every digit from the highest integer position down to 10^-decimals.
    std::string fixed;
    for (int power = exponent > 0 ? exponent : 0; power >= -decimals; --power) fixed.push_back(digit_at_power(power));
    // HALF_UP on the first dropped digit.
    if (digit_at_power(-decimals - 1) >= '5') {
        int i = static_cast<int>(fixed.size()) - 1;
        for (; i >= 0 && fixed[static_cast<std::size_t>(i)] == '9'; --i) fixed[static_cast<std::size_t>(i)] = '0';
        if (i >= 0) {
            ++fixed[static_cast<std::size_t>(i)];
        } else {
            fixed.insert(fixed.begin(), '1');
        }
    }
    const std::size_t integer_digits = fixed.size() - static_cast<std::size_t>(decimals);
    std::string text = fixed.substr(0, integer_digits);
    if (decimals > 0) text += "." + fixed.substr(integer_digits);
    if (negative && text.find_first_not_of("0.") != std::string::npos) text.insert(0, "-");
    return pad_left(std::move(text), width);
}

void write_percentile_distribution(std::ostream& out, const Histogram& histogram, double unit_ratio,
                                   int ticks_per_half) {
    char line[256];
    std::snprintf(line, sizeof line, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                  "1/(1-Percentile)");
    out << line;
    const int digits = histogram.digits();
    const std::int64_t total = histogram.count();
    // PercentileIterator + AbstractHistogramIterator, state for state.
    int index = 0;
    std::int64_t value_at_index = 0;
    std::int64_t total_to_current = 0;
    bool fresh = true;
    double level_to = 0.0;
    bool reached_last = false;
    auto has_next = [&] {
        if (total_to_current < total) return true;
        if (!reached_last && total > 0) {
            level_to = 100.0;
            reached_last = true;
            return true;
        }
        return false;
    };
    while (has_next()) {
        for (;;) {
            if (index >= histogram.counts_length()) return;  // cannot happen with consistent counts
            const std::int64_t count_at = histogram.count_at_index(index);
            if (fresh) {
                total_to_current += count_at;
                fresh = false;
            }
            if (count_at != 0 && 100.0 * static_cast<double>(total_to_current) / static_cast<double>(total) >= level_to) {
                const double value = static_cast<double>(histogram.highest_equivalent(value_at_index)) / unit_ratio;
                out << java_fixed(value, digits, 12) << ' ' << java_fixed(level_to / 100.0, 12, 2) << ' ';
                std::snprintf(line, sizeof line, "%10lld", static_cast<long long>(total_to_current));
                out << line;
                if (level_to != 100.0) out << ' ' << java_fixed(1.0 / (1.0 - level_to / 100.0), 2, 14);
                out << '\n';
                // incrementIterationLevel()
                const std::int64_t halvings = java_long_add(java_d2l(std::log(100.0 / (100.0 - level_to)) / std::log(2.0)), 1);
                const std::int64_t ticks =
                    java_long_mul(ticks_per_half, java_d2l(std::pow(2.0, static_cast<double>(halvings))));
                level_to += 100.0 / static_cast<double>(ticks);
                break;
            }
            ++index;
            value_at_index = histogram.value_from_index(index);
            fresh = true;
        }
    }
    out << "#[Mean    = " << java_fixed(histogram.mean() / unit_ratio, digits, 12)
        << ", StdDeviation   = " << java_fixed(histogram.stddev() / unit_ratio, digits, 12) << "]\n";
    std::snprintf(line, sizeof line, "%12lld", static_cast<long long>(histogram.count()));
    out << "#[Max     = " << java_fixed(static_cast<double>(histogram.max()) / unit_ratio, digits, 12)
        << ", Total count    = " << line << "]\n";
    std::snprintf(line, sizeof line, "#[Buckets = %12d, SubBuckets     = %12d]\n", histogram.bucket_count(),
                  histogram.sub_bucket_count());
    out << line;
}

std::vector<std::uint8_t> encode_v2(const Histogram& histogram) {
    std::vector<std::uint8_t> out;
    out.reserve(64);
    put_be32(out, kV2EncodingCookie);
    put_be32(out, 0);  // payload length, set below
    put_be32(out, 0);  // normalizing index offset
    put_be32(out, static_cast<std::uint32_t>(histogram.digits()));
    put_be64(out, static_cast<std::uint64_t>(histogram.lowest()));
    put_be64(out, static_cast<std::uint64_t>(histogram.highest()));
    double ratio = 1.0;
    std::uint64_t ratio_bits = 0;
    std::memcpy(&ratio_bits, &ratio, sizeof ratio_bits);
    put_be64(out, ratio_bits);
    const int limit = histogram.index_of(histogram.max_exact()) + 1;
    for (int i = 0; i < limit;) {
        const std::int64_t count = histogram.count_at_index(i++);
        std::int64_t zeros = 0;
        if (count == 0) {
            zeros = 1;
            while (i < limit && histogram.count_at_index(i) == 0) {
                ++zeros;
                ++i;
            }
        }
        put_zigzag(out, zeros > 1 ? -zeros : count);
    }
    set_be32(out.data() + 4, static_cast<std::uint32_t>(out.size() - 40));
    return out;
}

std::vector<std::uint8_t> encode_v2_compressed(const Histogram& histogram) {
    const std::vector<std::uint8_t> plain = encode_v2(histogram);
    uLongf length = compressBound(static_cast<uLong>(plain.size()));
    std::vector<std::uint8_t> out(8 + length);
    if (compress2(out.data() + 8, &length, plain.data(), static_cast<uLong>(plain.size()), Z_DEFAULT_COMPRESSION) !=
        Z_OK) {
        return {};
    }
    out.resize(8 + length);
    set_be32(out.data(), kV2CompressedEncodingCookie);
    set_be32(out.data() + 4, static_cast<std::uint32_t>(length));
    return out;
}

std::optional<Histogram> decode_v2(const std::uint8_t* data, std::size_t size, std::string& error) {
    if (size < 8) {
        error = "histogram shorter than its header";
        return std::nullopt;
    }
    const std::uint32_t cookie = get_be32(data);
    if ((cookie & ~0xF0u) == (kV2CompressedEncodingCookie & ~0xF0u)) {
        const std::uint32_t length = get_be32(data + 4);
        if (length > size - 8) {
            error = "compressed length beyond the buffer";
            return std::nullopt;
        }
        // The plain form is at most a few MB: grow until it fits.
        std::vector<std::uint8_t> plain(1 << 16);
        for (;;) {
            uLongf plain_length = static_cast<uLongf>(plain.size());
            const int rc = uncompress(plain.data(), &plain_length, data + 8, length);
            if (rc == Z_OK) {
                plain.resize(plain_length);
                return decode_v2(plain.data(), plain.size(), error);
            }
            if (rc != Z_BUF_ERROR || plain.size() > (1u << 28)) {
                error = "DEFLATE stream does not inflate (zlib " + std::to_string(rc) + ")";
                return std::nullopt;
            }
            plain.resize(plain.size() * 4);
        }
    }
    if ((cookie & ~0xF0u) != (kV2EncodingCookie & ~0xF0u) || size < 40) {
        error = "not a V2 histogram (cookie " + std::to_string(cookie) + ")";
        return std::nullopt;
    }
    const std::uint32_t payload = get_be32(data + 4);
    const auto digits = static_cast<int>(get_be32(data + 12));
    const auto lowest = static_cast<std::int64_t>(get_be64(data + 16));
    const auto highest = static_cast<std::int64_t>(get_be64(data + 24));
    if (payload > size - 40 || lowest < 1 || highest < 2 * lowest || digits < 0 || digits > 5) {
        error = "V2 header out of range";
        return std::nullopt;
    }
    Histogram histogram(lowest, highest, digits);
    const std::uint8_t* at = data + 40;
    const std::uint8_t* end = at + payload;
    int index = 0;
    while (at < end) {
        std::int64_t count = 0;
        if (!get_zigzag(at, end, count)) {
            error = "truncated count";
            return std::nullopt;
        }
        if (count < 0) {
            index += static_cast<int>(-count);
            continue;
        }
        if (index >= histogram.counts_length()) {
            error = "count beyond the histogram's range";
            return std::nullopt;
        }
        histogram.set_count_at_index(index++, count);
    }
    return histogram;
}

std::string base64_encode(const std::vector<std::uint8_t>& bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
        for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kBase64[(n >> shift) & 63]);
    }
    if (i < bytes.size()) {
        std::uint32_t n = std::uint32_t{bytes[i]} << 16;
        if (i + 1 < bytes.size()) n |= std::uint32_t{bytes[i + 1]} << 8;
        out.push_back(kBase64[(n >> 18) & 63]);
        out.push_back(kBase64[(n >> 12) & 63]);
        out.push_back(i + 1 < bytes.size() ? kBase64[(n >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
    std::vector<std::uint8_t> out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        if (c == '=') break;
        const char* found = std::strchr(kBase64, c);
        if (found == nullptr || c == '\0') return std::nullopt;
        buffer = (buffer << 6) | static_cast<std::uint32_t>(found - kBase64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(buffer >> bits));
        }
    }
    return out;
}

void HlogWriter::header(double start_epoch_s, const std::vector<std::string>& comments) {
    for (const std::string& comment : comments) out_ << '#' << comment << '\n';
    out_ << "#[Histogram log format version 1.3]\n";
    // java.util.Date.toString(), in UTC.
    const auto seconds = static_cast<std::time_t>(start_epoch_s);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char date[64];
    std::strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &utc);
    char line[256];
    std::snprintf(line, sizeof line, "#[StartTime: %.3f (seconds since epoch), %s]\n", start_epoch_s, date);
    out_ << line;
    std::snprintf(line, sizeof line, "#[BaseTime: %.3f (seconds since epoch)]\n", start_epoch_s);
    out_ << line;
    out_ << "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
}

EncodedInterval encode_interval(const std::string& tag, double start_s, double length_s, const Histogram& histogram) {
    return EncodedInterval{tag, start_s, length_s, histogram.max(), base64_encode(encode_v2_compressed(histogram))};
}

void HlogWriter::interval_line(const EncodedInterval& interval) {
    if (!interval.tag.empty()) out_ << "Tag=" << interval.tag << ',';
    out_ << java_fixed(interval.start_s, 3) << ',' << java_fixed(interval.length_s, 3) << ','
         << java_fixed(static_cast<double>(interval.max_ns) / 1e6, 3) << ',' << interval.base64 << '\n';
}

std::optional<std::vector<HlogInterval>> read_hlog(std::string_view text, std::string& error) {
    std::vector<HlogInterval> intervals;
    int line_number = 0;
    while (!text.empty()) {
        const std::size_t newline = text.find('\n');
        std::string_view line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
        ++line_number;
        if (line.empty() || line[0] == '#' || line[0] == '"') continue;
        HlogInterval interval{"", 0, 0, Histogram()};
        if (line.substr(0, 4) == "Tag=") {
            const std::size_t comma = line.find(',');
            interval.tag = std::string(line.substr(4, comma - 4));
            line = comma == std::string_view::npos ? std::string_view() : line.substr(comma + 1);
        }
        std::string_view fields[4];
        for (int i = 0; i < 4; ++i) {
            const std::size_t comma = i < 3 ? line.find(',') : std::string_view::npos;
            fields[i] = line.substr(0, comma);
            line = comma == std::string_view::npos ? std::string_view() : line.substr(comma + 1);
        }
        const std::string start(fields[0]);
        const std::string length(fields[1]);
        char* parse_end = nullptr;
        interval.start_s = std::strtod(start.c_str(), &parse_end);
        const bool start_ok = parse_end != start.c_str();
        interval.length_s = std::strtod(length.c_str(), &parse_end);
        const std::optional<std::vector<std::uint8_t>> bytes = base64_decode(fields[3]);
        std::string why;
        std::optional<Histogram> histogram;
        if (start_ok && bytes) histogram = decode_v2(bytes->data(), bytes->size(), why);
        if (!histogram) {
            error = "line " + std::to_string(line_number) + ": " + (why.empty() ? "malformed interval line" : why);
            return std::nullopt;
        }
        interval.histogram = std::move(*histogram);
        intervals.push_back(std::move(interval));
    }
    return intervals;
}

}  // namespace ringside::runner
