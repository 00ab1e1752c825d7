// auraio/buffer.hpp: buffer descriptors and the RAII handle of pool buffers.
#ifndef AURAIO_BUFFER_HPP
#define AURAIO_BUFFER_HPP

#include <auraio.h>
#include <auraio/error.hpp>
#include <auraio/fwd.hpp>

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

namespace auraio {

/// A buffer descriptor (ordinary memory or a registered slice); owns nothing.
class BufferRef {
public:
    BufferRef(void *ptr) noexcept : b_(aura_buf(ptr)) {} // NOLINT: implicit by design
    /// Const memory, for writes only (explicit so it cannot reach a read by accident).
    explicit BufferRef(const void *ptr) noexcept : b_(aura_buf(const_cast<void *>(ptr))) {}

    [[nodiscard]] static BufferRef fixed(int index, size_t offset = 0) noexcept {
        BufferRef r;
        r.b_ = aura_buf_fixed(index, offset);
        return r;
    }
    [[nodiscard]] bool is_registered() const noexcept { return b_.type == AURA_BUF_REGISTERED; }
    [[nodiscard]] aura_buf_t c_buf() const noexcept { return b_; }

private:
    BufferRef() noexcept : b_(aura_buf(nullptr)) {}
    aura_buf_t b_;
};

inline BufferRef buf(void *ptr) noexcept { return BufferRef(ptr); }
inline BufferRef buf_fixed(int index, size_t offset = 0) noexcept { return BufferRef::fixed(index, offset); }

/// A pool buffer (or a non-owning wrapper). Move-only; may outlive its engine, in which case
/// it is released with free().
class Buffer {
public:
    struct ReleasedBuffer {
        void *data;
        size_t size;
        aura_engine_t *engine;
    };

    Buffer() noexcept = default;
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    Buffer(Buffer &&o) noexcept { steal(o); }
    Buffer &operator=(Buffer &&o) noexcept {
        if (this != &o) {
            reset();
            steal(o);
        }
        return *this;
    }
    ~Buffer() { reset(); }

    /// A non-owning view of memory the caller manages.
    [[nodiscard]] static Buffer wrap(void *ptr, size_t size) noexcept {
        Buffer b;
        b.data_ = ptr;
        b.size_ = size;
        return b;
    }

    [[nodiscard]] void *data() noexcept { return data_; }
    [[nodiscard]] const void *data() const noexcept { return data_; }
    [[nodiscard]] size_t size() const noexcept { return size_; }

    [[nodiscard]] std::span<std::byte> span() {
        check_non_null();
        return {static_cast<std::byte *>(data_), size_};
    }
    [[nodiscard]] std::span<const std::byte> span() const {
        check_non_null();
        return {static_cast<const std::byte *>(data_), size_};
    }
    template <typename T>
        requires std::is_trivially_copyable_v<T>
    [[nodiscard]] std::span<T> as() {
        check_cast<T>();
        return {static_cast<T *>(data_), size_ / sizeof(T)};
    }
    template <typename T>
        requires std::is_trivially_copyable_v<T>
    [[nodiscard]] std::span<const T> as() const {
        check_cast<T>();
        return {static_cast<const T *>(data_), size_ / sizeof(T)};
    }

    [[nodiscard]] BufferRef ref() noexcept { return BufferRef(data_); }
    [[nodiscard]] BufferRef ref() const noexcept { return BufferRef(static_cast<const void *>(data_)); }
    operator BufferRef() noexcept { return BufferRef(data_); } // NOLINT: implicit by design
    operator BufferRef() const = delete;

    [[nodiscard]] explicit operator bool() const noexcept { return data_ != nullptr; }
    [[nodiscard]] bool owned() const noexcept { return owned_; }

    /// Gives up ownership; free the memory with aura_buffer_free(engine, data, size).
    [[nodiscard]] ReleasedBuffer release() noexcept {
        ReleasedBuffer r{data_, size_, owned_ ? engine_ : nullptr};
        data_ = nullptr;
        size_ = 0;
        engine_ = nullptr;
        owned_ = false;
        alive_.reset();
        return r;
    }

private:
    friend class Engine;
    Buffer(aura_engine_t *engine, void *data, size_t size, std::shared_ptr<std::atomic<bool>> alive) noexcept
        : data_(data), size_(size), engine_(engine), alive_(std::move(alive)), owned_(true) {}

    void check_non_null() const {
        if (data_ == nullptr) {
            throw Error(EINVAL, "Buffer is null");
        }
    }
    template <typename T>
    void check_cast() const {
        check_non_null();
        if (reinterpret_cast<std::uintptr_t>(data_) % alignof(T) != 0) {
            throw Error(EINVAL, "Buffer not aligned for requested type");
        }
    }
    void steal(Buffer &o) noexcept {
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
        engine_ = std::exchange(o.engine_, nullptr);
        alive_ = std::move(o.alive_);
        owned_ = std::exchange(o.owned_, false);
    }
    void reset() noexcept {
        if (owned_ && data_ != nullptr) {
            if (alive_ && alive_->load(std::memory_order_acquire)) {
                aura_buffer_free(engine_, data_, size_);
            } else {
                std::free(data_); // the engine is gone; its buffers are malloc blocks
            }
        }
        data_ = nullptr;
        size_ = 0;
        engine_ = nullptr;
        alive_.reset();
        owned_ = false;
    }

    void *data_ = nullptr;
    size_t size_ = 0;
    aura_engine_t *engine_ = nullptr;
    std::shared_ptr<std::atomic<bool>> alive_;
    bool owned_ = false;
};

} // namespace auraio

#endif // AURAIO_BUFFER_HPP
