// Heap buffer overflow (AddressSanitizer): writes one byte past a 10-byte block.
// malloc rounds the block up, so without ASan the stray byte lands in slack.
// The size is volatile so UBSan's object-size check cannot see it first.
#include <cstddef>
#include <cstdlib>

namespace {
volatile std::size_t size = 10;
volatile std::size_t index = 10;
}  // namespace

int main() {
    // volatile: a store right before free() is otherwise dead and removed.
    volatile char* block = static_cast<char*>(std::malloc(size));
    block[index] = 1;  // one past the end
    std::free(const_cast<char*>(block));
    return 0;
}
