/* simple_read: read a whole file in 64 KiB chunks, each read submitted from the previous
 * one's callback, and print its size and a checksum.
 *
 *   ./simple_read [file]         (without a file, 4 MiB of demo data in $TMPDIR)
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

typedef struct {
    aura_engine_t *engine;
    int fd;
    char *buf;
    off_t offset;
    uint64_t checksum;
    int done;
    int error;
} reader_t;

static void on_chunk(aura_request_t *req, ssize_t result, void *user_data) {
    (void)req;
    reader_t *r = user_data;
    if (result <= 0) {
        r->error = result < 0 ? (int)-result : 0;
        r->done = 1;
        return;
    }
    for (ssize_t i = 0; i < result; i++) {
        r->checksum = (r->checksum ^ (unsigned char)r->buf[i]) * 1099511628211ULL; /* FNV-1a */
    }
    r->offset += result;
    if (aura_read(r->engine, r->fd, aura_buf(r->buf), CHUNK, r->offset, on_chunk, r) == NULL) {
        r->error = errno;
        r->done = 1;
    }
}

int main(int argc, char **argv) {
    char path[512];
    if (argc > 1) {
        snprintf(path, sizeof path, "%s", argv[1]);
    } else {
        snprintf(path, sizeof path, "%s/auraio-simple-read.dat", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        int w = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        char block[4096];
        for (int i = 0; i < 1024; i++) {
            memset(block, 'a' + i % 26, sizeof block);
            if (write(w, block, sizeof block) != (ssize_t)sizeof block) {
                perror("write");
                return 1;
            }
        }
        close(w);
    }
    reader_t r = {.fd = open(path, O_RDONLY), .checksum = 14695981039346656037ULL};
    if (r.fd < 0) {
        perror(path);
        return 1;
    }
    r.engine = aura_create();
    if (r.engine == NULL) {
        perror("aura_create");
        return 1;
    }
    r.buf = aura_buffer_alloc(r.engine, CHUNK);
    if (r.buf == NULL || aura_read(r.engine, r.fd, aura_buf(r.buf), CHUNK, 0, on_chunk, &r) == NULL) {
        perror("submit");
        return 1;
    }
    while (!r.done) {
        aura_wait(r.engine, -1);
    }
    if (r.error != 0) {
        fprintf(stderr, "read failed: %s\n", strerror(r.error));
        return 1;
    }
    printf("%s: %lld bytes, FNV-1a %016llx\n", path, (long long)r.offset, (unsigned long long)r.checksum);
    aura_buffer_free(r.engine, r.buf, CHUNK);
    aura_destroy(r.engine);
    close(r.fd);
    if (argc <= 1) {
        unlink(path);
    }
    return 0;
}
