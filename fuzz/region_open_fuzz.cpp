// libFuzzer target: opening a region from arbitrary bytes. The input is the
// whole content of a named shm object (its size included: truncated and
// oversized files are inputs too), opened through the C API as a ring region
// (then every ring attached as consumer and producer, read and written) or,
// by the first byte, inspected as a tracer region (rs_tracer_inspect_json
// walks every lane). Every mapping sits between guard pages, so a read past
// the real file faults; the library's allocations must all be freed.
//
// Input: u8 selector, then the file's bytes.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "fuzz_input.hpp"
#include "ringside/ringside.h"
#include "ringside/tracer.h"

namespace {

const char* shm_name() {
    static char name[64];
    if (name[0] == '\0') std::snprintf(name, sizeof name, "/rsfuzz.open.%d", static_cast<int>(::getpid()));
    return name;
}

bool write_object(const std::uint8_t* data, std::size_t length) {
    const int fd = ::shm_open(shm_name(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return false;
    bool ok = ::ftruncate(fd, static_cast<off_t>(length)) == 0;
    std::size_t done = 0;
    while (ok && done < length) {
        const ssize_t n = ::pwrite(fd, data + done, length - done, static_cast<off_t>(done));
        ok = n > 0;
        done += ok ? static_cast<std::size_t>(n) : 0;
    }
    ::close(fd);
    return ok;
}

void exercise_ring(rs_region_t* region, std::uint32_t index) {
    rs_ring_t* consumer = nullptr;
    if (rs_ring_create(region, index, RS_ROLE_CONSUMER, &consumer) == RS_OK) {
        for (int i = 0; i < 64; ++i) {
            rs_record record{};
            if (rs_ring_peek(consumer, &record) != RS_OK) break;
            volatile std::uint8_t sum = 0;
            for (std::size_t b = 0; b < record.length; ++b) sum = sum + static_cast<const std::uint8_t*>(record.data)[b];
            if (rs_ring_release(consumer) != RS_OK) rsfuzz::broken("release after a peek failed");
        }
        char* json = nullptr;
        if (rs_ring_stats_json(consumer, &json) == RS_OK) rs_string_free(json);
        (void)rs_ring_destroy(consumer);
    }
    rs_ring_t* producer = nullptr;
    if (rs_ring_create(region, index, RS_ROLE_PRODUCER, &producer) == RS_OK) {
        const char payload[40] = "hostile bytes in, bounded writes out";
        for (int i = 0; i < 64; ++i) {
            if (rs_ring_write(producer, payload, static_cast<std::size_t>(i % 40)) != RS_OK) break;
        }
        (void)rs_ring_destroy(producer);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    rsfuzz::Input input(bytes, size);
    const std::uint8_t selector = input.byte();
    std::size_t length = 0;
    const std::uint8_t* file = input.rest(length);
    if (!write_object(file, length)) return 0;
    const std::int64_t allocations = rs_debug_allocation_count();
    if ((selector & 1) == 0) {
        rs_region_options options;
        rs_region_options_init(&options);
        options.prefault = 0;
        rs_region_t* region = nullptr;
        if (rs_region_open(shm_name(), &options, &region) == RS_OK) {
            rs_region_info info{};
            info.struct_size = sizeof info;
            if (rs_region_get_info(region, &info) != RS_OK) rsfuzz::broken("get_info on an open region failed");
            if (info.total_bytes != length) rsfuzz::broken("an opened region's size is not the file's");
            char* json = nullptr;
            if (rs_region_stats_json(region, &json) == RS_OK) rs_string_free(json);
            const std::uint32_t rings = info.ring_count < 4 ? info.ring_count : 4;
            for (std::uint32_t i = 0; i < rings; ++i) exercise_ring(region, i);
            exercise_ring(region, info.ring_count);  // one past the end: refused
            if (rs_region_destroy(region) != RS_OK) rsfuzz::broken("destroy of an idle region failed");
        }
    } else {
        char* json = nullptr;
        if (rs_tracer_inspect_json(shm_name(), RS_BACKING_SHM, &json) == RS_OK) rs_string_free(json);
    }
    if (rs_debug_allocation_count() != allocations) rsfuzz::broken("the library leaked an allocation");
    ::shm_unlink(shm_name());
    return 0;
}
