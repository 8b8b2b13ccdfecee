// ringside-crash-trials: kills ringside peers with SIGKILL at random points
// and proves that nothing committed is lost and nothing half-written is ever
// delivered (issue 8, docs/reliability.md).
//
// One file-backed region with one small ring (it wraps every few dozen
// records) lives for the whole run. Each trial forks a producer (and, for the
// consumer kinds, a consumer) that open the region as fresh processes, then
// SIGKILLs one or both at a random moment -- a random delay, or, in one
// producer trial in four, the moment the producer says it is parked between
// reserve and commit with a half-filled record. A fresh consumer in the
// driver then drains the ring, resuming from the persisted read position, and
// checks every record: its checksum (never half-written), its sequence (each
// committed record exactly once: a record the killed consumer checked but had
// not released is delivered again and counted as duplicated, which
// docs/reliability.md documents), and that every sequence whose commit
// returned is there. Bounded in time: --seconds-max for the run, a watchdog
// per trial. Prints and writes a JSON summary; exit 0 when nothing was lost,
// corrupt or half-written, 1 otherwise, 2 on a usage error.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "faults/controller_trial.hpp"
#include "faults/trial_peers.hpp"
#include "ringside/ringside.h"

namespace {

using namespace ringside::faults;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr auto kTrialWatchdog = std::chrono::seconds(20);
volatile sig_atomic_t g_stop = 0;

enum class Kind { kProducer, kConsumer, kBoth, kController };
const char* kind_name(Kind kind) {
    static constexpr const char* kNames[] = {"producer", "consumer", "both", "controller"};
    return kNames[static_cast<int>(kind)];
}

struct Totals {
    std::uint64_t trials = 0, survived = 0;
    std::uint64_t faults = 0, producer_kills = 0, consumer_kills = 0, kills_mid_record = 0, parked_kills = 0;
    std::uint64_t committed = 0, delivered = 0, lost = 0, duplicated = 0, half_written = 0, out_of_order = 0;
    std::uint64_t corrupt = 0, peer_errors = 0, timeouts = 0, phantom = 0;
    std::uint64_t controller_kills = 0, events_attempted = 0, events_dumped = 0, events_dropped_by_policy = 0,
                  events_duplicated = 0;
    std::vector<std::string> failures;
};

pid_t spawn(const std::string& region, Board& board, int (*body)(const std::string&, Board&)) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the driver
    ::_exit(body(region, board));
}

// Exit status as 128 + signal for a killed child, like a shell.
int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

bool exited(pid_t pid, int& code) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) return false;
    code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    return true;
}

// The fresh consumer of the driver: checks records from `next` on.
class Verifier {
public:
    Verifier(rs_region_t* region, bool skip_one) : region_(region), skip_one_(skip_one) {}
    ~Verifier() { detach(); }

    // Returns false on a ring error (corrupt); counts into totals.
    bool drain(std::uint64_t& next, Totals& totals, bool& got_any) {
        got_any = false;
        if (ring_ == nullptr) {
            rs_result result;
            const auto deadline = Clock::now() + std::chrono::seconds(5);
            while ((result = rs_ring_create(region_, 0, RS_ROLE_CONSUMER, &ring_)) == RS_BUSY &&
                   Clock::now() < deadline) {
                std::this_thread::yield();
            }
            if (result != RS_OK) return fail(totals, "fresh consumer cannot attach: ");
        }
        rs_record records[16];
        std::size_t count = 0;
        const rs_result result = rs_ring_peek_batch(ring_, records, 16, &count);
        if (result == RS_EMPTY) return true;
        if (result != RS_OK) {
            ++totals.corrupt;
            return fail(totals, "fresh consumer: ");
        }
        got_any = true;
        for (std::size_t i = 0; i < count; ++i) {
            const RecordCheck check = check_record(records[i].data, records[i].length);
            if (skip_one_ && !first_ && check.intact && check.seq == next) {  // --inject-bug: the check must see this as lost
                skip_one_ = false;
                skipped_ = true;
                continue;
            }
            if (!check.intact) {
                ++totals.half_written;
                totals.failures.push_back("half-written record after sequence " + std::to_string(next));
                continue;
            }
            if (first_) {
                first_ = false;
                first_seq_ = check.seq;
            }
            if (check.seq < next) {
                ++duplicates_;
            } else {
                if (check.seq > next && !restart_jump(next, check.seq)) {
                    totals.lost += check.seq - next;
                    totals.failures.push_back("sequences " + std::to_string(next) + ".." +
                                              std::to_string(check.seq - 1) + " missing");
                }
                next = check.seq + 1;
            }
            ++totals.delivered;
        }
        if (rs_ring_release(ring_) != RS_OK) return fail(totals, "fresh consumer release: ");
        return true;
    }

