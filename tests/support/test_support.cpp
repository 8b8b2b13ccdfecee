#include "support/test_support.hpp"

#include "shm/guarded_map.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace rstest {

namespace layout = ringside::layout;

void RegionDestroyer::operator()(rs_region_t* region) const {
    const rs_result result = rs_region_destroy(region);
    EXPECT_EQ(result, RS_OK) << "rs_region_destroy: " << describe(result);
}

void RingDestroyer::operator()(rs_ring_t* ring) const {
    const rs_result result = rs_ring_destroy(ring);
    EXPECT_EQ(result, RS_OK) << "rs_ring_destroy: " << describe(result);
}

rs_region_options region_options(rs_backing backing, std::uint64_t capacity, std::uint32_t ring_count) {
    rs_region_options options;
    rs_region_options_init(&options);
    options.backing = backing;
    options.ring_capacity = capacity;
    options.ring_count = ring_count;
    return options;
}

rs_result create_region(const std::string& name, const rs_region_options& options, RegionPtr& out) {
    rs_region_t* region = nullptr;
    const rs_result result = rs_region_create(name.c_str(), &options, &region);
    out.reset(result == RS_OK ? region : nullptr);
    return result;
}

rs_result open_region(const std::string& name, const rs_region_options& options, RegionPtr& out) {
    rs_region_t* region = nullptr;
    const rs_result result = rs_region_open(name.c_str(), &options, &region);
    out.reset(result == RS_OK ? region : nullptr);
    return result;
}

rs_result create_ring(rs_region_t* region, std::uint32_t index, rs_role role, RingPtr& out) {
    rs_ring_t* ring = nullptr;
    const rs_result result = rs_ring_create(region, index, role, &ring);
    out.reset(result == RS_OK ? ring : nullptr);
    return result;
}

rs_region_info region_info(rs_region_t* region) {
    rs_region_info info{};
    info.struct_size = sizeof info;
    const rs_result result = rs_region_get_info(region, &info);
    EXPECT_EQ(result, RS_OK) << describe(result);
    return info;
}

// ---- Scratch ---------------------------------------------------------------

namespace {
std::atomic<int> g_scratch_serial{0};

// 32 random bits as 8 hex digits: with the pid, names no other process
// instance has used (a pid is reused once its holder is gone).
std::string random_token() {
    std::uint32_t value = 0;
    if (::getrandom(&value, sizeof value, 0) != static_cast<ssize_t>(sizeof value)) {
        value = static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    char text[9];
    std::snprintf(text, sizeof text, "%08x", value);
    return text;
}
}  // namespace

// The prefix holds a random token besides the pid: a process that died
// without cleaning up (a death-test child, a test killed on timeout) leaves
// names with its pid, and once that pid is reused a pid-only prefix would
// make the new process's leftover check below blame (and fail) an unrelated
// test for them.
Scratch::Scratch() : owner_pid_(::getpid()) {
    const int serial = g_scratch_serial.fetch_add(1);
    prefix_ = "rstest." + std::to_string(owner_pid_) + "-" + random_token() + "." + std::to_string(serial) + ".";
}

Scratch::~Scratch() {
    // Only the process that made the scratch cleans up (a forked child that
    // somehow unwinds must not remove the parent's files).
    if (::getpid() != owner_pid_) return;
    if (DIR* shm = ::opendir("/dev/shm")) {
        while (dirent* entry = ::readdir(shm)) {
            if (std::string_view(entry->d_name).substr(0, prefix_.size()) == prefix_) {
                ADD_FAILURE() << "left behind in /dev/shm: " << entry->d_name;
                ::shm_unlink(("/" + std::string(entry->d_name)).c_str());
            }
        }
        ::closedir(shm);
    }
    if (dir_.empty()) return;  // never asked for: never made
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, error)) {
        ADD_FAILURE() << "left behind in the temp dir: " << entry.path();
    }
    std::filesystem::remove_all(dir_, error);
    EXPECT_FALSE(std::filesystem::exists(dir_)) << dir_ << " could not be removed";
}

