//! The C ABI of auraio, written once: constants, enums, structs and function prototypes in C
//! syntax. Both the C header and the Rust side (`#[repr(C)]` types, `extern "C"` functions) are
//! generated from these tables, so the header cannot drift from the symbols.
//!
//! Names, values, layouts and signatures follow the C API contract (`aura_*`, version 0.2.0),
//! plus the later additions (metadata ops, runtime setters, flush, pending count, fatal error,
//! percentile helpers) with their later signatures.

/// Version of the C contract the header declares.
pub const VERSION: (u32, u32, u32) = (0, 2, 0);

/// `#define NAME value` lines, with a comment each.
pub const CONSTANTS: &[(&str, &str, &str)] = &[
    (
        "AURA_HISTOGRAM_BUCKETS",
        "200",
        "Buckets of an exported latency histogram.",
    ),
    (
        "AURA_HISTOGRAM_BUCKET_WIDTH_US",
        "50",
        "Width of one exported bucket, in microseconds.",
    ),
    ("AURA_LOG_ERR", "3", "Log level: error (syslog priority)."),
    ("AURA_LOG_WARN", "4", "Log level: warning."),
    ("AURA_LOG_NOTICE", "5", "Log level: notice."),
    ("AURA_LOG_INFO", "6", "Log level: informational."),
    ("AURA_LOG_DEBUG", "7", "Log level: debug."),
    (
        "AURA_PHASE_BASELINE",
        "0",
        "AIMD phase: measuring the baseline latency.",
    ),
    (
        "AURA_PHASE_PROBING",
        "1",
        "AIMD phase: raising the in-flight limit.",
    ),
    (
        "AURA_PHASE_STEADY",
        "2",
        "AIMD phase: holding the limit found.",
    ),
    (
        "AURA_PHASE_BACKOFF",
        "3",
        "AIMD phase: lowering the limit after a latency rise.",
    ),
    (
        "AURA_PHASE_SETTLING",
        "4",
        "AIMD phase: letting a change settle.",
    ),
    (
        "AURA_PHASE_CONVERGED",
        "5",
        "AIMD phase: converged; re-probes on a workload change.",
    ),
    ("AURA_NO_FLAGS", "0u", "Submission flags: none."),
    (
        "AURA_FIXED_FILE",
        "1u",
        "Submission flag: the fd argument is a registered-file index.",
    ),
    ("AURA_FALLOC_DEFAULT", "0", "fallocate mode: allocate."),
    (
        "AURA_FALLOC_KEEP_SIZE",
        "0x01",
        "fallocate mode: keep the file size.",
    ),
    (
        "AURA_FALLOC_PUNCH_HOLE",
        "0x02",
        "fallocate mode: punch a hole (with KEEP_SIZE).",
    ),
    (
        "AURA_FALLOC_COLLAPSE_RANGE",
        "0x08",
        "fallocate mode: collapse a range.",
    ),
    (
        "AURA_FALLOC_ZERO_RANGE",
        "0x10",
        "fallocate mode: zero a range.",
    ),
    (
        "AURA_FALLOC_INSERT_RANGE",
        "0x20",
        "fallocate mode: insert a range.",
    ),
    (
        "AURA_SYNC_RANGE_WAIT_BEFORE",
        "0x01",
        "sync_file_range: wait for earlier writeback.",
    ),
    (
        "AURA_SYNC_RANGE_WRITE",
        "0x02",
        "sync_file_range: start writeback.",
    ),
    (
        "AURA_SYNC_RANGE_WAIT_AFTER",
        "0x04",
        "sync_file_range: wait for the writeback.",
    ),
    (
        "AURA_AT_SYMLINK_NOFOLLOW",
        "0x100",
        "statx: do not follow a final symlink.",
    ),
    (
        "AURA_AT_EMPTY_PATH",
        "0x1000",
        "statx: an empty path names dirfd itself.",
    ),
    ("AURA_STATX_TYPE", "0x001u", "statx mask bit."),
    ("AURA_STATX_MODE", "0x002u", "statx mask bit."),
    ("AURA_STATX_NLINK", "0x004u", "statx mask bit."),
    ("AURA_STATX_UID", "0x008u", "statx mask bit."),
    ("AURA_STATX_GID", "0x010u", "statx mask bit."),
    ("AURA_STATX_ATIME", "0x020u", "statx mask bit."),
    ("AURA_STATX_MTIME", "0x040u", "statx mask bit."),
    ("AURA_STATX_CTIME", "0x080u", "statx mask bit."),
    ("AURA_STATX_INO", "0x100u", "statx mask bit."),
    ("AURA_STATX_SIZE", "0x200u", "statx mask bit."),
    ("AURA_STATX_BLOCKS", "0x400u", "statx mask bit."),
    ("AURA_STATX_BTIME", "0x800u", "statx mask bit."),
    ("AURA_STATX_ALL", "0xFFFu", "statx mask: every basic field."),
];

