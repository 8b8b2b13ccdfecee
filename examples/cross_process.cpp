// cross_process.cpp - the sidecar in another process, to copy and adapt.
//
// The parent creates the region and holds the host's sides of both rings: it
// writes commands into ring 0 and reads events from ring 1. A forked child
// opens the region by name and runs the sidecar (echo processor) with RING
// delivery, so its events travel back through shared memory; the parent calls
// on_event itself with dispatch_events(). A pipe tells the child to stop.
//
//   usage: cross_process [N]      (default 1000 commands)
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <ringside/ringside.hpp>

using namespace std::chrono_literals;

// Called by dispatch_events on the parent's thread; `data` is valid only during the call.
static void count_event(const void* /*data*/, std::size_t /*length*/, void* user) {
    ++*static_cast<std::uint64_t*>(user);
}

// The child: serve the region until the parent closes the pipe. Returns the exit status.
static int run_sidecar(const std::string& name, int stop_fd) try {
    ringside::Region region = ringside::Region::open(name);
    rs_sidecar_options options = ringside::Sidecar::default_options();  // command ring 0, event ring 1
    options.delivery = RS_DELIVER_RING;
    ringside::Sidecar sidecar = ringside::Sidecar::create(region, options);
    sidecar.start(nullptr);  // RING delivery needs no v-table
    char byte;
    while (read(stop_fd, &byte, 1) > 0) {
    }  // returns 0 when the parent closes its end
    return sidecar.stop(RS_STOP_DRAIN, 5s) ? 0 : 1;
} catch (const ringside::Error& error) {
    std::fprintf(stderr, "cross_process (sidecar): %s\n", error.what());
    return 1;
}

int main(int argc, char** argv) try {
    const std::uint64_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000;
    const std::string name = "/ringside-example." + std::to_string(::getpid()) + ".xproc";
    std::uint64_t events = 0;
    int child_status = -1;
    {
        rs_region_options options = ringside::Region::default_options();
        options.ring_count = 2;
        options.ring_capacity = 64 * 1024;
        ringside::Region region = ringside::Region::create(name, options);
        ringside::ProducerRing commands = ringside::ProducerRing::create(region, 0);
        ringside::ConsumerRing event_ring = ringside::ConsumerRing::create(region, 1);

        int stop_pipe[2];
        if (pipe(stop_pipe) != 0) throw ringside::Error(RS_ERR_INTERNAL, "pipe failed", "cross_process");
        const pid_t child = fork();
        if (child < 0) throw ringside::Error(RS_ERR_INTERNAL, "fork failed", "cross_process");
        if (child == 0) {
            close(stop_pipe[1]);
            // The inherited handles belong to the parent: leave them alone and never return into main.
            (void)commands.release_handle();
            (void)event_ring.release_handle();
            (void)region.release_handle();
            _exit(run_sidecar(name, stop_pipe[0]));
        }
        close(stop_pipe[0]);

        const rs_host_vtable vtable = {sizeof vtable, RS_HOST_VTABLE_ABI_VERSION, &events, count_event, nullptr, nullptr};
        for (std::uint64_t i = 0; i < count; ++i) {
            if (!commands.write_wait(std::as_bytes(std::span(&i, 1)), 5s)) break;  // the sidecar never came
            (void)ringside::dispatch_events(event_ring, vtable, 64, 0ns);             // take what is there
        }
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (events < count && std::chrono::steady_clock::now() < deadline) {
            (void)ringside::dispatch_events(event_ring, vtable, 64, 100ms);
        }
        close(stop_pipe[1]);  // tells the child to stop
        waitpid(child, &child_status, 0);
    }  // rings, then region: the creator removes the name

    const bool child_ok = WIFEXITED(child_status) && WEXITSTATUS(child_status) == 0;
    const bool name_gone = !ringside::Region::unlink(name);
    const bool ok = events == count && child_ok && name_gone && rs_debug_allocation_count() == 0;
    std::printf("cross_process: %llu commands, %llu events, sidecar process %s, %s %s\n",
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(events),
                child_ok ? "exited 0" : "FAILED", name.c_str(), name_gone ? "removed" : "STILL PRESENT");
    std::printf("cross_process: %s\n", ok ? "OK" : "FAILED");
    return ok ? 0 : 1;
} catch (const ringside::Error& error) {
    std::fprintf(stderr, "cross_process: %s\n", error.what());
    return 1;
}
