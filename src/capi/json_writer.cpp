#include "capi/json_writer.hpp"

#include <cstdarg>
#include <cstring>

#include "common/alloc.hpp"

namespace ringside {

JsonWriter& JsonWriter::append(const char* text) {
    const std::size_t length = std::strlen(text);
    if (used_ + length >= sizeof buffer_) {
        overflow_ = true;
        return *this;
    }
    std::memcpy(buffer_ + used_, text, length);
    used_ += length;
    buffer_[used_] = '\0';
    return *this;
}

JsonWriter& JsonWriter::append_format(const char* format, ...) {
    va_list args;
    va_start(args, format);
    const int wrote = std::vsnprintf(buffer_ + used_, sizeof buffer_ - used_, format, args);
    va_end(args);
    if (wrote < 0 || used_ + static_cast<std::size_t>(wrote) >= sizeof buffer_) {
        overflow_ = true;
    } else {
        used_ += static_cast<std::size_t>(wrote);
    }
    return *this;
}

void JsonWriter::key_prefix(const char* key) {
    append(first_ ? "\"" : ",\"");
    first_ = false;
    append(key);
    append("\":");
}

JsonWriter& JsonWriter::field(const char* key, const char* value) {
    key_prefix(key);
    append("\"");
    for (const char* cursor = value; *cursor != '\0'; ++cursor) {
        const auto c = static_cast<unsigned char>(*cursor);
        if (c == '"' || c == '\\') {
            const char escaped[3] = {'\\', static_cast<char>(c), '\0'};
            append(escaped);
        } else if (c < 0x20) {
            append_format("\\u%04x", c);
        } else {
            const char plain[2] = {static_cast<char>(c), '\0'};
            append(plain);
        }
    }
    return append("\"");
}

char* JsonWriter::finish() {
    append("}");
    if (overflow_) return nullptr;
    return counted_strdup(buffer_, used_);
}

}  // namespace ringside
