// ringside-inspect: prints a region's header and live state (rings, fill,
// pending records, role holders, sidecar status, whether the creator is
// alive) as text or JSON. Reads through the public C API only and never
// attaches a ring, so it can watch a live pair without disturbing it.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

#include "ringside/ringside.h"

namespace {

using nlohmann::json;

// Takes ownership of a library-allocated JSON string.
json parse_owned(char* text) {
    json value = json::parse(text);
    rs_string_free(text);
    return value;
}

const char* sidecar_state_name(std::uint64_t state) {
    // Mirrors the sidecar's state enum; 0 means no sidecar has served the region.
    static constexpr const char* kNames[] = {"none", "created", "running", "stopping", "stopped", "failed"};
    return state < std::size(kNames) ? kNames[state] : "unknown";
}

void print_text(const json& region, const json& rings) {
    std::printf("region %s (%s), layout %llu.%llu, %llu bytes\n", region["name"].get<std::string>().c_str(),
                region["backing"].get<std::string>().c_str(), region["layout_major"].get<unsigned long long>(),
                region["layout_minor"].get<unsigned long long>(), region["total_bytes"].get<unsigned long long>());
    std::printf("  rings %llu x %llu bytes, record align %llu, max payload %llu\n",
                region["ring_count"].get<unsigned long long>(), region["ring_capacity"].get<unsigned long long>(),
                region["record_align"].get<unsigned long long>(), region["max_payload"].get<unsigned long long>());
    std::printf("  creator pid %lld (%s), epoch %016llx\n", region["creator_pid"].get<long long>(),
                region["creator_alive"].get<bool>() ? "alive" : "DEAD", region["epoch"].get<unsigned long long>());
    const auto state = region["sidecar_state"].get<std::uint64_t>();
    std::printf("  sidecar %s (pid %lld): %llu commands processed, %llu events emitted, last error %lld\n",
                sidecar_state_name(state), region["sidecar_pid"].get<long long>(),
                region["commands_processed"].get<unsigned long long>(),
                region["events_emitted"].get<unsigned long long>(), region["sidecar_last_error"].get<long long>());
    for (const json& ring : rings) {
        const auto capacity = ring["capacity"].get<double>();
        const auto fill = ring["fill_bytes"].get<double>();
        std::printf("  ring %llu: read %llu, write %llu, fill %llu bytes (%.1f%%), %llu pending, "
                    "producer pid %lld, consumer pid %lld\n",
                    ring["index"].get<unsigned long long>(), ring["read_position"].get<unsigned long long>(),
                    ring["write_position"].get<unsigned long long>(), ring["fill_bytes"].get<unsigned long long>(),
                    100.0 * fill / capacity, ring["pending_records"].get<unsigned long long>(),
                    ring["producer_pid"].get<long long>(), ring["consumer_pid"].get<long long>());
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Prints a ringside region's header and live state."};
    std::string name;
    std::string backing = "shm";
    bool as_json = false;
    app.add_option("name", name, "shm name (/name) or file path")->required();
    app.add_option("--backing", backing, "shm or file")->check(CLI::IsMember({"shm", "file"}));
    app.add_flag("--json", as_json, "print JSON instead of text");
    CLI11_PARSE(app, argc, argv);

    rs_region_options options;
    rs_region_options_init(&options);
    options.backing = backing == "file" ? RS_BACKING_FILE : RS_BACKING_SHM;
    options.prefault = 0;  // never fault in a large region just to look at it
    rs_region_t* region = nullptr;
    if (rs_result r = rs_region_open(name.c_str(), &options, &region); r != RS_OK) {
        std::fprintf(stderr, "ringside-inspect: %s: %s\n", rs_result_name(r), rs_last_error_message());
        return r == RS_ERR_NOT_FOUND ? 3 : 2;
    }
    char* text = nullptr;
    int status = 0;
    json report;
    if (rs_region_stats_json(region, &text) == RS_OK) {
        report["region"] = parse_owned(text);
        report["rings"] = json::array();
        const auto count = report["region"]["ring_count"].get<std::uint32_t>();
        for (std::uint32_t index = 0; index < count; ++index) {
            if (rs_region_ring_stats_json(region, index, &text) != RS_OK) {
                status = 2;
                break;
            }
            report["rings"].push_back(parse_owned(text));
        }
    } else {
        status = 2;
    }
    if (status != 0) {
        std::fprintf(stderr, "ringside-inspect: %s\n", rs_last_error_message());
    } else if (as_json) {
        std::printf("%s\n", report.dump(2).c_str());
    } else {
        print_text(report["region"], report["rings"]);
    }
    rs_region_destroy(region);
    return status;
}
