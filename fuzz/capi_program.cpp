#include "capi_program.hpp"

#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "ringside/ringside.h"
#include "ringside/sidecar.h"
#include "ringside/tracer.h"

namespace rsfuzz {
namespace {

constexpr int kPool = 6;   // handles remembered per kind (live and destroyed)
constexpr int kNames = 3;  // region names per backing

bool known_result(rs_result r) { return std::strcmp(rs_result_name(r), "RS_UNKNOWN_RESULT") != 0; }

class Program {
public:
    Program(const std::uint8_t* data, std::size_t size, const char* dir) : in_(data, size) {
        for (int i = 0; i < kNames; ++i) {
            std::snprintf(shm_[i], sizeof shm_[i], "/rsfuzz.capi.%d.%d", static_cast<int>(::getpid()), i);
            std::snprintf(file_[i], sizeof file_[i], "%s/region-%d", dir, i);
            std::snprintf(tracer_[i], sizeof tracer_[i], "/rsfuzz.trace.%d.%d", static_cast<int>(::getpid()), i);
        }
        std::snprintf(sink_, sizeof sink_, "%s/sink", dir);
    }

    CapiRun run() {
        for (int step = 0; step < 512 && !in_.empty(); ++step) one_call();
        cleanup();
        return stats_;
    }

private:
    rs_result check(rs_result r) {
        ++stats_.calls;
        if (!known_result(r)) broken("a call returned an unknown rs_result");
        if (r == RS_OK) ++stats_.ok;
        if (r < 0) {
            ++stats_.failures;
            const char* message = rs_last_error_message();
            if (message == nullptr || message[0] == '\0') broken("a failure left no last-error message");
        }
        return r;
    }

    // A handle argument: mostly from the pool (live or destroyed), sometimes
    // NULL, made up, or another kind's handle.
    template <typename T>
    T* pick(T* const (&pool)[kPool]) {
        const std::uint8_t how = in_.byte();
        switch (how % 8) {
            case 0: return nullptr;
            case 1: return reinterpret_cast<T*>(in_.take<std::uint64_t>());
            case 2: return reinterpret_cast<T*>(regions_[how / 8 % kPool]);
            case 3: return reinterpret_cast<T*>(rings_[how / 8 % kPool]);
            default: return pool[how / 8 % kPool];
        }
    }
    template <typename T>
    static int slot_of(T* (&pool)[kPool], T* handle) {
        for (int i = 0; i < kPool; ++i) if (pool[i] == handle) return i;
        return -1;
    }
    // Into the pool (replacing an entry when it is full) and into the list
    // of everything created, which cleanup() destroys.
    template <typename T>
    void remember(T* (&pool)[kPool], T* handle) {
        created_.push_back(Created{reinterpret_cast<void*>(handle), static_cast<void*>(pool)});
        for (int i = 0; i < kPool; ++i) {
            if (pool[i] == nullptr) {
                pool[i] = handle;
                return;
            }
        }
        pool[created_.size() % kPool] = handle;
    }

    const char* name(rs_backing& backing) {
        const std::uint8_t how = in_.byte();
        backing = (how & 1) != 0 ? RS_BACKING_FILE : RS_BACKING_SHM;
        switch (how / 2 % 8) {
            case 0: return nullptr;
            case 1: return "";
            case 2: return "no-leading-slash";
            case 3: return "/two/slashes";
            case 4: return "/bad\xff\xfeutf8";
            case 5: backing = static_cast<rs_backing>(in_.byte()); return shm_[0];
            default: {
                const int i = in_.byte() % kNames;
                return backing == RS_BACKING_FILE ? file_[i] : shm_[i];
            }
        }
    }

    std::size_t length() {
        const std::uint8_t how = in_.byte();
        switch (how % 6) {
            case 0: return 0;
            case 1: return SIZE_MAX - in_.byte();
            case 2: return in_.take<std::uint32_t>();
            default: return in_.take<std::uint16_t>() % 3000;
        }
    }

