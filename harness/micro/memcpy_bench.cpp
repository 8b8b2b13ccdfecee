// ringside_memcpy_bench: the machine's memcpy bandwidth per payload size, the
// hardware reference line of the report's throughput plot (issue 7). Each
// row copies payload-sized blocks from one hot source block into a
// destination area the size of the runner's default ring for that payload
// (the smallest power of two >= 64 KiB holding four records), walking it as
// a ring producer walks its data area: what one core can copy, the upper
// bound of any queue that copies each message once. Google Benchmark's
// bytes_per_second divides by the thread's CPU time, so a shared machine
// lowers it less than wall-clock figures. run_all.py runs it with
// the other Google Benchmark programs; reports read `bytes_per_second` of
// rows named memcpy/<payload>.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

std::size_t ring_bytes_for(std::size_t payload) {
    std::size_t ring = 65536;
    while (ring < 4 * (payload + 64)) ring *= 2;
    return ring;
}

void BM_Memcpy(benchmark::State& state) {
    const auto payload = static_cast<std::size_t>(state.range(0));
    const std::size_t stride = (payload + 8 + 7) & ~std::size_t{7};  // a record: 8-byte header, 8-byte aligned
    const std::size_t area = ring_bytes_for(payload);
    std::vector<std::byte> source(payload, std::byte{0x5a});
    std::vector<std::byte> destination(area + stride);
    std::size_t offset = 0;
    for (auto _ : state) {
        std::memcpy(destination.data() + offset, source.data(), payload);
        benchmark::ClobberMemory();
        offset += stride;
        if (offset + stride > area) offset = 0;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(payload));
}

// The payload sizes of the scenario files.
BENCHMARK(BM_Memcpy)->Name("memcpy")->Arg(8)->Arg(64)->Arg(512)->Arg(4096)->Arg(16384)->Arg(65536)->Arg(262144);

}  // namespace

BENCHMARK_MAIN();
