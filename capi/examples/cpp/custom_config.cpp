// custom_config: an engine built from chained Options, then per-ring tuner figures.
#include <auraio.hpp>

#include "common.hpp"

#include <cstdio>

int main() {
    auto opts = auraio::Options().queue_depth(128).ring_count(2).initial_in_flight(16).min_in_flight(2).max_p99_latency_ms(2.0);
    auraio::Engine engine(opts);
    std::string path = demo::make_file("auraio-config-cpp.dat", 8u << 20);
    int fd = ::open(path.c_str(), O_RDONLY);
    auto buf = engine.allocate_buffer(64 * 4096);
    int bad = 0;
    for (int round = 0; round < 100; ++round) {
        for (int i = 0; i < 64; ++i) {
            auto *mem = static_cast<char *>(buf.data()) + i * 4096;
            off_t off = static_cast<off_t>((round * 64 + i) % 2048) * 4096;
            (void)engine.read(fd, mem, 4096, off, [&](auraio::Request &, ssize_t n) { bad += n != 4096; });
        }
        engine.drain();
    }
    std::printf("queue_depth %d, %d rings, P99 target %.1f ms\n", opts.queue_depth(), engine.ring_count(),
                opts.max_p99_latency_ms());
    for (int r = 0; r < engine.ring_count(); ++r) {
        auto rs = engine.get_ring_stats(r);
        auto h = engine.get_histogram(r);
        std::printf("ring %d: %lld ops, limit %d, batch %d, P50 %.3f ms, phase %s\n", r,
                    static_cast<long long>(rs.ops_completed()), rs.in_flight_limit(), rs.batch_threshold(),
                    h.percentile(50.0), rs.aimd_phase_name());
    }
    auto s = engine.get_stats();
    std::printf("total: %lld ops, %lld bytes\n", static_cast<long long>(s.ops_completed()),
                static_cast<long long>(s.bytes_transferred()));
    ::close(fd);
    ::unlink(path.c_str());
    return bad == 0 && s.ops_completed() == 6400 ? 0 : 1;
}