/// Opaque handles: typedef name, struct tag, doc. C sees `typedef struct TAG NAME;`, Rust a
/// zero-sized `#[repr(C)]` struct.
pub const OPAQUE: &[(&str, &str, &str)] = &[
    (
        "aura_engine_t",
        "aura_engine",
        "An engine: rings, tuner, buffer pool.",
    ),
    (
        "aura_request_t",
        "aura_request",
        "One submitted operation; valid until its callback returns.",
    ),
];

/// Function-pointer types: typedef name, doc, the pointee's prototype (named as the type).
/// Rust sees `Option<unsafe extern "C" fn(...)>` (a NULL pointer is `None`).
pub const FN_TYPES: &[(&str, &str, &str)] = &[
    (
        "aura_callback_t",
        "Completion callback: result is bytes (read/write), 0 (fsync and metadata), a new fd (openat) or -errno.",
        "void aura_callback_t(aura_request_t *req, ssize_t result, void *user_data)",
    ),
    (
        "aura_log_fn",
        "Log handler: level is a syslog priority, msg at most 255 characters.",
        "void aura_log_fn(int level, const char *msg, void *userdata)",
    ),
];

/// Scalar typedefs: name, C type, doc.
pub const SCALARS: &[(&str, &str, &str)] = &[(
    "aura_submit_flags_t",
    "unsigned int",
    "Submission flags (AURA_NO_FLAGS, AURA_FIXED_FILE).",
)];

/// A C enum: typedef name, doc, enumerators and values. Each is 4 bytes (an `int` in Rust).
pub type Enum = (&'static str, &'static str, &'static [(&'static str, i32)]);

/// The C enums.
pub const ENUMS: &[Enum] = &[
    (
        "aura_ring_select_t",
        "How a submission picks its ring. A library is built for one engine preset; a value \
         other than the preset's policy is accepted and logged at NOTICE level.",
        &[
            ("AURA_SELECT_ADAPTIVE", 0),
            ("AURA_SELECT_CPU_LOCAL", 1),
            ("AURA_SELECT_ROUND_ROBIN", 2),
        ],
    ),
    (
        "aura_fsync_flags_t",
        "fsync flavour.",
        &[("AURA_FSYNC_DEFAULT", 0), ("AURA_FSYNC_DATASYNC", 1)],
    ),
    (
        "aura_buf_type_t",
        "Kind of buffer an aura_buf_t describes.",
        &[("AURA_BUF_UNREGISTERED", 0), ("AURA_BUF_REGISTERED", 1)],
    ),
    (
        "aura_op_type_t",
        "Operation of a request (aura_request_op_type).",
        // The op table's `c` lines, with OP_TYPE_EXTRA and the reserved values (ops::op_type).
        &[],
    ),
    (
        "aura_reg_type_t",
        "What aura_unregister / aura_request_unregister act on.",
        &[("AURA_REG_BUFFERS", 0), ("AURA_REG_FILES", 1)],
    ),
];

/// A plain struct: name, doc, size in bytes (asserted on both sides), fields in C syntax.
pub type Struct = (&'static str, &'static str, usize, &'static [&'static str]);

