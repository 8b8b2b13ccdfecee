#include "runner/scenario.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <utility>

namespace ringside::runner {
namespace {

using json = nlohmann::json;

template <typename E, std::size_t N>
using Names = std::array<std::pair<E, const char*>, N>;

constexpr Names<Queue, 8> kQueues{{{Queue::kRingside, "ringside"},
                                   {Queue::kRingsideRing, "ringside_ring"},
                                   {Queue::kBoostSpsc, "boost_spsc"},
                                   {Queue::kMoodycamel, "moodycamel_rwq"},
                                   {Queue::kMutexCondvar, "mutex_condvar"},
                                   {Queue::kFloorCacheline, "floor_cacheline"},
                                   {Queue::kFloorFutex, "floor_futex"},
                                   {Queue::kTracer, "tracer"}}};
constexpr Names<Transport, 2> kTransports{{{Transport::kThreads, "threads"}, {Transport::kProcesses, "processes"}}};
constexpr Names<Backing, 2> kBackings{{{Backing::kShm, "shm"}, {Backing::kFile, "file"}}};
constexpr Names<Delivery, 2> kDeliveries{{{Delivery::kVtable, "vtable"}, {Delivery::kRing, "ring"}}};
constexpr Names<Wait, 8> kWaits{{{Wait::kBusySpin, "busy_spin"},
                                 {Wait::kSpinPause, "spin_pause"},
                                 {Wait::kYield, "yield"},
                                 {Wait::kSleep, "sleep"},
                                 {Wait::kFutex, "futex"},
                                 {Wait::kEventfd, "eventfd"},
                                 {Wait::kHybrid, "hybrid"},
                                 {Wait::kNative, "native"}}};
constexpr Names<Policy, 3> kPolicies{{{Policy::kOther, "other"}, {Policy::kFifo, "fifo"}, {Policy::kRr, "rr"}}};
constexpr Names<Placement, 3> kPlacements{{{Placement::kDifferentCores, "different_cores"},
                                           {Placement::kSameCore, "same_core"},
                                           {Placement::kUnpinned, "unpinned"}}};
constexpr Names<LoadMode, 3> kLoadModes{
    {{LoadMode::kClosed, "closed"}, {LoadMode::kOpen, "open"}, {LoadMode::kThroughput, "throughput"}}};

template <typename E, std::size_t N>
const char* lookup(const Names<E, N>& names, E value) {
    for (const auto& [v, text] : names) {
        if (v == value) return text;
    }
    return "?";
}

// A bound as people write it: 99, not 99.0.
std::string text_of(double bound) {
    if (bound == std::floor(bound) && std::fabs(bound) < 1e15) return std::to_string(static_cast<long long>(bound));
    return json(bound).dump();
}

// Reads one JSON object strictly: each field once, then unknown keys are errors.
class Reader {
public:
    Reader(const json& object, std::string path, std::string& error) : object_(object), path_(std::move(path)), error_(error) {
        if (!object.is_object()) fail(path_.empty() ? "the scenario" : path_, "must be a JSON object");
    }
    [[nodiscard]] bool ok() const { return error_.empty(); }

