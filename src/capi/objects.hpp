// The objects behind the C API's opaque handles, and their handle tables.
#pragma once

#include <mutex>

#include "capi/handle_table.hpp"
#include "ring/consumer.hpp"
#include "ring/producer.hpp"
#include "ringside/ringside.h"
#include "shm/region.hpp"
#include "wait/wait_config.hpp"

namespace ringside {

struct RingHandle {
    Region* region = nullptr;
    std::uint32_t index = 0;
    rs_role role = RS_ROLE_PRODUCER;
    // One of the two is used, by the role. Each on its own cache lines, away
    // from the fields above that any thread may read.
    alignas(layout::kFalseSharingRange) Producer producer;
    alignas(layout::kFalseSharingRange) Consumer consumer;
    // How this side waits (rs_ring_*_wait) and wakes its peer after a
    // commit or release (src/wait/park.hpp). Read on every commit/release.
    WaitConfig wait;
};

// Wakes the peer of `ring` if it is parked, after this side published
// (commit: the data words; release: the space words).
inline void notify_peer(RingHandle& ring) {
    if (ring.role == RS_ROLE_PRODUCER) {
        notify(data_words(*ring.producer.view().control), ring.wait.peer());
    } else {
        notify(space_words(*ring.consumer.view().control), ring.wait.peer());
    }
}

class Sidecar;

inline constexpr std::uint32_t kMaxRegionHandles = 4096;
inline constexpr std::uint32_t kMaxRingHandles = 65536;
inline constexpr std::uint32_t kMaxSidecarHandles = 1024;

using RegionTable = HandleTable<Region, kMaxRegionHandles, 0xA1>;
using RingTable = HandleTable<RingHandle, kMaxRingHandles, 0xB3>;
using SidecarTable = HandleTable<Sidecar, kMaxSidecarHandles, 0xC5>;

RegionTable& region_table();
// Serialises handle creation and destruction that changes a region's users
// (never taken on the hot path).
std::mutex& lifecycle_mutex();
// Constant-initialised at namespace scope, so that the hot calls
// (rs_ring_write, rs_ring_peek, rs_ring_release, ...) look a handle up
// inline: a call costs stack stores, and on a ring the producer's stores
// queue behind its stores into lines the consumer reads (ring/producer.hpp).
inline constinit RingTable g_ring_table{};
inline RingTable& ring_table() { return g_ring_table; }

// The live ring handle with `role`, or nullptr. Records no error: the
// callers' cold paths say what was wrong.
[[gnu::always_inline]] inline RingHandle* ring_side(const rs_ring_t* handle, rs_role role) {
    RingHandle* ring = g_ring_table.lookup(handle);
    return ring != nullptr && ring->role == role ? ring : nullptr;
}
SidecarTable& sidecar_table();

// Looks up a handle or records RS_ERR_INVALID_ARGUMENT naming `function`.
Region* region_from(const rs_region_t* handle, const char* function);
RingHandle* ring_from(const rs_ring_t* handle, const char* function);

// Maps a ring status to a result; failures set the last error.
rs_result ring_result(RingStatus status, const RingHandle& ring, const char* function);

}  // namespace ringside
