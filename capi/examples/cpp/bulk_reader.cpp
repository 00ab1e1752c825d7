// bulk_reader: 20,000 random 4 KiB reads kept in flight by lambdas; the engine picks the
// depth. Prints IOPS and what each ring's tuner chose.
#include <auraio.hpp>

#include "common.hpp"

#include <chrono>
#include <cstdio>
#include <functional>
#include <random>

int main() {
    constexpr size_t block = 4096, file_size = 32u << 20;
    constexpr int slots = 64, total = 20000;
    std::string path = demo::make_file("auraio-bulk-cpp.dat", file_size);
    int fd = ::open(path.c_str(), O_RDONLY);
    auraio::Engine engine;
    auto bufs = engine.allocate_buffer(slots * block);
    std::mt19937 rng(7);
    int submitted = 0, completed = 0, bad = 0;
    std::function<void(int)> submit = [&](int slot) {
        size_t blk = rng() % (file_size / block);
        auto *mem = static_cast<char *>(bufs.data()) + static_cast<size_t>(slot) * block;
        ++submitted;
        (void)engine.read(fd, mem, block, static_cast<off_t>(blk * block), [&, slot, mem, blk](auraio::Request &, ssize_t n) {
            ++completed;
            if (n != static_cast<ssize_t>(block) || !demo::byte_ok(blk * block + 5, static_cast<unsigned char>(mem[5]))) {
                ++bad;
            }
            if (submitted < total) {
                submit(slot);
            }
        });
    };
    auto start = std::chrono::steady_clock::now();
    for (int s = 0; s < slots; ++s) {
        submit(s);
    }
    engine.drain();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%d reads, %d bad, %.0f IOPS\n", completed, bad, completed / secs);
    for (int r = 0; r < engine.ring_count(); ++r) {
        auto rs = engine.get_ring_stats(r);
        std::printf("ring %d: limit %d, P99 %.3f ms, phase %s\n", r, rs.in_flight_limit(), rs.p99_latency_ms(),
                    rs.aimd_phase_name());
    }
    ::close(fd);
    ::unlink(path.c_str());
    return bad == 0 && completed == total ? 0 : 1;
}
