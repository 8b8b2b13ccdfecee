// Helpers shared by the ringside suites: handles that destroy themselves,
// scratch names that are checked for leftovers, a raw second mapping of a
// region's backing (to read or corrupt the shared layout), rings over plain
// memory, fork helpers and a payload pattern.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ring/consumer.hpp"
#include "ring/producer.hpp"
#include "ringside/ringside.h"
#include "shm/layout.h"

namespace rstest {

// Sanitizer runtimes intercept mlock() as a no-op returning 0, so whether
// memory really got locked can only be checked without them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kMlockIsReal = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
inline constexpr bool kMlockIsReal = false;
#else
inline constexpr bool kMlockIsReal = true;
#endif
#else
inline constexpr bool kMlockIsReal = true;
#endif

// ---- handles ---------------------------------------------------------------

struct RegionDestroyer {
    void operator()(rs_region_t* region) const;
};
struct RingDestroyer {
    void operator()(rs_ring_t* ring) const;
};
// Declare rings after the region they use: they are destroyed first.
using RegionPtr = std::unique_ptr<rs_region_t, RegionDestroyer>;
using RingPtr = std::unique_ptr<rs_ring_t, RingDestroyer>;

// rs_region_options_init plus the fields tests usually set.
rs_region_options region_options(rs_backing backing, std::uint64_t capacity = 65536, std::uint32_t ring_count = 1);

// Thin wrappers that hand the handle to a smart pointer; they return the result.
rs_result create_region(const std::string& name, const rs_region_options& options, RegionPtr& out);
rs_result open_region(const std::string& name, const rs_region_options& options, RegionPtr& out);
rs_result create_ring(rs_region_t* region, std::uint32_t index, rs_role role, RingPtr& out);

rs_region_info region_info(rs_region_t* region);

// ---- scratch names ---------------------------------------------------------

// Unique shm names (prefix /rstest.<pid>-<random>.<n>.) and a private temp
// directory (made on first use of dir() or file_path()). On destruction it
// fails the test if any shm object with its prefix or any entry in its
// directory is left, then removes them (and the directory). The random part
// keeps a dead process's leftovers from matching a later process that reuses
// its pid.
class Scratch {
public:
    Scratch();
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;

    std::string shm_name(std::string_view tag);
    std::string file_path(std::string_view tag);
    std::string name(rs_backing backing, std::string_view tag);
    [[nodiscard]] const std::string& dir() const;

    // Where the backing of `name` lives in the file system.
    static std::string backing_path(rs_backing backing, const std::string& name);
    static bool exists(rs_backing backing, const std::string& name);

private:
    pid_t owner_pid_;
    std::string prefix_;       // without the leading '/'
    mutable std::string dir_;  // empty until dir() makes it
    int counter_ = 0;
};

// ---- raw access to the shared layout ---------------------------------------

// A second MAP_SHARED mapping of a region's backing (between PROT_NONE guard
// pages, like the library's own mappings), made without the
// library: what another process would see. Writes go to the shared memory.
class RawMapping {
public:
    explicit RawMapping(const std::string& path);
    ~RawMapping();
    RawMapping(const RawMapping&) = delete;
    RawMapping& operator=(const RawMapping&) = delete;

    [[nodiscard]] bool ok() const { return base_ != nullptr; }
    [[nodiscard]] std::byte* base() const { return base_; }
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] ringside::layout::RegionHeader& header() const {
        return *reinterpret_cast<ringside::layout::RegionHeader*>(base_);
    }
    [[nodiscard]] ringside::layout::RingControl& control(std::uint32_t index) const;
    [[nodiscard]] std::byte* data(std::uint32_t index) const;

private:
    std::byte* base_ = nullptr;
    std::size_t size_ = 0;
};

// Address ranges [first, second) of this process's mappings of `path`
// (read from /proc/self/maps).
std::vector<std::pair<std::uintptr_t, std::uintptr_t>> mappings_of(const std::string& path);
bool inside_a_mapping_of(const std::string& path, const void* pointer, std::size_t length);

// What /proc/self/smaps says about the mapping that starts at `start`.
struct SmapsEntry {
    bool found = false;
    std::uint64_t rss_bytes = 0;     // pages mapped into this process
    std::uint64_t locked_bytes = 0;  // mlock'ed
    std::string vm_flags;            // e.g. "rd wr sh mr mw me ms lo hg"
};
SmapsEntry smaps_of(std::uintptr_t start);
// Pages of [start, start + length) resident in memory, by mincore().
std::size_t resident_pages(std::uintptr_t start, std::size_t length);
// Threads of this process whose name (/proc/self/task/*/comm) is `name`.
int threads_named(const std::string& name);

// Overwrites `bytes` bytes at `offset` of a file.
bool poke_file(const std::string& path, std::uint64_t offset, const void* value, std::size_t bytes);

// ---- a ring over plain memory ----------------------------------------------

// One ring's control page and data area in zeroed, page-aligned heap memory:
// all-zero is the valid empty state, no region involved.
class PlainRing {
public:
    explicit PlainRing(std::uint64_t capacity, std::uint32_t record_align = 8);
    ~PlainRing();
    PlainRing(const PlainRing&) = delete;
    PlainRing& operator=(const PlainRing&) = delete;

    [[nodiscard]] const ringside::RingView& view() const { return view_; }
    [[nodiscard]] ringside::layout::RingControl& control() const { return *view_.control; }
    [[nodiscard]] bool contains(const void* pointer, std::size_t length) const;

private:
    void* memory_ = nullptr;
    ringside::RingView view_{};
};

// ---- processes -------------------------------------------------------------

// Runs `body` in a forked child, which _exit()s with its return value (an
// exception or a crash gives a non-zero status): it never returns into gtest.
// Use no gtest assertions inside `body`.
pid_t fork_child(const std::function<int()>& body);
// The child's exit code, 128 + signal if killed, or -1 if it did not finish
// within `timeout_ms` (it is then killed and reaped).
int wait_child(pid_t pid, int timeout_ms = 60'000);
// Runs `program arguments` through the shell with stderr folded into stdout;
// returns its exit code (128 + signal if killed, -1 if it could not start)
// and its output in `output`. For the tests of the command-line tools.
int run_command(const std::string& program, const std::string& arguments, std::string& output);

// A pipe whose byte reads time out instead of hanging a test.
class Pipe {
public:
    Pipe();
    ~Pipe();
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    bool send(const void* data, std::size_t bytes);
    bool receive(void* data, std::size_t bytes, int timeout_ms = 30'000);
    void close_read();
    void close_write();

private:
    int read_ = -1;
    int write_ = -1;
};

// ---- payloads --------------------------------------------------------------

inline std::uint8_t pattern_byte(std::uint64_t seed, std::uint64_t index) {
    const std::uint64_t mixed = (seed + 1) * 0x9E37'79B9'7F4A'7C15ull;
    return static_cast<std::uint8_t>((mixed >> 56) + index * 13 + (index >> 8));
}
void fill_pattern(void* destination, std::size_t length, std::uint64_t seed);
// The index of the first wrong byte, or `length` when all are right.
std::size_t first_pattern_mismatch(const void* source, std::size_t length, std::uint64_t seed);

// "RS_FULL (last error: ...)" for assertion messages.
std::string describe(rs_result result);

}  // namespace rstest