    // A restarted producer continues at the killed one's attempted end: the
    // sequences between what that one committed and that end were reserved
    // but never committed, so skipping them loses nothing.
    void allow_jump(std::uint64_t committed_end, std::uint64_t attempted_end) {
        jumps_.push_back({committed_end, attempted_end});
    }
    // Follows restart jumps from `next` towards `seq` (a producer killed
    // before it committed anything is followed by another jump).
    [[nodiscard]] bool restart_jump(std::uint64_t next, std::uint64_t seq) const {
        for (bool moved = true; moved && next < seq;) {
            moved = false;
            for (const auto& [committed_end, attempted_end] : jumps_) {
                if (next >= committed_end && next < attempted_end && attempted_end <= seq) {
                    next = attempted_end;
                    moved = true;
                }
            }
        }
        return next == seq;
    }

    void detach() {
        if (ring_ != nullptr) rs_ring_destroy(ring_);
        ring_ = nullptr;
    }
    [[nodiscard]] bool saw_any() const { return !first_; }
    [[nodiscard]] bool skipped() const { return skipped_; }
    [[nodiscard]] std::uint64_t first_seq() const { return first_seq_; }
    [[nodiscard]] std::uint64_t duplicates() const { return duplicates_; }

private:
    static bool fail(Totals& totals, const char* what) {
        totals.failures.push_back(std::string(what) + rs_last_error_message());
        return false;
    }
    rs_region_t* region_;
    rs_ring_t* ring_ = nullptr;
    bool skip_one_;
    bool skipped_ = false;
    bool first_ = true;
    std::uint64_t first_seq_ = 0;
    std::uint64_t duplicates_ = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> jumps_;
};

struct Run {
    std::string path;
    rs_region_t* region = nullptr;
    Board* board = nullptr;
    std::uint64_t next_seq = 0;  // every sequence below it has been delivered and released
    bool inject_skip = false;
};

void sleep_us(std::uint64_t us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); }

