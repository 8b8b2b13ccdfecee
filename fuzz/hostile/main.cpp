// ringside-hostile-fuzz: the live hostile-peer fuzzer as a tool for longer
// sessions (hostile.hpp says what it does and what must hold).
//
//   ringside-hostile-fuzz [--seconds N] [--seed S] [--json FILE] [--mode consumer|producer|controller]
//                         [--round-ms MS] [-v]
//
// Exit status 0 when every round held, 1 when any failure was recorded, 2 on
// a usage error; a crash or the watchdog (3) also ends it non-zero.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "hostile/hostile.hpp"

namespace {

int usage(const char* why) {
    std::fprintf(stderr, "ringside-hostile-fuzz: %s\nusage: ringside-hostile-fuzz [--seconds N] [--seed S] [--json FILE] "
                         "[--mode consumer|producer|controller] [--round-ms MS] [-v]\n", why);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    rshostile::Options options;
    std::string json;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "-v" || arg == "--verbose") {
            options.verbose = true;
        } else if (arg == "--seconds" && has_value) {
            options.seconds = std::strtod(argv[++i], nullptr);
        } else if (arg == "--seed" && has_value) {
            options.seed = std::strtoull(argv[++i], nullptr, 10);
        } else if (arg == "--round-ms" && has_value) {
            options.round_ms = std::strtod(argv[++i], nullptr);
        } else if (arg == "--json" && has_value) {
            json = argv[++i];
        } else if (arg == "--mode" && has_value) {
            const std::string mode = argv[++i];
            options.only_mode = mode == "consumer" ? 0 : mode == "producer" ? 1 : mode == "controller" ? 2 : -2;
            if (options.only_mode == -2) return usage("--mode is consumer, producer or controller");
        } else {
            return usage(("unknown or incomplete argument '" + arg + "'").c_str());
        }
    }
    if (!(options.seconds > 0) || !(options.round_ms > 0)) return usage("--seconds and --round-ms must be positive");
    const rshostile::Summary summary = rshostile::run(options);
    const std::string text = rshostile::to_json(summary, options);
    if (!json.empty()) {
        std::ofstream out(json);
        out << text;
        if (!out) return usage(("cannot write " + json).c_str());
    }
    std::printf("hostile peer: %llu rounds, %llu victim calls, %llu corruptions reported, %zu failures in %.1f s\n",
                static_cast<unsigned long long>(summary.rounds), static_cast<unsigned long long>(summary.operations),
                static_cast<unsigned long long>(summary.corrupt_reported), summary.failures.size(), summary.seconds);
    for (const std::string& failure : summary.failures) std::printf("  FAILURE: %s\n", failure.c_str());
    return summary.failures.empty() ? 0 : 1;
}
