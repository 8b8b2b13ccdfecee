// libFuzzer target: the tracer's lane-file reader (trace_reader.cpp), the
// decoder behind ringside-trace-read. The input becomes a lane file
// (lane-0000.rstrace) and its time index (lane-0000.rstidx) in a private
// directory; the reader must report what is wrong, never crash, hang or
// allocate without bound.
//
// Input: u8 flags (bit 0 payloads, bit 1 time filter), u64 from_ns, u64
// to_ns, u16 index-file length, then the index file's bytes, then the lane
// file's bytes.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_input.hpp"
#include "tracer/trace_reader.hpp"

namespace {

const std::string& directory() {
    // Never destroyed: the cleanup below runs at exit and still needs it.
    static const std::string& dir = *new std::string([] {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/rsfuzz.reader.XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) std::abort();
        return pattern;
    }());
    return dir;
}

void write_file(const std::string& path, const std::uint8_t* data, std::size_t length) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) std::abort();
    std::size_t done = 0;
    while (done < length) {
        const ssize_t n = ::write(fd, data + done, length - done);
        if (n <= 0) std::abort();
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

struct Cleanup {
    ~Cleanup() {
        ::unlink((directory() + "/lane-0000.rstrace").c_str());
        ::unlink((directory() + "/lane-0000.rstidx").c_str());
        ::rmdir(directory().c_str());
    }
} g_cleanup;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    using namespace ringside::trace::reader;
    rsfuzz::Input input(bytes, size);
    const std::uint8_t flags = input.byte();
    const auto from = input.take<std::uint64_t>();
    const auto to = input.take<std::uint64_t>();
    const auto index_length = input.take<std::uint16_t>();
    std::size_t length = 0;
    const std::uint8_t* rest = input.rest(length);
    const std::size_t split = index_length < length ? index_length : length;
    const std::string lane = directory() + "/lane-0000.rstrace";
    write_file(directory() + "/lane-0000.rstidx", rest, split);
    write_file(lane, rest + split, length - split);

    Options options;
    options.payloads = (flags & 1) != 0;
    if ((flags & 2) != 0) {
        options.from_ns = from;
        options.to_ns = to;
    }
    Report report;
    std::uint64_t rows = 0;
    (void)read_lane_file(lane, options, [&](const Row& row) { rows += row.payload.size() + 1; }, report);
    (void)report_json(report);
    return 0;
}
