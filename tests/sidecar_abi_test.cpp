// The public structs of sidecar.h, pinned: sizes, alignment and the offsets a
// binding (ctypes, another compiler) depends on, as C++ sees them and as C
// sees them (sidecar_abi_test.c). A failure here means the ABI changed:
// bump RS_HOST_VTABLE_ABI_VERSION or extend the structs at their end only.
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "ringside/ringside.h"

extern "C" size_t rs_abi_c_layout(size_t* out, size_t capacity);

namespace {

#define RS_ENTRY(type, field) offsetof(type, field)

TEST(SidecarAbi, PublicStructsHaveTheirPinnedLayout) {
    EXPECT_EQ(sizeof(rs_wait_strategy), 40u);
    EXPECT_EQ(RS_ENTRY(rs_wait_strategy, kind), 8u);
    EXPECT_EQ(RS_ENTRY(rs_wait_strategy, sleep_ns), 16u);
    EXPECT_EQ(RS_ENTRY(rs_wait_strategy, peer_eventfd), 32u);
    EXPECT_EQ(sizeof(rs_host_vtable), 40u);
    EXPECT_EQ(RS_ENTRY(rs_host_vtable, struct_size), 0u);
    EXPECT_EQ(RS_ENTRY(rs_host_vtable, abi_version), 4u);
    EXPECT_EQ(RS_ENTRY(rs_host_vtable, user), 8u);
    EXPECT_EQ(RS_ENTRY(rs_host_vtable, on_event), 16u);
    EXPECT_EQ(RS_ENTRY(rs_host_vtable, on_error), 24u);
    EXPECT_EQ(RS_ENTRY(rs_host_vtable, on_log), 32u);
    EXPECT_EQ(sizeof(rs_sidecar_options), 296u);
    EXPECT_EQ(RS_ENTRY(rs_sidecar_options, processor), 32u);
    EXPECT_EQ(RS_ENTRY(rs_sidecar_options, command_wait), 48u);
    EXPECT_EQ(RS_ENTRY(rs_sidecar_options, event_wait), 88u);
    EXPECT_EQ(RS_ENTRY(rs_sidecar_options, policy), 128u);
    EXPECT_EQ(RS_ENTRY(rs_sidecar_options, cpu_mask), 144u);
    EXPECT_EQ(RS_ENTRY(rs_sidecar_options, thread_name), 272u);
    EXPECT_EQ(sizeof(rs_sidecar_sched), 416u);
    EXPECT_EQ(RS_ENTRY(rs_sidecar_sched, requested_cpu_mask), 48u);
    EXPECT_EQ(RS_ENTRY(rs_sidecar_sched, refused), 320u);
    EXPECT_EQ(sizeof(rs_sidecar_stats), 64u);
    EXPECT_EQ(RS_ENTRY(rs_sidecar_stats, last_error), 56u);
    for (size_t align : {alignof(rs_wait_strategy), alignof(rs_host_vtable), alignof(rs_sidecar_options),
                         alignof(rs_sidecar_sched), alignof(rs_sidecar_stats)}) {
        EXPECT_EQ(align, 8u);
    }
}

TEST(SidecarAbi, CAndCppAgreeOnEveryLayout) {
    const std::vector<size_t> cpp = {
        sizeof(rs_wait_strategy),  alignof(rs_wait_strategy),  RS_ENTRY(rs_wait_strategy, kind),
        RS_ENTRY(rs_wait_strategy, sleep_ns), RS_ENTRY(rs_wait_strategy, peer_eventfd),
        sizeof(rs_host_vtable),    alignof(rs_host_vtable),    RS_ENTRY(rs_host_vtable, user),
        RS_ENTRY(rs_host_vtable, on_event), RS_ENTRY(rs_host_vtable, on_log),
        sizeof(rs_sidecar_options), alignof(rs_sidecar_options), RS_ENTRY(rs_sidecar_options, processor),
        RS_ENTRY(rs_sidecar_options, command_wait), RS_ENTRY(rs_sidecar_options, cpu_mask),
        RS_ENTRY(rs_sidecar_options, thread_name), RS_ENTRY(rs_sidecar_options, start_timeout_ms),
        sizeof(rs_sidecar_sched),  alignof(rs_sidecar_sched),  RS_ENTRY(rs_sidecar_sched, requested_cpu_mask),
        RS_ENTRY(rs_sidecar_sched, thread_name), RS_ENTRY(rs_sidecar_sched, refused),
        sizeof(rs_sidecar_stats),  alignof(rs_sidecar_stats),  RS_ENTRY(rs_sidecar_stats, last_error),
    };
    std::vector<size_t> c(cpp.size() + 4, 0);
    ASSERT_EQ(rs_abi_c_layout(c.data(), c.size()), cpp.size());
    c.resize(cpp.size());
    EXPECT_EQ(c, cpp);
}

TEST(SidecarAbi, OptionsInitStampsSizeAndCheck) {
    rs_sidecar_options options;
    rs_sidecar_options_init(&options);
    EXPECT_EQ(options.struct_size, sizeof options);
    EXPECT_NE(options.check, 0u);
    EXPECT_EQ(options.command_wait.struct_size, sizeof(rs_wait_strategy));
    EXPECT_EQ(options.command_wait.kind, RS_WAIT_HYBRID);
    EXPECT_EQ(options.command_wait.sleep_ns, 1'000'000u) << "the seeds' 1 ms";
    EXPECT_EQ(options.command_wait.peer_may_park, 1);
    EXPECT_EQ(options.command_wait.eventfd, -1);
    EXPECT_STREQ(options.thread_name, "rs-sidecar");
    EXPECT_STREQ(rs_sidecar_state_name(RS_SIDECAR_STOPPING), "stopping");
}

}  // namespace
