// One lane's pair of sink files (sink_format.h), appended by the controller.
// Not thread-safe: the controller's work lock serialises every use.
#pragma once

#include <sys/uio.h>

#include <cstdint>

#include "ringside/ringside.h"
#include "tracer/sink_format.h"

namespace ringside::trace {

class LaneSink {
public:
    LaneSink() = default;
    ~LaneSink() { close(); }
    LaneSink(const LaneSink&) = delete;
    LaneSink& operator=(const LaneSink&) = delete;

    // Opens lane-NNNN.rstrace and .rstidx in `dir`, creating them with
    // `prototype` as the file header, or appending to files of the same
    // region (same epoch); RS_ERR_EXISTS for another region's trace.
    rs_result open(const char* dir, const sink::FileHeader& prototype);
    [[nodiscard]] bool is_open() const { return data_fd_ >= 0; }

    // Appends one block: sets header.magic, header_bytes, data_bytes and the
    // checksum; `data` (count <= 2) is written after it with one writev. A
    // window block also gets a time index entry spanning [first_ns, last_ns].
    rs_result append(sink::BlockHeader& header, const iovec* data, int count, std::uint64_t first_ns,
                     std::uint64_t last_ns);
    // fdatasync of both files.
    rs_result sync();
    void close();

    [[nodiscard]] std::uint64_t bytes() const { return data_size_; }

private:
    int data_fd_ = -1;
    int index_fd_ = -1;
    std::uint64_t data_size_ = 0;
};

}  // namespace ringside::trace
