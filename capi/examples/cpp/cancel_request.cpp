// cancel_request: cancel a read that cannot complete (empty pipe); its callback sees
// -ECANCELED.
#include <auraio.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstring>

int main() {
    int p[2];
    if (::pipe(p) != 0) {
        return 1;
    }
    auraio::Engine engine;
    char buf[64];
    ssize_t result = 0;
    bool done = false;
    auto req = engine.read(p[0], buf, sizeof buf, -1, [&](auraio::Request &, ssize_t n) {
        result = n;
        done = true;
    });
    engine.poll();
    std::printf("pending: %s\n", req.pending() ? "yes" : "no");
    std::printf("cancel submitted: %s\n", engine.cancel(req) ? "yes" : "no");
    while (!done) {
        engine.wait(100);
    }
    std::printf("callback result: %zd (%s)\n", result, std::strerror(static_cast<int>(-result)));
    ::close(p[0]);
    ::close(p[1]);
    return result == -ECANCELED ? 0 : 1;
}