    void options(rs_region_options& o) {
        rs_region_options_init(&o);
        const std::uint8_t how = in_.byte();
        o.ring_count = 1 + in_.byte() % 3;
        o.ring_capacity = std::uint64_t{4096} << (in_.byte() % 4);
        o.record_align = 8u << (in_.byte() % 3);
        o.prefault = how & 1;
        o.huge_pages = (how >> 1) & 1;
        if ((how & 0xC0) == 0xC0) {  // garbage fields: must be rejected, never trusted
            o.ring_count = in_.take<std::uint32_t>();
            o.ring_capacity = in_.take<std::uint64_t>();
            o.record_align = in_.take<std::uint32_t>();
            o.mode = in_.take<std::uint32_t>();
            o.struct_size = in_.byte() % 2 == 0 ? o.struct_size : in_.take<std::uint32_t>();
        }
    }

    static void use(const void* data, std::size_t length) {
        volatile std::uint8_t sum = 0;
        for (std::size_t i = 0; i < length; ++i) sum = sum + static_cast<const std::uint8_t*>(data)[i];
    }

    void one_call() {
        const std::uint8_t op = in_.byte();
        rs_backing backing = RS_BACKING_SHM;
        switch (op % 24) {
            case 0: {
                rs_region_options o;
                options(o);
                const char* n = name(backing);
                o.backing = backing;
                rs_region_t* region = nullptr;
                if (check(rs_region_create(n, in_.byte() % 8 == 0 ? nullptr : &o, &region)) == RS_OK) remember(regions_, region);
                break;
            }
            case 1: {
                rs_region_options o;
                options(o);
                const char* n = name(backing);
                o.backing = backing;
                rs_region_t* region = nullptr;
                if (check(rs_region_open(n, &o, in_.byte() % 16 == 0 ? nullptr : &region)) == RS_OK) remember(regions_, region);
                break;
            }
            case 2: {
                rs_region_t* region = pick(regions_);
                (void)check(rs_region_destroy(region));  // the stale handle stays in the pool
                break;
            }
            case 3: {
                const char* n = name(backing);
                (void)check(rs_region_unlink(n, backing));
                break;
            }
            case 4: {
                rs_region_info info{};
                info.struct_size = in_.byte() % 4 == 0 ? in_.byte() : sizeof info;
                (void)check(rs_region_get_info(pick(regions_), in_.byte() % 16 == 0 ? nullptr : &info));
                break;
            }
            case 5: {
                char* json = nullptr;
                rs_region_t* region = pick(regions_);
                const rs_result r = (op & 0x80) != 0 ? rs_region_stats_json(region, &json)
                                                     : rs_region_ring_stats_json(region, in_.take<std::uint32_t>() % 5, &json);
                if (check(r) == RS_OK) {
                    if (json == nullptr) broken("stats json returned RS_OK and no text");
                    use(json, std::strlen(json));
                }
                rs_string_free(json);
                break;
            }
            case 6: case 7: {
                rs_ring_t* ring = nullptr;
                const std::uint32_t index = in_.byte() % 16 == 0 ? in_.take<std::uint32_t>() : in_.byte() % 4;
                const auto role = static_cast<rs_role>(in_.byte() % 16 == 0 ? in_.byte() : 1 + in_.byte() % 2);
                if (check(rs_ring_create(pick(regions_), index, role, &ring)) == RS_OK) remember(rings_, ring);
                break;
            }
            case 8:
                (void)check(rs_ring_destroy(pick(rings_)));
                break;
            case 9: case 10: {
                void* out = nullptr;
                const std::size_t n = length();
                if (check(rs_ring_reserve(pick(rings_), n, in_.byte() % 16 == 0 ? nullptr : &out)) == RS_OK) {
                    if (out == nullptr && n != 0) broken("reserve returned RS_OK and no span");
                    if (n != 0) std::memset(out, 0x5A, n);
                }
                break;
            }
            case 11:
                (void)check(rs_ring_commit(pick(rings_)));
                break;
            case 12: {
                const std::size_t n = length();
                const bool null_data = in_.byte() % 8 == 0;
                (void)check(rs_ring_write(pick(rings_), null_data ? nullptr : buffer_, n <= sizeof buffer_ || null_data ? n : sizeof buffer_));
                break;
            }
            case 13: case 14: {
                rs_record record{};
                if (check(rs_ring_peek(pick(rings_), in_.byte() % 16 == 0 ? nullptr : &record)) == RS_OK) use(record.data, record.length);
                break;
            }
            case 15: {
                rs_record records[8] = {};
                std::size_t count = 0;
                const std::size_t max = in_.byte() % 9;
                if (check(rs_ring_peek_batch(pick(rings_), records, max, in_.byte() % 16 == 0 ? nullptr : &count)) == RS_OK) {
                    if (count > max) broken("peek_batch returned more than asked");
                    for (std::size_t i = 0; i < count; ++i) use(records[i].data, records[i].length);
                }
                break;
            }
            case 16:
                (void)check(rs_ring_release(pick(rings_)));
                break;
            case 17: {
                std::size_t got = 0;
                const std::size_t capacity = in_.byte() % 4 == 0 ? 0 : in_.take<std::uint16_t>() % (sizeof buffer_ + 1);
                (void)check(rs_ring_read(pick(rings_), in_.byte() % 8 == 0 ? nullptr : buffer_, capacity,
                                         in_.byte() % 16 == 0 ? nullptr : &got));
                break;
            }
            case 18: {
                void* out = nullptr;
                std::size_t got = 0;
                if (check(rs_ring_read_alloc(pick(rings_), &out, &got)) == RS_OK) use(out, got);
                rs_buffer_free(out);
                break;
            }
            case 19: {
                rs_wait_strategy strategy;
                rs_wait_strategy_init(&strategy, static_cast<rs_wait_kind>(1 + in_.byte() % 8));
                if (in_.byte() % 8 == 0) strategy.kind = static_cast<rs_wait_kind>(in_.take<std::int32_t>());
                rs_ring_t* ring = pick(rings_);
                (void)check(rs_ring_set_wait_strategy(ring, in_.byte() % 16 == 0 ? nullptr : &strategy));
                (void)check(rs_ring_wait_readable(ring, in_.byte() % 8 * 1000ull));  // at most 7 us
                break;
            }
            case 20: {
                char* json = nullptr;
                if (check(rs_ring_stats_json(pick(rings_), &json)) == RS_OK) use(json, std::strlen(json));
                rs_string_free(json);
                (void)check(rs_region_flush(pick(regions_)));
                break;
            }
            case 21: {
                rs_tracer_options o;
                rs_tracer_options_init(&o);
                o.lane_count = 1 + in_.byte() % 2;
                o.rings_per_lane = 2 + in_.byte() % 3;
                o.ring_capacity = 4096;
                o.clock = RS_TRACER_CLOCK_MONOTONIC;
                o.sink_dir = in_.byte() % 16 == 0 ? nullptr : sink_;
                o.prefault = 0;
                o.sync_on_flush = 0;
                rs_tracer_controller_t* controller = nullptr;
                if (check(rs_tracer_controller_create(tracer_[in_.byte() % kNames], &o, &controller)) == RS_OK) {
                    remember(controllers_, controller);
                }
                break;
            }
            case 22: {
                rs_tracer_controller_t* controller = pick(controllers_);
                std::uint32_t work = 0;
                switch (in_.byte() % 4) {
                    case 0: (void)check(rs_tracer_controller_poll(controller, &work)); break;
                    case 1: (void)check(rs_tracer_controller_flush(controller, in_.byte() % 8 * 1000ull)); break;
                    case 2: {
                        char* json = nullptr;
                        if (check(rs_tracer_controller_stats_json(controller, &json)) == RS_OK) use(json, std::strlen(json));
                        rs_string_free(json);
                        break;
                    }
                    default: (void)check(rs_tracer_controller_destroy(controller)); break;
                }
                break;
            }
            default: {
                const std::uint8_t what = in_.byte();
                switch (what % 7) {
                    case 0: {
                        rs_tracer_agent_options o;
                        rs_tracer_agent_options_init(&o);
                        o.policy = static_cast<rs_tracer_policy>(1 + in_.byte() % 3);
                        o.wait_timeout_ns = in_.byte() % 8 * 1000ull;
                        o.prefault = 0;
                        rs_tracer_agent_t* agent = nullptr;
                        if (check(rs_tracer_open(tracer_[in_.byte() % kNames], &o, &agent)) == RS_OK) remember(agents_, agent);
                        break;
                    }
                    case 1: case 2: {
                        const std::size_t n = length();
                        (void)check(rs_tracer_emit(pick(agents_), in_.take<std::uint32_t>(), buffer_, n < sizeof buffer_ ? n : sizeof buffer_));
                        break;
                    }
                    case 3: {
                        void* out = nullptr;
                        rs_tracer_agent_t* agent = pick(agents_);
                        const std::size_t n = length();
                        if (check(rs_tracer_reserve(agent, in_.byte(), n, &out)) == RS_OK && n != 0) std::memset(out, 1, n);
                        (void)check(rs_tracer_commit(agent));
                        break;
                    }
                    case 4: (void)check(rs_tracer_mark(pick(agents_))); break;
                    case 5: (void)check(rs_tracer_flush(pick(agents_))); break;
                    default: (void)check(rs_tracer_close(pick(agents_))); break;
                }
                break;
            }
        }
    }