// One trial; returns false when it broke a promise (or the watchdog fired).
bool trial(Run& run, Kind kind, std::mt19937_64& rng, Totals& totals) {
    Board& board = *run.board;
    new (&board) Board{};
    const std::uint64_t lost_before = totals.lost;
    const std::uint64_t half_before = totals.half_written;
    board.start_seq = run.next_seq;
    board.seed = rng();
    board.park_at = UINT64_MAX;
    board.max_records = UINT64_MAX;
    // relaxed is enough: stored before fork(), which orders it before everything the children do.
    board.delivered_end.store(run.next_seq, std::memory_order_relaxed);
    const bool kill_producer = kind != Kind::kConsumer;
    const bool kill_consumer = kind != Kind::kProducer;
    const bool park = kill_producer && rng() % 4 == 0;
    if (park) board.park_at = run.next_seq + rng() % 24;
    if (!kill_producer) board.max_records = 50 + rng() % 3000;
    // Half the producer trials drain while the producer runs, half only after it died.
    const bool drain_early = kind == Kind::kProducer && rng() % 2 == 0;
    std::uint64_t producer_delay_us = rng() % 3000;
    // Producer trials kill up to three producers in a row before anyone
    // drains: each restarted producer recovers its position from records
    // committed but not yet consumed.
    int restarts_left = kind == Kind::kProducer ? static_cast<int>(rng() % 3) : 0;
    std::uint64_t committed_total = 0;
    const std::uint64_t consumer_delay_us = rng() % 4000;

    const auto watchdog = Clock::now() + kTrialWatchdog;
    const auto started = Clock::now();
    auto producer_started = started;
    pid_t producer = spawn(run.path, board, producer_main);
    pid_t consumer = kill_consumer ? spawn(run.path, board, consumer_main) : -1;
    int producer_code = -1;
    int consumer_code = -1;
    bool consumer_was_killed = false;
    Verifier verifier(run.region, run.inject_skip);
    std::uint64_t next = run.next_seq;
    bool ok = true;
    bool verifier_started = false;
    std::uint64_t base_for_verifier = run.next_seq;

    for (;;) {
        const auto now = Clock::now();
        if (now > watchdog) {
            ++totals.timeouts;
            totals.failures.push_back(std::string("trial watchdog (") + kind_name(kind) + ")");
            if (producer > 0) ::kill(producer, SIGKILL), reap(producer);
            if (consumer > 0) ::kill(consumer, SIGKILL), reap(consumer);
            return false;
        }
        // acquire: pairs with the producer's release of its phase.
        const auto phase = static_cast<Phase>(board.producer_phase.load(std::memory_order_acquire));
        if (producer > 0 && kill_producer && phase != Phase::kIdle) {
            const bool due = park ? phase == Phase::kParked || now - started > std::chrono::seconds(2)
                                  : now - producer_started > std::chrono::microseconds(producer_delay_us);
            if (due && phase != Phase::kDone) {
                ::kill(producer, SIGKILL);
                producer_code = reap(producer);
                producer = -1;
                if (producer_code == 128 + SIGKILL) {
                    ++totals.faults;
                    ++totals.producer_kills;
                    if (phase == Phase::kFilling || phase == Phase::kParked) ++totals.kills_mid_record;
                    if (phase == Phase::kParked) ++totals.parked_kills;
                }
                if (restarts_left > 0) {
                    --restarts_left;
                    // acquire: the reaped producer's last stores (waitpid already orders them).
                    const std::uint64_t committed_end = board.committed_end.load(std::memory_order_acquire);
                    const std::uint64_t attempted_end = board.attempted_end.load(std::memory_order_acquire);
                    committed_total += std::max(committed_end, board.start_seq) - board.start_seq;
                    verifier.allow_jump(std::max(committed_end, board.start_seq), attempted_end);
                    board.start_seq = std::max(attempted_end, board.start_seq);
                    board.park_at = park ? board.start_seq + rng() % 24 : UINT64_MAX;
                    board.seed = rng();
                    // relaxed is enough: the old producer is reaped and the next is forked after these.
                    board.attempted_end.store(0, std::memory_order_relaxed);
                    board.committed_end.store(0, std::memory_order_relaxed);
                    board.producer_phase.store(0, std::memory_order_relaxed);
                    producer_delay_us = rng() % 3000;
                    producer_started = Clock::now();
                    producer = spawn(run.path, board, producer_main);
                }
            }
        }
        if (producer > 0 && exited(producer, producer_code)) producer = -1;
        if (consumer > 0 && now - started > std::chrono::microseconds(consumer_delay_us)) {
            if (::kill(consumer, SIGKILL) == 0) {
                consumer_code = reap(consumer);
                consumer_was_killed = consumer_code == 128 + SIGKILL;
                if (consumer_was_killed) ++totals.faults, ++totals.consumer_kills;
            }
            consumer = -1;
        }
        if (consumer > 0 && exited(consumer, consumer_code)) consumer = -1;
        if (consumer > 0) {
            sleep_us(50);
            continue;
        }
        if (producer > 0 && !drain_early && kind == Kind::kProducer) {
            sleep_us(20);
            continue;
        }
        if (!verifier_started) {
            verifier_started = true;
            // acquire: after waitpid the child's stores are visible; the order documents the pairing.
            base_for_verifier = board.delivered_end.load(std::memory_order_acquire);
            next = base_for_verifier;
            totals.delivered += base_for_verifier - run.next_seq;  // checked by the consumer child
        }
        bool got_any = false;
        if (!verifier.drain(next, totals, got_any)) {
            ok = false;
            break;
        }
        if (!got_any && producer <= 0) {
            bool again = false;  // the producer is reaped: one more look settles it
            if (!verifier.drain(next, totals, again)) ok = false;
            if (!again) break;
        }
        if (!got_any) std::this_thread::yield();
    }
    verifier.detach();
    if (verifier.skipped()) run.inject_skip = false;  // --inject-bug: once, in the first trial that can

    // Consumer restart: the fresh consumer resumed where the killed one
    // released; whatever it had checked but not released comes again.
    if (verifier.saw_any()) {
        if (verifier.first_seq() < run.next_seq) {
            totals.failures.push_back("a record released before the trial was delivered again");
            ok = false;
        }
        // A first record past what the killed consumer had checked is a gap the drain counted as lost.
        totals.duplicated += verifier.duplicates();
    }
    std::uint64_t delivered_end = std::max(next, base_for_verifier);
    // acquire: pairs with the children's release stores (they are reaped, so this is belt and braces).
    const std::uint64_t committed_end = board.committed_end.load(std::memory_order_acquire);
    const std::uint64_t attempted_end = board.attempted_end.load(std::memory_order_acquire);
    if (committed_end > delivered_end) {
        totals.lost += committed_end - delivered_end;
        totals.failures.push_back("committed up to " + std::to_string(committed_end) + ", delivered up to " +
                                  std::to_string(delivered_end));
        ok = false;
    }
    if (delivered_end > std::max(attempted_end, board.start_seq)) {
        ++totals.phantom;
        totals.failures.push_back("delivered a sequence that was never reserved");
        ok = false;
    }
    // relaxed is enough: counters of children that are reaped (waitpid orders their stores before us).
    totals.half_written += board.half_written.load(std::memory_order_relaxed);
    totals.out_of_order += board.out_of_order.load(std::memory_order_relaxed);
    if (board.half_written.load(std::memory_order_relaxed) != 0 || board.out_of_order.load(std::memory_order_relaxed)) {
        totals.failures.push_back("the killed consumer saw a half-written or out-of-order record");
        ok = false;
    }
    const auto peer_failed = [](int code) { return code != -1 && code != 0 && code != 128 + SIGKILL; };
    if (peer_failed(producer_code) || peer_failed(consumer_code)) {
        ++totals.peer_errors;
        totals.failures.push_back("a peer failed: producer exit " + std::to_string(producer_code) +
                                  ", consumer exit " + std::to_string(consumer_code));
        ok = false;
    }
    totals.committed += committed_total + std::max(committed_end, board.start_seq) - board.start_seq;
    run.next_seq = delivered_end;
    return ok && totals.lost == lost_before && totals.half_written == half_before;
}

