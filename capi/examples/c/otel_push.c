/* otel_push: pushes the engine's metrics to an OpenTelemetry collector (OTLP/HTTP, JSON
 * encoding: aura_metrics_otel) every interval, while reading.
 *
 *   ./otel_push                               demo: two rounds with --dry-run
 *   ./otel_push --dry-run [--count N]         prints each document instead of sending it
 *   ./otel_push --endpoint HOST:PORT [--count N] [--interval-ms MS]
 *                                             POSTs to http://HOST:PORT/v1/metrics
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096

/* One POST of `body` to http://host:port/v1/metrics; the HTTP status, or -1. */
static int post(const char *host, const char *port, const char *body, int len) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        return -1;
    }
    int s = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = s >= 0 && connect(s, ai->ai_addr, ai->ai_addrlen) == 0;
    freeaddrinfo(ai);
    if (!ok) {
        if (s >= 0) {
            close(s);
        }
        return -1;
    }
    char head[256];
    int h = snprintf(head, sizeof head,
                     "POST /v1/metrics HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n",
                     host, port, len);
    if (h < 0 || h >= (int)sizeof head) {
        close(s);
        return -1; /* a host name too long for the request line */
    }
    int status = -1;
    char reply[256] = {0};
    if (write(s, head, (size_t)h) == h && write(s, body, (size_t)len) == len &&
        read(s, reply, sizeof reply - 1) > 12) {
        status = atoi(reply + 9); /* "HTTP/1.1 200 ..." */
    }
    close(s);
    return status;
}

int main(int argc, char **argv) {
    const char *endpoint = NULL;
    int dry_run = 0, count = 2, interval_ms = 200;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = 1;
        } else if (strcmp(argv[i], "--endpoint") == 0 && i + 1 < argc) {
            endpoint = argv[++i];
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc) {
            interval_ms = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--dry-run] [--endpoint HOST:PORT] [--count N] [--interval-ms MS]\n", argv[0]);
            return 2;
        }
    }
    int demo = endpoint == NULL && !dry_run;
    dry_run |= endpoint == NULL;
    char host[256] = "", port[16] = "4318";
    if (endpoint != NULL) {
        const char *colon = strrchr(endpoint, ':');
        size_t hl = colon ? (size_t)(colon - endpoint) : strlen(endpoint);
        snprintf(host, sizeof host, "%.*s", (int)hl, endpoint);
        if (colon) {
            snprintf(port, sizeof port, "%s", colon + 1);
        }
    }

    char path[] = "/tmp/auraio-otel-XXXXXX";
    int fd = mkstemp(path);
    static char block[16 * BLOCK];
    if (fd < 0 || pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block) {
        perror("demo file");
        return 1;
    }
    unlink(path);
    aura_options_t o;
    aura_options_init(&o);
    o.ring_count = 1;
    aura_engine_t *e = aura_create_with_options(&o);
    if (e == NULL) {
        perror("aura_create_with_options");
        return 1;
    }
    int failures = 0;
    for (int round = 0; round < count; round++) {
        static char buf[BLOCK];
        for (int i = 0; i < 100; i++) {
            if (aura_read(e, fd, aura_buf(buf), BLOCK, (off_t)(i % 16) * BLOCK, NULL, NULL) == NULL) {
                perror("aura_read");
                return 1;
            }
        }
        if (aura_drain(e, 5000) < 0) {
            perror("aura_drain");
            return 1;
        }
        int need = -aura_metrics_otel(e, NULL, 0);
        char *doc = need > 0 ? malloc((size_t)need) : NULL;
        int len = doc ? aura_metrics_otel(e, doc, (size_t)need) : -1;
        if (len < 0 || strstr(doc, "\"resourceMetrics\"") == NULL) {
            fprintf(stderr, "no OTLP document\n");
            free(doc);
            return 1;
        }
        if (dry_run) {
            if (demo) {
                printf("round %d: would POST %d bytes of OTLP/JSON to /v1/metrics (%.60s...)\n", round, len, doc);
            } else {
                printf("%s\n", doc);
            }
        } else {
            int status = post(host, port, doc, len);
            printf("round %d: POST %d bytes to http://%s:%s/v1/metrics: %d\n", round, len, host, port, status);
            failures += status < 200 || status >= 300;
        }
        free(doc);
        struct timespec t = {interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L};
        nanosleep(&t, NULL);
    }
    aura_destroy(e);
    close(fd);
    return failures == 0 ? 0 : 1;
}
