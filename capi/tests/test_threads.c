/* Multi-thread use of libauraio (Adaptive, MultiThread): four threads submit while one thread
 * polls; every completion is delivered exactly once, and cancels race with completions.
 * Not built against libauraio_local, whose link-time promise is a single thread. */
#define _GNU_SOURCE
#include <auraio.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define THREADS 4
#ifndef PER_THREAD
#define PER_THREAD 5000
#endif
#define BLOCK 4096
#define BLOCKS 256

static aura_engine_t *engine;
static int fd;
static atomic_int delivered[THREADS * PER_THREAD];
static atomic_int total;
static atomic_int bad_data;
static atomic_int succeeded;
static atomic_int submitters_done;
static unsigned char *bufs[THREADS];

static void on_done(aura_request_t *req, ssize_t result, void *ud) {
    (void)req;
    long id = (long)(intptr_t)ud;
    atomic_fetch_add(&delivered[id], 1);
    if (result == BLOCK) {
        atomic_fetch_add(&succeeded, 1);
    } else if (result != -ECANCELED) {
        atomic_fetch_add(&bad_data, 1);
    }
    atomic_fetch_add(&total, 1);
}

static void *submitter(void *arg) {
    long t = (long)(intptr_t)arg;
    for (long i = 0; i < PER_THREAD; i++) {
        long id = t * PER_THREAD + i;
        unsigned char *b = bufs[t] + (i % 16) * BLOCK;
        aura_request_t *r;
        while ((r = aura_read(engine, fd, aura_buf(b), BLOCK, (off_t)(id % BLOCKS) * BLOCK,
                              on_done, (void *)(intptr_t)id)) == NULL) {
            if (errno != EAGAIN && errno != ENOMEM && errno != EBUSY) {
                fprintf(stderr, "submit failed: %s\n", strerror(errno));
                exit(1);
            }
            usleep(50); /* the engine is full: let the poller drain it */
        }
        if (i % 7 == 0) {
            /* fails with EALREADY when the read won the race: both outcomes are fine */
            if (aura_cancel(engine, r) != 0 && errno != EALREADY && errno != EBUSY) {
                fprintf(stderr, "cancel failed: %s\n", strerror(errno));
                exit(1);
            }
        }
    }
    atomic_fetch_add(&submitters_done, 1);
    return NULL;
}

/* While one thread sits in aura_run, another unregisters the registered buffers: the
 * unregister completes (it does not wait for aura_stop), and so does a deferred one. */
static atomic_int fixed_done;
static void on_fixed(aura_request_t *req, ssize_t result, void *ud) {
    (void)req;
    (void)ud;
    if (result != BLOCK) {
        atomic_fetch_add(&bad_data, 1);
    }
    atomic_fetch_add(&fixed_done, 1);
}

static void *runner(void *arg) {
    aura_run((aura_engine_t *)arg);
    return NULL;
}

static int unregister_while_running(void) {
    aura_options_t o;
    aura_options_init(&o);
    o.ring_count = 1;
    aura_engine_t *e = aura_create_with_options(&o);
    static unsigned char mem[4 * BLOCK] __attribute__((aligned(4096)));
    struct iovec iov = {mem, sizeof mem};
    int failures = 0;
    if (e == NULL || aura_register_buffers(e, &iov, 1) != 0) {
        perror("register");
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, runner, e);
    for (int i = 0; i < 4; i++) {
        while (aura_read(e, fd, aura_buf_fixed(0, (size_t)i * BLOCK), BLOCK, 0, on_fixed,
                         NULL) == NULL) {
            usleep(100);
        }
    }
    /* Synchronous unregister from this thread while the runner polls. */
    if (aura_unregister_buffers(e) != 0) {
        perror("aura_unregister_buffers");
        failures++;
    }
    if (atomic_load(&fixed_done) != 4) {
        fprintf(stderr, "unregister returned with %d of 4 fixed reads done\n",
                atomic_load(&fixed_done));
        failures++;
    }
    /* Deferred: requested while a fixed read is in flight, done by the runner's completion. */
    if (aura_register_buffers(e, &iov, 1) != 0) {
        perror("register again");
        failures++;
    }
    while (aura_read(e, fd, aura_buf_fixed(0, 0), BLOCK, 0, on_fixed, NULL) == NULL) {
        usleep(100);
    }
    if (aura_request_unregister_buffers(e) != 0) {
        failures++;
    }
    int registered_again = -1;
    for (int i = 0; i < 5000; i++) {
        registered_again = aura_register_buffers(e, &iov, 1);
        if (registered_again == 0) {
            break;
        }
        usleep(1000);
    }
    if (registered_again != 0) {
        fprintf(stderr, "the deferred unregister never completed under aura_run\n");
        failures++;
    }
    aura_unregister_buffers(e);
    aura_stop(e);
    pthread_join(t, NULL);
    aura_destroy(e);
    return failures;
}

int main(void) {
    /* Every wait below is bounded; a hang fails the test instead of the CI run. */
    alarm(120);
    char path[] = "/dev/shm/auraio-threads-XXXXXX";
    fd = mkstemp(path);
    unlink(path);
    static unsigned char block[BLOCK];
    for (int b = 0; b < BLOCKS; b++) {
        memset(block, b, BLOCK);
        if (pwrite(fd, block, BLOCK, (off_t)b * BLOCK) != BLOCK) {
            return 1;
        }
    }
    aura_options_t o;
    aura_options_init(&o);
    o.ring_count = 2;
    o.queue_depth = 128;
    engine = aura_create_with_options(&o);
    if (engine == NULL) {
        perror("aura_create_with_options");
        return 1;
    }
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++) {
        bufs[t] = aura_buffer_alloc(engine, 16 * BLOCK);
        pthread_create(&th[t], NULL, submitter, (void *)(intptr_t)t);
    }
    while (atomic_load(&submitters_done) < THREADS || aura_pending_count(engine) > 0) {
        if (aura_wait(engine, 10) < 0) {
            perror("aura_wait");
            return 1;
        }
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    int failures = 0;
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        if (atomic_load(&delivered[i]) != 1) {
            fprintf(stderr, "request %d delivered %d times\n", i, atomic_load(&delivered[i]));
            failures++;
        }
    }
    aura_stats_t st;
    aura_get_stats(engine, &st);
    /* Requests cancelled while still in a backlog never reached the kernel and do not count
     * as completed operations; every other one does. */
    if (st.ops_completed < atomic_load(&succeeded) || st.ops_completed > THREADS * PER_THREAD ||
        atomic_load(&bad_data) != 0) {
        fprintf(stderr, "ops_completed %lld, bad results %d\n", (long long)st.ops_completed,
                atomic_load(&bad_data));
        failures++;
    }
    for (int t = 0; t < THREADS; t++) {
        aura_buffer_free(engine, bufs[t], 16 * BLOCK);
    }
    aura_destroy(engine);
    failures += unregister_while_running();
    close(fd);
    printf("test_threads: %d completions, %d failures\n", atomic_load(&total), failures);
    return failures == 0 ? 0 : 1;
}
