// auraio/engine.hpp: the engine, with lambda callbacks.
#ifndef AURAIO_ENGINE_HPP
#define AURAIO_ENGINE_HPP

#include <auraio.h>
#include <auraio/buffer.hpp>
#include <auraio/detail/callback_storage.hpp>
#include <auraio/error.hpp>
#include <auraio/fwd.hpp>
#include <auraio/options.hpp>
#include <auraio/request.hpp>
#include <auraio/stats.hpp>

#include <atomic>
#include <climits>
#include <concepts>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <utility>

namespace auraio {

class IoAwaitable;
class FsyncAwaitable;

/// A completion callback: called with the request and the result (bytes or -errno).
template <typename F>
concept Callback = std::invocable<F, Request &, ssize_t>;

/// An engine. Not copyable, not movable (hold it in a std::unique_ptr to move it).
class Engine {
public:
    Engine() : handle_(aura_create()) {
        if (handle_ == nullptr) {
            throw_errno("aura_create");
        }
    }
    explicit Engine(const Options &opts) : handle_(aura_create_with_options(&opts.c_options())) {
        if (handle_ == nullptr) {
            throw_errno("aura_create_with_options");
        }
    }
    Engine(const Engine &) = delete;
    Engine &operator=(const Engine &) = delete;
    Engine(Engine &&) = delete;
    Engine &operator=(Engine &&) = delete;

    /// Drains (in-flight callbacks run here), then frees the engine. Buffers still out are
    /// released with free() when they die.
    ~Engine() {
        alive_->store(false, std::memory_order_release);
        aura_destroy(handle_);
    }

    template <Callback F>
    [[nodiscard]] Request read(int fd, BufferRef buf, size_t len, off_t offset, F &&callback) {
        return submit("aura_read", std::forward<F>(callback), [&](void *ctx) {
            return aura_read(handle_, fd, buf.c_buf(), len, offset, auraio_detail_callback_trampoline, ctx);
        });
    }
    template <Callback F>
    [[nodiscard]] Request write(int fd, BufferRef buf, size_t len, off_t offset, F &&callback) {
        return submit("aura_write", std::forward<F>(callback), [&](void *ctx) {
            return aura_write(handle_, fd, buf.c_buf(), len, offset, auraio_detail_callback_trampoline, ctx);
        });
    }
    template <Callback F>
    [[nodiscard]] Request readv(int fd, std::span<const iovec> iov, off_t offset, F &&callback) {
        if (iov.size() > static_cast<size_t>(INT_MAX)) {
            throw Error(EINVAL, "iov count exceeds INT_MAX");
        }
        return submit("aura_readv", std::forward<F>(callback), [&](void *ctx) {
            return aura_readv(handle_, fd, iov.data(), static_cast<int>(iov.size()), offset,
                              auraio_detail_callback_trampoline, ctx);
        });
    }
    template <Callback F>
    [[nodiscard]] Request writev(int fd, std::span<const iovec> iov, off_t offset, F &&callback) {
        if (iov.size() > static_cast<size_t>(INT_MAX)) {
            throw Error(EINVAL, "iov count exceeds INT_MAX");
        }
        return submit("aura_writev", std::forward<F>(callback), [&](void *ctx) {
            return aura_writev(handle_, fd, iov.data(), static_cast<int>(iov.size()), offset,
                               auraio_detail_callback_trampoline, ctx);
        });
    }
    template <Callback F>
    [[nodiscard]] Request fsync(int fd, F &&callback) {
        return submit("aura_fsync", std::forward<F>(callback), [&](void *ctx) {
            return aura_fsync(handle_, fd, AURA_FSYNC_DEFAULT, auraio_detail_callback_trampoline, ctx);
        });
    }
    template <Callback F>
    [[nodiscard]] Request fdatasync(int fd, F &&callback) {
        return submit("aura_fsync", std::forward<F>(callback), [&](void *ctx) {
            return aura_fsync(handle_, fd, AURA_FSYNC_DATASYNC, auraio_detail_callback_trampoline, ctx);
        });
    }

    inline IoAwaitable async_read(int fd, BufferRef buf, size_t len, off_t offset);
    inline IoAwaitable async_write(int fd, BufferRef buf, size_t len, off_t offset);
    inline FsyncAwaitable async_fsync(int fd);
    inline FsyncAwaitable async_fdatasync(int fd);

    /// Best effort: the callback then gets -ECANCELED or its normal result.
    bool cancel(Request &req) noexcept {
        return req.handle() != nullptr && aura_cancel(handle_, req.handle()) == 0;
    }

