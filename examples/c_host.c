/*
 * c_host.c - a complete ringside host in C11, to copy and adapt.
 *
 * It creates a shared-memory region with two rings (commands, events),
 * starts a sidecar thread that runs the built-in timestamp processor and
 * delivers each event by calling our on_event through the v-table, sends N
 * commands, stops, destroys everything and checks that nothing is left:
 * no library allocation, no name in /dev/shm. Exit status 0 on success.
 *
 *   usage: c_host [N]      (default 1000 commands)
 */
#define _POSIX_C_SOURCE 200809L /* getpid, clock_gettime under -std=c11 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ringside/ringside.h> /* also declares the sidecar and v-table API */

/* Written by the sidecar thread in on_event; read by main after
 * rs_sidecar_stop returned RS_OK (the join orders the two). */
typedef struct host_state {
    uint64_t events;
    uint64_t out_of_order; /* events whose command number is not the next one */
    uint64_t errors;
} host_state;

/* Sidecar thread. `data` (timestamp, then our command) is valid only during the call. */
static void on_event(const void *data, size_t length, void *user) {
    host_state *state = user;
    uint64_t command;
    if (length != 2 * sizeof(uint64_t)) {
        state->errors++;
        return;
    }
    memcpy(&command, (const char *)data + sizeof(uint64_t), sizeof command);
    if (command != state->events) state->out_of_order++;
    state->events++;
}

/* Sidecar thread: a processor failure or a dropped event. */
static void on_error(rs_result code, const char *message, void *user) {
    ((host_state *)user)->errors++;
    fprintf(stderr, "c_host: sidecar error %s: %s\n", rs_result_name(code), message);
}

/* Any call that does not return RS_OK prints the library's message and jumps to cleanup. */
#define CHECK(call)                                                                                            \
    do {                                                                                                       \
        rs_result check_result_ = (call);                                                                      \
        if (check_result_ != RS_OK) {                                                                          \
            fprintf(stderr, "c_host: %s: %s (%s)\n", #call, rs_result_name(check_result_), rs_last_error_message()); \
            goto cleanup;                                                                                      \
        }                                                                                                      \
    } while (0)

static const uint64_t kSecond = 1000000000u; /* timeouts are in ns */

int main(int argc, char **argv) {
    const uint64_t count = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000;
    host_state state = {0, 0, 0};
    rs_region_t *region = NULL;
    rs_ring_t *commands = NULL;
    rs_sidecar_t *sidecar = NULL;
    struct timespec begin = {0, 0}, end = {0, 0};
    int ok = 0;
    char name[64]; /* unique per run: the pid is part of it */
    snprintf(name, sizeof name, "/ringside-example.%ld.c", (long)getpid());

    rs_region_options region_options;
    rs_region_options_init(&region_options);
    region_options.ring_count = 2;              /* ring 0: commands, ring 1: events */
    region_options.ring_capacity = 64 * 1024;
    CHECK(rs_region_create(name, &region_options, &region));

    rs_sidecar_options sidecar_options;
    rs_sidecar_options_init(&sidecar_options);  /* command_ring 0, event_ring 1 */
    sidecar_options.processor = rs_processor_timestamp;
    sidecar_options.delivery = RS_DELIVER_VTABLE;
    CHECK(rs_sidecar_create(region, &sidecar_options, &sidecar));
    CHECK(rs_ring_create(region, sidecar_options.command_ring, RS_ROLE_PRODUCER, &commands));

    /* The library copies the table; `state` must outlive the sidecar's run. */
    rs_host_vtable vtable = {sizeof vtable, RS_HOST_VTABLE_ABI_VERSION, &state, on_event, on_error, NULL};
    CHECK(rs_sidecar_start(sidecar, &vtable));

    clock_gettime(CLOCK_MONOTONIC, &begin);
    for (uint64_t i = 0; i < count; i++) {
        CHECK(rs_ring_write_wait(commands, &i, sizeof i, kSecond)); /* RS_TIMEOUT if the sidecar stalls */
    }
    CHECK(rs_sidecar_stop(sidecar, RS_STOP_DRAIN, 5 * kSecond)); /* every command processed, thread joined */
    clock_gettime(CLOCK_MONOTONIC, &end);
    ok = state.events == count && state.out_of_order == 0 && state.errors == 0;

cleanup:
    /* Reverse order: sidecar (stops it if still running), ring, region. */
    if (sidecar != NULL && (rs_sidecar_stop(sidecar, RS_STOP_DISCARD, 5 * kSecond) != RS_OK ||
                            rs_sidecar_destroy(sidecar) != RS_OK)) ok = 0;
    if (commands != NULL && rs_ring_destroy(commands) != RS_OK) ok = 0;
    if (region != NULL && rs_region_destroy(region) != RS_OK) ok = 0;

    /* Nothing may be left behind. */
    rs_region_t *leftover = NULL;
    const int name_gone = rs_region_open(name, NULL, &leftover) == RS_ERR_NOT_FOUND;
    if (leftover != NULL) rs_region_destroy(leftover);
    const int64_t allocations = rs_debug_allocation_count();
    ok = ok && name_gone && allocations == 0;

    const double ms = (double)(end.tv_sec - begin.tv_sec) * 1e3 + (double)(end.tv_nsec - begin.tv_nsec) / 1e6;
    printf("c_host: %llu commands, %llu events (%llu out of order, %llu errors) in %.1f ms; "
           "live allocations %lld, %s %s\n",
           (unsigned long long)count, (unsigned long long)state.events, (unsigned long long)state.out_of_order,
           (unsigned long long)state.errors, ok ? ms : 0.0, (long long)allocations, name,
           name_gone ? "removed" : "STILL PRESENT");
    printf("c_host: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
}
