/* Calls made the way a C program may legally make them: enum arguments and
 * option fields holding values outside their enumerators. Forming such a
 * value in C++ is itself undefined, so the C++ tests call these instead;
 * whatever the library then does with the value is on the library. */
#include "support/c_callers.h"

rs_result rstest_c_create_with_backing(const char *name, int backing, rs_region_t **out) {
    rs_region_options options;
    rs_region_options_init(&options);
    options.backing = backing;
    options.ring_capacity = 4096;
    return rs_region_create(name, &options, out);
}

rs_result rstest_c_open_with_backing(const char *name, int backing, rs_region_t **out) {
    rs_region_options options;
    rs_region_options_init(&options);
    options.backing = backing;
    return rs_region_open(name, &options, out);
}

rs_result rstest_c_unlink_with_backing(const char *name, int backing) { return rs_region_unlink(name, backing); }

rs_result rstest_c_ring_create_with_role(rs_region_t *region, int role, rs_ring_t **out) {
    return rs_ring_create(region, 0, role, out);
}

const char *rstest_c_result_name(int result) { return rs_result_name(result); }
