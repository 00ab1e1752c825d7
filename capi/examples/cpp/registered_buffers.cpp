// registered_buffers: register engine buffers once, read into them with buf_fixed, then
// unregister.
#include <auraio.hpp>

#include "common.hpp"

#include <cstdio>

int main() {
    std::string path = demo::make_file("auraio-registered-cpp.dat", 1u << 20);
    int fd = ::open(path.c_str(), O_RDONLY);
    auraio::Engine engine;
    std::vector<auraio::Buffer> bufs;
    std::vector<iovec> iovs;
    for (int i = 0; i < 4; ++i) {
        bufs.push_back(engine.allocate_buffer(4096));
        iovs.push_back({bufs.back().data(), 4096});
    }
    engine.register_buffers(iovs);
    int good = 0;
    for (int round = 0; round < 16; ++round) {
        for (int i = 0; i < 4; ++i) {
            size_t off = static_cast<size_t>(round * 4 + i) * 4096;
            auto *mem = static_cast<unsigned char *>(bufs[static_cast<size_t>(i)].data());
            (void)engine.read(fd, auraio::buf_fixed(i), 4096, static_cast<off_t>(off),
                              [&good, mem, off](auraio::Request &, ssize_t n) {
                                  good += n == 4096 && demo::byte_ok(off + 9, mem[9]);
                              });
        }
        engine.drain();
    }
    engine.unregister_buffers();
    bool refused = false;
    try {
        (void)engine.read(fd, auraio::buf_fixed(0), 4096, 0, [](auraio::Request &, ssize_t) {});
    } catch (const auraio::Error &e) {
        refused = e.is_not_found();
    }
    std::printf("%d/64 fixed reads verified; after unregister a fixed read is %s\n", good,
                refused ? "refused (ENOENT)" : "accepted?!");
    ::close(fd);
    ::unlink(path.c_str());
    return good == 64 && refused ? 0 : 1;
}
