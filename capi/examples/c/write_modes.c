/* write_modes: the same 8 MiB written four ways (buffered, buffered + fdatasync per write,
 * buffered + one fsync at the end, O_DIRECT), with the time each took.
 *
 *   ./write_modes [directory]    (default $TMPDIR; O_DIRECT is skipped where refused)
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (64 * 1024)
#define BLOCKS 128

static int pending_errors;
static int completions;

static void on_done(aura_request_t *req, ssize_t result, void *user_data) {
    (void)req;
    (void)user_data;
    completions++;
    if (result < 0) {
        pending_errors++;
        fprintf(stderr, "write: %s\n", strerror((int)-result));
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void run(aura_engine_t *e, const char *dir, const char *name, int flags, int sync_each, int sync_end,
                void *buf) {
    char path[512];
    snprintf(path, sizeof path, "%s/auraio-write-modes.dat", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | flags, 0644);
    if (fd < 0) {
        printf("%-28s skipped: %s\n", name, strerror(errno));
        return;
    }
    double start = now();
    completions = 0;
    int expected = 0;
    for (int i = 0; i < BLOCKS; i++) {
        while (aura_write(e, fd, aura_buf(buf), BLOCK, (off_t)i * BLOCK, on_done, NULL) == NULL) {
            if (errno != EAGAIN && errno != ENOMEM) {
                perror("aura_write");
                exit(1);
            }
            aura_wait(e, 1);
        }
        expected++;
        if (sync_each) {
            aura_drain(e, -1);
            if (aura_fsync(e, fd, AURA_FSYNC_DATASYNC, on_done, NULL) == NULL) {
                perror("aura_fsync");
                exit(1);
            }
            expected++;
        }
    }
    aura_drain(e, -1);
    if (sync_end) {
        if (aura_fsync(e, fd, AURA_FSYNC_DEFAULT, on_done, NULL) == NULL) {
            perror("aura_fsync");
            exit(1);
        }
        expected++;
        aura_drain(e, -1);
    }
    double secs = now() - start;
    printf("%-28s %6.1f MiB/s  (%d completions)\n", name, BLOCKS * (double)BLOCK / (1 << 20) / secs, completions);
    if (completions != expected) {
        fprintf(stderr, "expected %d completions\n", expected);
        exit(1);
    }
    close(fd);
    unlink(path);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    aura_engine_t *e = aura_create();
    if (e == NULL) {
        perror("aura_create");
        return 1;
    }
    void *buf = aura_buffer_alloc(e, BLOCK); /* page-aligned: fit for O_DIRECT */
    memset(buf, 'w', BLOCK);
    run(e, dir, "buffered", 0, 0, 0, buf);
    run(e, dir, "buffered + fdatasync each", 0, 1, 0, buf);
    run(e, dir, "buffered + fsync at end", 0, 0, 1, buf);
    run(e, dir, "O_DIRECT", O_DIRECT, 0, 0, buf);
    aura_buffer_free(e, buf, BLOCK);
    aura_destroy(e);
    return pending_errors == 0 ? 0 : 1;
}
