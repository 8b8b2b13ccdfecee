// The processors the library ships for harnesses: echo and timestamp.
#include <cstring>

#include "ringside/sidecar.h"
#include "wait/clock.hpp"

extern "C" {

int32_t rs_processor_echo(const void* command, size_t command_length, void* event, size_t event_capacity,
                          size_t* event_length, void* /*user*/) {
    if (command_length > event_capacity) return RS_ERR_TOO_LARGE;
    if (command_length != 0) std::memcpy(event, command, command_length);
    *event_length = command_length;
    return RS_PROCESS_EMIT;
}

int32_t rs_processor_timestamp(const void* command, size_t command_length, void* event, size_t event_capacity,
                               size_t* event_length, void* /*user*/) {
    const std::uint64_t now = ringside::monotonic_ns();
    if (command_length + sizeof now > event_capacity) return RS_ERR_TOO_LARGE;
    std::memcpy(event, &now, sizeof now);
    if (command_length != 0) std::memcpy(static_cast<char*>(event) + sizeof now, command, command_length);
    *event_length = command_length + sizeof now;
    return RS_PROCESS_EMIT;
}

}  // extern "C"
