/* registered_buffers: buffers registered once with the kernel (no per-request page pinning),
 * used by reads through aura_buf_fixed, then unregistered from inside a callback.
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 4096
#define NBUF 4

typedef struct {
    aura_engine_t *engine;
    int done;
    int bad;
    int unregister_after;
} state_t;

static void on_read(aura_request_t *req, ssize_t result, void *user_data) {
    (void)req;
    state_t *s = user_data;
    if (result != BLOCK) {
        s->bad++;
    }
    if (++s->done == s->unregister_after) {
        /* callback-safe: completes once no fixed-buffer read is in flight */
        if (aura_request_unregister_buffers(s->engine) != 0) {
            s->bad++;
        }
    }
}

int main(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/auraio-registered.dat", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    char block[BLOCK];
    for (int i = 0; i < 64; i++) {
        memset(block, 'A' + i % 26, BLOCK);
        if (pwrite(fd, block, BLOCK, (off_t)i * BLOCK) != BLOCK) {
            perror("pwrite");
            return 1;
        }
    }
    state_t s = {.engine = aura_create(), .unregister_after = 40};
    if (s.engine == NULL) {
        perror("aura_create");
        return 1;
    }
    struct iovec iov[NBUF];
    for (int i = 0; i < NBUF; i++) {
        iov[i].iov_base = aura_buffer_alloc(s.engine, BLOCK);
        iov[i].iov_len = BLOCK;
    }
    if (aura_register_buffers(s.engine, iov, NBUF) != 0) {
        perror("aura_register_buffers");
        return 1;
    }
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < NBUF; i++) {
            if (aura_read(s.engine, fd, aura_buf_fixed(i, 0), BLOCK, (off_t)(round * NBUF + i) * BLOCK, on_read,
                          &s) == NULL) {
                perror("aura_read (fixed)");
                return 1;
            }
        }
        aura_drain(s.engine, -1);
    }
    printf("%d fixed reads, %d bad; buffer 3 holds '%c'\n", s.done, s.bad, ((char *)iov[3].iov_base)[0]);
    /* the callback unregistered them: a fixed read now fails with ENOENT */
    errno = 0;
    aura_request_t *r = aura_read(s.engine, fd, aura_buf_fixed(0, 0), BLOCK, 0, on_read, &s);
    printf("after unregister: %s\n", r == NULL ? strerror(errno) : "accepted?!");
    for (int i = 0; i < NBUF; i++) {
        aura_buffer_free(s.engine, iov[i].iov_base, BLOCK);
    }
    aura_destroy(s.engine);
    close(fd);
    unlink(path);
    return s.bad == 0 && s.done == 40 && r == NULL && errno == ENOENT ? 0 : 1;
}
