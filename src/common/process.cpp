#include "common/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringside {

std::uint64_t process_start_ticks(pid_t pid) {
    if (pid <= 0) return 0;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char text[1024];
    const ssize_t got = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    if (got <= 0) return 0;
    text[got] = '\0';
    // The command name (field 2) may hold spaces and ')': skip to the last ')'.
    const char* cursor = std::strrchr(text, ')');
    if (cursor == nullptr) return 0;
    cursor += 1;
    // Fields after the name start at 3 (state); start time is field 22.
    for (int field = 3; field <= 22; ++field) {
        while (*cursor == ' ') ++cursor;
        if (*cursor == '\0') return 0;
        if (field == 22) return std::strtoull(cursor, nullptr, 10);
        while (*cursor != ' ' && *cursor != '\0') ++cursor;
    }
    return 0;
}

bool process_alive(pid_t pid, std::uint64_t start_ticks) {
    if (pid <= 0) return false;
    if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
    if (start_ticks == 0) return true;
    return process_start_ticks(pid) == start_ticks;
}

std::uint64_t self_start_ticks() {
    // Not cached: a forked child is another process with its own start time.
    return process_start_ticks(::getpid());
}

}  // namespace ringside
