// auraio/detail/callback_storage.hpp: type-erased completion callbacks (internal).
#ifndef AURAIO_DETAIL_CALLBACK_STORAGE_HPP
#define AURAIO_DETAIL_CALLBACK_STORAGE_HPP

#include <auraio.h>
#include <auraio/request.hpp>

#include <array>
#include <cassert>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>

namespace auraio::detail {

inline constexpr int kCallbackInUse = -2;

/// One submission's callable; allocated at submission, destroyed on the completing thread
/// right after it ran (so captures are released there). Move-only callables are accepted.
struct CallbackContext {
    virtual ~CallbackContext() = default;
    virtual void invoke(Request &req, ssize_t result) = 0;
};

template <typename F>
struct CallbackImpl final : CallbackContext {
    explicit CallbackImpl(F &&f) : fn(std::forward<F>(f)) {}
    void invoke(Request &req, ssize_t result) override { std::invoke(fn, req, result); }
    std::decay_t<F> fn;
};

template <typename F>
CallbackContext *make_callback(F &&f) {
    return new CallbackImpl<F>(std::forward<F>(f));
}

} // namespace auraio::detail

/// The C callback of every C++ submission: runs the callable, then frees it.
extern "C" inline void auraio_detail_callback_trampoline(aura_request_t *req, ssize_t result, void *ud) {
    auto *ctx = static_cast<auraio::detail::CallbackContext *>(ud);
    auraio::Request r(req);
    try {
        ctx->invoke(r, result);
    } catch (...) {
        std::terminate(); // an exception must not unwind through the C library
    }
    delete ctx;
}

#endif // AURAIO_DETAIL_CALLBACK_STORAGE_HPP
