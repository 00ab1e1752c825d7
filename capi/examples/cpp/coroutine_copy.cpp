// coroutine_copy: copy a file with C++20 coroutines: one Task per chunk stream, each
// co_awaiting its reads and writes; the main loop drives the engine.
#include <auraio.hpp>

#include "common.hpp"

#include <cstdio>

static auraio::Task<size_t> copy_stream(auraio::Engine &engine, int in, int out, size_t first, size_t stride,
                                        size_t chunk, size_t size) {
    auto buf = engine.allocate_buffer(chunk);
    size_t copied = 0;
    for (size_t off = first; off < size; off += stride) {
        size_t len = std::min(chunk, size - off);
        ssize_t n = co_await engine.async_read(in, buf, len, static_cast<off_t>(off));
        ssize_t w = co_await engine.async_write(out, buf, static_cast<size_t>(n), static_cast<off_t>(off));
        copied += static_cast<size_t>(w);
    }
    co_return copied;
}

static auraio::Task<size_t> copy_file(auraio::Engine &engine, int in, int out, size_t size) {
    constexpr size_t chunk = 128 * 1024, streams = 4;
    std::vector<auraio::Task<size_t>> tasks;
    for (size_t s = 0; s < streams; ++s) {
        tasks.push_back(copy_stream(engine, in, out, s * chunk, streams * chunk, chunk, size));
    }
    size_t total = 0;
    for (auto &t : tasks) {
        total += co_await t;
    }
    co_await engine.async_fsync(out);
    co_return total;
}

int main() {
    constexpr size_t size = 3u * 1024 * 1024 + 1234;
    std::string src = demo::make_file("auraio-coro-src.dat", size);
    std::string dst = demo::tmp_path("auraio-coro-dst.dat");
    int in = ::open(src.c_str(), O_RDONLY), out = ::open(dst.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    auraio::Engine engine;
    auto task = copy_file(engine, in, out, size);
    task.resume(); // once; then the engine's completions resume it
    while (!task.done()) {
        engine.wait(100);
    }
    size_t copied = task.get();
    std::vector<unsigned char> check(size);
    bool ok = copied == size && ::pread(out, check.data(), size, 0) == static_cast<ssize_t>(size);
    for (size_t i = 0; ok && i < size; ++i) {
        ok = demo::byte_ok(i, check[i]);
    }
    std::printf("coroutines copied %zu bytes: %s\n", copied, ok ? "identical" : "DIFFERENT");
    ::close(in);
    ::close(out);
    ::unlink(src.c_str());
    ::unlink(dst.c_str());
    return ok ? 0 : 1;
}
