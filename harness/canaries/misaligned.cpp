// Misaligned access (UndefinedBehaviorSanitizer): a uint32_t read from an odd address.
#include <cstdint>

namespace {
alignas(8) unsigned char bytes[16] = {1, 2, 3, 4, 5, 6, 7, 8};
volatile int offset = 1;
volatile std::uint32_t sink;
}  // namespace

int main() {
    const auto* word = reinterpret_cast<const std::uint32_t*>(bytes + offset);
    sink = *word;  // fine on x86 hardware, undefined in C++
    return 0;
}
