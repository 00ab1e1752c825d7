/* aura_log_emit is variadic, which stable Rust cannot define: this shim formats the message
 * into the contract's 256-byte buffer and hands it to the library's Rust side. Compiled
 * against the generated header, so its prototype is checked against the table. */
#include <stdarg.h>
#include <stdio.h>

#include "auraio.h"

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
