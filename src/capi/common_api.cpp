// Results, versions, library-owned memory, options and handle lookup.
#include <cstring>

#include "capi/objects.hpp"
#include "common/alloc.hpp"
#include "common/error.hpp"

namespace ringside {

RegionTable& region_table() {
    static RegionTable table;
    return table;
}

std::mutex& lifecycle_mutex() {
    static std::mutex mutex;
    return mutex;
}

SidecarTable& sidecar_table() {
    static SidecarTable table;
    return table;
}

Region* region_from(const rs_region_t* handle, const char* function) {
    Region* region = region_table().lookup(handle);
    if (region == nullptr) fail(RS_ERR_INVALID_ARGUMENT, "%s: region handle is NULL, invalid or destroyed", function);
    return region;
}

RingHandle* ring_from(const rs_ring_t* handle, const char* function) {
    RingHandle* ring = ring_table().lookup(handle);
    if (ring == nullptr) fail(RS_ERR_INVALID_ARGUMENT, "%s: ring handle is NULL, invalid or destroyed", function);
    return ring;
}

}  // namespace ringside

extern "C" {

const char* rs_result_name(rs_result result) {
    switch (result) {
        case RS_OK: return "RS_OK";
        case RS_FULL: return "RS_FULL";
        case RS_EMPTY: return "RS_EMPTY";
        case RS_TIMEOUT: return "RS_TIMEOUT";
        case RS_BUSY: return "RS_BUSY";
        case RS_ERR_INVALID_ARGUMENT: return "RS_ERR_INVALID_ARGUMENT";
        case RS_ERR_TOO_LARGE: return "RS_ERR_TOO_LARGE";
        case RS_ERR_TOO_SMALL: return "RS_ERR_TOO_SMALL";
        case RS_ERR_NOT_FOUND: return "RS_ERR_NOT_FOUND";
        case RS_ERR_EXISTS: return "RS_ERR_EXISTS";
        case RS_ERR_VERSION_MISMATCH: return "RS_ERR_VERSION_MISMATCH";
        case RS_ERR_CORRUPT: return "RS_ERR_CORRUPT";
        case RS_ERR_PERMISSION: return "RS_ERR_PERMISSION";
        case RS_ERR_CLOSED: return "RS_ERR_CLOSED";
        case RS_ERR_NO_MEMORY: return "RS_ERR_NO_MEMORY";
        case RS_ERR_INTERNAL: return "RS_ERR_INTERNAL";
    }
    return "RS_UNKNOWN_RESULT";
}

const char* rs_version_string(void) { return RINGSIDE_VERSION_STRING; }

void rs_layout_version(uint16_t* major, uint16_t* minor) {
    if (major != nullptr) *major = ringside::layout::kLayoutMajor;
    if (minor != nullptr) *minor = ringside::layout::kLayoutMinor;
}

int64_t rs_debug_allocation_count(void) {
    // relaxed is enough: a statistic; tests read it after joining threads.
    return ringside::g_live_allocations.load(std::memory_order_relaxed);
}

void rs_string_free(char* text) { ringside::counted_free(text); }

void rs_buffer_free(void* buffer) { ringside::counted_free(buffer); }

void rs_region_options_init(rs_region_options* options) {
    if (options == nullptr) {
        ringside::fail(RS_ERR_INVALID_ARGUMENT, "rs_region_options_init: options is NULL");
        return;
    }
    std::memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    options->check = 0x52534F50u;  // "RSOP"
    options->backing = RS_BACKING_SHM;
    options->ring_count = 1;
    options->ring_capacity = 1u << 20;
    options->record_align = 8;
    options->mode = 0600;
    options->prefault = 1;
}

}  // extern "C"
