/* The cost of libauraio's preset dispatch: the same CpuLocal single-thread engine through
 * libauraio (every call matches on the handle's preset) and through libauraio_local (no
 * dispatch). Two loops: a call that does almost nothing (aura_pending_count), and 4 KiB reads
 * from a tmpfs file with 32 in flight. Prints ns per call and per read.
 *
 *   make -C capi bench      (builds this against both libraries and runs them alternately)
 *   dispatch LABEL CALLS READS   (counts given: for callgrind, run at two sizes and subtract) */
#define _GNU_SOURCE
#include <auraio.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096
#define DEPTH 32
#define FILE_LEN (64L << 20)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int done;
static void on_read(aura_request_t *req, ssize_t result, void *ud) {
    (void)req;
    (void)ud;
    if (result != BLOCK) {
        fprintf(stderr, "read failed: %zd\n", result);
        exit(1);
    }
    done++;
}

int main(int argc, char **argv) {
    const char *label = argc > 1 ? argv[1] : "?";
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/auraio-dispatch-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    static char block[BLOCK];
    memset(block, 0xa5, sizeof block);
    for (long off = 0; fd >= 0 && off < FILE_LEN; off += BLOCK) {
        if (pwrite(fd, block, BLOCK, off) != BLOCK) {
            perror("pwrite");
            return 1;
        }
    }
    aura_options_t o;
    aura_options_init(&o);
    o.ring_count = 1;
    o.queue_depth = 256;
    o.initial_in_flight = DEPTH;
    o.ring_select = AURA_SELECT_CPU_LOCAL;
    o.single_thread = true;
    aura_engine_t *e = aura_create_with_options(&o);
    if (fd < 0 || e == NULL) {
        perror("setup");
        return 1;
    }
    /* Counts from the command line for instruction counting (callgrind at two sizes). */
    const long calls = argc > 2 ? atol(argv[2]) : 20000000;
    long sum = 0;
    double t0 = now();
    for (long i = 0; i < calls; i++) {
        sum += aura_pending_count(e);
    }
    double per_call = (now() - t0) / (double)(calls > 0 ? calls : 1) * 1e9;

    static char bufs[DEPTH][BLOCK];
    const int reads = argc > 3 ? atoi(argv[3]) : 400000;
    unsigned long x = 0x9e3779b97f4a7c15ul;
    int submitted = 0;
    t0 = now();
    while (done < reads) {
        while (submitted < reads && submitted - done < DEPTH) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            off_t off = (off_t)(x % (FILE_LEN / BLOCK)) * BLOCK;
            if (aura_read(e, fd, aura_buf(bufs[submitted % DEPTH]), BLOCK, off, on_read, NULL) == NULL) {
                perror("aura_read");
                return 1;
            }
            submitted++;
        }
        if (aura_wait(e, -1) < 0) {
            perror("aura_wait");
            return 1;
        }
    }
    double per_read = (now() - t0) / (reads > 0 ? reads : 1) * 1e9;
    printf("%-8s %6.2f ns per aura_pending_count, %7.1f ns per read%s\n", label, per_call, per_read,
           sum < 0 ? "!" : "");
    aura_destroy(e);
    close(fd);
    unlink(path);
    return 0;
}
