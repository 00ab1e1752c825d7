// file_copy: copy with 8 chunks in flight, each read's callback submitting its write.
#include <auraio.hpp>

#include "common.hpp"

#include <cstdio>
#include <functional>

int main() {
    constexpr size_t chunk = 256 * 1024, size = 5u * 1024 * 1024 + 77;
    std::string src = demo::make_file("auraio-copy-src-cpp.dat", size);
    std::string dst = demo::tmp_path("auraio-copy-dst-cpp.dat");
    int in = ::open(src.c_str(), O_RDONLY), out = ::open(dst.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    auraio::Engine engine;
    std::vector<auraio::Buffer> bufs;
    size_t next = 0;
    int errors = 0;
    std::function<void(size_t)> copy_next = [&](size_t slot) {
        if (next >= size) {
            return;
        }
        size_t off = next, len = std::min(chunk, size - next);
        next += len;
        auto &b = bufs[slot];
        (void)engine.read(in, b, len, static_cast<off_t>(off), [&, slot, off](auraio::Request &, ssize_t n) {
            if (n <= 0) {
                ++errors;
                return;
            }
            (void)engine.write(out, bufs[slot], static_cast<size_t>(n), static_cast<off_t>(off),
                               [&, slot](auraio::Request &, ssize_t w) {
                                   errors += w < 0;
                                   copy_next(slot);
                               });
        });
    };
    for (size_t i = 0; i < 8; ++i) {
        bufs.push_back(engine.allocate_buffer(chunk));
    }
    for (size_t i = 0; i < 8; ++i) {
        copy_next(i);
    }
    engine.drain();
    std::vector<unsigned char> check(size);
    bool ok = errors == 0 && ::pread(out, check.data(), size, 0) == static_cast<ssize_t>(size);
    for (size_t i = 0; ok && i < size; ++i) {
        ok = demo::byte_ok(i, check[i]);
    }
    std::printf("copied %zu bytes: %s\n", size, ok ? "identical" : "DIFFERENT");
    ::close(in);
    ::close(out);
    ::unlink(src.c_str());
    ::unlink(dst.c_str());
    return ok ? 0 : 1;
}
