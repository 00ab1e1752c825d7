/* vectored_io: a record written as header + payload with one writev, read back into two
 * separate buffers with one readv, and checked.
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    uint32_t magic;
    uint32_t length;
    uint64_t sequence;
} header_t;

static void on_done(aura_request_t *req, ssize_t result, void *user_data) {
    (void)req;
    *(ssize_t *)user_data = result;
}

static ssize_t wait_result(aura_engine_t *e, ssize_t *r) {
    while (*r == -1000000) {
        aura_wait(e, -1);
    }
    return *r;
}

int main(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/auraio-vectored.dat", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    aura_engine_t *e = aura_create();
    if (fd < 0 || e == NULL) {
        perror("setup");
        return 1;
    }
    header_t hdr = {0x41555241u, 26, 7};
    char payload[26];
    for (int i = 0; i < 26; i++) {
        payload[i] = (char)('a' + i);
    }
    struct iovec out[2] = {{&hdr, sizeof hdr}, {payload, sizeof payload}};
    ssize_t r = -1000000;
    if (aura_writev(e, fd, out, 2, 0, on_done, &r) == NULL) {
        perror("aura_writev");
        return 1;
    }
    printf("writev: %zd bytes\n", wait_result(e, &r));

    header_t back_hdr;
    char back_payload[26];
    memset(&back_hdr, 0, sizeof back_hdr);
    memset(back_payload, 0, sizeof back_payload);
    struct iovec in[2] = {{&back_hdr, sizeof back_hdr}, {back_payload, sizeof back_payload}};
    r = -1000000;
    if (aura_readv(e, fd, in, 2, 0, on_done, &r) == NULL) {
        perror("aura_readv");
        return 1;
    }
    printf("readv: %zd bytes\n", wait_result(e, &r));
    int ok = back_hdr.magic == hdr.magic && back_hdr.sequence == 7 && memcmp(back_payload, payload, 26) == 0;
    printf("record %s: magic %08x, seq %llu, payload %.26s\n", ok ? "intact" : "CORRUPT", back_hdr.magic,
           (unsigned long long)back_hdr.sequence, back_payload);
    aura_destroy(e);
    close(fd);
    unlink(path);
    return ok ? 0 : 1;
}
