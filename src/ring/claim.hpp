// Claims on a ring's producer and consumer roles, held in the ring's claims
// line so that two processes can never both produce (or consume) one ring.
// A claim names its holder by pid and process start time in ONE 64-bit word,
// compare-and-swapped as a whole; a dead holder's claim (crash) is taken
// over, a live holder's claim gives RS_BUSY.
#pragma once

#include <cstdint>

#include "ring/ring_view.hpp"
#include "ringside/ringside.h"

namespace ringside {

rs_result claim_role(const RingView& view, rs_role role, const char* region_name, std::uint32_t index);
void release_role(const RingView& view, rs_role role);

// True when the claim's holder still runs: its pid exists, is not a zombie,
// and started at the time the claim records. False for a free claim.
bool claim_holder_alive(std::uint64_t claim);

// The pid part of a claim word (0 when free).
inline std::int32_t claim_pid(std::uint64_t claim) { return static_cast<std::int32_t>(claim & 0xFFFF'FFFFu); }

}  // namespace ringside
