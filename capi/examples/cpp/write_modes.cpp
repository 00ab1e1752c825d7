// write_modes: 8 MiB written buffered, with fdatasync, and with O_DIRECT; throughput of each.
#include <auraio.hpp>

#include "common.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>

static bool run(auraio::Engine &engine, auraio::Buffer &buf, const char *name, int flags, bool sync) {
    std::string path = demo::tmp_path("auraio-write-modes-cpp.dat");
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | flags, 0644);
    if (fd < 0) {
        std::printf("%-22s skipped: %s\n", name, std::strerror(errno));
        return true;
    }
    constexpr int blocks = 128;
    int errors = 0;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < blocks; ++i) {
        (void)engine.write(fd, buf, buf.size(), static_cast<off_t>(i) * static_cast<off_t>(buf.size()),
                           [&](auraio::Request &, ssize_t n) { errors += n != static_cast<ssize_t>(buf.size()); });
    }
    engine.drain();
    if (sync) {
        (void)engine.fdatasync(fd, [&](auraio::Request &, ssize_t n) { errors += n != 0; });
        engine.drain();
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-22s %7.1f MiB/s\n", name, blocks * static_cast<double>(buf.size()) / (1 << 20) / secs);
    ::close(fd);
    ::unlink(path.c_str());
    return errors == 0;
}

int main() {
    auraio::Engine engine;
    auto buf = engine.allocate_buffer(64 * 1024);
    std::memset(buf.data(), 'w', buf.size());
    bool ok = run(engine, buf, "buffered", 0, false);
    ok = run(engine, buf, "buffered + fdatasync", 0, true) && ok;
    ok = run(engine, buf, "O_DIRECT", O_DIRECT, false) && ok;
    return ok ? 0 : 1;
}
