// simple_read: read a whole file in 64 KiB chunks, chaining each read from the previous
// callback, and verify every byte.
#include <auraio.hpp>

#include "common.hpp"

#include <cstdio>
#include <functional>

int main(int argc, char **argv) {
    std::string path = argc > 1 ? argv[1] : demo::make_file("auraio-simple-read-cpp.dat", 3 * 1024 * 1024 + 100);
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) {
        std::perror(path.c_str());
        return 1;
    }
    constexpr size_t chunk = 64 * 1024;
    auraio::Engine engine;
    auto buf = engine.allocate_buffer(chunk);
    off_t offset = 0;
    bool done = false, ok = true;
    std::function<void(auraio::Request &, ssize_t)> on_chunk = [&](auraio::Request &, ssize_t n) {
        if (n <= 0) {
            ok = n == 0;
            done = true;
            return;
        }
        auto bytes = buf.as<unsigned char>();
        for (ssize_t i = 0; argc <= 1 && i < n; ++i) {
            ok = ok && demo::byte_ok(static_cast<size_t>(offset + i), bytes[static_cast<size_t>(i)]);
        }
        offset += n;
        (void)engine.read(fd, buf, chunk, offset, on_chunk);
    };
    (void)engine.read(fd, buf, chunk, 0, on_chunk);
    while (!done) {
        engine.wait();
    }
    std::printf("%s: %lld bytes, %s\n", path.c_str(), static_cast<long long>(offset), ok ? "verified" : "MISMATCH");
    ::close(fd);
    if (argc <= 1) {
        ::unlink(path.c_str());
    }
    return ok ? 0 : 1;
}
