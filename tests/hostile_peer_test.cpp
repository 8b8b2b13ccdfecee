// The live hostile-peer fuzzer (fuzz/hostile), bounded: a forked peer
// mutates the shared header, indices, record headers and tracer queues while
// each victim runs. Each victim must stay inside the mapping, return from
// every call, report the corruption and stop cleanly; a session that never
// sees a corruption reported means the peer lost its teeth, and fails too.
#include <gtest/gtest.h>

#include "hostile/hostile.hpp"

namespace {

class HostilePeer : public ::testing::TestWithParam<rshostile::Mode> {};

TEST_P(HostilePeer, CannotMakeTheVictimLeaveItsMappingHangOrMissTheCorruption) {
    rshostile::Options options;
    options.seconds = 1.0;
    options.seed = 20261122;
    options.only_mode = static_cast<int>(GetParam());
    const rshostile::Summary summary = rshostile::run(options);
    for (const std::string& failure : summary.failures) ADD_FAILURE() << failure;
    const rshostile::ModeSummary& mode = summary.modes[options.only_mode];
    EXPECT_GE(mode.rounds, 1u);
    EXPECT_GT(mode.operations, 0u);
    EXPECT_GT(mode.corrupt_reported, 0u) << "no corruption was reported in " << mode.rounds << " rounds";
}

INSTANTIATE_TEST_SUITE_P(Victims, HostilePeer,
                         ::testing::Values(rshostile::Mode::kConsumer, rshostile::Mode::kProducer,
                                           rshostile::Mode::kController),
                         [](const auto& info) {
                             switch (info.param) {
                                 case rshostile::Mode::kConsumer: return std::string("RingConsumer");
                                 case rshostile::Mode::kProducer: return std::string("RingProducer");
                                 default: return std::string("TracerController");
                             }
                         });

}  // namespace
