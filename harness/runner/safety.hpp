// Nothing outlives a run: a watchdog bounds it, signals end it cleanly, and
// on every exit path the children are killed and the regions unlinked.
//
//  - install() blocks SIGINT, SIGTERM, SIGHUP and SIGQUIT in the calling
//    (main) thread, so every thread created afterwards inherits the mask,
//    and starts two threads: one sigwait()s for those signals, one sleeps
//    until the run's deadline (at SCHED_FIFO 99 when the OS grants it, so a
//    real-time spinner cannot keep it off the CPU). Either one reports, kills
//    the tracked children, unlinks the tracked regions, writes the failure
//    result (if an output path is set) and _exits: 3 for the watchdog,
//    128 + signal for a signal.
//  - Crash signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) run an
//    async-signal-safe handler that does the kill and unlink, then re-raises.
//  - track_child()/track_region() register what to clean; the normal path
//    untracks what it has cleaned itself, and calls cleanup() at the end.
//  - Children (fork_exec) get PR_SET_PDEATHSIG(SIGKILL): they die with the
//    runner even if it is SIGKILLed, and an empty signal mask.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "runner/scenario.hpp"

namespace ringside::runner::safety {

// Starts the signal and watchdog threads; the watchdog fires timeout_s from now.
void install(double timeout_s);
// Stops and joins the watchdog and the signal thread (the run finished in
// time); a signal arriving afterwards stays blocked until the process exits.
void disarm();
// What the run is doing, for the watchdog's message ("warm-up", "measuring", ...).
void set_phase(const char* phase);
// Where the failure result goes if the watchdog or a signal ends the run,
// and the scenario it echoes (the JSON text of the effective scenario).
void set_failure_output(const std::string& path, const std::string& scenario_json);

void track_child(pid_t pid);
void untrack_child(pid_t pid);
// `name` as given to rs_region_create (shm name or file path).
void track_region(const std::string& name, Backing backing);
void untrack_region(const std::string& name);
// Kills tracked children (SIGKILL, then reaps them) and unlinks tracked regions.
void cleanup();

// fork + exec of `argv` (argv[0] is the path) with an empty signal mask,
// PR_SET_PDEATHSIG(SIGKILL) and `keep_fd` left open (every other fd above 2
// is closed). Tracks the child. -1 with `error` on failure.
pid_t fork_exec(const std::vector<std::string>& argv, int keep_fd, std::string& error);

}  // namespace ringside::runner::safety
