#include "common/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringside {

namespace {

// Fields 3 (state) and 22 (start time) of /proc/<pid>/stat; false if unreadable.
bool read_stat(pid_t pid, char& state, std::uint64_t& start_ticks) {
    if (pid <= 0) return false;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char text[1024];
    const ssize_t got = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    if (got <= 0) return false;
    text[got] = '\0';
    // The command name (field 2) may hold spaces and ')': skip to the last ')'.
    const char* cursor = std::strrchr(text, ')');
    if (cursor == nullptr) return false;
    cursor += 1;
    for (int field = 3; field <= 22; ++field) {
        while (*cursor == ' ') ++cursor;
        if (*cursor == '\0') return false;
        if (field == 3) state = *cursor;
        if (field == 22) {
            start_ticks = std::strtoull(cursor, nullptr, 10);
            return true;
        }
        while (*cursor != ' ' && *cursor != '\0') ++cursor;
    }
    return false;
}

}  // namespace

std::uint64_t process_start_ticks(pid_t pid) {
    char state = 0;
    std::uint64_t ticks = 0;
    return read_stat(pid, state, ticks) ? ticks : 0;
}

bool process_exited(pid_t pid) {
    char state = 0;
    std::uint64_t ticks = 0;
    // A zombie (killed, not yet reaped) has ended: it holds nothing any more.
    return read_stat(pid, state, ticks) && (state == 'Z' || state == 'X' || state == 'x');
}

bool process_alive(pid_t pid, std::uint64_t start_ticks) {
    if (pid <= 0) return false;
    if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
    if (process_exited(pid)) return false;
    if (start_ticks == 0) return true;
    return process_start_ticks(pid) == start_ticks;
}

std::uint64_t self_start_ticks() {
    // Not cached: a forked child is another process with its own start time.
    return process_start_ticks(::getpid());
}

}  // namespace ringside
