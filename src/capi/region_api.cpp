// rs_region_*: create, open, destroy, unlink, flush, info and stats.
#include "capi/json_writer.hpp"
#include "capi/objects.hpp"
#include "common/error.hpp"
#include "common/process.hpp"

#include <mutex>

using namespace ringside;

namespace {

rs_result publish_region(Region* region, rs_region_t** out, const char* function) {
    const std::uintptr_t handle = region_table().insert(region);
    if (handle == 0) {
        Region::destroy(region);
        return fail(RS_ERR_NO_MEMORY, "%s: more than %u region handles are open", function, kMaxRegionHandles);
    }
    *out = reinterpret_cast<rs_region_t*>(handle);
    return RS_OK;
}

rs_result options_or_default(const rs_region_options* options, rs_region_options& storage,
                             const rs_region_options*& chosen) {
    if (options != nullptr) {
        if (rs_result r = validate_options(options); r != RS_OK) return r;
        chosen = options;
        return RS_OK;
    }
    rs_region_options_init(&storage);
    chosen = &storage;
    return RS_OK;
}

const char* backing_text(rs_backing backing) { return backing == RS_BACKING_FILE ? "file" : "shm"; }

}  // namespace

extern "C" {

rs_result rs_region_create(const char* name, const rs_region_options* options, rs_region_t** out) {
    if (out == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_region_create: out is NULL");
    *out = nullptr;
    rs_region_options defaults;
    const rs_region_options* chosen = nullptr;
    if (rs_result r = options_or_default(options, defaults, chosen); r != RS_OK) return r;
    Region* region = nullptr;
    if (rs_result r = Region::create(name, *chosen, &region); r != RS_OK) return r;
    return publish_region(region, out, "rs_region_create");
}

rs_result rs_region_open(const char* name, const rs_region_options* options, rs_region_t** out) {
    if (out == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_region_open: out is NULL");
    *out = nullptr;
    rs_region_options defaults;
    const rs_region_options* chosen = nullptr;
    if (rs_result r = options_or_default(options, defaults, chosen); r != RS_OK) return r;
    Region* region = nullptr;
    if (rs_result r = Region::open(name, *chosen, &region); r != RS_OK) return r;
    return publish_region(region, out, "rs_region_open");
}

rs_result rs_region_destroy(rs_region_t* handle) {
    // Held so that no ring or sidecar attaches between the check and the unmap.
    std::lock_guard<std::mutex> lifecycle(lifecycle_mutex());
    Region* region = region_from(handle, "rs_region_destroy");
    if (region == nullptr) return RS_ERR_INVALID_ARGUMENT;
    // Checked before the handle is retired, so BUSY leaves everything as it was.
    // acquire: see Region::destroy.
    if (const std::uint32_t users = region->attached_users.load(std::memory_order_acquire); users != 0) {
        return fail(RS_BUSY, "rs_region_destroy: region '%s' still has %u ring or sidecar handle(s) using it",
                    region->name(), users);
    }
    if (region_table().remove(handle) == nullptr) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_region_destroy: region handle destroyed concurrently");
    }
    return Region::destroy(region);
}

rs_result rs_region_unlink(const char* name, rs_backing backing) { return Region::unlink(name, backing); }

rs_result rs_region_flush(rs_region_t* handle) {
    Region* region = region_from(handle, "rs_region_flush");
    if (region == nullptr) return RS_ERR_INVALID_ARGUMENT;
    return region->flush();
}

rs_result rs_region_get_info(rs_region_t* handle, rs_region_info* info) {
    Region* region = region_from(handle, "rs_region_get_info");
    if (region == nullptr) return RS_ERR_INVALID_ARGUMENT;
    if (info == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_region_get_info: info is NULL");
    if (info->struct_size < sizeof(rs_region_info)) {
        return fail(RS_ERR_INVALID_ARGUMENT, "rs_region_get_info: info->struct_size %u < %zu: set it first",
                    info->struct_size, sizeof(rs_region_info));
    }
    const layout::RegionHeader& header = region->header();
    const std::uint32_t size = info->struct_size;
    *info = rs_region_info{};
    info->struct_size = size;
    info->layout_major = header.layout_major;
    info->layout_minor = header.layout_minor;
    info->total_bytes = header.total_bytes;
    info->ring_capacity = header.ring_capacity;
    info->max_payload = layout::max_payload(header.ring_capacity);
    info->ring_count = header.ring_count;
    info->record_align = header.record_align;
    info->backing = region->backing();
    info->creator_pid = header.creator_pid;
    info->creator_alive = process_alive(header.creator_pid, header.creator_start_ticks) ? 1 : 0;
    info->is_creator = region->is_creator() ? 1 : 0;
    info->epoch = header.epoch;
    info->prefaulted = region->grants().prefaulted ? 1 : 0;
    info->memory_locked = region->grants().memory_locked ? 1 : 0;
    info->huge_pages = region->grants().huge_pages ? 1 : 0;
    return RS_OK;
}

rs_result rs_region_stats_json(rs_region_t* handle, char** out_json) {
    if (out_json == nullptr) return fail(RS_ERR_INVALID_ARGUMENT, "rs_region_stats_json: out_json is NULL");
    *out_json = nullptr;
    Region* region = region_from(handle, "rs_region_stats_json");
    if (region == nullptr) return RS_ERR_INVALID_ARGUMENT;
    const layout::RegionHeader& header = region->header();
    JsonWriter json;
    json.field("name", region->name())
        .field("backing", backing_text(region->backing()))
        .field("layout_major", std::uint64_t{header.layout_major})
        .field("layout_minor", std::uint64_t{header.layout_minor})
        .field("total_bytes", header.total_bytes)
        .field("ring_count", std::uint64_t{header.ring_count})
        .field("ring_capacity", header.ring_capacity)
        .field("record_align", std::uint64_t{header.record_align})
        .field("max_payload", layout::max_payload(header.ring_capacity))
        .field("creator_pid", std::int64_t{header.creator_pid})
        .field("creator_start_ticks", header.creator_start_ticks)
        .field("creator_alive", process_alive(header.creator_pid, header.creator_start_ticks))
        .field("is_creator", region->is_creator())
        .field("epoch", header.epoch)
        .field("created_unix_ns", header.created_unix_ns)
        .field("prefaulted", region->grants().prefaulted)
        .field("memory_locked", region->grants().memory_locked)
        .field("huge_pages", region->grants().huge_pages)
        .field("attached_users", std::uint64_t{region->attached_users.load(std::memory_order_relaxed)});
    // The status block is written by whoever serves the region (the sidecar),
    // maybe in another process: relaxed snapshots, for display only.
    layout::StatusBlock& status = region->status();
    auto load32 = [](auto& field) { return std::atomic_ref(field).load(std::memory_order_relaxed); };
    json.field("sidecar_state", std::uint64_t{load32(status.sidecar_state)})
        .field("sidecar_pid", std::int64_t{load32(status.sidecar_pid)})
        .field("commands_processed", load32(status.commands_processed))
        .field("events_emitted", load32(status.events_emitted))
        .field("sidecar_last_error", std::int64_t{load32(status.last_error)});
    *out_json = json.finish();
    if (*out_json == nullptr) return fail(RS_ERR_NO_MEMORY, "rs_region_stats_json: out of memory");
    return RS_OK;
}

}  // extern "C"
