// auraio/coro.hpp: C++20 coroutines over the engine: Task<T> and awaitable read/write/fsync.
#ifndef AURAIO_CORO_HPP
#define AURAIO_CORO_HPP

#include <auraio/buffer.hpp>
#include <auraio/error.hpp>
#include <auraio/fwd.hpp>
#include <auraio/request.hpp>

#include <atomic>
#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>

namespace auraio {

namespace detail {

/// Resumes whoever awaited the finished task, or returns to resume()'s caller.
template <typename Promise>
struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) noexcept {
        auto next = h.promise().continuation;
        return next ? next : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
};

/// What Task<T> and Task<void> share: the promise's suspension points and continuation, and
/// the owning handle (move-only; destroying an unfinished task terminates).
template <typename Promise>
struct PromiseBase {
    std::coroutine_handle<> continuation;
    std::suspend_always initial_suspend() noexcept { return {}; }
    FinalAwaiter<Promise> final_suspend() noexcept { return {}; }
};

template <typename Promise>
class TaskBase {
public:
    TaskBase() = default;
    explicit TaskBase(std::coroutine_handle<Promise> h) : h_(h) {}
    TaskBase(const TaskBase &) = delete;
    TaskBase &operator=(const TaskBase &) = delete;
    TaskBase(TaskBase &&o) noexcept : h_(std::exchange(o.h_, {})) {}
    TaskBase &operator=(TaskBase &&o) noexcept {
        if (this != &o) {
            release();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    ~TaskBase() { release(); }

    /// Starts or continues the body; returns whether it is still running.
    bool resume() {
        if (h_ && !h_.done()) {
            h_.resume();
        }
        return !done();
    }
    [[nodiscard]] bool done() const noexcept { return !h_ || h_.done(); }

protected:
    Promise &finished_promise() const {
        if (!h_ || !h_.done()) {
            throw std::logic_error("Task not complete");
        }
        return h_.promise();
    }

    /// Awaiter of co_await on a task: starts it with the awaiting coroutine as continuation.
    template <typename Resume>
    auto awaiter(Resume resume_fn) const {
        if (!h_) {
            throw std::logic_error("co_await on empty Task");
        }
        struct Awaiter {
            std::coroutine_handle<Promise> h;
            Resume on_resume;
            bool await_ready() const noexcept { return h.done(); }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
                h.promise().continuation = caller;
                return h;
            }
            decltype(auto) await_resume() { return on_resume(h.promise()); }
        };
        return Awaiter{h_, resume_fn};
    }

    std::coroutine_handle<Promise> h_;

private:
    void release() noexcept {
        if (h_) {
            if (!h_.done()) {
                std::terminate(); // a frame suspended on I/O must not be destroyed
            }
            h_.destroy();
        }
    }
};

template <typename T>
struct TaskPromise : PromiseBase<TaskPromise<T>> {
    std::variant<std::monostate, T, std::exception_ptr> result;
    Task<T> get_return_object();
    template <typename U>
    void return_value(U &&v) {
        result.template emplace<1>(std::forward<U>(v));
    }
    void unhandled_exception() { result.template emplace<2>(std::current_exception()); }
};

struct VoidPromise : PromiseBase<VoidPromise> {
    std::exception_ptr error;
    Task<void> get_return_object();
    void return_void() noexcept {}
    void unhandled_exception() { error = std::current_exception(); }
};

} // namespace detail

/// A lazy coroutine: the body starts at resume() or co_await. Drive it with one resume(),
/// then engine.wait()/poll() until done(), then get().
template <typename T>
class Task : public detail::TaskBase<detail::TaskPromise<T>> {
public:
    using promise_type = detail::TaskPromise<T>;
    using detail::TaskBase<promise_type>::TaskBase;

    /// The result, moved out (once); rethrows the body's exception.
    T get() {
        auto &r = this->finished_promise().result;
        if (r.index() == 2) {
            auto e = std::get<2>(r);
            r.template emplace<0>();
            std::rethrow_exception(e);
        }
        if (r.index() != 1) {
            throw std::logic_error("Task result already consumed");
        }
        T v = std::move(std::get<1>(r));
        r.template emplace<0>();
        return v;
    }

    auto operator co_await() {
        return this->awaiter([](promise_type &p) -> T {
            if (p.result.index() == 2) {
                std::rethrow_exception(std::get<2>(p.result));
            }
            if (p.result.index() != 1) {
                throw std::logic_error("Task result not available");
            }
            return std::move(std::get<1>(p.result));
        });
    }
};

template <>
class Task<void> : public detail::TaskBase<detail::VoidPromise> {
public:
    using promise_type = detail::VoidPromise;
    using detail::TaskBase<promise_type>::TaskBase;

    /// Rethrows the body's exception (once), if any.
    void get() {
        if (auto e = std::exchange(finished_promise().error, nullptr)) {
            std::rethrow_exception(e);
        }
    }

