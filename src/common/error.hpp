// The per-thread last error behind rs_last_error_message(): a fixed
// thread-local buffer, so reporting an error never allocates.
#pragma once

#include "ringside/ringside.h"

namespace ringside {

// Records `code` and a printf-style message for this thread; returns `code`
// so callers can write `return fail(RS_ERR_..., "...")`.
rs_result fail(rs_result code, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Same, appending ": <strerror(err)>".
rs_result fail_errno(rs_result code, int err, const char* format, ...) __attribute__((format(printf, 3, 4)));

// Maps an errno from open/shm_open/mmap to the closest result.
rs_result result_from_errno(int err);

void clear_last_error();

}  // namespace ringside
