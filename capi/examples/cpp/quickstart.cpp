// quickstart: one asynchronous read with the C++ binding.
#include <auraio.hpp>

#include "common.hpp"

#include <cstdio>

int main() {
    std::string path = demo::make_file("auraio-quickstart-cpp.dat", 64 * 1024);
    int fd = ::open(path.c_str(), O_RDONLY);
    auraio::Engine engine;
    auto buf = engine.allocate_buffer(4096);
    bool done = false;
    ssize_t got = 0;
    (void)engine.read(fd, buf, 4096, 0, [&](auraio::Request &, ssize_t n) {
        got = n;
        done = true;
    });
    while (!done) {
        engine.wait();
    }
    std::printf("read %zd bytes; byte 100 is %u\n", got, static_cast<unsigned>(buf.as<unsigned char>()[100]));
    ::close(fd);
    ::unlink(path.c_str());
    return got == 4096 && demo::byte_ok(100, buf.as<unsigned char>()[100]) ? 0 : 1;
}
