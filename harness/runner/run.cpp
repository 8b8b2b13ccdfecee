#include "runner/run.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <sstream>
#include <thread>

#include "peers/boost_spsc_bytes.hpp"
#include "peers/cacheline_pingpong.hpp"
#include "peers/futex_pingpong.hpp"
#include "peers/moodycamel_rwq.hpp"
#include "peers/mutex_condvar_bytes.hpp"
#include "runner/driver_links.hpp"
#include "runner/environment.hpp"
#include "runner/python_host.hpp"
#include "runner/tracer_workload.hpp"
#include "runner/ringside_port.hpp"
#include "runner/ringside_ring_link.hpp"
#include "runner/safety.hpp"

namespace ringside::runner {
namespace {

using ojson = nlohmann::ordered_json;

double wall_now_s() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

std::string iso_utc(double epoch_s) {
    const auto seconds = static_cast<std::time_t>(epoch_s);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

ojson leg_json(const LegCounts& c) {
    return {{"sent", c.sent},           {"received", c.received},   {"lost", c.lost},
            {"duplicated", c.duplicated}, {"reordered", c.reordered}, {"corrupted", c.corrupted},
            {"ok", c.clean()}};
}

// The Recorder's cost per sample (stamp + record, without the clock read),
// measured on a scratch one.
double record_cost_ns(const Clock& clock) {
    Recorder scratch(clock, 3600, 1);
    const std::uint64_t base = clock.now();
    scratch.start(base);
    std::uint64_t seq = 0;
    return median_batch_ns(clock, [&] {
        ++seq;
        const std::uint64_t t = base + seq * 16;
        scratch.stamp(seq, t - 1000, t - 900);
        scratch.record(seq, t);
        return 0;
    });
}

// One run's state; the steps in order: prepare, a queue's run, compose.
class Session {
public:
    Session(const Scenario& s, const RunOptions& options) : s_(s), options_(options), codec_(s.payload_bytes) {}

    RunResult run();

private:
    template <typename Link>
    void run_link(Link& link);
    void run_ringside();
    void run_python();
    void run_tracer_workload();
    template <typename Port>
    HostOutcome drive(Port& port);
    bool apply_host_sched();
    void setup_error(const std::string& error) {
        if (error_.empty()) error_ = error;
    }
    RunResult compose();

    const Scenario& s_;
    const RunOptions& options_;
    MessageCodec codec_;
    Clock clock_;
    std::vector<int> allowed_;
    std::atomic<bool> abort_{false};
    std::unique_ptr<SequenceChecker> return_checker_;
    std::unique_ptr<Recorder> recorder_;
    ContentionThreads contention_;
    double started_epoch_s_ = 0;
    double measure_epoch_s_ = 0;  // wall clock at the first measured send: the .hlog's StartTime
    double record_cost_ = 0;
    std::string error_;

    // filled by the queue's run
    HostOutcome host_;
    LegCounts forward_;
    LegCounts return_;
    std::uint64_t echo_last_seq_ = 0;
    Granted host_granted_;
    Granted echo_granted_;
    bool have_echo_granted_ = false;
    ThreadCost host_cost_[2];
    ThreadCost echo_cost_[2];
    StealSnapshot steal_[2];
    std::function<void(int)> snapshot_echo_;
    ojson sidecar_stats_ = nullptr;
    bool python_ = false;  // host_kind python: the return leg and clock costs come from the Python host
    PythonHostRun python_run_;
    bool tracer_ = false;  // queue tracer: no return leg; the `tracer` block
    TracerRun tracer_run_;
};

bool Session::apply_host_sched() {
    host_granted_ = apply_sched(s_.host.sched, s_.host.cpu, allowed_);
    if (!host_granted_.refused.empty() && !s_.downgrade) {
        setup_error("host scheduling refused: " + host_granted_.refused + " (set downgrade to run anyway)");
        return false;
    }
    return true;
}

template <typename Port>
HostOutcome Session::drive(Port& port) {
    HostSetup setup;
    setup.scenario = &s_;
    setup.clock = &clock_;
    setup.codec = &codec_;
    setup.recorder = recorder_.get();
    setup.fault = options_.fault;
    setup.abort = &abort_;
    auto snapshot = [this](int slot) {
        steal_[slot] = read_steal();
        host_cost_[slot] = cost_of_this_thread();
        if (snapshot_echo_) snapshot_echo_(slot);
    };
    setup.at_measure_start = [&] {
        safety::set_phase("measuring");
        snapshot(0);
        measure_epoch_s_ = wall_now_s();
    };
    setup.at_measure_end = [&] {
        snapshot(1);
        safety::set_phase("stopping");
    };
    safety::set_phase("warm-up");
    return run_host(port, setup);
}

template <typename Link>
void Session::run_link(Link& link) {
    std::string error;
    if (!link.open(error)) return setup_error(error);
    EchoReport report;
    std::thread echo([&] { run_echo(link, s_, clock_, codec_, allowed_, abort_, report); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (report.state.load(std::memory_order_acquire) == EchoReport::kStarting &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (report.state.load(std::memory_order_acquire) != EchoReport::kReady) {
        abort_.store(true);
        echo.join();
        link.close();
        return setup_error(report.error.empty() ? "the echo thread did not start" : report.error);
    }
    echo_granted_ = report.granted;
    have_echo_granted_ = true;
    snapshot_echo_ = [this, tid = report.granted.tid](int slot) { echo_cost_[slot] = cost_of_thread(tid); };
    {
        LinkPort<Link> port(link, s_, clock_, *return_checker_, abort_);
        if (!port.attach(error)) {
            setup_error("host side attach: " + error);
        } else if (apply_host_sched()) {
            host_ = drive(port);
            if (host_.error.empty()) {
                const Io io = port.send_stop(codec_, clock_.now() + clock_.from_ns(s_.patience_s * 1e9));
                if (io != Io::kDone) host_.error = std::string("sending the stop message: ") + peers::io_name(io);
            }
        }
        if (!error_.empty() || !host_.error.empty()) abort_.store(true);
        echo.join();
    }
    link.close();
    if (!report.error.empty()) setup_error(report.error);
    forward_ = report.forward;
    return_.sent = report.sent;
    echo_last_seq_ = report.last_seq;
}

void Session::run_ringside() {
    std::string error;
    std::unique_ptr<RingsidePort> port =
        RingsidePort::start(s_, clock_, codec_, *return_checker_, allowed_, abort_, error);
    if (!port) return setup_error(error);
    echo_granted_ = port->sidecar_granted();
    have_echo_granted_ = true;
    snapshot_echo_ = [&port](int slot) { port->snapshot_sidecar(slot); };
    if (apply_host_sched()) host_ = drive(*port);
    if (!host_.error.empty()) abort_.store(true);
    if (!port->finish(error)) setup_error("stopping the sidecar: " + error);
    forward_ = port->forward();
    return_.sent = port->echoed();
    echo_last_seq_ = port->echo_last_seq();
    echo_cost_[0] = port->sidecar_cost(0);
    echo_cost_[1] = port->sidecar_cost(1);
    sidecar_stats_ = port->sidecar_stats();
}

void Session::run_python() {
    python_ = true;
    steal_[0] = read_steal();
    python_run_ = run_python_host(s_, options_.fault, clock_, *recorder_);
    steal_[1] = read_steal();
    host_ = python_run_.host;
    forward_ = python_run_.forward;
    return_ = python_run_.back;
    echo_last_seq_ = host_.last_seq;
    measure_epoch_s_ = python_run_.measure_epoch_s;
    if (python_run_.have_granted) {
        host_granted_ = python_run_.host_granted;
        echo_granted_ = python_run_.sidecar_granted;
        have_echo_granted_ = true;
    }
    for (int slot = 0; slot < 2; ++slot) {
        host_cost_[slot] = python_run_.host_cost[slot];
        echo_cost_[slot] = python_run_.sidecar_cost[slot];
    }
    sidecar_stats_ = python_run_.sidecar_stats;
}

void Session::run_tracer_workload() {
    tracer_ = true;
    host_granted_ = apply_sched(s_.host.sched, s_.host.cpu, allowed_);
    auto snapshot = [this](int slot, int drain_tid) {
        steal_[slot] = read_steal();
        host_cost_[slot] = cost_of_this_thread();
        if (drain_tid > 0) echo_cost_[slot] = cost_of_thread(drain_tid);
        if (slot == 0) measure_epoch_s_ = wall_now_s();
    };
    tracer_run_ = run_tracer(s_, clock_, *recorder_, snapshot);
    host_ = tracer_run_.host;
    forward_ = tracer_run_.forward;
    echo_last_seq_ = host_.last_seq;
    if (tracer_run_.drain_tid > 0) {
        echo_granted_ = tracer_run_.drain_granted;
        have_echo_granted_ = true;
    }
    sidecar_stats_ = tracer_run_.stats;
}

RunResult Session::run() {
    started_epoch_s_ = wall_now_s();
    allowed_ = allowed_cpus();
    std::string error;
    // A Python host stamps with time.perf_counter_ns(): CLOCK_MONOTONIC, so ticks are its nanoseconds.
    clock_ = Clock::make(s_.host_kind == "python" ? "monotonic" : options_.clock, error);
    if (!error.empty()) {
        setup_error(error);
        return compose();
    }
    record_cost_ = record_cost_ns(clock_);
    return_checker_ = std::make_unique<SequenceChecker>(codec_);
    const double expected_s = s_.duration_s > 0 ? s_.duration_s : s_.timeout_s;
    const auto intervals = static_cast<std::size_t>(std::min(64.0, std::ceil(expected_s / s_.interval_s) + 2));
    recorder_ = std::make_unique<Recorder>(clock_, s_.interval_s, intervals);
    if (s_.contention.threads > 0) contention_.start(s_.contention, allowed_, s_.timeout_s);
    switch (s_.queue) {
        case Queue::kRingside: s_.host_kind == "python" ? run_python() : run_ringside(); break;
        case Queue::kRingsideRing: {
            RingsideRingLink::Config config;
            config.payload = {s_.payload_bytes, s_.ring_bytes};
            static std::atomic<unsigned> counter{0};
            const std::string base = "ringside-runner." + std::to_string(::getpid()) + ".ring" + std::to_string(counter++);
            config.name = s_.backing == Backing::kShm ? "/" + base : s_.file_dir + "/" + base + ".region";
            config.backing = s_.backing;
            config.waits[0] = s_.host.wait;
            config.waits[1] = s_.sidecar.wait;
            RingsideRingLink link(config);
            run_link(link);
            break;
        }
        case Queue::kBoostSpsc: {
            peers::BoostSpscBytesLink link({s_.payload_bytes, s_.ring_bytes});
            run_link(link);
            break;
        }
        case Queue::kMoodycamel: {
            const peers::PayloadConfig config{s_.payload_bytes, s_.ring_bytes};
            auto with = [&](auto slot) {
                peers::MoodycamelLink<decltype(slot)::value> link(config);
                run_link(link);
            };
            // Size classes: powers of four from 8 bytes.
            if (s_.payload_bytes <= 8) with(std::integral_constant<std::size_t, 8>{});
            else if (s_.payload_bytes <= 32) with(std::integral_constant<std::size_t, 32>{});
            else if (s_.payload_bytes <= 128) with(std::integral_constant<std::size_t, 128>{});
            else if (s_.payload_bytes <= 512) with(std::integral_constant<std::size_t, 512>{});
            else if (s_.payload_bytes <= 2048) with(std::integral_constant<std::size_t, 2048>{});
            else if (s_.payload_bytes <= 8192) with(std::integral_constant<std::size_t, 8192>{});
            else if (s_.payload_bytes <= 32768) with(std::integral_constant<std::size_t, 32768>{});
            else if (s_.payload_bytes <= 131072) with(std::integral_constant<std::size_t, 131072>{});
            else setup_error("moodycamel_rwq: payloads above 128 KiB have no slot class");
            break;
        }
        case Queue::kMutexCondvar: {
            peers::MutexCondvarBytesLink link({s_.payload_bytes, s_.ring_bytes});
            run_link(link);
            break;
        }
        case Queue::kFloorCacheline: {
            peers::WordPayloadLink<peers::TwoLinePingPong> link({s_.payload_bytes, s_.ring_bytes});
            run_link(link);
            break;
        }
        case Queue::kTracer: run_tracer_workload(); break;
        case Queue::kFloorFutex: {
            peers::WordPayloadLink<peers::FutexPingPong> link({s_.payload_bytes, s_.ring_bytes});
            run_link(link);
            break;
        }
    }
    contention_.stop();
    return compose();
}

RunResult Session::compose() {
    RunResult result;
    ojson& doc = result.document;
    const bool ran = error_.empty() && host_.error.empty() && clock_.info().ticks_per_ns > 0 && recorder_;
    // Trailing losses: numbers sent after the last one each consumer saw.
    forward_.sent = host_.last_seq;
    if (host_.last_seq > echo_last_seq_) forward_.lost += host_.last_seq - echo_last_seq_;
    if (return_checker_ && !python_ && !tracer_) {  // a Python host counts the return leg itself; a tracer has none
        return_checker_->finish(echo_last_seq_);
        const std::uint64_t sent = return_.sent;
        return_ = return_checker_->counts();
        return_.sent = sent;
    }
    std::vector<std::string> failures;
    if (!error_.empty()) failures.push_back(error_);
    if (!host_.error.empty()) failures.push_back(host_.error);
    auto check_leg = [&](const char* leg, const LegCounts& c) {
        if (c.clean()) return;
        std::ostringstream why;
        why << "validation (" << leg << "): sent " << c.sent << ", received " << c.received << ", lost " << c.lost
            << ", duplicated " << c.duplicated << ", reordered " << c.reordered << ", corrupted " << c.corrupted;
        failures.push_back(why.str());
    };
    if (ran) {
        check_leg("forward", forward_);
        check_leg("return", return_);
    }
    doc["schema"] = kResultSchema;
    doc["status"] = !error_.empty() || !host_.error.empty() ? "error" : failures.empty() ? "pass" : "fail";
    doc["failures"] = failures;
    doc["scenario"] = scenario_to_json(s_);
    doc["started_at"] = iso_utc(started_epoch_s_);
    doc["started_at_epoch_s"] = started_epoch_s_;
    doc["elapsed_s"] = wall_now_s() - started_epoch_s_;
    const double seconds = host_.measure_end > host_.measure_start
                               ? static_cast<double>(clock_.to_ns(static_cast<std::int64_t>(host_.measure_end - host_.measure_start))) / 1e9
                               : 0.0;
    doc["measured"] = {{"messages", host_.measured_replies},
                       {"seconds", seconds},
                       {"start_epoch_s", measure_epoch_s_ > 0 ? ojson(measure_epoch_s_) : ojson(nullptr)},
                       {"warmup_messages", s_.warmup},
                       {"last_seq", host_.last_seq}};
    const bool open = s_.load.mode == LoadMode::kOpen;
    if (recorder_) {
        doc["latency_ns"] = latency_json(recorder_->corrected());
        doc["latency_uncorrected_ns"] = open ? latency_json(recorder_->uncorrected()) : ojson(nullptr);
    } else {
        doc["latency_ns"] = nullptr;
        doc["latency_uncorrected_ns"] = nullptr;
    }
    const double rate = seconds > 0 ? static_cast<double>(host_.measured_replies) / seconds : NAN;
    doc["throughput"] = {{"round_trips_per_s", rate},
                         {"payload_bytes_per_s", rate * static_cast<double>(s_.payload_bytes)}};
    LegCounts total;
    total.sent = forward_.sent;
    // End to end: what came back; a tracer run has no return leg (events end
    // in the controller), so what the lane counted is its end.
    total.received = tracer_ ? forward_.received : return_.received;
    for (const LegCounts* leg : {&forward_, &return_}) {
        total.lost += leg->lost;
        total.duplicated += leg->duplicated;
        total.reordered += leg->reordered;
        total.corrupted += leg->corrupted;
    }
    doc["validation"] = {{"ok", ran && forward_.clean() && return_.clean()},
                         {"forward", leg_json(forward_)},
                         {"return", leg_json(return_)},
                         {"total", leg_json(total)}};
    doc["cost"] = {{"messages", host_.measured_replies},
                   {"host", cost_json(host_cost_[1] - host_cost_[0], host_.measured_replies)},
                   {"sidecar", cost_json(echo_cost_[1] - echo_cost_[0], host_.measured_replies)}};
    doc["disturbance"] = {{"steal", steal_json(steal_[0], steal_[1], allowed_)}, {"rt_throttling", rt_throttling_json()}};
    ojson granted;
    granted["host"] = host_granted_.tid != 0 ? granted_json(host_granted_, s_.host.sched, s_.host.cpu) : ojson(nullptr);
    granted["sidecar"] = have_echo_granted_ ? granted_json(echo_granted_, s_.sidecar.sched, s_.sidecar.cpu) : ojson(nullptr);
    granted["contention"] = ojson::array();
    for (std::size_t i = 0; i < contention_.granted().size(); ++i) {
        granted["contention"].push_back(granted_json(contention_.granted()[i], s_.contention.sched, contention_.cpu_of(i)));
        granted["contention"].back()["process"] = s_.contention.processes;  // tid is then a process id
    }
    const bool host_boost = is_realtime(s_.host.sched.policy) || s_.host.sched.nice < 0;
    const bool sidecar_boost = is_realtime(s_.sidecar.sched.policy) || s_.sidecar.sched.nice < 0;
    granted["boosted"] = host_boost && sidecar_boost ? "both" : host_boost ? "host" : sidecar_boost ? "sidecar" : "none";
    doc["granted"] = granted;
    doc["sidecar_stats"] = sidecar_stats_;
    doc["clock"] = clock_json(clock_.info(), record_cost_);
    if (python_) {
        // The host's clock is Python's: its read and recording costs, not the runner's.
        doc["clock"]["source"] = "time.perf_counter_ns() (CLOCK_MONOTONIC), in the Python host";
        doc["clock"]["timer_cost_ns"] = python_run_.timer_cost_ns;
        doc["clock"]["record_cost_ns"] = python_run_.record_cost_ns;
    }
    doc["environment"] = environment_json(allowed_);
    if (python_) doc["environment"]["python"] = python_run_.python;
    if (tracer_) {
        const double accepted_rate = seconds > 0 ? static_cast<double>(tracer_run_.measured_accepted) / seconds : NAN;
        const auto attempts = static_cast<double>(tracer_run_.accepted + tracer_run_.dropped);
        doc["tracer"] = {{"emitted", tracer_run_.accepted + tracer_run_.dropped},
                         {"accepted", tracer_run_.accepted},
                         {"dropped", tracer_run_.dropped},
                         {"drop_fraction", attempts > 0 ? static_cast<double>(tracer_run_.dropped) / attempts : NAN},
                         {"accepted_per_s", accepted_rate},
                         {"accepted_bytes_per_s", accepted_rate * static_cast<double>(s_.payload_bytes)},
                         {"final_flush_ns", tracer_run_.flush_ns}};
        make_strict(doc);
    }
    make_strict(doc);

    if (recorder_) {
        std::ostringstream hgrm;
        write_percentile_distribution(hgrm, recorder_->corrected(), 1.0);
        result.hgrm = hgrm.str();
        if (open) {
            std::ostringstream uncorrected;
            write_percentile_distribution(uncorrected, recorder_->uncorrected(), 1.0);
            result.hgrm_uncorrected = uncorrected.str();
        }
        std::ostringstream hlog;
        HlogWriter writer(hlog);
        writer.header(measure_epoch_s_ > 0 ? measure_epoch_s_ : started_epoch_s_,
                      {"[ringside-runner, " + std::string(kResultSchema) + ", scenario '" + s_.id + "']",
                       "[values in nanoseconds; Interval_Max in milliseconds]",
                       std::string("[untagged: latency from the intended send time") +
                           (open ? " (coordinated omission corrected); Tag=uncorrected: from the actual send time]"
                                 : " (= the actual one: closed loop); Tag=uncorrected: the same samples]")});
        for (const EncodedInterval& interval : recorder_->intervals()) writer.interval_line(interval);
        result.hlog = hlog.str();
    }
    const std::string status = doc["status"];
    result.exit_code = status == "pass" ? 0 : status == "fail" ? 1 : 3;
    return result;
}

}  // namespace

RunResult run_scenario(const Scenario& scenario, const RunOptions& options) {
    Session session(scenario, options);
    return session.run();
}

ojson latency_json(const Histogram& h) {
    ojson out;
    out["count"] = h.count();
    out["min_ns"] = h.count() > 0 ? ojson(h.min()) : ojson(nullptr);
    out["mean_ns"] = h.count() > 0 ? ojson(h.mean()) : ojson(nullptr);
    out["stddev_ns"] = h.count() > 0 ? ojson(h.stddev()) : ojson(nullptr);
    out["max_ns"] = h.count() > 0 ? ojson(h.max()) : ojson(nullptr);
    out["max_exact_ns"] = h.count() > 0 ? ojson(h.max_exact()) : ojson(nullptr);
    ojson unsupported = ojson::array();
    const std::pair<const char*, double> levels[] = {
        {"p50", 50.0}, {"p90", 90.0}, {"p99", 99.0}, {"p99_9", 99.9}, {"p99_99", 99.99}};
    for (const auto& [key, percentile] : levels) {
        const std::optional<std::int64_t> value = h.supported_percentile(percentile);
        out[std::string(key) + "_ns"] = value ? ojson(*value) : ojson(nullptr);
        if (!value) unsupported.push_back(key);
    }
    out["unsupported"] = unsupported;
    out["clamped"] = h.clamped();
    out["significant_digits"] = h.digits();
    out["lowest_ns"] = h.lowest();
    out["highest_ns"] = h.highest();
    return out;
}

void make_strict(ojson& document) {
    if (document.is_number_float() && !std::isfinite(document.get<double>())) {
        document = nullptr;
    } else if (document.is_structured()) {
        for (auto& item : document) make_strict(item);
    }
}

}  // namespace ringside::runner

namespace ringside::runner {

bool parse_fault(const std::string& text, Fault& out, std::string& error) {
    const std::size_t colon = text.find(':');
    const std::string kind = text.substr(0, colon);
    const std::string number = colon == std::string::npos ? "" : text.substr(colon + 1);
    char* end = nullptr;
    const unsigned long long seq = std::strtoull(number.c_str(), &end, 10);
    if (number.empty() || *end != '\0' || seq == 0) {
        error = "expected KIND:N with N >= 1 (e.g. loss:100), not '" + text + "'";
        return false;
    }
    if (kind == "loss") {
        out.kind = Fault::Kind::kLoss;
    } else if (kind == "dup") {
        out.kind = Fault::Kind::kDuplicate;
    } else if (kind == "corrupt") {
        out.kind = Fault::Kind::kCorrupt;
    } else if (kind == "reorder") {
        out.kind = Fault::Kind::kReorder;
    } else if (kind == "slow") {
        out.kind = Fault::Kind::kSlow;
    } else {
        error = "unknown fault '" + kind + "' (loss, dup, corrupt, reorder, slow)";
        return false;
    }
    out.seq = seq;
    return true;
}

}  // namespace ringside::runner
