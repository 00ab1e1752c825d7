/* file_copy: copy a file with up to 8 chunks in flight; each read's callback submits the
 * matching write, each write's callback the next read. Verifies the copy byte for byte.
 *
 *   ./file_copy [src dst]        (without arguments, 8 MiB of demo data in $TMPDIR)
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (256 * 1024)
#define SLOTS 8

typedef struct copy copy_t;
typedef struct {
    copy_t *copy;
    char *buf;
    off_t offset;
} slot_t;

struct copy {
    aura_engine_t *engine;
    int in, out;
    off_t size, next;
    int active, error;
    slot_t slots[SLOTS];
};

static void start_read(slot_t *s);

static void on_write(aura_request_t *req, ssize_t result, void *user_data) {
    (void)req;
    slot_t *s = user_data;
    if (result < 0) {
        s->copy->error = (int)-result;
    }
    start_read(s);
}

static void on_read(aura_request_t *req, ssize_t result, void *user_data) {
    (void)req;
    slot_t *s = user_data;
    if (result <= 0) {
        s->copy->error = result < 0 ? (int)-result : EIO;
        s->copy->active--;
        return;
    }
    if (aura_write(s->copy->engine, s->copy->out, aura_buf(s->buf), (size_t)result, s->offset, on_write, s) == NULL) {
        s->copy->error = errno;
        s->copy->active--;
    }
}

static void start_read(slot_t *s) {
    copy_t *c = s->copy;
    if (c->error != 0 || c->next >= c->size) {
        c->active--;
        return;
    }
    s->offset = c->next;
    size_t len = c->size - c->next < CHUNK ? (size_t)(c->size - c->next) : CHUNK;
    c->next += (off_t)len;
    if (aura_read(c->engine, c->in, aura_buf(s->buf), len, s->offset, on_read, s) == NULL) {
        c->error = errno;
        c->active--;
    }
}

static int same(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int ok = fa && fb;
    while (ok) {
        int ca = fgetc(fa), cb = fgetc(fb);
        ok = ca == cb;
        if (ca == EOF || cb == EOF) {
            break;
        }
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return ok;
}

int main(int argc, char **argv) {
    char src[512], dst[512];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (argc > 2) {
        snprintf(src, sizeof src, "%s", argv[1]);
        snprintf(dst, sizeof dst, "%s", argv[2]);
    } else {
        snprintf(src, sizeof src, "%s/auraio-copy-src.dat", tmp);
        snprintf(dst, sizeof dst, "%s/auraio-copy-dst.dat", tmp);
        FILE *f = fopen(src, "wb");
        unsigned x = 1;
        for (long i = 0; f && i < (8L << 20) + 12345; i++) {
            x = x * 1103515245u + 12345u;
            fputc((int)(x >> 24), f);
        }
        if (f == NULL || fclose(f) != 0) {
            perror(src);
            return 1;
        }
    }
    copy_t c = {.engine = aura_create(), .in = open(src, O_RDONLY), .out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644)};
    if (c.engine == NULL || c.in < 0 || c.out < 0) {
        perror("setup");
        return 1;
    }
    c.size = lseek(c.in, 0, SEEK_END);
    c.active = SLOTS;
    for (int i = 0; i < SLOTS; i++) {
        c.slots[i] = (slot_t){&c, aura_buffer_alloc(c.engine, CHUNK), 0};
    }
    for (int i = 0; i < SLOTS; i++) {
        start_read(&c.slots[i]);
    }
    while (c.active > 0) {
        aura_wait(c.engine, -1);
    }
    aura_drain(c.engine, -1);
    for (int i = 0; i < SLOTS; i++) {
        aura_buffer_free(c.engine, c.slots[i].buf, CHUNK);
    }
    aura_destroy(c.engine);
    close(c.in);
    close(c.out);
    if (c.error != 0) {
        fprintf(stderr, "copy failed: %s\n", strerror(c.error));
        return 1;
    }
    int ok = same(src, dst);
    printf("copied %lld bytes: %s\n", (long long)c.size, ok ? "identical" : "DIFFERENT");
    if (argc <= 2) {
        unlink(src);
        unlink(dst);
    }
    return ok ? 0 : 1;
}
