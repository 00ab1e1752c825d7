// vectored_io: header + payload with one writev, read back into separate buffers with readv.
#include <auraio.hpp>

#include "common.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>

struct Header {
    uint32_t magic;
    uint32_t length;
    uint64_t sequence;
};

int main() {
    std::string path = demo::tmp_path("auraio-vectored-cpp.dat");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    auraio::Engine engine;
    Header hdr{0x41555241u, 10, 42};
    char payload[10];
    std::memcpy(payload, "0123456789", 10);
    iovec out[2] = {{&hdr, sizeof hdr}, {payload, sizeof payload}};
    ssize_t wrote = 0, read_back = 0;
    (void)engine.writev(fd, out, 0, [&](auraio::Request &, ssize_t n) { wrote = n; });
    engine.drain();
    Header h2{};
    char p2[10] = {};
    iovec in[2] = {{&h2, sizeof h2}, {p2, sizeof p2}};
    (void)engine.readv(fd, in, 0, [&](auraio::Request &, ssize_t n) { read_back = n; });
    engine.drain();
    bool ok = wrote == 26 && read_back == 26 && h2.magic == hdr.magic && h2.sequence == 42 && std::memcmp(p2, payload, 10) == 0;
    std::printf("writev %zd, readv %zd: %s\n", wrote, read_back, ok ? "intact" : "CORRUPT");
    ::close(fd);
    ::unlink(path.c_str());
    return ok ? 0 : 1;
}
