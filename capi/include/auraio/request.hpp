// auraio/request.hpp: a non-owning view of one in-flight request.
#ifndef AURAIO_REQUEST_HPP
#define AURAIO_REQUEST_HPP

#include <auraio.h>

namespace auraio {

/// Valid from a successful submission until its callback returns; do not keep it longer.
class Request {
public:
    explicit Request(aura_request_t *h) noexcept : h_(h) {}

    [[nodiscard]] bool pending() const noexcept { return h_ != nullptr && aura_request_pending(h_); }
    [[nodiscard]] int fd() const noexcept { return h_ == nullptr ? -1 : aura_request_fd(h_); }
    [[nodiscard]] aura_request_t *handle() noexcept { return h_; }
    [[nodiscard]] const aura_request_t *handle() const noexcept { return h_; }
    [[nodiscard]] explicit operator bool() const noexcept { return h_ != nullptr; }

private:
    aura_request_t *h_;
};

} // namespace auraio

#endif // AURAIO_REQUEST_HPP
