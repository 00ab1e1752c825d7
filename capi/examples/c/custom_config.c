/* custom_config: an engine with chosen options (queue depth, rings, initial depth, P99
 * target, alignment), then what each ring's tuner settled on after some reads.
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BLOCK 4096

static void on_read(aura_request_t *req, ssize_t result, void *user_data) {
    (void)req;
    if (result != BLOCK) {
        ++*(int *)user_data;
    }
}

int main(void) {
    aura_options_t opts;
    aura_options_init(&opts);
    opts.queue_depth = 128;
    opts.ring_count = 2;
    opts.initial_in_flight = 16;
    opts.min_in_flight = 2;
    opts.max_p99_latency_ms = 2.0;
    opts.buffer_alignment = 4096;
    aura_engine_t *e = aura_create_with_options(&opts);
    if (e == NULL) {
        perror("aura_create_with_options");
        return 1;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/auraio-config.dat", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 16L << 20) != 0) {
        perror(path);
        return 1;
    }
    char *buf = aura_buffer_alloc(e, 64 * BLOCK);
    int errors = 0;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 64; i++) {
            off_t off = (off_t)((round * 64 + i) % 4096) * BLOCK;
            if (aura_read(e, fd, aura_buf(buf + i * BLOCK), BLOCK, off, on_read, &errors) == NULL) {
                perror("aura_read");
                return 1;
            }
        }
        aura_drain(e, -1);
    }
    printf("options: queue_depth %d, rings %d, P99 target %.1f ms\n", opts.queue_depth, aura_get_ring_count(e),
           opts.max_p99_latency_ms);
    for (int r = 0; r < aura_get_ring_count(e); r++) {
        aura_ring_stats_t rs;
        if (aura_get_ring_stats(e, r, &rs) == 0) {
            printf("ring %d: %lld ops, limit %d, batch %d, P99 %.3f ms, phase %s\n", r, (long long)rs.ops_completed,
                   rs.in_flight_limit, rs.batch_threshold, rs.p99_latency_ms, aura_phase_name(rs.aimd_phase));
        }
    }
    if (aura_set_max_p99_latency(e, 0.0) != 0 || aura_set_batch_threshold(e, 8) != 0) {
        perror("runtime setters");
        return 1;
    }
    aura_buffer_free(e, buf, 64 * BLOCK);
    aura_destroy(e);
    close(fd);
    unlink(path);
    return errors == 0 ? 0 : 1;
}
