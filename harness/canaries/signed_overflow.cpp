// Signed integer overflow (UndefinedBehaviorSanitizer): INT_MAX + 1.
#include <climits>

namespace {
volatile int big = INT_MAX;
volatile int one = 1;
volatile int sink;
}  // namespace

int main() {
    sink = big + one;  // wraps on x86 without UBSan
    return 0;
}