/// The C structs.
pub const STRUCTS: &[Struct] = &[
    (
        "aura_options_t",
        "Engine options; aura_options_init writes the defaults.",
        88,
        &[
            "size_t struct_size",
            "int queue_depth",
            "int ring_count",
            "int initial_in_flight",
            "int min_in_flight",
            "double max_p99_latency_ms",
            "size_t buffer_alignment",
            "bool disable_adaptive",
            "bool enable_sqpoll",
            "int sqpoll_idle_ms",
            "aura_ring_select_t ring_select",
            "bool single_thread",
            "uint32_t _reserved[7]",
        ],
    ),
    (
        "aura_stats_t",
        "Engine-wide statistics (sums over rings; P99 is the highest ring's).",
        72,
        &[
            "int64_t ops_completed",
            "int64_t bytes_transferred",
            "double current_throughput_bps",
            "double p99_latency_ms",
            "int current_in_flight",
            "int optimal_in_flight",
            "int peak_in_flight",
            "int optimal_batch_size",
            "uint64_t adaptive_spills",
            "uint32_t _reserved[4]",
        ],
    ),
    (
        "aura_ring_stats_t",
        "Statistics of one ring.",
        72,
        &[
            "int64_t ops_completed",
            "int64_t bytes_transferred",
            "int pending_count",
            "int peak_in_flight",
            "int in_flight_limit",
            "int batch_threshold",
            "double p99_latency_ms",
            "double throughput_bps",
            "int aimd_phase",
            "int queue_depth",
            "uint32_t _reserved[4]",
        ],
    ),
    (
        "aura_histogram_t",
        "Latency histogram of one ring: bucket i counts [50 i, 50 i + 50) microseconds.",
        824,
        &[
            "uint32_t buckets[200]",
            "uint32_t overflow",
            "uint32_t total_count",
            "int bucket_width_us",
            "int max_tracked_us",
            "uint32_t _reserved[2]",
        ],
    ),
    (
        "aura_buffer_stats_t",
        "Statistics of the buffer pool.",
        40,
        &[
            "size_t total_allocated_bytes",
            "size_t total_buffers",
            "int shard_count",
            "uint32_t _reserved[4]",
        ],
    ),
];

/// One exported function.
pub struct Func {
    /// Group heading in the header.
    pub group: &'static str,
    /// Doc comment.
    pub doc: &'static str,
    /// The prototype, without the trailing semicolon. `AURA_WARN_UNUSED` may lead it.
    pub proto: &'static str,
    /// Implemented in C (variadic): declared in the header, not generated in Rust.
    pub c_only: bool,
}

const fn f(group: &'static str, doc: &'static str, proto: &'static str) -> Func {
    Func {
        group,
        doc,
        proto,
        c_only: false,
    }
}

/// `aura_op_type_t` values that are no operation of the op table: the reference's own cancel
/// request type.
pub const OP_TYPE_EXTRA: &[(&str, i32)] = &[("AURA_OP_CANCEL", 6)];

/// Values the contract reserves after the highest operation (15 and 16) before
/// `AURA_OP__COUNT` (17).
pub const OP_TYPE_RESERVED_AFTER: i32 = 2;

/// The Rust type that carries a C buffer into an op argument, by the argument's bound: an
/// `aura_buf_t` of ordinary memory, an iovec's memory, or a registered buffer's slice (whose
/// type names the lock mode `L` of the generated code).
pub const C_BUFFERS: &[(&str, &str)] = &[
    ("IoBufMut", "::auraio_capi_abi::engine::RawBuf"),
    ("IoBuf", "::auraio_capi_abi::engine::RawBuf"),
    ("FixedIo", "::auraio_capi_abi::engine::CFixed<L>"),
];

/// The header's function groups, in order. The op table's C functions name theirs too.
pub const GROUPS: &[&str] = &[
    "Lifecycle",
    "I/O submission",
    "Metadata operations",
    "Requests",
    "Event loop",
    "Managed buffers",
    "Registration",
    "Runtime control",
    "Observability",
    "Logging",
    "Version",
];

