/* prometheus_server: serves the engine's metrics (aura_metrics_prometheus) over HTTP, as a
 * Prometheus scrape target at /metrics.
 *
 *   ./prometheus_server                 demo: does some reads, scrapes itself once, prints the
 *                                       start of what a Prometheus server would receive
 *   ./prometheus_server --serve PORT    serves 127.0.0.1:PORT until killed, with some reads
 *                                       between scrapes so the figures move
 */
#define _GNU_SOURCE
#include <auraio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BLOCK 4096

static aura_engine_t *engine;

/* Some I/O for the metrics to count: `n` reads of a small file. */
static int do_reads(int fd, int n) {
    static char buf[BLOCK];
    for (int i = 0; i < n; i++) {
        if (aura_read(engine, fd, aura_buf(buf), BLOCK, (off_t)(i % 16) * BLOCK, NULL, NULL) == NULL ||
            aura_drain(engine, 5000) < 0) {
            perror("read");
            return -1;
        }
    }
    return 0;
}

/* Answers one HTTP request on `c` with the current metrics (GET /metrics), 404 otherwise. */
static void answer(int c) {
    char req[1024];
    ssize_t n = recv(c, req, sizeof req - 1, 0);
    if (n <= 0) {
        return;
    }
    req[n] = '\0';
    char head[256];
    if (strncmp(req, "GET /metrics ", 13) != 0) {
        int h = snprintf(head, sizeof head, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        (void)!send(c, head, (size_t)h, MSG_NOSIGNAL);
        return;
    }
    /* The text's size first (a negative return is minus the size needed), then the text. */
    int need = -aura_metrics_prometheus(engine, NULL, 0);
    char *body = need > 0 ? malloc((size_t)need) : NULL;
    int len = body ? aura_metrics_prometheus(engine, body, (size_t)need) : -1;
    if (len < 0) {
        int h = snprintf(head, sizeof head, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        (void)!send(c, head, (size_t)h, MSG_NOSIGNAL);
        free(body);
        return;
    }
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n",
                     len);
    (void)!send(c, head, (size_t)h, MSG_NOSIGNAL);
    (void)!send(c, body, (size_t)len, MSG_NOSIGNAL);
    free(body);
}

static int listen_on(int port, int *bound) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        perror("listen");
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return s;
}

/* The demo's scraper: what Prometheus would do, once. */
static char scraped[1 << 16];
static void *scrape(void *arg) {
    int port = *(int *)arg;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect");
        return NULL;
    }
    const char *get = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
    (void)!write(s, get, strlen(get));
    size_t got = 0;
    ssize_t n;
    while (got < sizeof scraped - 1 && (n = read(s, scraped + got, sizeof scraped - 1 - got)) > 0) {
        got += (size_t)n;
    }
    scraped[got] = '\0';
    close(s);
    return NULL;
}

int main(int argc, char **argv) {
    int serve = argc == 3 && strcmp(argv[1], "--serve") == 0;
    char path[] = "/tmp/auraio-prom-XXXXXX";
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
    engine = aura_create_with_options(&o);
    if (engine == NULL || do_reads(fd, 200) != 0) {
        perror("engine");
        return 1;
    }
    int port;
    int s = listen_on(serve ? atoi(argv[2]) : 0, &port);
    if (s < 0) {
        return 1;
    }
    if (serve) {
        fprintf(stderr, "serving http://127.0.0.1:%d/metrics\n", port);
        for (;;) {
            int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                answer(c);
                close(c);
            }
            do_reads(fd, 100);
        }
    }
    pthread_t t;
    if (pthread_create(&t, NULL, scrape, &port) != 0) {
        perror("pthread_create");
        return 1;
    }
    /* The scraper connects at once; a bounded wait keeps a failed one from hanging us. */
    struct pollfd pf = {s, POLLIN, 0};
    int c = poll(&pf, 1, 10000) == 1 ? accept4(s, NULL, NULL, SOCK_CLOEXEC) : -1;
    if (c < 0) {
        perror("accept");
        return 1;
    }
    answer(c);
    close(c);
    pthread_join(t, NULL);
    close(s);
    aura_destroy(engine);
    close(fd);
    int ok = strncmp(scraped, "HTTP/1.1 200 OK", 15) == 0 && strstr(scraped, "auraio_ops_completed") != NULL;
    const char *body = strstr(scraped, "\r\n\r\n");
    printf("scraped %zu bytes from 127.0.0.1:%d/metrics: %s\n", strlen(scraped), port, ok ? "ok" : "BAD");
    if (body != NULL) {
        /* the first lines, as Prometheus reads them */
        const char *p = body + 4;
        for (int line = 0; line < 4 && *p; line++) {
            const char *e = strchr(p, '\n');
            int len = e ? (int)(e - p) : (int)strlen(p);
            printf("  %.*s\n", len, p);
            p = e ? e + 1 : p + len;
        }
    }
    return ok ? 0 : 1;
}
