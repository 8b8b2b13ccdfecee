// Uninitialised read (Valgrind memcheck): a branch on heap memory nobody wrote.
#include <cstdlib>

namespace {
volatile int index = 3;
volatile int sink;

__attribute__((noinline)) void on_positive() { sink = 1; }
__attribute__((noinline)) void on_other() { sink = 2; }
}  // namespace

int main() {
    int* values = static_cast<int*>(std::malloc(8 * sizeof(int)));
    // "Conditional jump or move depends on uninitialised value(s)"
    if (values[index] > 0) {
        on_positive();
    } else {
        on_other();
    }
    std::free(values);
    return 0;
}
