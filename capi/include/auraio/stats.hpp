// auraio/stats.hpp: snapshots of engine, ring, histogram and buffer-pool statistics.
#ifndef AURAIO_STATS_HPP
#define AURAIO_STATS_HPP

#include <auraio.h>

#include <cstddef>
#include <cstdint>

namespace auraio {

class Stats {
public:
    Stats() = default;
    [[nodiscard]] int64_t ops_completed() const noexcept { return s_.ops_completed; }
    [[nodiscard]] int64_t bytes_transferred() const noexcept { return s_.bytes_transferred; }
    [[nodiscard]] double throughput_bps() const noexcept { return s_.current_throughput_bps; }
    [[nodiscard]] double p99_latency_ms() const noexcept { return s_.p99_latency_ms; }
    [[nodiscard]] int current_in_flight() const noexcept { return s_.current_in_flight; }
    [[nodiscard]] int optimal_in_flight() const noexcept { return s_.optimal_in_flight; }
    [[nodiscard]] int optimal_batch_size() const noexcept { return s_.optimal_batch_size; }
    [[nodiscard]] uint64_t adaptive_spills() const noexcept { return s_.adaptive_spills; }
    [[nodiscard]] const aura_stats_t &c_stats() const & noexcept { return s_; }
    [[nodiscard]] aura_stats_t c_stats() const && noexcept { return s_; }

private:
    friend class Engine;
    aura_stats_t s_{};
};

class RingStats {
public:
    RingStats() = default;
    [[nodiscard]] int64_t ops_completed() const noexcept { return s_.ops_completed; }
    [[nodiscard]] int64_t bytes_transferred() const noexcept { return s_.bytes_transferred; }
    [[nodiscard]] int pending_count() const noexcept { return s_.pending_count; }
    [[nodiscard]] int in_flight_limit() const noexcept { return s_.in_flight_limit; }
    [[nodiscard]] int batch_threshold() const noexcept { return s_.batch_threshold; }
    [[nodiscard]] double p99_latency_ms() const noexcept { return s_.p99_latency_ms; }
    [[nodiscard]] double throughput_bps() const noexcept { return s_.throughput_bps; }
    [[nodiscard]] int aimd_phase() const noexcept { return s_.aimd_phase; }
    [[nodiscard]] const char *aimd_phase_name() const noexcept { return aura_phase_name(s_.aimd_phase); }
    [[nodiscard]] int queue_depth() const noexcept { return s_.queue_depth; }
    [[nodiscard]] int ring_index() const noexcept { return ring_index_; }
    [[nodiscard]] const aura_ring_stats_t &c_stats() const & noexcept { return s_; }
    [[nodiscard]] aura_ring_stats_t c_stats() const && noexcept { return s_; }

private:
    friend class Engine;
    aura_ring_stats_t s_{};
    int ring_index_ = -1;
};

class Histogram {
public:
    static constexpr int bucket_count = AURA_HISTOGRAM_BUCKETS;
    static constexpr int bucket_width_us = AURA_HISTOGRAM_BUCKET_WIDTH_US;

    Histogram() = default;
    [[nodiscard]] uint32_t bucket(int idx) const noexcept {
        return idx >= 0 && idx < bucket_count ? h_.buckets[idx] : 0;
    }
    [[nodiscard]] uint32_t overflow() const noexcept { return h_.overflow; }
    [[nodiscard]] uint32_t total_count() const noexcept { return h_.total_count; }
    [[nodiscard]] int max_tracked_us() const noexcept { return h_.max_tracked_us; }
    [[nodiscard]] int bucket_lower_us(int idx) const noexcept {
        return idx >= 0 && idx < bucket_count ? idx * h_.bucket_width_us : 0;
    }
    [[nodiscard]] int bucket_upper_us(int idx) const noexcept {
        return idx >= 0 && idx < bucket_count ? (idx + 1) * h_.bucket_width_us : 0;
    }
    /// Latency at a percentile (0-100) in ms; -1 when empty or out of range.
    [[nodiscard]] double percentile(double p) const noexcept { return aura_histogram_percentile(&h_, p); }
    [[nodiscard]] const aura_histogram_t &c_histogram() const & noexcept { return h_; }
    [[nodiscard]] aura_histogram_t c_histogram() const && noexcept { return h_; }

private:
    friend class Engine;
    aura_histogram_t h_{};
};

class BufferStats {
public:
    BufferStats() = default;
    [[nodiscard]] size_t total_allocated_bytes() const noexcept { return s_.total_allocated_bytes; }
    [[nodiscard]] size_t total_buffers() const noexcept { return s_.total_buffers; }
    [[nodiscard]] int shard_count() const noexcept { return s_.shard_count; }
    [[nodiscard]] const aura_buffer_stats_t &c_stats() const & noexcept { return s_; }
    [[nodiscard]] aura_buffer_stats_t c_stats() const && noexcept { return s_; }

private:
    friend class Engine;
    aura_buffer_stats_t s_{};
};

} // namespace auraio

#endif // AURAIO_STATS_HPP
