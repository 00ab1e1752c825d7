// auraio/options.hpp: engine options, with chainable setters.
#ifndef AURAIO_OPTIONS_HPP
#define AURAIO_OPTIONS_HPP

#include <auraio.h>

#include <cstddef>

namespace auraio {

enum class RingSelect { Adaptive = 0, CpuLocal = 1, RoundRobin = 2 };

/// Wraps aura_options_t; setters store values as given (Engine's constructor validates).
class Options {
public:
    Options() noexcept { aura_options_init(&opts_); }

    Options &queue_depth(int depth) noexcept { opts_.queue_depth = depth; return *this; }
    Options &ring_count(int count) noexcept { opts_.ring_count = count; return *this; }
    Options &initial_in_flight(int n) noexcept { opts_.initial_in_flight = n; return *this; }
    Options &min_in_flight(int n) noexcept { opts_.min_in_flight = n; return *this; }
    Options &max_p99_latency_ms(double ms) noexcept { opts_.max_p99_latency_ms = ms; return *this; }
    Options &buffer_alignment(size_t align) noexcept { opts_.buffer_alignment = align; return *this; }
    Options &disable_adaptive(bool disable = true) noexcept { opts_.disable_adaptive = disable; return *this; }
    Options &enable_sqpoll(bool enable = true) noexcept { opts_.enable_sqpoll = enable; return *this; }
    Options &sqpoll_idle_ms(int ms) noexcept { opts_.sqpoll_idle_ms = ms; return *this; }
    Options &ring_select(RingSelect mode) noexcept {
        opts_.ring_select = static_cast<aura_ring_select_t>(mode);
        return *this;
    }
    /// One thread promises to do all submitting and polling (libauraio then runs the engine
    /// without locks; other threads are refused with EPERM).
    Options &single_thread(bool single) noexcept { opts_.single_thread = single; return *this; }

    [[nodiscard]] int queue_depth() const noexcept { return opts_.queue_depth; }
    [[nodiscard]] int ring_count() const noexcept { return opts_.ring_count; }
    [[nodiscard]] int initial_in_flight() const noexcept { return opts_.initial_in_flight; }
    [[nodiscard]] int min_in_flight() const noexcept { return opts_.min_in_flight; }
    [[nodiscard]] double max_p99_latency_ms() const noexcept { return opts_.max_p99_latency_ms; }
    [[nodiscard]] size_t buffer_alignment() const noexcept { return opts_.buffer_alignment; }
    [[nodiscard]] bool disable_adaptive() const noexcept { return opts_.disable_adaptive; }
    [[nodiscard]] bool enable_sqpoll() const noexcept { return opts_.enable_sqpoll; }
    [[nodiscard]] int sqpoll_idle_ms() const noexcept { return opts_.sqpoll_idle_ms; }
    [[nodiscard]] bool single_thread() const noexcept { return opts_.single_thread; }
    [[nodiscard]] RingSelect ring_select() const noexcept {
        switch (opts_.ring_select) {
        case AURA_SELECT_CPU_LOCAL:
            return RingSelect::CpuLocal;
        case AURA_SELECT_ROUND_ROBIN:
            return RingSelect::RoundRobin;
        default:
            return RingSelect::Adaptive;
        }
    }

    [[nodiscard]] const aura_options_t &c_options() const noexcept { return opts_; }

private:
    aura_options_t opts_;
};

} // namespace auraio

#endif // AURAIO_OPTIONS_HPP
