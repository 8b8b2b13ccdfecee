// Runs ringside-runner (RINGSIDE_RUNNER_BINARY) as a child process for the
// runner's end-to-end suites: arguments in, exit code and output back, with
// a deadline, and scratch result prefixes that are removed afterwards.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rstest {

struct Run {
    int exit_code = -1;   // 128 + N when killed by signal N; -1 when it had to be killed
    pid_t pid = -1;       // the child's pid, so a test can name the shm entries it owned
    std::string out;
    std::string err;
};

// Runs `program` with `args`; kills it after `timeout_s`.
Run run_program(const std::string& program, const std::vector<std::string>& args, double timeout_s = 60);
inline Run run_runner(const std::vector<std::string>& args, double timeout_s = 60) {
    return run_program(RINGSIDE_RUNNER_BINARY, args, timeout_s);
}

// Starts the runner without waiting (for signal tests); its pid.
pid_t start_runner(const std::vector<std::string>& args);
// Waits for a started child; its exit code as in Run.
int wait_child(pid_t pid, double timeout_s);

// A private directory for result files, removed (with its content) on destruction.
class ScratchDir {
public:
    ScratchDir();
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    [[nodiscard]] std::string prefix(const std::string& name) const { return path_ + "/" + name; }
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

std::string read_text(const std::string& path);
// `text` without its leading "#..." lines (HistogramLogProcessor's range and StartTime notes).
std::string without_leading_comments(const std::string& text);
// Parses a result file; fails the test (and returns null) if it is not strict JSON.
nlohmann::json read_strict_json(const std::string& path);
// Names in /dev/shm that start with `prefix`.
std::vector<std::string> shm_entries(const std::string& prefix);

}  // namespace rstest
