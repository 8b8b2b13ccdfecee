#include "common/log.hpp"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringside {

LogLevel parse_log_level(const char* text) {
    if (text == nullptr || *text == '\0') return LogLevel::kError;
    struct Name {
        const char* name;
        LogLevel level;
    };
    static constexpr Name kNames[] = {{"off", LogLevel::kOff},   {"0", LogLevel::kOff},     {"error", LogLevel::kError},
                                      {"1", LogLevel::kError},   {"warn", LogLevel::kWarn}, {"2", LogLevel::kWarn},
                                      {"info", LogLevel::kInfo}, {"3", LogLevel::kInfo},    {"debug", LogLevel::kDebug},
                                      {"4", LogLevel::kDebug}};
    for (const Name& entry : kNames) {
        if (std::strcmp(text, entry.name) == 0) return entry.level;
    }
    return LogLevel::kError;
}

LogLevel log_level() {
    // Function-local static: thread-safe initialisation, read once.
    static const LogLevel level = parse_log_level(std::getenv("RINGSIDE_LOG"));
    return level;
}

void log(LogLevel level, const char* format, ...) {
    if (static_cast<int>(level) > static_cast<int>(log_level()) || level == LogLevel::kOff) return;
    static constexpr const char* kTags[] = {"", "error", "warn", "info", "debug"};
    char line[640];
    int used = std::snprintf(line, sizeof line, "ringside[%d] %s: ", static_cast<int>(::getpid()),
                             kTags[static_cast<int>(level)]);
    va_list args;
    va_start(args, format);
    const int wrote = std::vsnprintf(line + used, sizeof line - static_cast<std::size_t>(used) - 1, format, args);
    va_end(args);
    if (wrote > 0) used += wrote;
    if (used > static_cast<int>(sizeof line) - 2) used = static_cast<int>(sizeof line) - 2;
    line[used++] = '\n';
    // One write(2): lines from several threads never interleave mid-line.
    [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, line, static_cast<std::size_t>(used));
}

}  // namespace ringside