    template <typename T>
    void number(const char* key, T& out, double low, double high) {
        const json* value = take(key);
        if (value == nullptr) return;
        if (!value->is_number()) return fail(where(key), "must be a number");
        const double number = value->get<double>();
        if constexpr (std::is_integral_v<T>) {
            if (!value->is_number_integer() && !value->is_number_unsigned()) {
                return fail(where(key), "must be an integer");
            }
        }
        if (!std::isfinite(number) || number < low || number > high) {
            return fail(where(key), "must be between " + text_of(low) + " and " + text_of(high) + ", not " + value->dump());
        }
        out = value->get<T>();
    }
    void text(const char* key, std::string& out) {
        const json* value = take(key);
        if (value == nullptr) return;
        if (!value->is_string()) return fail(where(key), "must be a string");
        out = value->get<std::string>();
    }
    void boolean(const char* key, bool& out) {
        const json* value = take(key);
        if (value == nullptr) return;
        if (!value->is_boolean()) return fail(where(key), "must be true or false");
        out = value->get<bool>();
    }
    template <typename E, std::size_t N>
    void choice(const char* key, E& out, const Names<E, N>& names) {
        const json* value = take(key);
        if (value == nullptr) return;
        std::string allowed;
        for (const auto& [v, text] : names) {
            allowed += (allowed.empty() ? "" : ", ") + std::string(text);
            if (value->is_string() && value->get<std::string>() == text) {
                out = v;
                return;
            }
        }
        fail(where(key), "must be one of " + allowed + ", not " + value->dump());
    }
    // A nested object; null if absent.
    const json* object(const char* key) { return take(key); }
    [[nodiscard]] std::string where(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

    void finish() {
        if (!ok() || !object_.is_object()) return;
        for (const auto& [key, value] : object_.items()) {
            if (seen_.count(key) == 0) return fail(where(key.c_str()), "unknown key");
        }
    }
    void fail(const std::string& where, const std::string& what) {
        if (error_.empty()) error_ = where + ": " + what;
    }

private:
    const json* take(const char* key) {
        seen_.insert(key);
        if (!ok() || !object_.is_object()) return nullptr;
        const auto it = object_.find(key);
        return it == object_.end() ? nullptr : &*it;
    }

    const json& object_;
    std::string path_;
    std::string& error_;
    std::set<std::string> seen_;
};

void read_sched(const json& object, const std::string& path, SchedSpec& out, std::string& error) {
    Reader r(object, path, error);
    r.choice("policy", out.policy, kPolicies);
    r.number("priority", out.priority, 0, 99);
    r.number("nice", out.nice, -20, 19);
    r.finish();
}

void read_side(const json& object, const std::string& path, SideSpec& out, std::string& error) {
    Reader r(object, path, error);
    if (const json* wait = r.object("wait")) {
        Reader w(*wait, r.where("wait"), error);
        w.choice("kind", out.wait.kind, kWaits);
        w.number("spin_limit", out.wait.spin_limit, 0, 1e9);
        w.number("sleep_ns", out.wait.sleep_ns, 1, 1e9);
        w.finish();
    }
    if (const json* sched = r.object("sched")) read_sched(*sched, r.where("sched"), out.sched, error);
    r.number("cpu", out.cpu, -1, 1023);
    r.finish();
}

nlohmann::ordered_json sched_json(const SchedSpec& s) {
    return {{"policy", name(s.policy)}, {"priority", s.priority}, {"nice", s.nice}};
}

nlohmann::ordered_json side_json(const SideSpec& s) {
    nlohmann::ordered_json out;
    out["wait"] = {{"kind", name(s.wait.kind)}, {"spin_limit", s.wait.spin_limit}, {"sleep_ns", s.wait.sleep_ns}};
    out["sched"] = {{"policy", name(s.sched.policy)}, {"priority", s.sched.priority}, {"nice", s.sched.nice}};
    out["cpu"] = s.cpu;
    return out;
}

}  // namespace

const char* name(Queue value) { return lookup(kQueues, value); }
const char* name(Transport value) { return lookup(kTransports, value); }
const char* name(Backing value) { return lookup(kBackings, value); }
const char* name(Delivery value) { return lookup(kDeliveries, value); }
const char* name(Wait value) { return lookup(kWaits, value); }
const char* name(Policy value) { return lookup(kPolicies, value); }
const char* name(Placement value) { return lookup(kPlacements, value); }
const char* name(LoadMode value) { return lookup(kLoadModes, value); }

bool is_ringside(Queue queue) { return queue == Queue::kRingside || queue == Queue::kRingsideRing; }
bool never_parks(Wait wait) { return wait == Wait::kBusySpin || wait == Wait::kSpinPause || wait == Wait::kYield; }
bool is_realtime(Policy policy) { return policy == Policy::kFifo || policy == Policy::kRr; }

bool scenario_from_json(const json& spec, Scenario& out, std::string& error) {
    error.clear();
    Reader r(spec, "", error);
    std::string schema = kScenarioSchema;
    r.text("schema", schema);
    if (r.ok() && schema != kScenarioSchema) {
        r.fail("schema", "this runner reads " + std::string(kScenarioSchema) + ", not '" + schema + "'");
    }
    r.text("id", out.id);
    r.choice("queue", out.queue, kQueues);
    r.choice("transport", out.transport, kTransports);
    r.choice("backing", out.backing, kBackings);
    r.choice("delivery", out.delivery, kDeliveries);
    r.number("payload_bytes", out.payload_bytes, 8, 16 << 20);
    r.number("ring_bytes", out.ring_bytes, 0, 1 << 30);
    // Wait kinds have queue-dependent defaults: remember whether they were given.
    if (const json* host = r.object("host")) read_side(*host, "host", out.host, error);
    if (const json* sidecar = r.object("sidecar")) read_side(*sidecar, "sidecar", out.sidecar, error);
    r.choice("placement", out.placement, kPlacements);
    if (const json* contention = r.object("contention")) {
        Reader c(*contention, "contention", error);
        c.number("threads", out.contention.threads, 0, 64);
        c.boolean("processes", out.contention.processes);
        if (const json* sched = c.object("sched")) read_sched(*sched, "contention.sched", out.contention.sched, error);
        if (const json* cpus = c.object("cpus")) {
            out.contention.cpus.clear();
            if (!cpus->is_array()) c.fail("contention.cpus", "must be an array of CPU numbers");
            for (const json& cpu : cpus->is_array() ? *cpus : json::array()) {
                if (!cpu.is_number_integer() || cpu.get<int>() < 0 || cpu.get<int>() > 1023) {
                    c.fail("contention.cpus", "must hold CPU numbers 0..1023, not " + cpu.dump());
                    break;
                }
                out.contention.cpus.push_back(cpu.get<int>());
            }
        }
        c.finish();
    }
    if (const json* load = r.object("load")) {
        Reader l(*load, "load", error);
        l.choice("mode", out.load.mode, kLoadModes);
        l.number("rate_per_s", out.load.rate_per_s, 0, 1e9);
        l.number("burst", out.load.burst, 1, 4096);
        l.finish();
    }
    r.number("count", out.count, 0, 4e9);
    r.number("duration_s", out.duration_s, 0, 3600);
    r.number("warmup", out.warmup, 0, 1e8);
    r.text("host_kind", out.host_kind);
    r.number("timeout_s", out.timeout_s, 0.001, 86400);
    r.number("patience_s", out.patience_s, 0.001, 3600);
    r.number("interval_s", out.interval_s, 0.001, 3600);
    r.boolean("downgrade", out.downgrade);
    r.text("file_dir", out.file_dir);
    r.finish();
    return error.empty();
}

nlohmann::ordered_json scenario_to_json(const Scenario& s) {
    nlohmann::ordered_json out;
    out["schema"] = kScenarioSchema;
    out["id"] = s.id;
    out["queue"] = name(s.queue);
    out["transport"] = name(s.transport);
    out["backing"] = name(s.backing);
    out["delivery"] = name(s.delivery);
    out["payload_bytes"] = s.payload_bytes;
    out["ring_bytes"] = s.ring_bytes;
    out["host"] = side_json(s.host);
    out["sidecar"] = side_json(s.sidecar);
    out["placement"] = name(s.placement);
    out["contention"] = {{"threads", s.contention.threads},
                         {"processes", s.contention.processes},
                         {"sched", sched_json(s.contention.sched)},
                         {"cpus", s.contention.cpus}};
    out["load"] = {{"mode", name(s.load.mode)}, {"rate_per_s", s.load.rate_per_s}, {"burst", s.load.burst}};
    out["count"] = s.count;
    out["duration_s"] = s.duration_s;
    out["warmup"] = s.warmup;
    out["host_kind"] = s.host_kind;
    out["timeout_s"] = s.timeout_s;
    out["patience_s"] = s.patience_s;
    out["interval_s"] = s.interval_s;
    out["downgrade"] = s.downgrade;
    out["file_dir"] = s.file_dir;
    return out;
}

void resolve(Scenario& s, const std::vector<int>& cpus) {
    if (s.count == 0 && s.duration_s == 0) s.count = 100'000;
    if (s.ring_bytes == 0) {
        // Room for at least four records of header + payload, never below 64 KiB.
        std::uint64_t ring = 64 * 1024;
        while (ring < 4 * (s.payload_bytes + 64)) ring *= 2;
        s.ring_bytes = ring;
    }
    if (s.transport == Transport::kProcesses) s.delivery = Delivery::kRing;
    const int first = cpus.empty() ? 0 : cpus[0];
    const int second = cpus.size() > 1 ? cpus[1] : first;
    switch (s.placement) {
        case Placement::kDifferentCores:
            if (s.host.cpu < 0) s.host.cpu = (s.sidecar.cpu == first) ? second : first;
            if (s.sidecar.cpu < 0) s.sidecar.cpu = (s.host.cpu == first) ? second : first;
            break;
        case Placement::kSameCore:
            if (s.host.cpu < 0) s.host.cpu = s.sidecar.cpu >= 0 ? s.sidecar.cpu : first;
            if (s.sidecar.cpu < 0) s.sidecar.cpu = s.host.cpu;
            break;
        case Placement::kUnpinned:
            break;
    }
    // The blocking peers and the futex floor wait their own way.
    for (SideSpec* side : {&s.host, &s.sidecar}) {
        if (s.queue == Queue::kMutexCondvar || s.queue == Queue::kFloorFutex) {
            if (side->wait.kind == Wait::kBusySpin) side->wait.kind = Wait::kNative;
        }
    }
}

}  // namespace ringside::runner
