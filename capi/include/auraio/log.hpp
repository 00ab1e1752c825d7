// auraio/log.hpp: the process-wide log handler, as a std::function.
#ifndef AURAIO_LOG_HPP
#define AURAIO_LOG_HPP

#include <auraio.h>

#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace auraio {

/// syslog priorities, as the C API uses them.
enum class LogLevel { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

[[nodiscard]] inline const char *log_level_name(LogLevel level) noexcept {
    switch (level) {
    case LogLevel::Error:
        return "ERR";
    case LogLevel::Warning:
        return "WARN";
    case LogLevel::Notice:
        return "NOTICE";
    case LogLevel::Info:
        return "INFO";
    case LogLevel::Debug:
        return "DEBUG";
    }
    return "???";
}

using LogHandler = std::function<void(LogLevel, std::string_view)>;

namespace detail {
inline std::mutex log_mutex;
inline LogHandler log_handler_fn;
} // namespace detail

} // namespace auraio

extern "C" inline void auraio_detail_log_trampoline(int level, const char *msg, void *) {
    std::lock_guard<std::mutex> lock(auraio::detail::log_mutex);
    if (auraio::detail::log_handler_fn) {
        try {
            auraio::detail::log_handler_fn(static_cast<auraio::LogLevel>(level),
                                           std::string_view(msg));
        } catch (...) {
            std::terminate(); // an exception must not unwind through the C library
        }
    }
}

namespace auraio {

/// Installs handler as the library's process-wide log handler (replacing any C handler).
inline void set_log_handler(LogHandler handler) {
    {
        std::lock_guard<std::mutex> lock(detail::log_mutex);
        detail::log_handler_fn = std::move(handler);
    }
    aura_set_log_handler(auraio_detail_log_trampoline, nullptr);
}

/// Silences the library again.
inline void clear_log_handler() noexcept {
    aura_set_log_handler(nullptr, nullptr);
    std::lock_guard<std::mutex> lock(detail::log_mutex);
    detail::log_handler_fn = nullptr;
}

/// Emits a message through the installed handler (truncated to 255 characters).
inline void log_emit(LogLevel level, std::string_view msg) {
    std::string copy(msg);
    aura_log_emit(static_cast<int>(level), "%s", copy.c_str());
}

} // namespace auraio

#endif // AURAIO_LOG_HPP
