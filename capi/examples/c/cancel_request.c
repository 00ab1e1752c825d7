/* cancel_request: a read from an empty pipe never completes by itself; cancel it and see
 * its callback run with -ECANCELED.
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void on_read(aura_request_t *req, ssize_t result, void *user_data) {
    (void)req;
    ssize_t *out = user_data;
    *out = result;
}

int main(void) {
    int p[2];
    if (pipe(p) != 0) {
        perror("pipe");
        return 1;
    }
    aura_engine_t *e = aura_create();
    if (e == NULL) {
        perror("aura_create");
        return 1;
    }
    char buf[64];
    const ssize_t none = -1000000; /* no result yet */
    ssize_t result = none;
    aura_request_t *req = aura_read(e, p[0], aura_buf(buf), sizeof buf, -1, on_read, &result);
    if (req == NULL) {
        perror("aura_read");
        return 1;
    }
    aura_poll(e); /* the read is now in the kernel, waiting for data */
    printf("pending before cancel: %s\n", aura_request_pending(req) ? "yes" : "no");
    if (aura_cancel(e, req) != 0) {
        perror("aura_cancel");
        return 1;
    }
    while (result == none) {
        aura_wait(e, 100);
    }
    printf("callback result: %zd (%s)\n", result, result < 0 ? strerror((int)-result) : "data");

    /* With data in the pipe, the same read completes normally. */
    if (write(p[1], "x", 1) != 1) {
        return 1;
    }
    result = none;
    req = aura_read(e, p[0], aura_buf(buf), sizeof buf, -1, on_read, &result);
    while (req != NULL && result == none) {
        aura_wait(e, 100);
    }
    printf("second read got %zd byte(s)\n", result);

    aura_destroy(e);
    close(p[0]);
    close(p[1]);
    return 0;
}