    [[nodiscard]] int poll_fd() const {
        int fd = aura_get_poll_fd(handle_);
        if (fd < 0) {
            throw_errno("aura_get_poll_fd");
        }
        return fd;
    }
    int poll() {
        std::lock_guard<std::mutex> lock(loop_mutex_);
        int n = aura_poll(handle_);
        if (n < 0) {
            throw_errno("aura_poll");
        }
        return n;
    }
    int wait(int timeout_ms = -1) {
        std::lock_guard<std::mutex> lock(loop_mutex_);
        int n = aura_wait(handle_, timeout_ms);
        if (n < 0) {
            throw_errno("aura_wait");
        }
        return n;
    }
    void run() {
        std::lock_guard<std::mutex> lock(loop_mutex_);
        aura_run(handle_);
    }
    void stop() noexcept { aura_stop(handle_); }
    int drain(int timeout_ms = -1) {
        std::lock_guard<std::mutex> lock(loop_mutex_);
        int n = aura_drain(handle_, timeout_ms);
        if (n < 0) {
            throw_errno("aura_drain");
        }
        return n;
    }

    [[nodiscard]] Buffer allocate_buffer(size_t size) {
        void *p = aura_buffer_alloc(handle_, size);
        if (p == nullptr) {
            throw_errno("aura_buffer_alloc");
        }
        return Buffer(handle_, p, size, alive_);
    }

    void register_buffers(std::span<const iovec> bufs) {
        if (bufs.size() > static_cast<size_t>(INT_MAX)) {
            throw Error(EINVAL, "buffer count exceeds INT_MAX");
        }
        check(aura_register_buffers(handle_, bufs.data(), static_cast<int>(bufs.size())) == 0,
              "aura_register_buffers");
    }
    void unregister_buffers() { check(aura_unregister_buffers(handle_) == 0, "aura_unregister_buffers"); }
    void request_unregister_buffers() {
        check(aura_request_unregister_buffers(handle_) == 0, "aura_request_unregister_buffers");
    }
    void register_files(std::span<const int> fds) {
        if (fds.size() > static_cast<size_t>(INT_MAX)) {
            throw Error(EINVAL, "file count exceeds INT_MAX");
        }
        check(aura_register_files(handle_, fds.data(), static_cast<int>(fds.size())) == 0,
              "aura_register_files");
    }
    void update_file(int index, int fd) { check(aura_update_file(handle_, index, fd) == 0, "aura_update_file"); }
    void unregister_files() { check(aura_unregister_files(handle_) == 0, "aura_unregister_files"); }
    void request_unregister_files() {
        check(aura_request_unregister_files(handle_) == 0, "aura_request_unregister_files");
    }

    [[nodiscard]] Stats get_stats() const {
        Stats s;
        aura_get_stats(handle_, &s.s_);
        return s;
    }
    [[nodiscard]] int ring_count() const noexcept { return aura_get_ring_count(handle_); }
    [[nodiscard]] RingStats get_ring_stats(int ring_idx) const {
        RingStats s;
        if (aura_get_ring_stats(handle_, ring_idx, &s.s_) != 0) {
            throw std::out_of_range("ring_idx out of range");
        }
        s.ring_index_ = ring_idx;
        return s;
    }
    [[nodiscard]] Histogram get_histogram(int ring_idx) const {
        Histogram h;
        if (aura_get_histogram(handle_, ring_idx, &h.h_) != 0) {
            throw std::out_of_range("ring_idx out of range");
        }
        return h;
    }
    [[nodiscard]] BufferStats get_buffer_stats() const {
        BufferStats s;
        (void)aura_get_buffer_stats(handle_, &s.s_);
        return s;
    }

    [[nodiscard]] aura_engine_t *handle() noexcept { return handle_; }
    [[nodiscard]] const aura_engine_t *handle() const noexcept { return handle_; }
    [[nodiscard]] explicit operator bool() const noexcept { return handle_ != nullptr; }

private:
    template <typename F, typename Submit>
    Request submit(const char *what, F &&callback, Submit &&c_submit) {
        detail::CallbackContext *ctx = detail::make_callback(std::forward<F>(callback));
        aura_request_t *r = c_submit(static_cast<void *>(ctx));
        if (r == nullptr) {
            int e = errno;
            delete ctx; // refused: the callback never runs
            throw Error(e, what);
        }
        return Request(r);
    }

    aura_engine_t *handle_;
    std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
    std::mutex loop_mutex_;
};

} // namespace auraio

#endif // AURAIO_ENGINE_HPP
