/* bulk_reader: 20,000 random 4 KiB reads kept in flight by callbacks; the engine finds the
 * queue depth by itself. Prints IOPS, the in-flight limit it chose and the AIMD phase.
 *
 *   ./bulk_reader [file]         (without a file, 64 MiB of demo data in $TMPDIR)
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

#define BLOCK 4096
#define SLOTS 64
#define TOTAL 20000

typedef struct {
    aura_engine_t *engine;
    int fd;
    long blocks;
    long submitted;
    long completed;
    long failed;
    unsigned seed;
    char *bufs;
} bulk_t;

typedef struct {
    bulk_t *bulk;
    int slot;
} slot_t;

static slot_t slots[SLOTS];

static void submit_one(bulk_t *b, int slot);

/* Each slot's callback counts its read and starts the slot's next one. */
static void on_slot(aura_request_t *req, ssize_t result, void *user_data) {
    (void)req;
    slot_t *s = user_data;
    s->bulk->completed++;
    if (result != BLOCK) {
        s->bulk->failed++;
    }
    if (s->bulk->submitted < TOTAL) {
        submit_one(s->bulk, s->slot);
    }
}

static void submit_one(bulk_t *b, int slot) {
    long block = (long)(rand_r(&b->seed) % b->blocks);
    aura_request_t *r = aura_read(b->engine, b->fd, aura_buf(b->bufs + (size_t)slot * BLOCK), BLOCK,
                                  (off_t)block * BLOCK, on_slot, &slots[slot]);
    if (r == NULL) {
        fprintf(stderr, "aura_read: %s\n", strerror(errno));
        exit(1);
    }
    b->submitted++;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    char path[512];
    if (argc > 1) {
        snprintf(path, sizeof path, "%s", argv[1]);
    } else {
        snprintf(path, sizeof path, "%s/auraio-bulk.dat", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        int w = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (w < 0 || ftruncate(w, 64L << 20) != 0) {
            perror(path);
            return 1;
        }
        close(w);
    }
    bulk_t b = {.fd = open(path, O_RDONLY), .seed = 42};
    if (b.fd < 0) {
        perror(path);
        return 1;
    }
    b.blocks = lseek(b.fd, 0, SEEK_END) / BLOCK;
    if (b.blocks == 0) {
        fprintf(stderr, "%s: smaller than one block\n", path);
        return 1;
    }
    b.engine = aura_create();
    if (b.engine == NULL) {
        perror("aura_create");
        return 1;
    }
    b.bufs = aura_buffer_alloc(b.engine, (size_t)SLOTS * BLOCK);
    double start = now();
    for (int i = 0; i < SLOTS; i++) {
        slots[i] = (slot_t){&b, i};
        submit_one(&b, i);
    }
    if (aura_drain(b.engine, -1) < 0) {
        perror("aura_drain");
        return 1;
    }
    double secs = now() - start;
    aura_stats_t st;
    aura_get_stats(b.engine, &st);
    aura_ring_stats_t rs;
    (void)aura_get_ring_stats(b.engine, 0, &rs);
    printf("%ld reads (%ld failed) in %.3f s: %.0f IOPS\n", b.completed, b.failed, secs, (double)b.completed / secs);
    printf("engine: %d rings, in-flight limit %d (sum), P99 %.3f ms, ring 0 phase %s\n",
           aura_get_ring_count(b.engine), st.optimal_in_flight, st.p99_latency_ms, aura_phase_name(rs.aimd_phase));
    aura_buffer_free(b.engine, b.bufs, (size_t)SLOTS * BLOCK);
    aura_destroy(b.engine);
    close(b.fd);
    if (argc <= 1) {
        unlink(path);
    }
    return b.failed == 0 && b.completed == TOTAL ? 0 : 1;
}
