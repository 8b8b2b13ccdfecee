// ringside-inspect: prints a region's header and live state (rings, fill,
// pending records, role holders, sidecar status, whether the creator is
// alive) as text or JSON. Reads through the public C API only and never
// attaches a ring, so it can watch a live pair without disturbing it.
//
// --cleanup-stale removes regions left behind by crashes: in /dev/shm (and
// the folders given with --in), every ringside region whose creator is dead
// (pid gone, a zombie, or reused by a process with another start time) and
// whose rings have no live producer or consumer. A region whose creator or
// any role holder is alive is never removed.
#include <CLI/CLI.hpp>
#include <dirent.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

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

const char* holder_note(const json& ring, const char* role) {
    if (ring[std::string(role) + "_pid"].get<long long>() == 0) return "";
    return ring[std::string(role) + "_alive"].get<bool>() ? " (alive)" : " (dead)";
}

void print_text(const json& region, const json& rings) {
    std::printf("region %s (%s), layout %llu.%llu, %llu bytes\n", region["name"].get<std::string>().c_str(),
                region["backing"].get<std::string>().c_str(), region["layout_major"].get<unsigned long long>(),
                region["layout_minor"].get<unsigned long long>(), region["total_bytes"].get<unsigned long long>());
    std::printf("  rings %llu x %llu bytes, record align %llu, max payload %llu\n",
                region["ring_count"].get<unsigned long long>(), region["ring_capacity"].get<unsigned long long>(),
                region["record_align"].get<unsigned long long>(), region["max_payload"].get<unsigned long long>());
    std::printf("  creator pid %lld started at tick %llu (%s), epoch %016llx\n", region["creator_pid"].get<long long>(),
                region["creator_start_ticks"].get<unsigned long long>(),
                region["creator_alive"].get<bool>() ? "alive" : "DEAD: the region is stale unless a peer still uses it",
                region["epoch"].get<unsigned long long>());
    const auto state = region["sidecar_state"].get<std::uint64_t>();
    std::printf("  sidecar %s (pid %lld): %llu commands processed, %llu events emitted, last error %lld\n",
                sidecar_state_name(state), region["sidecar_pid"].get<long long>(),
                region["commands_processed"].get<unsigned long long>(),
                region["events_emitted"].get<unsigned long long>(), region["sidecar_last_error"].get<long long>());
    for (const json& ring : rings) {
        const auto capacity = ring["capacity"].get<double>();
        const auto fill = ring["fill_bytes"].get<double>();
        std::printf("  ring %llu: read %llu, write %llu, fill %llu bytes (%.1f%%), %llu pending, "
                    "producer pid %lld%s, consumer pid %lld%s\n",
                    ring["index"].get<unsigned long long>(), ring["read_position"].get<unsigned long long>(),
                    ring["write_position"].get<unsigned long long>(), ring["fill_bytes"].get<unsigned long long>(),
                    100.0 * fill / capacity, ring["pending_records"].get<unsigned long long>(),
                    ring["producer_pid"].get<long long>(), holder_note(ring, "producer"),
                    ring["consumer_pid"].get<long long>(), holder_note(ring, "consumer"));
    }
}

constexpr std::uint64_t kMagic = 0x31454449'53474e52ull;  // src/shm/layout.h: "RNGSIDE1"

// True if the file starts with a published ringside header (anything else,
// including a region still being created, is not ours to judge).
bool has_region_magic(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    struct stat info {};
    std::uint64_t magic = 0;
    const bool ok = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) &&
                    ::read(fd, &magic, sizeof magic) == static_cast<ssize_t>(sizeof magic) && magic == kMagic;
    ::close(fd);
    return ok;
}

struct Verdict {
    bool stale = false;
    std::string why;
};