/// Every exported function that submits no operation of the op table (those are declared by
/// the table's `c ... fn [...]` lines), grouped by `GROUPS`.
pub const FUNCS: &[Func] = &[
    f("Lifecycle", "Writes the default options into *options (NULL: no-op).",
      "void aura_options_init(aura_options_t *options)"),
    f("Lifecycle", "Creates an engine with default options; NULL with errno on failure.",
      "AURA_WARN_UNUSED aura_engine_t *aura_create(void)"),
    f("Lifecycle", "Creates an engine (NULL options: defaults); NULL with errno (EINVAL for bad options).",
      "AURA_WARN_UNUSED aura_engine_t *aura_create_with_options(const aura_options_t *options)"),
    f("Lifecycle", "Drains (callbacks run here), then frees the engine. NULL: no-op.",
      "void aura_destroy(aura_engine_t *engine)"),



    f("Requests", "Asks the kernel to cancel req; its callback then gets -ECANCELED or its real result.",
      "AURA_WARN_UNUSED int aura_cancel(aura_engine_t *engine, aura_request_t *req)"),
    f("Requests", "Whether req is still in flight (NULL: false).",
      "bool aura_request_pending(const aura_request_t *req)"),
    f("Requests", "The fd req was submitted with (-1 and EINVAL for NULL).",
      "int aura_request_fd(const aura_request_t *req)"),
    f("Requests", "The user_data req was submitted with (NULL and EINVAL for NULL).",
      "void *aura_request_user_data(const aura_request_t *req)"),
    f("Requests", "The operation of req (-1 for NULL).",
      "aura_op_type_t aura_request_op_type(const aura_request_t *req)"),
    f("Requests", "Links the next submission of this thread after req: EINVAL, since no ring selection mode of this library pins a thread to a ring.",
      "AURA_WARN_UNUSED int aura_request_set_linked(aura_request_t *req)"),
    f("Requests", "Whether req was linked to the next submission (always false here).",
      "bool aura_request_is_linked(const aura_request_t *req)"),

    f("Event loop", "An eventfd that becomes readable when completions are ready (-1 and EINVAL for NULL).",
      "int aura_get_poll_fd(const aura_engine_t *engine)"),
    f("Event loop", "Runs the callbacks of ready completions without blocking; returns their number.",
      "int aura_poll(aura_engine_t *engine)"),
    f("Event loop", "Blocks up to timeout_ms (-1: no bound) for completions; 0 at once if nothing is pending.",
      "int aura_wait(aura_engine_t *engine, int timeout_ms)"),
    f("Event loop", "Runs callbacks until aura_stop, then until nothing is pending.",
      "void aura_run(aura_engine_t *engine)"),
    f("Event loop", "Makes aura_run return once drained; any thread, callbacks included.",
      "void aura_stop(aura_engine_t *engine)"),
    f("Event loop", "Processes completions until nothing is pending (-1: no deadline; 0: one poll); -1 with ETIMEDOUT at the deadline.",
      "int aura_drain(aura_engine_t *engine, int timeout_ms)"),
    f("Event loop", "Submits every queued SQE now.",
      "int aura_flush(aura_engine_t *engine)"),
    f("Event loop", "Requests in flight, all rings (-1 for NULL).",
      "int aura_pending_count(const aura_engine_t *engine)"),

    f("Managed buffers", "An aligned buffer of size bytes (at most 128 MiB), freed with aura_buffer_free or, after the engine is gone, free().",
      "AURA_WARN_UNUSED void *aura_buffer_alloc(aura_engine_t *engine, size_t size)"),
    f("Managed buffers", "Returns a buffer from aura_buffer_alloc; size must be the allocation size.",
      "void aura_buffer_free(aura_engine_t *engine, void *buf, size_t size)"),

    f("Registration", "Registers buffers with every ring; the iovec array is copied, the memory must stay valid until unregistered.",
      "AURA_WARN_UNUSED int aura_register_buffers(aura_engine_t *engine, const struct iovec *iovs, int count)"),
    f("Registration", "Unregisters buffers once no fixed-buffer operation is in flight; callable from callbacks.",
      "int aura_request_unregister_buffers(aura_engine_t *engine)"),
    f("Registration", "Unregisters buffers, waiting (and running callbacks) until none is in use.",
      "int aura_unregister_buffers(aura_engine_t *engine)"),
    f("Registration", "Registers files; later operations on those fds use the fixed slots. -1 leaves a slot empty.",
      "AURA_WARN_UNUSED int aura_register_files(aura_engine_t *engine, const int *fds, int count)"),
    f("Registration", "Replaces registered slot index with fd (-1 empties it).",
      "AURA_WARN_UNUSED int aura_update_file(aura_engine_t *engine, int index, int fd)"),
    f("Registration", "Unregisters files once operations using them have completed.",
      "int aura_request_unregister_files(aura_engine_t *engine)"),
    f("Registration", "Unregisters files.",
      "int aura_unregister_files(aura_engine_t *engine)"),
    f("Registration", "aura_unregister_buffers or aura_unregister_files, by type.",
      "int aura_unregister(aura_engine_t *engine, aura_reg_type_t type)"),
    f("Registration", "aura_request_unregister_buffers or aura_request_unregister_files, by type.",
      "int aura_request_unregister(aura_engine_t *engine, aura_reg_type_t type)"),

    f("Runtime control", "P99 ceiling for the tuner, in ms (0: automatic).",
      "int aura_set_max_p99_latency(aura_engine_t *engine, double latency_ms)"),
    f("Runtime control", "Floor of the in-flight limit (1 .. queue_depth).",
      "int aura_set_min_in_flight(aura_engine_t *engine, int min_in_flight)"),
    f("Runtime control", "Batch threshold: -1 automatic, > 0 fixed (0, never flush by count, is refused with EINVAL).",
      "int aura_set_batch_threshold(aura_engine_t *engine, int threshold)"),
    f("Runtime control", "Issue every later request from an io-wq worker (IOSQE_ASYNC) when on: a submit then never blocks on files whose reads block even when asked not to (FUSE direct I/O, measured). 0, or -1 and EINVAL for NULL.",
      "int aura_set_async_issue(aura_engine_t *engine, bool on)"),
    f("Runtime control", "0 while healthy, else the latched fatal errno (-1 and EINVAL for NULL).",
      "int aura_get_fatal_error(const aura_engine_t *engine)"),
    f("Runtime control", "Whether this thread is running a completion callback.",
      "bool aura_in_callback_context(void)"),

    f("Observability", "Engine-wide statistics (NULL arguments: nothing written).",
      "void aura_get_stats(const aura_engine_t *engine, aura_stats_t *stats)"),
    f("Observability", "Number of rings (0 for NULL).",
      "int aura_get_ring_count(const aura_engine_t *engine)"),
    f("Observability", "Statistics of one ring; -1 for NULL arguments or an index out of range.",
      "int aura_get_ring_stats(const aura_engine_t *engine, int ring_idx, aura_ring_stats_t *stats)"),
    f("Observability", "Latency histogram of one ring (all completions since creation, sampled).",
      "int aura_get_histogram(const aura_engine_t *engine, int ring_idx, aura_histogram_t *hist)"),
    f("Observability", "Statistics of the buffer pool.",
      "int aura_get_buffer_stats(const aura_engine_t *engine, aura_buffer_stats_t *stats)"),
    f("Observability", "Name of an AIMD phase (\"UNKNOWN\" out of range).",
      "const char *aura_phase_name(int phase)"),
    f("Observability", "Latency at percentile (0-100) of a histogram, in ms; -1.0 if empty or out of range.",
      "double aura_histogram_percentile(const aura_histogram_t *hist, double percentile)"),
    f("Observability", "Upper bound of a bucket in microseconds; 0 out of range.",
      "int aura_histogram_bucket_upper_bound_us(const aura_histogram_t *hist, int bucket)"),

    f("Observability", "Prometheus text exposition (OpenMetrics) of every metric into buf: the bytes written (without the NUL), or, when buf is NULL or size too small, minus the size needed (NUL included) with errno ENOBUFS; -1 and EINVAL for a NULL engine.",
      "int aura_metrics_prometheus(const aura_engine_t *engine, char *buf, size_t size)"),

    f("Observability", "OpenTelemetry OTLP/JSON metrics document (ExportMetricsServiceRequest) into buf, with the same return contract as aura_metrics_prometheus.",
      "int aura_metrics_otel(const aura_engine_t *engine, char *buf, size_t size)"),

    f("Logging", "Installs the process-wide log handler (NULL: silent).",
      "void aura_set_log_handler(aura_log_fn handler, void *userdata)"),
    Func {
        group: "Logging",
        doc: "Formats a message (at most 255 characters) and passes it to the handler.",
        proto: "void aura_log_emit(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)))",
        c_only: true,
    },

    f("Logging", "Also forwards log records to syslog (the local socket /dev/log, or $AURAIO_SYSLOG_SOCKET) with this ident (NULL: \"auraio\") and LOG_* facility; -1 with EINVAL or the socket's errno.",
      "int aura_syslog_install(const char *ident, int facility)"),
    f("Logging", "Stops forwarding to syslog.",
      "void aura_syslog_remove(void)"),

    f("Version", "The library version string (AURA_VERSION_STRING).",
      "const char *aura_version(void)"),
    f("Version", "The library version as MAJOR*10000 + MINOR*100 + PATCH.",
      "int aura_version_int(void)"),
];

/// Header text after the types: the inline constructors of `aura_buf_t`.
pub const INLINE_HELPERS: &str = r#"/** Descriptor of an ordinary buffer. */
static inline aura_buf_t aura_buf(void *ptr) {
    aura_buf_t b;
    b.type = AURA_BUF_UNREGISTERED;
    b.u.fixed.index = 0;
    b.u.fixed.offset = 0;
    b.u.ptr = ptr;
    return b;
}

/** Descriptor of a slice of registered buffer index (a negative index gives a NULL buffer). */
static inline aura_buf_t aura_buf_fixed(int index, size_t offset) {
    aura_buf_t b;
    b.type = AURA_BUF_UNREGISTERED;
    b.u.fixed.index = 0;
    b.u.fixed.offset = 0;
    b.u.ptr = NULL;
    if (index >= 0) {
        b.type = AURA_BUF_REGISTERED;
        b.u.fixed.index = index;
        b.u.fixed.offset = offset;
    }
    return b;
}

/** Descriptor of registered buffer index from its start. */
static inline aura_buf_t aura_buf_fixed_idx(int index) {
    return aura_buf_fixed(index, 0);
}
"#;
