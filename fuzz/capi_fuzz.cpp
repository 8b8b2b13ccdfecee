// libFuzzer target: random sequences of C API calls (capi_program.hpp)
// under ASan + UBSan. The library must free everything the program's
// handles owned once they are destroyed.
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "capi_program.hpp"
#include "fuzz_input.hpp"
#include "ringside/ringside.h"

namespace {

const std::string& scratch() {
    // Never destroyed: the cleanup below runs at exit and still needs it.
    static const std::string& dir = *new std::string([] {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/rsfuzz.capi.XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) std::abort();
        return pattern;
    }());
    return dir;
}

struct Cleanup {
    ~Cleanup() { ::rmdir(scratch().c_str()); }
} g_cleanup;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::int64_t before = rs_debug_allocation_count();
    (void)rsfuzz::run_capi_program(data, size, scratch().c_str());
    if (rs_debug_allocation_count() != before) rsfuzz::broken("allocations left after every handle was destroyed");
    return 0;
}
