// Memory leak (LeakSanitizer, Valgrind memcheck): the only pointer to a block is dropped.
#include <cstdlib>
#include <cstring>

namespace {
__attribute__((noinline)) void lose_a_block() {
    void* volatile block = std::malloc(4096);
    std::memset(block, 1, 4096);
    block = nullptr;  // the last reference goes: a definite leak
}
}  // namespace

int main() {
    lose_a_block();
    return 0;
}
