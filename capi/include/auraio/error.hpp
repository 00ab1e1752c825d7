// auraio/error.hpp: the exception every failed call throws.
#ifndef AURAIO_ERROR_HPP
#define AURAIO_ERROR_HPP

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>

namespace auraio {

/// A failed call: the positive errno and the name of what failed.
class Error : public std::system_error {
public:
    explicit Error(int err, std::string_view context = {})
        : std::system_error(err, std::generic_category(), std::string(context)) {}

    /// The positive errno (hides std::system_error::code on purpose: `e.code() == EINVAL`).
    [[nodiscard]] int code() const noexcept { return std::system_error::code().value(); }

    [[nodiscard]] bool is_invalid() const noexcept { return code() == EINVAL; }
    [[nodiscard]] bool is_again() const noexcept { return code() == EAGAIN; }
    [[nodiscard]] bool is_shutdown() const noexcept { return code() == ESHUTDOWN; }
    [[nodiscard]] bool is_cancelled() const noexcept { return code() == ECANCELED; }
    [[nodiscard]] bool is_busy() const noexcept { return code() == EBUSY; }
    [[nodiscard]] bool is_not_found() const noexcept { return code() == ENOENT; }
};

/// Throws Error(errno, context) unless condition holds.
inline void check(bool condition, std::string_view context = {}) {
    if (!condition) {
        throw Error(errno, context);
    }
}

/// Throws Error(errno, context).
[[noreturn]] inline void throw_errno(std::string_view context = {}) { throw Error(errno, context); }

} // namespace auraio

#endif // AURAIO_ERROR_HPP
