// Library logging to stderr, off the hot path only. Verbosity comes from the
// RINGSIDE_LOG environment variable, read once: off, error (default), warn,
// info, debug, or a number 0..4.
#pragma once

namespace ringside {

enum class LogLevel : int { kOff = 0, kError = 1, kWarn = 2, kInfo = 3, kDebug = 4 };

// The level in force (parsed from RINGSIDE_LOG on first use).
LogLevel log_level();

// Parses a RINGSIDE_LOG value; unknown text gives kError.
LogLevel parse_log_level(const char* text);

void log(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace ringside
