/* See c_callers.c: C callers passing out-of-range enum values. */
#ifndef RINGSIDE_TESTS_C_CALLERS_H
#define RINGSIDE_TESTS_C_CALLERS_H

#include "ringside/ringside.h"

#ifdef __cplusplus
extern "C" {
#endif

rs_result rstest_c_create_with_backing(const char *name, int backing, rs_region_t **out);
rs_result rstest_c_open_with_backing(const char *name, int backing, rs_region_t **out);
rs_result rstest_c_unlink_with_backing(const char *name, int backing);
rs_result rstest_c_ring_create_with_role(rs_region_t *region, int role, rs_ring_t **out);
const char *rstest_c_result_name(int result);

#ifdef __cplusplus
}
#endif

#endif
