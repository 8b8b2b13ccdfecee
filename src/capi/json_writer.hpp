// A flat JSON object written into a fixed buffer, then copied into counted
// memory for the caller (freed with rs_string_free). Only what the stats
// calls need: unsigned, signed, boolean and string members.
#pragma once

#include <cstdint>
#include <cstdio>

namespace ringside {

class JsonWriter {
public:
    JsonWriter() { append("{"); }

    JsonWriter& field(const char* key, std::uint64_t value) {
        key_prefix(key);
        return append_format("%llu", static_cast<unsigned long long>(value));
    }
    JsonWriter& field(const char* key, std::int64_t value) {
        key_prefix(key);
        return append_format("%lld", static_cast<long long>(value));
    }
    JsonWriter& field(const char* key, bool value) {
        key_prefix(key);
        return append(value ? "true" : "false");
    }
    JsonWriter& field(const char* key, const char* value);

    // Closes the object and returns a counted copy, or nullptr (no memory or
    // the text outgrew the buffer).
    char* finish();

private:
    void key_prefix(const char* key);
    JsonWriter& append(const char* text);
    JsonWriter& append_format(const char* format, ...) __attribute__((format(printf, 2, 3)));

    char buffer_[4096];
    std::size_t used_ = 0;
    bool overflow_ = false;
    bool first_ = true;
};

}  // namespace ringside