// Made on first use, so that a Scratch used for shm names only (as in a
// death test, whose child re-runs the test body and then dies) leaves no
// empty folder in the temp directory.
const std::string& Scratch::dir() const {
    if (!dir_.empty()) return dir_;
    std::string pattern = (std::filesystem::temp_directory_path() / ("ringside-test." + prefix_ + "XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        ADD_FAILURE() << "mkdtemp(" << pattern << "): " << std::strerror(errno);
    }
    dir_ = pattern;
    return dir_;
}

std::string Scratch::shm_name(std::string_view tag) {
    return "/" + prefix_ + std::to_string(counter_++) + "." + std::string(tag);
}

std::string Scratch::file_path(std::string_view tag) {
    return dir() + "/" + std::to_string(counter_++) + "." + std::string(tag);
}

std::string Scratch::name(rs_backing backing, std::string_view tag) {
    return backing == RS_BACKING_SHM ? shm_name(tag) : file_path(tag);
}

std::string Scratch::backing_path(rs_backing backing, const std::string& name) {
    return backing == RS_BACKING_SHM ? "/dev/shm" + name : name;
}

bool Scratch::exists(rs_backing backing, const std::string& name) {
    struct stat info {};
    return ::lstat(backing_path(backing, name).c_str(), &info) == 0;
}

// ---- RawMapping ------------------------------------------------------------

RawMapping::RawMapping(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        ADD_FAILURE() << "open(" << path << "): " << std::strerror(errno);
        return;
    }
    struct stat info {};
    if (::fstat(fd, &info) == 0 && info.st_size > 0) {
        // Between guard pages, like the library's own mappings: a test that
        // pokes past the region faults instead of corrupting its neighbour.
        void* address = ringside::map_guarded(static_cast<std::uint64_t>(info.st_size), PROT_READ | PROT_WRITE,
                                              MAP_SHARED, fd);
        if (address != MAP_FAILED) {
            base_ = static_cast<std::byte*>(address);
            size_ = static_cast<std::size_t>(info.st_size);
        } else {
            ADD_FAILURE() << "mmap(" << path << "): " << std::strerror(errno);
        }
    } else {
        ADD_FAILURE() << path << " is empty or cannot be stat'ed";
    }
    ::close(fd);
}

RawMapping::~RawMapping() {
    if (base_ != nullptr) ringside::unmap_guarded(base_, size_);
}

layout::RingControl& RawMapping::control(std::uint32_t index) const {
    return *reinterpret_cast<layout::RingControl*>(base_ +
                                                   layout::ring_control_offset(index, header().ring_capacity));
}

std::byte* RawMapping::data(std::uint32_t index) const {
    return base_ + layout::ring_data_offset(index, header().ring_capacity);
}

std::vector<std::pair<std::uintptr_t, std::uintptr_t>> mappings_of(const std::string& path) {
    std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        // "start-end perms offset dev inode   path"
        const std::size_t slash = line.find('/');
        if (slash == std::string::npos) continue;
        std::string mapped = line.substr(slash);
        const std::string deleted = " (deleted)";
        if (mapped.size() > deleted.size() && mapped.compare(mapped.size() - deleted.size(), deleted.size(), deleted) == 0) {
            mapped.resize(mapped.size() - deleted.size());
        }
        if (mapped != path) continue;
        std::uintptr_t start = 0;
        std::uintptr_t end = 0;
        if (std::sscanf(line.c_str(), "%zx-%zx", &start, &end) == 2) ranges.emplace_back(start, end);
    }
    return ranges;
}

bool inside_a_mapping_of(const std::string& path, const void* pointer, std::size_t length) {
    const auto address = reinterpret_cast<std::uintptr_t>(pointer);
    for (const auto& [start, end] : mappings_of(path)) {
        if (address >= start && address + length <= end) return true;
    }
    return false;
}

SmapsEntry smaps_of(std::uintptr_t start) {
    SmapsEntry entry;
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    while (std::getline(smaps, line)) {
        if (!entry.found) {
            // Compared as numbers: the kernel pads addresses to 8 hex digits,
            // and under valgrind mappings sit low enough to be padded.
            std::uintptr_t first = 0;
            std::uintptr_t last = 0;
            entry.found = std::sscanf(line.c_str(), "%zx-%zx ", &first, &last) == 2 && first == start;
            continue;
        }
        unsigned long long kib = 0;
        if (std::sscanf(line.c_str(), "Rss: %llu kB", &kib) == 1) entry.rss_bytes = kib * 1024;
        if (std::sscanf(line.c_str(), "Locked: %llu kB", &kib) == 1) entry.locked_bytes = kib * 1024;
        if (line.rfind("VmFlags:", 0) == 0) {
            entry.vm_flags = line.substr(8);
            break;  // the last field of an entry
        }
    }
    return entry;
}

std::size_t resident_pages(std::uintptr_t start, std::size_t length) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> pages((length + page - 1) / page);
    if (::mincore(reinterpret_cast<void*>(start), length, pages.data()) != 0) {
        ADD_FAILURE() << "mincore: " << std::strerror(errno);
        return 0;
    }
    return static_cast<std::size_t>(std::count_if(pages.begin(), pages.end(), [](unsigned char v) { return (v & 1) != 0; }));
}