    // Destroys every handle created (destroyed ones just fail), dependents first.
    void cleanup() {
        auto each = [&](void* pool, auto destroy) {
            for (const Created& c : created_) {
                if (c.pool == pool) (void)destroy(c.handle);
            }
        };
        each(agents_, [](void* h) { return rs_tracer_close(static_cast<rs_tracer_agent_t*>(h)); });
        each(rings_, [](void* h) { return rs_ring_destroy(static_cast<rs_ring_t*>(h)); });
        each(regions_, [](void* h) { return rs_region_destroy(static_cast<rs_region_t*>(h)); });
        each(controllers_, [](void* h) { return rs_tracer_controller_destroy(static_cast<rs_tracer_controller_t*>(h)); });
        for (int i = 0; i < kNames; ++i) {
            ::shm_unlink(shm_[i]);
            ::shm_unlink(tracer_[i]);
            ::unlink(file_[i]);
        }
        if (DIR* sink = ::opendir(sink_)) {
            while (const dirent* entry = ::readdir(sink)) {
                if (entry->d_name[0] != '.') ::unlink((std::string(sink_) + "/" + entry->d_name).c_str());
            }
            ::closedir(sink);
            ::rmdir(sink_);
        }
    }

    struct Created {
        void* handle;
        void* pool;  // which kind
    };

    Input in_;
    CapiRun stats_;
    std::vector<Created> created_;
    char shm_[kNames][64] = {};
    char file_[kNames][4200] = {};
    char tracer_[kNames][64] = {};
    char sink_[4200] = {};
    std::uint8_t buffer_[4096] = {};
    rs_region_t* regions_[kPool] = {};
    rs_ring_t* rings_[kPool] = {};
    rs_tracer_controller_t* controllers_[kPool] = {};
    rs_tracer_agent_t* agents_[kPool] = {};
};

}  // namespace

CapiRun run_capi_program(const std::uint8_t* data, std::size_t size, const char* scratch_dir) {
    Program program(data, size, scratch_dir);
    return program.run();
}

}  // namespace rsfuzz
