// Heap use after free (AddressSanitizer): reads a block after freeing it.
#include <cstdlib>

namespace {
volatile int sink;
}

int main() {
    int* block = static_cast<int*>(std::malloc(64 * sizeof(int)));
    block[5] = 42;
    std::free(block);
    sink = block[5];  // read of freed memory
    return 0;
}
