// log_handler: a lambda receives the library's log records and the application's own.
#include <auraio.hpp>

#include <cstdio>
#include <string>

int main() {
    int count = 0;
    auraio::set_log_handler([&](auraio::LogLevel level, std::string_view msg) {
        ++count;
        std::fprintf(stderr, "[%s] %.*s\n", auraio::log_level_name(level), static_cast<int>(msg.size()), msg.data());
    });
    auraio::log_emit(auraio::LogLevel::Info, "application started");
    {
        // asking for a ring selection other than this library's preset is logged (NOTICE)
        auraio::Engine engine(auraio::Options().ring_select(auraio::RingSelect::RoundRobin));
    }
    auraio::clear_log_handler();
    auraio::log_emit(auraio::LogLevel::Error, "not delivered");
    std::printf("%d records delivered\n", count);
    return count == 2 ? 0 : 1;
}
