/* quickstart: one asynchronous read with auraio.
 *
 *   cc quickstart.c -o quickstart $(pkg-config --cflags --libs libauraio)
 *   ./quickstart [file]          (without a file, a demo file is written in $TMPDIR)
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_read(aura_request_t *req, ssize_t result, void *user_data) {
    (void)req;
    int *done = user_data;
    if (result < 0) {
        fprintf(stderr, "read failed: %s\n", strerror((int)-result));
    } else {
        printf("read %zd bytes\n", result);
    }
    *done = 1;
}

int main(int argc, char **argv) {
    char path[512];
    if (argc > 1) {
        snprintf(path, sizeof path, "%s", argv[1]);
    } else {
        const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(path, sizeof path, "%s/auraio-quickstart.dat", dir);
        FILE *f = fopen(path, "w");
        if (f == NULL) {
            perror(path);
            return 1;
        }
        for (int i = 0; i < 1000; i++) {
            fprintf(f, "line %d: auraio reads this asynchronously\n", i);
        }
        fclose(f);
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        return 1;
    }

    aura_engine_t *engine = aura_create();
    if (engine == NULL) {
        perror("aura_create");
        return 1;
    }
    void *buf = aura_buffer_alloc(engine, 4096);
    if (buf == NULL) {
        perror("aura_buffer_alloc");
        return 1;
    }
    int done = 0;
    if (aura_read(engine, fd, aura_buf(buf), 4096, 0, on_read, &done) == NULL) {
        perror("aura_read");
        return 1;
    }
    while (!done) {
        aura_wait(engine, -1);
    }
    printf("first line: %.40s\n", (char *)buf);

    aura_buffer_free(engine, buf, 4096);
    aura_destroy(engine);
    close(fd);
    if (argc <= 1) {
        unlink(path);
    }
    return 0;
}
