// Data race (ThreadSanitizer): two threads increment a plain int, unsynchronised.
#include <thread>

namespace {
int counter = 0;  // deliberately not atomic

__attribute__((noinline)) void bump() {
    for (int i = 0; i < 1000; ++i) counter = counter + 1;
}
}  // namespace

int main() {
    std::thread a(bump);
    std::thread b(bump);
    a.join();
    b.join();
    return counter > 0 ? 0 : 0;
}
