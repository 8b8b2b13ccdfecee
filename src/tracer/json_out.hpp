// A small nested-JSON writer for the tracer's stats (lanes are an array of
// objects, which capi/json_writer.hpp's flat fixed buffer does not hold).
// Grows in counted memory; finish() hands the text to the caller, freed
// with rs_string_free. Off the hot path only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "common/alloc.hpp"

namespace ringside::trace {

class JsonOut {
public:
    JsonOut() = default;
    ~JsonOut() { counted_free(text_); }
    JsonOut(const JsonOut&) = delete;
    JsonOut& operator=(const JsonOut&) = delete;

    JsonOut& begin_object(const char* key = nullptr) { return open(key, '{'); }
    JsonOut& end_object() { return close('}'); }
    JsonOut& begin_array(const char* key = nullptr) { return open(key, '['); }
    JsonOut& end_array() { return close(']'); }

    JsonOut& field(const char* key, std::uint64_t value) {
        char number[24];
        std::snprintf(number, sizeof number, "%llu", static_cast<unsigned long long>(value));
        return raw_value(key, number);
    }
    JsonOut& field(const char* key, std::int64_t value) {
        char number[24];
        std::snprintf(number, sizeof number, "%lld", static_cast<long long>(value));
        return raw_value(key, number);
    }
    JsonOut& field(const char* key, bool value) { return raw_value(key, value ? "true" : "false"); }
    JsonOut& field(const char* key, const char* value) {
        separate(key);
        append("\"");
        for (const char* c = value; *c != '\0'; ++c) {
            const auto byte = static_cast<unsigned char>(*c);
            if (byte == '"' || byte == '\\') {
                const char escaped[3] = {'\\', *c, '\0'};
                append(escaped);
            } else if (byte < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
                append(escaped);
            } else {
                const char plain[2] = {*c, '\0'};
                append(plain);
            }
        }
        return append("\"");
    }

    // The text (counted memory, the caller frees it with rs_string_free), or
    // nullptr when memory ran out.
    char* finish() {
        if (failed_ || text_ == nullptr) return nullptr;
        char* text = text_;
        text_ = nullptr;
        return text;
    }

private:
    JsonOut& open(const char* key, char bracket) {
        separate(key);
        const char text[2] = {bracket, '\0'};
        append(text);
        if (depth_ < kMaxDepth) first_[++depth_] = true;
        return *this;
    }
    JsonOut& close(char bracket) {
        const char text[2] = {bracket, '\0'};
        if (depth_ > 0) --depth_;
        return append(text);
    }
    JsonOut& raw_value(const char* key, const char* text) {
        separate(key);
        return append(text);
    }
    void separate(const char* key) {
        if (!first_[depth_]) append(",");
        first_[depth_] = false;
        if (key != nullptr) {
            append("\"");
            append(key);
            append("\":");
        }
    }
    JsonOut& append(const char* text) {
        const std::size_t length = std::strlen(text);
        if (used_ + length + 1 > capacity_ && !grow(used_ + length + 1)) return *this;
        std::memcpy(text_ + used_, text, length + 1);
        used_ += length;
        return *this;
    }
    bool grow(std::size_t needed) {
        std::size_t capacity = capacity_ == 0 ? 1024 : capacity_;
        while (capacity < needed) capacity *= 2;
        auto* bigger = static_cast<char*>(counted_malloc(capacity));
        if (bigger == nullptr) {
            failed_ = true;
            return false;
        }
        if (text_ != nullptr) std::memcpy(bigger, text_, used_ + 1);
        counted_free(text_);
        text_ = bigger;
        capacity_ = capacity;
        return true;
    }

    static constexpr int kMaxDepth = 8;
    char* text_ = nullptr;
    std::size_t used_ = 0;
    std::size_t capacity_ = 0;
    bool first_[kMaxDepth + 1] = {true};
    int depth_ = 0;
    bool failed_ = false;
};

}  // namespace ringside::trace