// Whether the region `name` is stale: its creator and every role holder are dead.
Verdict judge(const std::string& name, rs_backing backing) {
    rs_region_options options;
    rs_region_options_init(&options);
    options.backing = backing;
    options.prefault = 0;
    rs_region_t* region = nullptr;
    if (rs_region_open(name.c_str(), &options, &region) != RS_OK) {
        return {false, std::string("kept: cannot read it (") + rs_last_error_message() + ")"};
    }
    Verdict verdict{true, ""};
    char* text = nullptr;
    if (rs_region_stats_json(region, &text) != RS_OK) {
        rs_region_destroy(region);
        return {false, "kept: no stats"};
    }
    const json info = parse_owned(text);
    const std::string creator = "creator pid " + std::to_string(info["creator_pid"].get<long long>()) +
                                " (start tick " + std::to_string(info["creator_start_ticks"].get<std::uint64_t>()) + ")";
    if (info["creator_alive"].get<bool>()) {
        verdict = {false, "kept: " + creator + " is alive"};
    } else {
        verdict.why = "removed: " + creator + " is dead and no ring has a live producer or consumer";
        const auto count = info["ring_count"].get<std::uint32_t>();
        for (std::uint32_t index = 0; index < count && verdict.stale; ++index) {
            if (rs_region_ring_stats_json(region, index, &text) != RS_OK) {
                verdict = {false, "kept: ring stats unreadable"};
                break;
            }
            const json ring = parse_owned(text);
            for (const char* role : {"producer", "consumer"}) {
                if (ring[std::string(role) + "_alive"].get<bool>()) {
                    verdict = {false, "kept: " + creator + " is dead but ring " + std::to_string(index) + " has a live " +
                                          role + " (pid " + std::to_string(ring[std::string(role) + "_pid"].get<long long>()) + ")"};
                    break;
                }
            }
        }
    }
    rs_region_destroy(region);
    return verdict;
}

// Removes the stale regions of each place ("shm" is /dev/shm, anything else a
// folder of file-backed regions) whose names start with `prefix`.
int cleanup_stale(const std::vector<std::string>& places, const std::string& prefix, bool dry_run, bool as_json) {
    json report = json::array();
    int status = 0;
    for (const std::string& place : places) {
        const bool shm = place == "shm";
        const std::string folder = shm ? "/dev/shm" : place;
        DIR* dir = ::opendir(folder.c_str());
        if (dir == nullptr) {
            std::fprintf(stderr, "ringside-inspect: cannot list %s: %s\n", folder.c_str(), std::strerror(errno));
            status = 2;
            continue;
        }
        std::vector<std::string> entries;
        while (const dirent* entry = ::readdir(dir)) {
            const std::string file = entry->d_name;
            if (file != "." && file != ".." && file.compare(0, prefix.size(), prefix) == 0) entries.push_back(file);
        }
        ::closedir(dir);
        for (const std::string& file : entries) {
            const std::string path = folder + "/" + file;
            if (!has_region_magic(path)) continue;
            const std::string name = shm ? "/" + file : path;
            const rs_backing backing = shm ? RS_BACKING_SHM : RS_BACKING_FILE;
            Verdict verdict = judge(name, backing);
            if (verdict.stale && !dry_run && rs_region_unlink(name.c_str(), backing) != RS_OK) {
                verdict = {false, std::string("kept: unlink failed (") + rs_last_error_message() + ")"};
                status = 1;
            }
            if (verdict.stale && dry_run) verdict.why.replace(0, 7, "would remove");
            report.push_back({{"path", path}, {"removed", verdict.stale && !dry_run}, {"stale", verdict.stale},
                              {"why", verdict.why}});
            if (!as_json) std::printf("%s: %s\n", path.c_str(), verdict.why.c_str());
        }
    }
    if (as_json) std::printf("%s\n", report.dump(2).c_str());
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Prints a ringside region's header and live state."};
    std::string name;
    std::string backing = "shm";
    bool as_json = false;
    bool cleanup = false;
    bool dry_run = false;
    std::vector<std::string> places;
    std::string prefix;
    auto* name_option = app.add_option("name", name, "shm name (/name) or file path");
    app.add_option("--backing", backing, "shm or file")->check(CLI::IsMember({"shm", "file"}));
    app.add_flag("--json", as_json, "print JSON instead of text");
    auto* cleanup_flag = app.add_flag("--cleanup-stale", cleanup,
                                      "remove regions whose creator and role holders are all dead");
    app.add_option("--in", places, "with --cleanup-stale: 'shm' (/dev/shm, the default) or a folder of file regions")
        ->needs(cleanup_flag);
    app.add_option("--prefix", prefix, "with --cleanup-stale: only names starting with this")->needs(cleanup_flag);
    app.add_flag("--dry-run", dry_run, "with --cleanup-stale: say what would be removed, remove nothing")
        ->needs(cleanup_flag);
    cleanup_flag->excludes(name_option);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? 0 : 2;  // usage errors are 2, whatever CLI11 numbers them
    }
    if (cleanup) {
        if (places.empty()) places.push_back("shm");
        return cleanup_stale(places, prefix, dry_run, as_json);
    }
    if (name.empty()) {
        std::fprintf(stderr, "ringside-inspect: give a region name, or --cleanup-stale (see --help)\n");
        return 2;
    }

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
