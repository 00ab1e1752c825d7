// log_handler: a lambda receives the library's log records and the application's own.
#include <auraio.hpp>

#include <cstdio>
#include <string>

#include <unistd.h>

int main() {
    int count = 0;
    auraio::set_log_handler([&](auraio::LogLevel level, std::string_view msg) {
        ++count;
        std::fprintf(stderr, "[%s] %.*s\n", auraio::log_level_name(level), static_cast<int>(msg.size()), msg.data());
    });
    auraio::log_emit(auraio::LogLevel::Info, "application started");
    int p[2];
    if (pipe(p) != 0) {
        return 1;
    }
    static char byte;
    {
        // the library logs too: destroying an engine whose read waits on an empty pipe, it
        // says it cancels the stuck request (INFO); the callback then sees ECANCELED
        auraio::Engine engine(auraio::Options().ring_count(1));
        auto req = engine.read(p[0], &byte, 1, -1, [](auraio::Request &, ssize_t) {});
        (void)req;
    }
    close(p[0]);
    close(p[1]);
    auraio::clear_log_handler();
    auraio::log_emit(auraio::LogLevel::Error, "not delivered");
    std::printf("%d records delivered\n", count);
    return count >= 2 ? 0 : 1;
}