    auto operator co_await() {
        return awaiter([](promise_type &p) {
            if (p.error) {
                std::rethrow_exception(p.error);
            }
        });
    }
};

template <typename T>
Task<T> detail::TaskPromise<T>::get_return_object() {
    return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}

inline Task<void> detail::VoidPromise::get_return_object() {
    return Task<void>(std::coroutine_handle<VoidPromise>::from_promise(*this));
}

namespace detail {
/// Result of a throwing awaitable: bytes, or the error as Error(errno, what).
inline ssize_t io_result(ssize_t r, const char *what) {
    if (r < 0) {
        int e = (r >= -4095) ? static_cast<int>(-r) : EIO;
        throw Error(e, what);
    }
    return r;
}
} // namespace detail

/// co_await engine.async_read(...) / async_write(...): yields the byte count (0 at EOF),
/// throws Error on failure. Resumed on the thread that polls the engine.
class IoAwaitable {
public:
    IoAwaitable(const IoAwaitable &) = delete;
    IoAwaitable &operator=(const IoAwaitable &) = delete;

    bool await_ready() const noexcept { return false; }
    inline bool await_suspend(std::coroutine_handle<> h);
    ssize_t await_resume() { return detail::io_result(result_, is_write_ ? "async_write" : "async_read"); }

private:
    friend class Engine;
    IoAwaitable(Engine &engine, int fd, BufferRef buf, size_t len, off_t offset, bool is_write)
        : engine_(engine), fd_(fd), buf_(buf), len_(len), offset_(offset), is_write_(is_write) {}

    Engine &engine_;
    int fd_;
    BufferRef buf_;
    size_t len_;
    off_t offset_;
    bool is_write_;
    ssize_t result_ = 0;
    std::coroutine_handle<> handle_;
    std::atomic<bool> settled_{false};
};

/// co_await engine.async_fsync(fd) / async_fdatasync(fd): throws Error on failure.
class FsyncAwaitable {
public:
    FsyncAwaitable(const FsyncAwaitable &) = delete;
    FsyncAwaitable &operator=(const FsyncAwaitable &) = delete;

    bool await_ready() const noexcept { return false; }
    inline bool await_suspend(std::coroutine_handle<> h);
    void await_resume() { (void)detail::io_result(result_, datasync_ ? "async_fdatasync" : "async_fsync"); }

private:
    friend class Engine;
    FsyncAwaitable(Engine &engine, int fd, bool datasync = false)
        : engine_(engine), fd_(fd), datasync_(datasync) {}

    Engine &engine_;
    int fd_;
    bool datasync_;
    ssize_t result_ = 0;
    std::coroutine_handle<> handle_;
    std::atomic<bool> settled_{false};
};

} // namespace auraio

#include <auraio/engine.hpp>

namespace auraio {

namespace detail {
// The completion and await_suspend race to settle: whichever comes second resumes (the
// completion) or does not suspend (await_suspend), so the coroutine resumes exactly once.
// `submit` takes the completion callback and submits through the callback API.
template <typename Submit>
bool suspend_on(std::coroutine_handle<> h, std::coroutine_handle<> &handle, ssize_t &result,
                std::atomic<bool> &settled, Submit submit) {
    handle = h;
    auto on_done = [&handle, &result, &settled](Request &, ssize_t r) {
        result = r;
        if (settled.exchange(true, std::memory_order_acq_rel)) {
            handle.resume();
        }
    };
    try {
        submit(on_done);
    } catch (const Error &e) {
        result = -e.code();
        return false;
    }
    return !settled.exchange(true, std::memory_order_acq_rel);
}
} // namespace detail

inline bool IoAwaitable::await_suspend(std::coroutine_handle<> h) {
    return detail::suspend_on(h, handle_, result_, settled_, [this](auto on_done) {
        if (is_write_) {
            (void)engine_.write(fd_, buf_, len_, offset_, on_done);
        } else {
            (void)engine_.read(fd_, buf_, len_, offset_, on_done);
        }
    });
}

inline bool FsyncAwaitable::await_suspend(std::coroutine_handle<> h) {
    return detail::suspend_on(h, handle_, result_, settled_, [this](auto on_done) {
        if (datasync_) {
            (void)engine_.fdatasync(fd_, on_done);
        } else {
            (void)engine_.fsync(fd_, on_done);
        }
    });
}

inline IoAwaitable Engine::async_read(int fd, BufferRef buf, size_t len, off_t offset) {
    return IoAwaitable(*this, fd, buf, len, offset, false);
}
inline IoAwaitable Engine::async_write(int fd, BufferRef buf, size_t len, off_t offset) {
    return IoAwaitable(*this, fd, buf, len, offset, true);
}
inline FsyncAwaitable Engine::async_fsync(int fd) { return FsyncAwaitable(*this, fd, false); }
inline FsyncAwaitable Engine::async_fdatasync(int fd) { return FsyncAwaitable(*this, fd, true); }

} // namespace auraio

#endif // AURAIO_CORO_HPP
