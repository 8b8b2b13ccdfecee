// cpp_host.cpp - the host of c_host.c in C++ with ringside.hpp, to copy and adapt.
//
// A SidecarHost owns a shared-memory region with a command ring and an event
// ring, and a sidecar thread that runs the built-in timestamp processor and
// calls our lambda for every event. We send N commands, stop, let the
// destructor tear everything down, and check that nothing is left: no
// library allocation, no name in /dev/shm. Failures throw ringside::Error.
//
//   usage: cpp_host [N]      (default 1000 commands)
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include <ringside/ringside.hpp>

namespace {

using namespace std::chrono_literals;

// Written by the sidecar thread in the callbacks; read after stop() joined it.
struct Tally {
    std::uint64_t events = 0;
    std::uint64_t out_of_order = 0;  // events whose command number is not the next one
    std::uint64_t errors = 0;
};

}  // namespace

int main(int argc, char** argv) try {
    const std::uint64_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000;
    const std::string name = "/ringside-example." + std::to_string(::getpid()) + ".cpp";  // unique per run
    Tally tally;
    double ms = 0;
    {
        ringside::SidecarHost::Config config{.name = name};
        config.region.ring_capacity = 64 * 1024;
        config.sidecar.processor = rs_processor_timestamp;  // event = 8-byte timestamp + the command

        ringside::SidecarHost host(
            {
                // Sidecar thread; `event` is valid only during the call.
                .on_event =
                    [&](ringside::Record event) {
                        std::uint64_t command = 0;
                        if (event.size() != 2 * sizeof command) {
                            ++tally.errors;
                            return;
                        }
                        std::memcpy(&command, event.data() + sizeof(std::uint64_t), sizeof command);
                        if (command != tally.events) ++tally.out_of_order;
                        ++tally.events;
                    },
                .on_error =
                    [&](rs_result code, std::string_view message) {
                        ++tally.errors;
                        std::fprintf(stderr, "cpp_host: sidecar error %s: %.*s\n", rs_result_name(code),
                                     static_cast<int>(message.size()), message.data());
                    },
            },
            config);
        host.start();

        const auto begin = std::chrono::steady_clock::now();
        for (std::uint64_t i = 0; i < count; ++i) {
            // false = timed out: the sidecar did not make room within a second.
            if (!host.send(std::as_bytes(std::span(&i, 1)), 1s)) throw ringside::Error(RS_TIMEOUT, "send", "cpp_host");
        }
        if (!host.stop(RS_STOP_DRAIN, 5s)) throw ringside::Error(RS_TIMEOUT, "stop", "cpp_host");
        ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
    }  // ~SidecarHost: sidecar, then rings, then region (which removes the name)

    // Nothing may be left behind.
    const bool name_gone = !ringside::Region::unlink(name);
    const std::int64_t allocations = rs_debug_allocation_count();
    const bool ok = tally.events == count && tally.out_of_order == 0 && tally.errors == 0 && name_gone &&
                    allocations == 0;
    std::printf("cpp_host: %llu commands, %llu events (%llu out of order, %llu errors) in %.1f ms; "
                "live allocations %lld, %s %s\n",
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(tally.events),
                static_cast<unsigned long long>(tally.out_of_order), static_cast<unsigned long long>(tally.errors),
                ms, static_cast<long long>(allocations), name.c_str(), name_gone ? "removed" : "STILL PRESENT");
    std::printf("cpp_host: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
} catch (const ringside::Error& error) {
    std::fprintf(stderr, "cpp_host: %s\n", error.what());
    return 1;
}
