// auraio.hpp: the C++20 binding of auraio (header-only, over the C API in auraio.h).
#ifndef AURAIO_HPP
#define AURAIO_HPP

#include <auraio.h>

#include <auraio/fwd.hpp>
#include <auraio/error.hpp>
#include <auraio/log.hpp>
#include <auraio/options.hpp>
#include <auraio/request.hpp>
#include <auraio/stats.hpp>
#include <auraio/buffer.hpp>
#include <auraio/detail/callback_storage.hpp>
#include <auraio/engine.hpp>
#include <auraio/coro.hpp>

#include <vector>

// Programs written for the original C++ binding spell some C names auraio_*/AURAIO_*; these
// aliases keep them compiling.
using auraio_engine_t = aura_engine_t;
using auraio_request_t = aura_request_t;
using auraio_options_t = aura_options_t;
using auraio_buf_t = aura_buf_t;
using auraio_stats_t = aura_stats_t;
using auraio_ring_stats_t = aura_ring_stats_t;
using auraio_histogram_t = aura_histogram_t;
using auraio_buffer_stats_t = aura_buffer_stats_t;
using auraio_ring_select_t = aura_ring_select_t;
using auraio_buf_type_t = aura_buf_type_t;
using auraio_callback_t = aura_callback_t;
#define AURAIO_SELECT_ADAPTIVE AURA_SELECT_ADAPTIVE
#define AURAIO_SELECT_CPU_LOCAL AURA_SELECT_CPU_LOCAL
#define AURAIO_SELECT_ROUND_ROBIN AURA_SELECT_ROUND_ROBIN
#define AURAIO_BUF_UNREGISTERED AURA_BUF_UNREGISTERED
#define AURAIO_BUF_REGISTERED AURA_BUF_REGISTERED
#define AURAIO_FSYNC_DEFAULT AURA_FSYNC_DEFAULT
#define AURAIO_FSYNC_DATASYNC AURA_FSYNC_DATASYNC
inline void auraio_buffer_free(aura_engine_t *engine, void *buf, size_t size) {
    aura_buffer_free(engine, buf, size);
}

#endif // AURAIO_HPP
