// ringside-bad-inputs: every kind of bad input through the C API, each in a
// forked child with a time limit, so a crash or a hang is caught and counted
// instead of ending the run. Each case must return its specific error code and
// leave a message (with a hint where the library gives one). The unit tests
// (region_test, capi_invalid_calls_test) pin the same behaviour case by case;
// this tool is the harness's evidence: `--json` writes
// {tried, passed, failed, cases: [{what, expected, got, message, ok}]}.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "ringside/ringside.h"
#include "shm/layout.h"

namespace {

namespace layout = ringside::layout;
using nlohmann::json;

struct Case {
    std::string what;
    rs_result expected;
    std::string hint;  // a part the message must contain; "" = any non-empty message
    std::function<rs_result()> call;
};

std::string g_dir;
int g_counter = 0;

std::string fresh_path(const char* tag) { return g_dir + "/" + std::to_string(g_counter++) + "." + tag; }
std::string fresh_shm(const char* tag) {
    return "/ringside-bad." + std::to_string(::getpid()) + "." + std::to_string(g_counter++) + "." + tag;
}

rs_region_options file_options() {
    rs_region_options options;
    rs_region_options_init(&options);
    options.backing = RS_BACKING_FILE;
    options.ring_capacity = 4096;
    return options;
}

// A valid file-backed region nobody maps any more, then `poke` applied to its bytes.
std::string kept_region(const char* tag) {
    const std::string path = fresh_path(tag);
    rs_region_options options = file_options();
    options.keep_on_destroy = 1;
    rs_region_t* region = nullptr;
    if (rs_region_create(path.c_str(), &options, &region) == RS_OK) rs_region_destroy(region);
    return path;
}

void poke(const std::string& path, std::size_t offset, const void* value, std::size_t bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    if (::pwrite(fd, value, bytes, static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes)) std::perror("pwrite");
    ::close(fd);
}

rs_result open_file(const std::string& path) {
    rs_region_options options = file_options();
    rs_region_t* region = nullptr;
    const rs_result result = rs_region_open(path.c_str(), &options, &region);
    if (region != nullptr) rs_region_destroy(region);
    ::unlink(path.c_str());
    return result;
}

template <typename T>
rs_result open_poked(const char* tag, std::size_t offset, T value) {
    const std::string path = kept_region(tag);
    poke(path, offset, &value, sizeof value);
    return open_file(path);
}

// A live region with a producer and a consumer on ring 0, for the ring cases.
struct Pair {
    rs_region_t* region = nullptr;
    rs_ring_t* producer = nullptr;
    rs_ring_t* consumer = nullptr;
    Pair() {
        rs_region_options options = file_options();
        rs_region_create(fresh_path("pair").c_str(), &options, &region);
        rs_ring_create(region, 0, RS_ROLE_PRODUCER, &producer);
        rs_ring_create(region, 0, RS_ROLE_CONSUMER, &consumer);
    }
    ~Pair() {
        rs_ring_destroy(producer);
        rs_ring_destroy(consumer);
        rs_region_destroy(region);
    }
};

std::vector<Case> cases() {
    std::vector<Case> out;
    auto add = [&](std::string what, rs_result expected, std::string hint, std::function<rs_result()> call) {
        out.push_back(Case{std::move(what), expected, std::move(hint), std::move(call)});
    };
    // --- what an opener finds in the backing ---
    add("wrong magic", RS_ERR_CORRUPT, "not a ringside region",
        [] { return open_poked("magic", offsetof(layout::RegionHeader, magic), std::uint64_t{0x1122334455667788}); });
    add("other layout major version", RS_ERR_VERSION_MISMATCH, "layout version",
        [] { return open_poked("major", offsetof(layout::RegionHeader, layout_major), std::uint16_t{layout::kLayoutMajor + 1}); });
    add("capacity not a power of two", RS_ERR_CORRUPT, "ring_capacity",
        [] { return open_poked("capacity", offsetof(layout::RegionHeader, ring_capacity), std::uint64_t{3 * 4096}); });
    add("header size larger than the mapping", RS_ERR_CORRUPT, "header_bytes",
        [] { return open_poked("header", offsetof(layout::RegionHeader, header_bytes), std::uint32_t{1u << 30}); });
    add("truncated file", RS_ERR_CORRUPT, "smaller", [] {
        const std::string path = kept_region("truncated");
        if (::truncate(path.c_str(), 100) != 0) return RS_ERR_INTERNAL;
        return open_file(path);
    });
    add("symlink where a file-backed region should be", RS_ERR_PERMISSION, "symbolic link", [] {
        const std::string real = kept_region("real");
        const std::string link = fresh_path("link");
        if (::symlink(real.c_str(), link.c_str()) != 0) return RS_ERR_INTERNAL;
        const rs_result result = open_file(link);
        ::unlink(real.c_str());
        return result;
    });
    // Each case runs in its own forked child, so this one may drop root for good.
    add("wrong permissions", RS_ERR_PERMISSION, "no permission", [] {
        const std::string path = kept_region("private");
        ::chmod(path.c_str(), 0600);
        if (::geteuid() == 0 ? ::setuid(65534) != 0 : ::chmod(path.c_str(), 0) != 0) return RS_ERR_INTERNAL;
        rs_region_options options = file_options();
        rs_region_t* region = nullptr;
        return rs_region_open(path.c_str(), &options, &region);  // the folder's removal takes the file
    });
    // --- names ---
    add("region already exists", RS_ERR_EXISTS, "open it, or unlink it", [] {
        const std::string path = kept_region("exists");
        rs_region_options options = file_options();
        rs_region_t* region = nullptr;
        const rs_result result = rs_region_create(path.c_str(), &options, &region);
        ::unlink(path.c_str());
        return result;
    });
    add("missing region", RS_ERR_NOT_FOUND, "create it first", [] {
        rs_region_t* region = nullptr;
        return rs_region_open(fresh_shm("missing").c_str(), nullptr, &region);
    });
    add("shm name with extra slashes", RS_ERR_INVALID_ARGUMENT, "'/'", [] {
        rs_region_t* region = nullptr;
        return rs_region_create("/ringside-bad/inner", nullptr, &region);
    });
    add("shm name too long", RS_ERR_INVALID_ARGUMENT, "250", [] {
        rs_region_t* region = nullptr;
        return rs_region_create(("/" + std::string(260, 'n')).c_str(), nullptr, &region);
    });
    add("name not UTF-8", RS_ERR_INVALID_ARGUMENT, "UTF-8", [] {
        rs_region_t* region = nullptr;
        return rs_region_create("/ringside-bad.\xff\xfe", nullptr, &region);
    });
    add("options not initialised", RS_ERR_INVALID_ARGUMENT, "rs_region_options_init", [] {
        rs_region_options options;
        std::memset(&options, 0, sizeof options);
        rs_region_t* region = nullptr;
        return rs_region_create(fresh_shm("zeroed").c_str(), &options, &region);
    });
    add("capacity option not a power of two", RS_ERR_INVALID_ARGUMENT, "power of two", [] {
        rs_region_options options;
        rs_region_options_init(&options);
        options.ring_capacity = 3 * 4096;
        rs_region_t* region = nullptr;
        return rs_region_create(fresh_shm("cap").c_str(), &options, &region);
    });
    // --- ring operations ---
    add("payload larger than the maximum", RS_ERR_TOO_LARGE, "", [] {
        Pair pair;
        void* data = nullptr;
        return rs_ring_reserve(pair.producer, 4096, &data);
    });
    add("zero-length write is a valid empty record", RS_OK, "", [] {
        Pair pair;
        rs_result result = rs_ring_write(pair.producer, nullptr, 0);
        rs_record record{};
        if (result == RS_OK) result = rs_ring_peek(pair.consumer, &record);
        return result == RS_OK && record.length == 0 ? rs_ring_release(pair.consumer) : RS_ERR_INTERNAL;
    });
    add("zero-length peek batch", RS_ERR_INVALID_ARGUMENT, "max", [] {
        Pair pair;
        rs_record records[1];
        std::size_t count = 0;
        return rs_ring_peek_batch(pair.consumer, records, 0, &count);
    });
    // --- NULL for every pointer ---
    add("NULL out handle for create", RS_ERR_INVALID_ARGUMENT, "out", [] { return rs_region_create("/x", nullptr, nullptr); });
    add("NULL name", RS_ERR_INVALID_ARGUMENT, "name", [] {
        rs_region_t* region = nullptr;
        return rs_region_open(nullptr, nullptr, &region);
    });
    add("NULL region handle", RS_ERR_INVALID_ARGUMENT, "", [] { return rs_region_destroy(nullptr); });
    add("NULL ring handle", RS_ERR_INVALID_ARGUMENT, "", [] { return rs_ring_write(nullptr, "x", 1); });
    add("NULL reserve output", RS_ERR_INVALID_ARGUMENT, "out_data", [] {
        Pair pair;
        return rs_ring_reserve(pair.producer, 8, nullptr);
    });
    add("NULL peek output", RS_ERR_INVALID_ARGUMENT, "out", [] {
        Pair pair;
        return rs_ring_peek(pair.consumer, nullptr);
    });
    add("NULL write data with a length", RS_ERR_INVALID_ARGUMENT, "data", [] {
        Pair pair;
        return rs_ring_write(pair.producer, nullptr, 5);
    });
    add("NULL info", RS_ERR_INVALID_ARGUMENT, "info", [] {
        Pair pair;
        return rs_region_get_info(pair.region, nullptr);
    });
    add("NULL stats output", RS_ERR_INVALID_ARGUMENT, "out_json", [] {
        Pair pair;
        return rs_region_stats_json(pair.region, nullptr);
    });
    // --- destroyed handles ---
    add("destroyed ring handle", RS_ERR_INVALID_ARGUMENT, "", [] {
        Pair pair;
        rs_ring_t* ring = nullptr;
        rs_ring_destroy(pair.producer);
        ring = pair.producer;
        pair.producer = nullptr;
        return rs_ring_write(ring, "x", 1);
    });
    add("destroyed region handle", RS_ERR_INVALID_ARGUMENT, "", [] {
        rs_region_options options = file_options();
        rs_region_t* region = nullptr;
        if (rs_region_create(fresh_path("gone").c_str(), &options, &region) != RS_OK) return RS_ERR_INTERNAL;
        rs_region_destroy(region);
        rs_region_info info;
        info.struct_size = sizeof info;
        return rs_region_get_info(region, &info);
    });
    return out;
}

// Runs one case in a child: (result, message), or a note when it crashed or hung.
json run_case(const Case& c, int timeout_ms) {
    int fds[2];
    json record = {{"what", c.what}, {"expected", rs_result_name(c.expected)}};
    if (::pipe(fds) != 0) return record.update({{"ok", false}, {"note", "pipe failed"}}), record;
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(fds[0]);
        rs_clear_error();
        const rs_result got = c.call();
        std::string line = std::to_string(static_cast<int>(got)) + "\n" + rs_last_error_message();
        if (::write(fds[1], line.data(), line.size()) < 0) ::_exit(2);
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string text;
    pollfd wait{fds[0], POLLIN, 0};
    char buffer[1024];
    bool hung = false;
    for (;;) {
        if (::poll(&wait, 1, timeout_ms) <= 0) {
            hung = true;
            break;
        }
        const ssize_t got = ::read(fds[0], buffer, sizeof buffer);
        if (got <= 0) break;
        text.append(buffer, static_cast<std::size_t>(got));
    }
    ::close(fds[0]);
    if (hung) ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (hung) return record.update({{"ok", false}, {"note", "hung: killed after the time limit"}}), record;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        const std::string how = WIFSIGNALED(status) ? "crashed with signal " + std::to_string(WTERMSIG(status))
                                                    : "exited " + std::to_string(WEXITSTATUS(status));
        return record.update({{"ok", false}, {"note", how}}), record;
    }
    const std::size_t newline = text.find('\n');
    const auto got = static_cast<rs_result>(std::stoi(text.substr(0, newline)));
    const std::string message = newline == std::string::npos ? "" : text.substr(newline + 1);
    const bool message_ok = c.expected == RS_OK || (!message.empty() && message.find(c.hint) != std::string::npos);
    record.update({{"got", rs_result_name(got)}, {"message", message}, {"ok", got == c.expected && message_ok}});
    if (!message_ok) record["note"] = "the message lacks '" + c.hint + "'";
    return record;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Tries every kind of bad input on the ringside C API; each must fail cleanly with its code."};
    std::string json_path;
    g_dir = "/tmp";
    int timeout_ms = 10'000;
    bool self_test = false;
    app.add_option("--dir", g_dir, "where scratch region files go (a fresh folder is made inside)")
        ->check(CLI::ExistingDirectory);
    app.add_option("--json", json_path, "write the summary here");
    app.add_option("--timeout-ms", timeout_ms, "a case running longer than this is a hang")
        ->check(CLI::Range(100, 600'000));
    app.add_flag("--self-test", self_test, "add a case that crashes and one that hangs: both must be counted as failed");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? 0 : 2;
    }
    ::setenv("RINGSIDE_LOG", "off", 0);
    std::string folder = g_dir + "/ringside-bad.XXXXXX";
    if (::mkdtemp(folder.data()) == nullptr) {
        std::fprintf(stderr, "ringside-bad-inputs: cannot make a folder in %s: %s\n", g_dir.c_str(), std::strerror(errno));
        return 2;
    }
    ::chmod(folder.c_str(), 0755);  // the permission case's child (nobody) must reach the file to be refused by its mode
    g_dir = folder;
    json summary = {{"schema", "ringside-bad-inputs/1"}, {"cases", json::array()}};
    int passed = 0;
    int failed = 0;
    std::vector<Case> all = cases();
    if (self_test) {
        all.push_back(Case{"self-test: a call that crashes", RS_ERR_INVALID_ARGUMENT, "", [] {
                               ::raise(SIGSEGV);
                               return RS_OK;
                           }});
        all.push_back(Case{"self-test: a call that hangs", RS_ERR_INVALID_ARGUMENT, "", [] {
                               for (;;) ::pause();
                               return RS_OK;
                           }});
    }
    for (const Case& c : all) {
        json record = run_case(c, timeout_ms);
        (record["ok"].get<bool>() ? passed : failed) += 1;
        std::printf("%-4s %s: %s\n", record["ok"].get<bool>() ? "ok" : "FAIL", c.what.c_str(),
                    record.value("note", record.value("got", std::string())).c_str());
        summary["cases"].push_back(std::move(record));
    }
    summary["tried"] = passed + failed;
    summary["passed"] = passed;
    summary["failed"] = failed;
    // Whatever a case left (it unlinks its files; a crashed one cannot).
    const std::string cleanup = "rm -rf -- '" + folder + "'";
    if (std::system(cleanup.c_str()) != 0) std::fprintf(stderr, "ringside-bad-inputs: could not remove %s\n", folder.c_str());
    std::printf("%d bad inputs tried, %d failed\n", passed + failed, failed);
    if (!json_path.empty()) {
        std::ofstream out(json_path);
        out << summary.dump(2) << "\n";
        if (!out) return 2;
    }
    return failed == 0 ? 0 : 1;
}
