#include "common/error.hpp"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common/alloc.hpp"
#include "common/log.hpp"

namespace ringside {
namespace {

constexpr std::size_t kMessageBytes = 512;
thread_local char t_message[kMessageBytes] = {};
thread_local rs_result t_code = RS_OK;

void record(rs_result code, int err, const char* format, va_list args) {
    t_code = code;
    int used = std::vsnprintf(t_message, kMessageBytes, format, args);
    if (used < 0) used = 0;
    if (err != 0 && static_cast<std::size_t>(used) < kMessageBytes) {
        char reason[128];
        // GNU strerror_r returns the message pointer (possibly static).
        const char* text = strerror_r(err, reason, sizeof reason);
        std::snprintf(t_message + used, kMessageBytes - static_cast<std::size_t>(used), ": %s", text);
    }
}

// Failures are logged at debug (callers decide what is an error for them);
// expected outcomes such as RS_BUSY never reach here as failures.
void log_failure(rs_result code) {
    if (log_level() >= LogLevel::kDebug) log(LogLevel::kDebug, "%s: %s", rs_result_name(code), t_message);
}

}  // namespace

rs_result fail(rs_result code, const char* format, ...) {
    va_list args;
    va_start(args, format);
    record(code, 0, format, args);
    va_end(args);
    log_failure(code);
    return code;
}

rs_result fail_errno(rs_result code, int err, const char* format, ...) {
    va_list args;
    va_start(args, format);
    record(code, err, format, args);
    va_end(args);
    log_failure(code);
    return code;
}

rs_result result_from_errno(int err) {
    switch (err) {
        case ENOENT: return RS_ERR_NOT_FOUND;
        case EEXIST: return RS_ERR_EXISTS;
        case EACCES:
        case EPERM:
        case EROFS: return RS_ERR_PERMISSION;
        case ENOMEM:
        case ENOSPC:
        case EMFILE:
        case ENFILE: return RS_ERR_NO_MEMORY;
        case EINVAL:
        case ENAMETOOLONG:
        case ELOOP:
        case ENOTDIR:
        case EISDIR: return RS_ERR_INVALID_ARGUMENT;
        default: return RS_ERR_INTERNAL;
    }
}

void clear_last_error() {
    t_code = RS_OK;
    t_message[0] = '\0';
}

char* counted_strdup(const char* text, std::size_t length) noexcept {
    auto* copy = static_cast<char*>(counted_malloc(length + 1));
    if (copy == nullptr) return nullptr;
    std::memcpy(copy, text, length);
    copy[length] = '\0';
    return copy;
}

}  // namespace ringside

extern "C" {

const char* rs_last_error_message(void) { return ringside::t_message; }
rs_result rs_last_error_code(void) { return ringside::t_code; }
void rs_clear_error(void) { ringside::clear_last_error(); }

}
