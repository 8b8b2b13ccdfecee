#include "runner/safety.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

namespace ringside::runner::safety {
namespace {

constexpr int kSlots = 16;
constexpr std::size_t kPathBytes = 512;

// Read by async-signal-safe code: fixed arrays and lock-free atomics only.
std::atomic<pid_t> g_children[kSlots];
std::atomic<bool> g_path_used[kSlots];
char g_paths[kSlots][kPathBytes];  // filesystem paths: /dev/shm/<name> for shm regions
char g_names[kSlots][kPathBytes];  // the names as tracked, to untrack

std::mutex g_mutex;  // serialises the non-signal paths below
std::condition_variable g_disarmed;
bool g_armed = false;
std::chrono::steady_clock::time_point g_deadline;
double g_timeout_s = 0;
std::atomic<const char*> g_phase{"starting"};
std::string g_output_path;
std::string g_scenario_json;
std::atomic<bool> g_installed{false};
// Joined by disarm(), so no thread outlives a run that ends normally
// (valgrind counts a live thread's stack as possibly lost). pthread_t, not
// std::thread: a joinable std::thread destroyed at exit would terminate.
pthread_t g_signal_thread{};
pthread_t g_watchdog_thread{};
bool g_threads_started = false;
// Sent by disarm() to the signal thread: not a request to stop the run.
constexpr int kQuitSignal = SIGUSR1;

void write_stderr(const char* text) {
    std::size_t left = std::strlen(text);
    while (left > 0) {
        const ssize_t n = ::write(2, text, left);
        if (n <= 0) return;
        text += n;
        left -= static_cast<std::size_t>(n);
    }
}

// Async-signal-safe: kill() and unlink() only.
void kill_and_unlink() {
    for (auto& child : g_children) {
        const pid_t pid = child.exchange(0);
        if (pid > 0) ::kill(pid, SIGKILL);
    }
    for (int i = 0; i < kSlots; ++i) {
        if (g_path_used[i].exchange(false)) ::unlink(g_paths[i]);
    }
}

void reap() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
}

// The watchdog's and the signal thread's way out: report, clean, write the
// failure result, exit.
[[noreturn]] void fail_run(const std::string& message, int exit_code) {
    write_stderr(("ringside-runner: " + message + "\n").c_str());
    kill_and_unlink();
    std::string path;
    std::string scenario;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        path = g_output_path;
        scenario = g_scenario_json;
    }
    if (!path.empty()) {
        nlohmann::ordered_json result;
        result["schema"] = "ringside-result/1";
        result["status"] = "error";
        result["error"] = message;
        result["failures"] = nlohmann::json::array({message});
        result["scenario"] = scenario.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(scenario, nullptr, false);
        std::ofstream out(path, std::ios::trunc);
        out << result.dump(2) << '\n';
    }
    ::_exit(exit_code);
}

void crash_handler(int signal) {
    kill_and_unlink();
    ::signal(signal, SIG_DFL);
    ::raise(signal);
}

void signal_thread(sigset_t set) {
    pthread_setname_np(pthread_self(), "rs-signals");
    int signal = 0;
    if (sigwait(&set, &signal) != 0 || signal == kQuitSignal) return;
    fail_run(std::string("interrupted by signal ") + strsignal(signal) + " during " + g_phase.load() +
                 "; children killed, regions unlinked",
             128 + signal);
}

void watchdog_thread() {
    pthread_setname_np(pthread_self(), "rs-watchdog");
    sched_param param{};
    param.sched_priority = sched_get_priority_max(SCHED_FIFO);
    (void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);  // best effort
    std::unique_lock<std::mutex> lock(g_mutex);
    while (g_armed && std::chrono::steady_clock::now() < g_deadline) g_disarmed.wait_until(lock, g_deadline);
    if (!g_armed) return;
    lock.unlock();
    char message[256];
    std::snprintf(message, sizeof message,
                  "watchdog: the run exceeded timeout_s = %.3g s during %s; children killed, regions unlinked",
                  g_timeout_s, g_phase.load());
    fail_run(message, 3);
}

}  // namespace

void install(double timeout_s) {
    if (g_installed.exchange(true)) return;
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, kQuitSignal}) sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    struct sigaction crash {};
    crash.sa_handler = crash_handler;
    sigemptyset(&crash.sa_mask);
    crash.sa_flags = SA_RESETHAND;
    for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(s, &crash, nullptr);
    static sigset_t waited;
    waited = set;
    pthread_create(&g_signal_thread, nullptr, [](void*) -> void* { signal_thread(waited); return nullptr; }, nullptr);
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_armed = true;
        g_timeout_s = timeout_s;
        g_deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                            std::chrono::duration<double>(timeout_s));
    }
    pthread_create(&g_watchdog_thread, nullptr, [](void*) -> void* { watchdog_thread(); return nullptr; }, nullptr);
    g_threads_started = true;
}

void disarm() {
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_armed = false;
    }
    g_disarmed.notify_all();
    if (g_threads_started) {
        g_threads_started = false;
        pthread_join(g_watchdog_thread, nullptr);
        pthread_kill(g_signal_thread, kQuitSignal);
        pthread_join(g_signal_thread, nullptr);
    }
}

void set_phase(const char* phase) { g_phase.store(phase); }

void set_failure_output(const std::string& path, const std::string& scenario_json) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_output_path = path;
    g_scenario_json = scenario_json;
}

void track_child(pid_t pid) {
    for (auto& child : g_children) {
        pid_t expected = 0;
        if (child.compare_exchange_strong(expected, pid)) return;
    }
}

void untrack_child(pid_t pid) {
    for (auto& child : g_children) {
        pid_t expected = pid;
        child.compare_exchange_strong(expected, 0);
    }
}

void track_region(const std::string& name, Backing backing) {
    std::lock_guard<std::mutex> lock(g_mutex);
    const std::string path = backing == Backing::kShm ? "/dev/shm/" + name.substr(name[0] == '/' ? 1 : 0) : name;
    if (path.size() >= kPathBytes || name.size() >= kPathBytes) return;
    for (int i = 0; i < kSlots; ++i) {
        if (g_path_used[i].load()) continue;
        std::memcpy(g_paths[i], path.c_str(), path.size() + 1);
        std::memcpy(g_names[i], name.c_str(), name.size() + 1);
        g_path_used[i].store(true);
        return;
    }
}

void untrack_region(const std::string& name) {
    std::lock_guard<std::mutex> lock(g_mutex);
    for (int i = 0; i < kSlots; ++i) {
        if (g_path_used[i].load() && name == g_names[i]) g_path_used[i].store(false);
    }
}

void cleanup() {
    kill_and_unlink();
    reap();
}

pid_t fork_exec(const std::vector<std::string>& argv, int keep_fd, std::string& error) {
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        error = std::string("fork: ") + std::strerror(errno);
        return -1;
    }
    if (pid == 0) {
        // Async-signal-safe calls only until exec.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (keep_fd != 3) {
            ::dup2(keep_fd, 3);
        } else {
            ::fcntl(3, F_SETFD, 0);
        }
        if (::syscall(SYS_close_range, 4u, ~0u, 0u) != 0) {
            for (int fd = 4; fd < 1024; ++fd) ::close(fd);
        }
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    track_child(pid);
    return pid;
}

}  // namespace ringside::runner::safety
