/* aura_log_emit is variadic, which stable Rust cannot define: this shim formats the message
 * into the contract's 256-byte buffer and hands it to the library's Rust side. build.rs
 * compiles it into the preset crates; the Makefile also compiles it with the generated
 * header included, so its prototype is checked against the table. */
#include <stdarg.h>
#include <stdio.h>

#ifdef AURA_H
#define AURA_SHIM_CHECKED 1
#endif

void auraio_capi_log_message(int level, const char *msg);

__attribute__((visibility("default"))) void aura_log_emit(int level, const char *fmt, ...) {
    char msg[256];
    va_list ap;
    if (fmt == NULL) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    auraio_capi_log_message(level, msg);
}
