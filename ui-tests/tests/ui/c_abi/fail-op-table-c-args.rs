// How a C function makes its op's arguments is checked against its prototype and the table,
// every error at its place: an `args(...)` list missing or of the wrong length, a parameter
// the prototype lacks, a descriptor made from two parameters, an `out` that is no pointer, an
// `or` naming no entry or one whose arguments differ, a function of the wrong shape, flags
// without a descriptor, words out of place.
auraio_macros::__c_types_with_ops! {
    one(fd: RawFd, len: u64) -> () {
        op One {};
        c AURA_OP_ONE = 0 fn ["Metadata operations", "Doc.", "aura_request_t *aura_one(aura_engine_t *engine, int fd, off_t len, aura_callback_t callback, void *user_data)"];
    }
    two(fd: RawFd, len: u64) -> () {
        op Two {};
        c AURA_OP_TWO = 1 fn ["Metadata operations", "Doc.", "aura_request_t *aura_two(aura_engine_t *engine, int fd, off_t len, aura_callback_t callback, void *user_data)"] args(fd);
    }
    three(fd: RawFd, len: u64) -> () {
        op Three {};
        c AURA_OP_THREE = 2 fn ["Metadata operations", "Doc.", "aura_request_t *aura_three(aura_engine_t *engine, int fd, off_t len, aura_callback_t callback, void *user_data)"] args(fd len, lenght);
    }
    four(fd: RawFd) -> () {
        op Four {};
        c AURA_OP_FOUR = 3 fn ["Metadata operations", "Doc.", "aura_request_t *aura_four(aura_engine_t *engine, int fd, off_t len, aura_callback_t callback, void *user_data)"] args(fd) out len or nowhere if len > 0;
    }
    five(fd: RawFd) -> () {
        op Five {};
        c AURA_OP_FIVE = 4 fn ["Metadata operations", "Doc.", "int aura_five(int fd)"] args(fd);
    }
    six(fd: RawFd, len: u64) -> () {
        op Six {};
        c AURA_OP_SIX = 5 fn ["Metadata operations", "Doc.", "aura_request_t *aura_six(aura_engine_t *engine, int fd, off_t len, aura_callback_t callback, void *user_data)"] args(fd, len via positive) or seven if len > 0;
    }
    seven(dirfd: RawFd, len: u32) -> () {
        op Seven {};
        c AURA_OP_SEVEN = 9;
    }
    eight(len: u64) -> () {
        op Eight {};
        c AURA_OP_EIGHT = 7 fn ["Metadata operations", "Doc.", "aura_request_t *aura_eight(aura_engine_t *engine, off_t len, aura_submit_flags_t flags, aura_callback_t callback, void *user_data)"] args(len);
    }
    nine(len: u64) -> () {
        op Nine {};
        c AURA_OP_NINE = 8 fn ["Metadata operations", "Doc.", "aura_request_t *aura_nine(aura_engine_t *engine, off_t len, aura_callback_t callback, void *user_data)"] args(len) outt len;
    }
}

fn main() {}