int threads_named(const std::string& name) {
    int count = 0;
    std::error_code error;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", error)) {
        std::ifstream comm(task.path() / "comm");
        std::string text;
        if (std::getline(comm, text) && text == name) ++count;
    }
    return count;
}

bool poke_file(const std::string& path, std::uint64_t offset, const void* value, std::size_t bytes) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::pwrite(fd, value, bytes, static_cast<off_t>(offset)) == static_cast<ssize_t>(bytes);
    ::close(fd);
    return ok;
}

// ---- PlainRing -------------------------------------------------------------

PlainRing::PlainRing(std::uint64_t capacity, std::uint32_t record_align) {
    const std::size_t bytes = layout::kRingControlBytes + capacity;
    memory_ = std::aligned_alloc(4096, bytes);
    if (memory_ == nullptr) {
        ADD_FAILURE() << "aligned_alloc of " << bytes << " bytes failed";
        return;
    }
    // All-zero is the valid empty state of a ring.
    std::memset(memory_, 0, bytes);
    view_.control = static_cast<layout::RingControl*>(memory_);
    view_.data = static_cast<std::byte*>(memory_) + layout::kRingControlBytes;
    view_.capacity = capacity;
    view_.record_align = record_align;
}

PlainRing::~PlainRing() { std::free(memory_); }

bool PlainRing::contains(const void* pointer, std::size_t length) const {
    const auto* first = static_cast<const std::byte*>(pointer);
    return first >= view_.data && first + length <= view_.data + view_.capacity;
}

// ---- processes -------------------------------------------------------------

pid_t fork_child(const std::function<int()>& body) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid != 0) {
        if (pid < 0) ADD_FAILURE() << "fork: " << std::strerror(errno);
        return pid;
    }
    int code = 99;
    try {
        code = body();
    } catch (...) {
        code = 98;
    }
    std::fflush(nullptr);
    ::_exit(code);
}

int run_command(const std::string& program, const std::string& arguments, std::string& output) {
    const std::string command = program + " " + arguments + " 2>&1";
    output.clear();
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return -1;
    char buffer[4096];
    while (std::size_t got = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, got);
    const int status = ::pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int wait_child(pid_t pid, int timeout_ms) {
    if (pid <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int status = 0;
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        if (done < 0 && errno != EINTR) return -1;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            ADD_FAILURE() << "child " << pid << " did not finish within " << timeout_ms << " ms: killed";
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

Pipe::Pipe() {
    int fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    read_ = fds[0];
    write_ = fds[1];
}

Pipe::~Pipe() {
    close_read();
    close_write();
}

bool Pipe::send(const void* data, std::size_t bytes) {
    const auto* cursor = static_cast<const char*>(data);
    while (bytes > 0) {
        const ssize_t wrote = ::write(write_, cursor, bytes);
        if (wrote < 0 && errno == EINTR) continue;
        if (wrote <= 0) return false;
        cursor += wrote;
        bytes -= static_cast<std::size_t>(wrote);
    }
    return true;
}

bool Pipe::receive(void* data, std::size_t bytes, int timeout_ms) {
    auto* cursor = static_cast<char*>(data);
    while (bytes > 0) {
        pollfd wait{read_, POLLIN, 0};
        const int ready = ::poll(&wait, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return false;
        const ssize_t got = ::read(read_, cursor, bytes);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        cursor += got;
        bytes -= static_cast<std::size_t>(got);
    }
    return true;
}

void Pipe::close_read() {
    if (read_ >= 0) ::close(read_);
    read_ = -1;
}

void Pipe::close_write() {
    if (write_ >= 0) ::close(write_);
    write_ = -1;
}

// ---- payloads --------------------------------------------------------------

void fill_pattern(void* destination, std::size_t length, std::uint64_t seed) {
    auto* bytes = static_cast<std::uint8_t*>(destination);
    for (std::size_t i = 0; i < length; ++i) bytes[i] = pattern_byte(seed, i);
}

std::size_t first_pattern_mismatch(const void* source, std::size_t length, std::uint64_t seed) {
    const auto* bytes = static_cast<const std::uint8_t*>(source);
    for (std::size_t i = 0; i < length; ++i) {
        if (bytes[i] != pattern_byte(seed, i)) return i;
    }
    return length;
}

std::string describe(rs_result result) {
    std::ostringstream text;
    text << rs_result_name(result);
    if (result < 0) text << " (last error: " << rs_last_error_message() << ")";
    return text.str();
}

}  // namespace rstest