std::vector<Kind> parse_kinds(const std::string& text) {
    std::vector<Kind> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        const std::string word = text.substr(start, comma - start);
        if (word == "producer") out.push_back(Kind::kProducer);
        else if (word == "consumer") out.push_back(Kind::kConsumer);
        else if (word == "both") out.push_back(Kind::kBoth);
        else if (word == "controller") out.push_back(Kind::kController);
        else throw CLI::ValidationError("--kinds", "unknown kind '" + word +
                                                       "' (known: producer, consumer, both, controller)");
        start = comma + 1;
    }
    return out;
}

void on_signal(int) { g_stop = 1; }

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"SIGKILLs ringside producers and consumers at random points; checks nothing committed is lost."};
    std::uint64_t trials = 100;
    std::uint64_t seed = 1;
    double seconds_max = 60;
    std::string json_path;
    std::string dir = std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp";
    std::string kinds_text = "producer,consumer,both,controller";
    std::uint64_t capacity = 16384;
    std::string inject;
    app.add_option("--trials", trials, "trials to run")->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000}));
    app.add_option("--seed", seed, "random seed (the same seed replays the same trials)");
    app.add_option("--seconds-max", seconds_max, "stop starting trials after this many seconds")
        ->check(CLI::Range(0.1, 86400.0));
    app.add_option("--json", json_path, "write the summary here");
    app.add_option("--dir", dir, "where the region file lives (a fresh folder is made inside)")
        ->check(CLI::ExistingDirectory);
    app.add_option("--kinds", kinds_text, "comma-separated: producer, consumer, both, controller (the tracer's)");
    app.add_option("--capacity", capacity, "ring capacity in bytes (power of two)")
        ->check(CLI::Range(std::uint64_t{4096}, std::uint64_t{1} << 24));
    app.add_option("--inject-bug", inject, "skip-record: the verifier drops one record (proves the check fails)")
        ->check(CLI::IsMember({"skip-record"}));
    std::vector<Kind> kinds;
    try {
        app.parse(argc, argv);
        kinds = parse_kinds(kinds_text);
    } catch (const CLI::ParseError& error) {
        return app.exit(error) == 0 ? 0 : 2;
    }
    ::setenv("RINGSIDE_LOG", "error", 0);  // claim take-overs are expected here: not worth a warning each
    ::signal(SIGINT, on_signal);
    ::signal(SIGTERM, on_signal);

    std::string folder = dir + "/ringside-crash.XXXXXX";
    if (::mkdtemp(folder.data()) == nullptr) {
        std::fprintf(stderr, "ringside-crash-trials: cannot make a folder in %s: %s\n", dir.c_str(), std::strerror(errno));
        return 2;
    }
    Run run;
    run.path = folder + "/ring";
    run.inject_skip = inject == "skip-record";
    rs_region_options options;
    rs_region_options_init(&options);
    options.backing = RS_BACKING_FILE;
    options.ring_capacity = capacity;
    if (rs_region_create(run.path.c_str(), &options, &run.region) != RS_OK) {
        std::fprintf(stderr, "ringside-crash-trials: %s\n", rs_last_error_message());
        ::rmdir(folder.c_str());
        return 2;
    }
    void* page = ::mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    run.board = static_cast<Board*>(page);

    Totals totals;
    std::mt19937_64 rng(seed);
    const auto start = Clock::now();
    const auto budget = start + std::chrono::duration<double>(seconds_max);
    bool stopped_by_time = false;
    for (std::uint64_t i = 0; i < trials; ++i) {
        if (g_stop != 0 || Clock::now() >= budget) {
            stopped_by_time = g_stop == 0;
            break;
        }
        const Kind kind = kinds[i % kinds.size()];
        ++totals.trials;
        if (kind == Kind::kController) {
            const ControllerTrial result = controller_trial(folder, rng);
            totals.faults += result.killed ? 1 : 0;
            totals.controller_kills += result.killed ? 1 : 0;
            totals.events_attempted += result.attempted;
            totals.events_dumped += result.delivered;
            totals.events_dropped_by_policy += result.dropped_by_policy;
            totals.lost += result.lost;
            totals.duplicated += result.duplicated;
            totals.events_duplicated += result.duplicated;
            totals.half_written += result.half_written;
            totals.out_of_order += result.out_of_order;
            if (!result.failure.empty()) totals.failures.push_back(result.failure);
            if (result.failure.empty()) ++totals.survived;
            if (!result.failure.empty() && result.lost == 0 && result.half_written == 0 && result.out_of_order == 0) {
                ++totals.peer_errors;
            }
            continue;
        }
        if (trial(run, kind, rng, totals)) ++totals.survived;
        if (totals.timeouts != 0) break;  // a hung trial: stop rather than pile up
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ::munmap(page, sizeof(Board));
    const rs_result destroyed = rs_region_destroy(run.region);
    ::rmdir(folder.c_str());

    const bool ok = totals.lost == 0 && totals.half_written == 0 && totals.out_of_order == 0 && totals.corrupt == 0 &&
                    totals.timeouts == 0 && totals.peer_errors == 0 && totals.phantom == 0 && totals.trials > 0 &&
                    destroyed == RS_OK && g_stop == 0;
    json summary = {
        {"schema", "ringside-crash-trials/1"},
        {"ok", ok},
        {"seed", seed},
        {"trials_requested", trials},
        {"trials", totals.trials},
        {"trials_survived", totals.survived},
        {"stopped_by_time", stopped_by_time},
        {"interrupted", g_stop != 0},
        {"seconds", seconds},
        {"capacity", capacity},
        {"kinds", kinds_text},
        {"faults_injected", totals.faults},
        {"faults", {{"producer_kills", totals.producer_kills},
                    {"consumer_kills", totals.consumer_kills},
                    {"kills_between_reserve_and_commit", totals.kills_mid_record},
                    {"kills_while_parked_mid_record", totals.parked_kills},
                    {"controller_kills", totals.controller_kills}}},
        {"tracer", {{"events_attempted", totals.events_attempted},
                    {"events_dumped", totals.events_dumped},
                    {"events_dropped_by_policy", totals.events_dropped_by_policy},
                    {"events_duplicated", totals.events_duplicated}}},
        {"records_committed", totals.committed},
        {"records_delivered", totals.delivered},
        {"lost", totals.lost},
        {"duplicated", totals.duplicated},
        {"half_written_seen", totals.half_written},
        {"out_of_order", totals.out_of_order},
        {"corrupt", totals.corrupt},
        {"phantom", totals.phantom},
        {"timeouts", totals.timeouts},
        {"peer_errors", totals.peer_errors},
        {"failures", std::vector<std::string>(totals.failures.begin(),
                                              totals.failures.begin() + std::min<std::size_t>(totals.failures.size(), 20))},
    };
    const std::string text = summary.dump(2);
    std::printf("%s\n", text.c_str());
    if (!json_path.empty()) {
        std::ofstream out(json_path);
        out << text << "\n";
        if (!out) {
            std::fprintf(stderr, "ringside-crash-trials: cannot write %s\n", json_path.c_str());
            return 2;
        }
    }
    return ok ? 0 : 1;
}
